//! Where an MPMC core finds the ring's memory, copied out of the [`Ring`]
//! on attach.
//!
//! Every push and pop needs the header (a cursor), the slots (a stamp and a
//! payload), the geometry (mask, stride, payload offset, the stamp's lap
//! shift), the barrier mode (the notify) and the poison flag. Through the
//! `Ring` each of those is a chase: the core's `Arc`, then the shared
//! state, then the field, reloaded after every atomic operation (the
//! compiler cannot know that a CAS did not change them). Copied into the
//! core, they sit behind `&mut self`, which the compiler may keep in
//! registers across the atomics: a claim reads the cursor, one stamp, and
//! nothing else of the ring. The core's own `ring` keeps the mapping alive
//! as long as the copy. (The SPSC cores do the same with their own `Place`.)
//!
//! | field | from | used by |
//! |---|---|---|
//! | `header` | `Shared::header` | cursor loads and CASes, `notify_in` |
//! | `slots`, `mask`, `stride` | `Shared::slot(0)`, the geometry | `slot`: index = position & mask |
//! | `payload_offset` | the geometry (8: the stamp comes first) | `slot` |
//! | `stamps` | the capacity | the lap of a position |
//! | `barrier` | the validated identity | `notify_in` |
//! | `poison` | the region's SIGBUS guard | every claim, against the core's `forks` (the count at attach: a `fork`ed copy is refused) |

use core::ptr::NonNull;

use ringway_sync::Barrier;

use super::stamp::Stamps;
use super::Slot;
use crate::layout::Header;
use crate::ring::Ring;
use crate::sigbus::Check;

/// The ring's addresses and numbers, read without a pointer chase.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    header: NonNull<Header>,
    slots: NonNull<u8>,
    mask: u64,
    stride: usize,
    payload_offset: usize,
    pub(crate) stamps: Stamps,
    pub(crate) barrier: Barrier,
    pub(crate) poison: Check,
}

// SAFETY: the pointers point into the mapping of the `Ring` that the core
// holding this `Place` also holds; everything behind them is shared memory
// that every handle accesses through atomics or raw copies, and a core is
// used by one thread at a time (`&mut self`).
unsafe impl Send for Place {}

impl Place {
    pub(crate) fn new(ring: &Ring) -> Place {
        let shared = &ring.shared;
        let g = ring.geometry();
        Place {
            header: NonNull::from(shared.header()),
            slots: NonNull::new(shared.slot(0).0).expect("slots inside the mapping"),
            mask: g.capacity - 1,
            stride: g.stride as usize,
            payload_offset: g.payload_offset as usize,
            stamps: Stamps::new(g.capacity),
            barrier: shared.barrier,
            poison: ring.poison().check_for(ring.forks()),
        }
    }

    /// The ring's header.
    #[inline(always)]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: as `Shared::header`: a whole, aligned header inside the
        // mapping, which the core's `ring` keeps alive while `self` lives;
        // every byte of it is atomic or in an `UnsafeCell`.
        unsafe { self.header.as_ref() }
    }

    /// The stamp and payload of the slot of position `pos` (any value: the
    /// index is masked). `ring` is the core's: under loom its witness holds
    /// the stamps (loom atomics cannot live in a mapping).
    #[inline(always)]
    pub(crate) fn slot<'a>(&'a self, ring: &'a Ring, pos: u64) -> Slot<'a> {
        let idx = (pos & self.mask) as usize;
        // SAFETY: idx < capacity, and capacity * stride bytes follow `slots`
        // inside the region (checked on attach), kept alive by `ring`.
        let start = unsafe { self.slots.as_ptr().add(idx * self.stride) };
        #[cfg(not(loom))]
        let _ = ring;
        #[cfg(not(loom))]
        // SAFETY: `start` is the start of slot `idx`, 8-aligned (slots
        // start at a multiple of 128 and an MPMC stride is a multiple of 8);
        // its first 8 bytes are the stamp, only ever accessed atomically, as
        // in `Slot::of`.
        let stamp = unsafe { &*start.cast::<crate::loom::AtomicU64>() };
        #[cfg(loom)]
        let stamp = ring.shared.access.stamp(idx);
        // SAFETY: payload_offset + slot_size <= stride (`Geometry::new` for
        // `Kind::Mpmc`), so the payload is inside the slot.
        let payload = unsafe { start.add(self.payload_offset) };
        Slot {
            stamp,
            payload,
            idx,
        }
    }
}
