//! Where a protocol core finds the ring's memory, copied out of the
//! [`Ring`] on attach. One type for the SPSC and the MPMC cores.
//!
//! Every push and pop needs the header (a cursor, an event), the slots (a
//! payload, and in stamped layouts a stamp), the geometry (mask, stride,
//! payload offset), the barrier mode (the notify) and the poison flag.
//! Through the `Ring` each of those is a chase: the core's `Arc`, then the
//! shared state, then the field, reloaded after every atomic operation (the
//! compiler cannot know that a CAS or a Release store did not change them).
//! Copied into the core, they sit behind `&mut self`, which the compiler may
//! keep in registers across the atomics: a claim reads a cursor, one stamp,
//! and nothing else of the ring. The core's own `ring` keeps the mapping
//! alive as long as the copy.
//!
//! | field | from | used by |
//! |---|---|---|
//! | `header` | `Shared::header` | cursor loads, stores and CASes, `notify_in` |
//! | `slots`, `mask`, `stride` | `Shared::slot(0)`, the geometry | [`Place::slot`]: index = position & mask |
//! | `payload_offset` | the geometry (0, or after the stamp) | [`Place::payload`] |
//! | `barrier` | the validated identity | `notify_in` |
//! | `poison` | the region's SIGBUS guard: the word of the core's fork generation | every claim, tested for 0 (set: truncated, a `fork`ed copy, or a late generation; `forks` tells which) |
//! | `forks` | `Ring::forks` at attach | the slow path of the `poison` check |
//!
//! A stamped slot (stamped SPSC, every MPMC ring) starts with its 8-byte
//! stamp: [`stamp_at`] is the one place that turns a slot's start into it.

use core::ptr::NonNull;

use ringway_sync::Barrier;

use crate::error::CorruptError;
use crate::layout::Header;
use crate::loom::AtomicU64;
use crate::peer::Peer;
use crate::ring::{Ring, Shared};
use crate::sigbus::Check;

/// The ring's addresses and numbers, read without a pointer chase.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
    header: NonNull<Header>,
    slots: NonNull<u8>,
    mask: u64,
    stride: usize,
    payload_offset: usize,
    pub(crate) barrier: Barrier,
    /// The handle's fork-generation word of the ring's poison flags
    /// (`sigbus.rs`): 0 while the core may go on.
    pub(crate) poison: Check,
    /// The ring's fork count when the core attached (`Ring::forks`), for
    /// the slow path of the `poison` check; in the padding after `barrier`.
    pub(crate) forks: u32,
}

// SAFETY: the pointers point into the mapping of the `Ring` that the core
// holding this `Place` also holds; everything behind them is shared memory
// that every handle accesses through atomics or raw (volatile) copies, and a
// core is used by one thread at a time (`&mut self`).
unsafe impl Send for Place {}

impl Place {
    pub(crate) fn new(ring: &Ring) -> Place {
        let shared = &ring.shared;
        let g = ring.geometry();
        let forks = ring.forks();
        Place {
            header: NonNull::from(shared.header()),
            slots: NonNull::new(shared.slot(0).0).expect("slots inside the mapping"),
            mask: g.capacity - 1,
            stride: g.stride as usize,
            payload_offset: g.payload_offset as usize,
            barrier: shared.barrier,
            poison: ring.poison().check_for(forks),
            forks,
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

    /// The start of the slot of position `pos` and its index (any value:
    /// masked), as `Shared::slot`.
    #[inline(always)]
    pub(crate) fn slot(&self, pos: u64) -> (*mut u8, usize) {
        let idx = (pos & self.mask) as usize;
        // SAFETY: idx < capacity, and capacity * stride bytes follow
        // `slots` inside the region (checked on attach), kept alive by the
        // core's `ring`.
        (unsafe { self.slots.as_ptr().add(idx * self.stride) }, idx)
    }

    /// Offset of the payload in a slot: 0, or after the stamp.
    #[inline(always)]
    pub(crate) fn payload_offset(&self) -> usize {
        self.payload_offset
    }

    /// The payload of the slot of position `pos` (any value: masked).
    #[inline(always)]
    pub(crate) fn payload(&self, pos: u64) -> *mut u8 {
        // SAFETY: `payload_offset` is the geometry's (0, or the stamp's size
        // rounded up to the alignment), and payload_offset + slot_size <=
        // stride (`Geometry::with_flags`), so the pointer stays inside the
        // slot.
        unsafe { self.slot(pos).0.add(self.payload_offset) }
    }

    /// The forked error when the core holding this `Place` (and `peer`)
    /// is a `fork`ed copy (`peer/fork.rs`): the generation word first (one
    /// load), the exact answer from `peer` only when it is set.
    #[inline(always)]
    pub(crate) fn check_fork(&self, peer: &Peer) -> Result<(), CorruptError> {
        if self.poison.is_clear() {
            return Ok(());
        }
        peer.check_fork()
    }

    /// The stamp of the slot of position `pos` of a stamped layout (a
    /// stamped SPSC ring, every MPMC ring; `ring`: the core's, whose loom
    /// witness holds the stamps under loom).
    #[inline(always)]
    pub(crate) fn stamp<'a>(&'a self, ring: &'a Ring, pos: u64) -> &'a AtomicU64 {
        debug_assert!(self.payload_offset >= 8, "a layout without stamps");
        let (start, idx) = self.slot(pos);
        stamp_at(&ring.shared, start, idx)
    }
}

/// The stamp of slot `idx` of a stamped layout, which starts at `start`
/// (from `Shared::slot` or [`Place::slot`] of the same ring as `shared`).
/// Under loom the stamps live in the model's witness, not in the mapping.
#[inline(always)]
pub(crate) fn stamp_at(shared: &Shared, start: *mut u8, idx: usize) -> &AtomicU64 {
    #[cfg(not(loom))]
    let _ = (shared, idx);
    #[cfg(not(loom))]
    // SAFETY: `start` is the start of slot `idx < capacity` inside the
    // mapping that `shared` keeps alive; it is 8-aligned (slots start at a
    // multiple of 128, and a stamped stride, SPSC or MPMC, is a multiple of
    // 8); its first 8 bytes are the stamp, only ever accessed atomically
    // (AtomicU64 has the size and alignment of u64).
    return unsafe { &*start.cast::<AtomicU64>() };
    #[cfg(loom)]
    {
        let _ = start;
        shared.access.stamp(idx)
    }
}
