//! The mapped layout: a 2 KiB header at offset 0, then the slots.
//!
//! ```text
//! offset  line  contents                                      written by
//! ------  ----  --------------------------------------------  ----------------------
//!      0     0  Identity (magic, ABI, layout hash, kind,      creator, once, before
//!               geometry, type fingerprint, creator pid and     `state` = READY
//!               start time), state word, role owners
//!    128     1  tail: producer cursor (u64, monotonic)        producer(s)
//!    256     2  head: consumer cursor (u64, monotonic)        consumer(s)
//!    384     3  data_event, space_event (futex words)         both sides
//!    512   4-11 reserved, zero (the pid-only producer table
//!               of ABI 4-5; record and broadcast handles now
//!               register in the peer table)
//!   1536    12  durable: record-ring position up to which   `record::flush`
//!               the data was synced (u64)
//!   1664  13-15 reserved, zero
//!   2048        peer table (4 KiB, `peer/table.rs`): one      each handle
//!               entry per attached handle, liveness tokens
//!   6144        slot 0, slot 1, ... slot capacity-1           (aligned to max(128, slot_align))
//! ```
//!
//! The producer and consumer cursors sit on their own 128-byte lines (two 64-byte
//! lines, so the adjacent-line prefetcher does not pair them), and the futex words
//! on a third, so that a side that only polls its peer's cursor never shares a
//! line with the words the other side writes on every message.
//!
//! Cursors count messages since creation and never wrap in practice (2^64
//! messages); a slot index is always `cursor & (capacity - 1)`.
//!
//! Creation order (ABI 2): the creator's first write to a new, empty object is
//! line 0 with the magic, ABI version, layout hash, its pid and start time and
//! `state` = [`STATE_INIT`] (`pwrite` on the descriptor, before the object is
//! sized); then it sizes and maps the object, writes the rest of [`Identity`],
//! and stores [`STATE_READY`] with Release. An object of one byte or more that
//! does not start with the magic is therefore foreign (`BadMagic` at once); an
//! empty object is a creator between `open` and its first write, or foreign.
//!
//! Everything in [`Identity`] is written once by the creator before it stores
//! `READY` into `state` with Release; an opener loads `state` with Acquire, then
//! copies the identity once and validates the copy (see `attach.rs`). Nothing
//! reads the shared identity again afterwards.
//!
//! The layout is ABI: its sizes and offsets are pinned by the const asserts at
//! the end of this file, and [`LAYOUT_HASH`] is a hash of those offsets so that a
//! peer built with a different layout is refused even if it kept the ABI number.

use core::cell::UnsafeCell;
use core::mem::{align_of, offset_of, size_of};

use crate::loom::{AtomicU32, AtomicU64};
use ringway_sync::Event;

/// `b"RINGWAY\0"` read as a little-endian `u64`: the first word of every ring.
pub const MAGIC: u64 = u64::from_le_bytes(*b"RINGWAY\0");

/// Version of the mapped layout and protocol. A ring created with another
/// version is refused with [`OpenError::AbiMismatch`](crate::OpenError::AbiMismatch).
///
/// 2: the ring's barrier mode is recorded in [`Identity::barrier`] and the
/// event word carries a sleeping flag (issue #13); an ABI-1 peer assumed its
/// own process's mode and must not attach.
///
/// 3: a creator's first write to a new object is line 0 of the header
/// (magic, ABI, layout hash, creator, [`STATE_INIT`]), so that a ring under
/// construction is told apart from a foreign object (issue #12).
///
/// 4: record and broadcast kinds, per-kind identity flags, and the
/// `durable` header word (issue #14).
///
/// 5: the peer table (issue #11): every handle's entry, its liveness
/// token, waiter registration and MPMC claim record, after the header.
///
/// 6: stamped SPSC slots ([`FLAG_STAMPED`], issue #13): an SPSC ring may
/// carry a readiness stamp in front of each payload, which a consumer of an
/// older build would not look at.
///
/// 7: record producers and consumers, broadcast producers and subscribers
/// register in the peer table too (their claim records, a subscriber's
/// cursor and the single roles' words live there); the header's pid-only
/// producer table is gone (issue #11).
///
/// 8: MPMC stamp state `CLAIMED` (3), stored by a producer into the first
/// slot of its claim right after the claim (issue #13): a consumer tells
/// `Busy` from `Empty` by it, and an older consumer would take it for
/// corruption.
///
/// 9: an MPMC one-position claim record stays in its peer entry after the
/// publish or release (`mpmc/held.rs`), and a reaper passes over a position
/// whose stamp says it is done: an older reaper would hold back healing
/// behind a live handle's left-over record, or count a released message as
/// lost.
pub const ABI_VERSION: u32 = 9;

/// Size of the header; the peer table follows it, and the slots start at the
/// first multiple of `max(128, slot_align)` after the peer table.
pub const HEADER_SIZE: usize = 2048;

/// The line size the layout pads to (two 64-byte lines: the spatial
/// prefetcher on x86 pulls lines in pairs).
pub const LINE: usize = 128;

/// Largest slot alignment a ring accepts.
pub const MAX_SLOT_ALIGN: u32 = 4096;

/// Largest slot size a ring accepts (16 MiB).
pub const MAX_SLOT_SIZE: u32 = 1 << 24;

/// Largest capacity a ring accepts (2^32 slots).
pub const MAX_CAPACITY: u64 = 1 << 32;

/// Value of the state word once the creator has written every immutable field.
pub const STATE_READY: u32 = u32::from_le_bytes(*b"REDY");

/// Value of the state word while the creator sets the ring up. The creator's
/// first write to a new object (before it has any length beyond this line)
/// is the first line of the header: [`MAGIC`], [`ABI_VERSION`], the layout
/// hash, its pid and start time, and `STATE_INIT`. So an object that does
/// not start with the magic is never a ring under construction, and a ring
/// whose creator died mid-setup still proves what it is and who made it
/// (see [`probe`](crate::probe)).
pub const STATE_INIT: u32 = u32::from_le_bytes(*b"INIT");

/// Which protocol runs over the slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Kind {
    /// One producer, one consumer: two cursors, no per-slot state.
    Spsc = 1,
    /// Any number of producers and consumers: a sequence stamp per slot.
    Mpmc = 2,
    /// Variable-size records in a byte ring, one or many producers, one
    /// consumer (see [`record`](crate::record)). `capacity` counts bytes.
    Record = 3,
    /// Variable-size records from one producer to any number of
    /// subscribers, each with its own cursor (see
    /// [`broadcast`](crate::broadcast)). `capacity` counts bytes.
    Broadcast = 4,
}

/// [`Identity::flags`] bit of a [`Kind::Broadcast`] ring: the producer waits
/// for the slowest live subscriber instead of lapping it.
pub const FLAG_GATED: u32 = 1;

/// [`Identity::flags`] bit of a [`Kind::Record`] ring: every data record
/// carries a CRC32C of its position, length and payload, checked on read and
/// by recovery.
pub const FLAG_CRC32C: u32 = 2;

/// [`Identity::flags`] bit of a [`Kind::Spsc`] ring: each slot is
/// `[stamp u64 | payload]` and the producer stores the stamp after the
/// payload, so the consumer learns of a message from the message's own cache
/// line (see [`spsc`](crate::spsc)). Without it the slots are contiguous
/// payloads and readiness is the shared `tail` alone.
pub const FLAG_STAMPED: u32 = 4;

impl Kind {
    /// The [`Identity::flags`] bits defined for this kind.
    pub fn allowed_flags(self) -> u32 {
        match self {
            Kind::Broadcast => FLAG_GATED,
            Kind::Record => FLAG_CRC32C,
            Kind::Spsc => FLAG_STAMPED,
            Kind::Mpmc => 0,
        }
    }
}

impl Kind {
    /// The kind stored as `raw`, if it is one.
    pub fn from_raw(raw: u32) -> Option<Kind> {
        match raw {
            1 => Some(Kind::Spsc),
            2 => Some(Kind::Mpmc),
            3 => Some(Kind::Record),
            4 => Some(Kind::Broadcast),
            _ => None,
        }
    }

    /// Lower-case name (`"spsc"`, `"mpmc"`, `"record"`, `"broadcast"`).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Spsc => "spsc",
            Kind::Mpmc => "mpmc",
            Kind::Record => "record",
            Kind::Broadcast => "broadcast",
        }
    }
}

impl core::fmt::Display for Kind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The immutable part of the header, written once by the creator.
///
/// Plain integers: an opener copies it out with one volatile read and validates
/// the copy, so a peer that scribbles on it later cannot change what this
/// process believes the geometry is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Identity {
    /// [`MAGIC`].
    pub magic: u64,
    /// [`ABI_VERSION`] of the creator.
    pub abi_version: u32,
    /// [`Kind`] as `u32`.
    pub kind: u32,
    /// [`LAYOUT_HASH`] of the creator.
    pub layout_hash: u64,
    /// Number of slots, a power of two.
    pub capacity: u64,
    /// Bytes of payload per slot.
    pub slot_size: u32,
    /// Alignment of each slot's payload.
    pub slot_align: u32,
    /// Distance between slots (payload plus the MPMC stamp, rounded up).
    pub slot_stride: u32,
    /// Size of the message type of a typed ring, 0 for a bytes ring.
    pub type_size: u32,
    /// Alignment of the message type of a typed ring, 0 for a bytes ring.
    pub type_align: u32,
    /// Feature flags: [`FLAG_GATED`] for a broadcast ring, [`FLAG_CRC32C`]
    /// for a record ring, [`FLAG_STAMPED`] for an SPSC ring (see
    /// [`Kind::allowed_flags`]).
    pub flags: u32,
    /// Hash of the message type's name, 0 when the creator gave none.
    pub type_name_hash: u64,
    /// Offset of slot 0 from the start of the region.
    pub slots_offset: u64,
    /// Bytes the ring needs: `slots_offset + capacity * slot_stride`.
    pub total_len: u64,
    /// Process id of the creator.
    pub creator_pid: u32,
    /// The ring's [`Barrier`](ringway_sync::Barrier) mode, as
    /// [`Barrier::as_raw`](ringway_sync::Barrier::as_raw): how every notifier
    /// and waiter of its events pays for the handshake's fences. Fixed at
    /// creation; an opener that cannot honour it is refused.
    pub barrier: u32,
    /// Start time of the creator process (clock ticks since boot), so that a
    /// recycled pid is not mistaken for the creator.
    pub creator_start_time: u64,
}

/// The mapped header. See the module docs for the picture.
///
/// Every byte of it is either an atomic or inside an `UnsafeCell` (the
/// identity, the padding): a peer may write any byte at any time, and a
/// `&Header` must not promise otherwise.
#[repr(C, align(128))]
pub struct Header {
    /// Immutable after `state` is READY; read once, by copy, on attach.
    pub(crate) identity: UnsafeCell<Identity>,
    /// [`STATE_INIT`] while the creator initialises, [`STATE_READY`] after.
    pub(crate) state: AtomicU32,
    /// The peer entry holding the SPSC producer role, 0 when free:
    /// `generation << 8 | (index + 1)` (see `peer`).
    pub(crate) producer_owner: AtomicU32,
    /// The peer entry holding the SPSC consumer role, as `producer_owner`.
    pub(crate) consumer_owner: AtomicU32,
    _pad0: UnsafeCell<[u8; LINE - size_of::<Identity>() - 3 * 4]>,

    /// Producer cursor: positions below it are written (SPSC) or claimed (MPMC).
    pub(crate) tail: AtomicU64,
    _pad1: UnsafeCell<[u8; LINE - 8]>,

    /// Consumer cursor: positions below it are read and free (SPSC) or claimed (MPMC).
    pub(crate) head: AtomicU64,
    _pad2: UnsafeCell<[u8; LINE - 8]>,

    /// Consumers wait here for data; producers notify after publishing.
    pub(crate) data_event: Event,
    /// Producers wait here for space; consumers notify after releasing.
    pub(crate) space_event: Event,
    _pad3: UnsafeCell<[u8; LINE - 2 * EVENT_SIZE]>,

    /// Reserved, zero (the producer table of ABI 4-5).
    _reserved_lines: UnsafeCell<[u8; 8 * LINE]>,

    /// Record ring: the position up to which `record::flush` synced the data.
    pub(crate) durable: AtomicU64,
    _pad4: UnsafeCell<[u8; LINE - 8]>,

    _reserved: UnsafeCell<[u8; RESERVED]>,
}

const RESERVED: usize = HEADER_SIZE - 13 * LINE;

#[cfg(not(loom))]
const EVENT_SIZE: usize = size_of::<Event>();
// Under loom `Event` carries the model's futex emulation and its size is not
// the mapped one; the padding only has to be some valid length there.
#[cfg(loom)]
const EVENT_SIZE: usize = 8;

// SAFETY: every field that is written after creation is an atomic; `identity`
// is written only by the creator before READY is published and is read only by
// copy (a racing scribbler can make the copy garbage, which validation refuses,
// but cannot create a reference to mutated memory).
unsafe impl Sync for Header {}

impl core::fmt::Debug for Header {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use crate::loom::Ordering::Relaxed;
        // Relaxed: a diagnostic print, ordered with nothing.
        f.debug_struct("Header")
            .field("state", &self.state.load(Relaxed))
            .field("tail", &self.tail.load(Relaxed))
            .field("head", &self.head.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl Header {
    /// Pointer to the identity, for the creator's one write and the opener's one copy.
    pub(crate) fn identity_ptr(&self) -> *mut Identity {
        self.identity.get()
    }

    /// A header with every word zero, on the heap: what a fresh mapping holds.
    /// Used where the protocol runs over ordinary memory (loom models).
    #[cfg(loom)]
    pub(crate) fn zeroed_boxed() -> Box<Header> {
        Box::new(Header {
            identity: UnsafeCell::new(Identity::default()),
            state: AtomicU32::new(0),
            producer_owner: AtomicU32::new(0),
            consumer_owner: AtomicU32::new(0),
            _pad0: UnsafeCell::new([0; LINE - size_of::<Identity>() - 3 * 4]),
            tail: AtomicU64::new(0),
            _pad1: UnsafeCell::new([0; LINE - 8]),
            head: AtomicU64::new(0),
            _pad2: UnsafeCell::new([0; LINE - 8]),
            data_event: Event::new(),
            space_event: Event::new(),
            _pad3: UnsafeCell::new([0; LINE - 2 * EVENT_SIZE]),
            _reserved_lines: UnsafeCell::new([0; 8 * LINE]),
            durable: AtomicU64::new(0),
            _pad4: UnsafeCell::new([0; LINE - 8]),
            _reserved: UnsafeCell::new([0; RESERVED]),
        })
    }
}

/// 64-bit FNV-1a, usable in const context.
pub const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

const fn fnv1a_u64(mut hash: u64, value: u64) -> u64 {
    let bytes = value.to_le_bytes();
    let mut i = 0;
    while i < 8 {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// Hash of every offset and size in the header, so that two builds that
/// disagree on the layout refuse each other even at the same ABI number.
#[cfg(not(loom))]
pub const LAYOUT_HASH: u64 = {
    let fields: [u64; 32] = [
        ABI_VERSION as u64,
        HEADER_SIZE as u64,
        LINE as u64,
        size_of::<Identity>() as u64,
        offset_of!(Identity, magic) as u64,
        offset_of!(Identity, abi_version) as u64,
        offset_of!(Identity, kind) as u64,
        offset_of!(Identity, layout_hash) as u64,
        offset_of!(Identity, capacity) as u64,
        offset_of!(Identity, slot_size) as u64,
        offset_of!(Identity, slot_align) as u64,
        offset_of!(Identity, slot_stride) as u64,
        offset_of!(Identity, type_size) as u64,
        offset_of!(Identity, type_align) as u64,
        offset_of!(Identity, flags) as u64,
        offset_of!(Identity, type_name_hash) as u64,
        offset_of!(Identity, slots_offset) as u64,
        offset_of!(Identity, total_len) as u64,
        offset_of!(Identity, creator_pid) as u64,
        offset_of!(Identity, barrier) as u64,
        offset_of!(Identity, creator_start_time) as u64,
        offset_of!(Header, state) as u64,
        offset_of!(Header, producer_owner) as u64,
        offset_of!(Header, consumer_owner) as u64,
        offset_of!(Header, tail) as u64,
        offset_of!(Header, head) as u64,
        offset_of!(Header, data_event) as u64,
        offset_of!(Header, space_event) as u64,
        size_of::<Event>() as u64,
        MPMC_STAMP_SIZE as u64,
        offset_of!(Header, durable) as u64,
        FLAG_STAMPED as u64,
    ];
    let mut hash = fnv1a(b"ringway layout");
    let mut i = 0;
    while i < fields.len() {
        hash = fnv1a_u64(hash, fields[i]);
        i += 1;
    }
    let peers = crate::peer::LAYOUT_FIELDS;
    let mut i = 0;
    while i < peers.len() {
        hash = fnv1a_u64(hash, peers[i]);
        i += 1;
    }
    hash
};

/// Under loom the header is not the mapped one; any fixed value will do.
#[cfg(loom)]
pub const LAYOUT_HASH: u64 = 0x6c6f_6f6d_6c6f_6f6d;

/// Bytes in front of each MPMC slot's payload that hold its sequence stamp.
pub const MPMC_STAMP_SIZE: usize = 8;

#[cfg(not(loom))]
const _: () = {
    assert!(size_of::<Identity>() == 96);
    assert!(size_of::<Header>() == HEADER_SIZE);
    assert!(align_of::<Header>() == LINE);
    assert!(size_of::<Event>() == 8);
    assert!(align_of::<Event>() <= 8);
    assert!(offset_of!(Header, identity) == 0);
    assert!(offset_of!(Header, state) == 96);
    assert!(offset_of!(Header, producer_owner) == 100);
    assert!(offset_of!(Header, consumer_owner) == 104);
    assert!(offset_of!(Header, tail) == LINE);
    assert!(offset_of!(Header, head) == 2 * LINE);
    assert!(offset_of!(Header, data_event) == 3 * LINE);
    assert!(offset_of!(Header, space_event) == 3 * LINE + 8);
    assert!(offset_of!(Header, durable) == 12 * LINE);
    assert!(offset_of!(Identity, magic) == 0);
    assert!(offset_of!(Identity, capacity) == 24);
    assert!(offset_of!(Identity, total_len) == 72);
    assert!(offset_of!(Identity, creator_start_time) == 88);
    assert!(offset_of!(Identity, barrier) == 84);
};

/// Where everything is, derived from the four numbers a creator chooses.
///
/// The same function computes it for the creator and, from the copied
/// identity, for every opener: an opener accepts a header only if the
/// recorded stride, slot offset and total length equal what it computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    /// Ring protocol.
    pub kind: Kind,
    /// Number of slots (a power of two).
    pub capacity: u64,
    /// Payload bytes per slot.
    pub slot_size: u32,
    /// Alignment of each payload.
    pub slot_align: u32,
    /// Offset of the payload inside a slot (the MPMC or stamped-SPSC
    /// stamp comes first).
    pub payload_offset: u32,
    /// A stamped SPSC ring ([`FLAG_STAMPED`]): a stamp in front of each
    /// payload, slots not contiguous. Always false for the other kinds.
    pub stamped: bool,
    /// Distance between slots.
    pub stride: u32,
    /// Offset of slot 0 in the region.
    pub slots_offset: u64,
    /// Total bytes the ring needs.
    pub total_len: u64,
}

/// Why a set of ring parameters cannot be laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The capacity is not a power of two in `2..=2^32`.
    Capacity(u64),
    /// The slot size is 0 or above [`MAX_SLOT_SIZE`].
    SlotSize(u32),
    /// The alignment is not a power of two in `1..=4096`.
    SlotAlign(u32),
    /// An SPSC slot size must be a multiple of its alignment (as every Rust
    /// type's size is), so that slots are contiguous.
    Unaligned {
        /// Slot size asked for.
        size: u32,
        /// Alignment asked for.
        align: u32,
    },
    /// The ring would not fit in the address space.
    TooLarge,
}

impl core::fmt::Display for LayoutError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LayoutError::Capacity(c) => write!(
                f,
                "capacity {c} is not a power of two between 2 and {MAX_CAPACITY}"
            ),
            LayoutError::SlotSize(s) => write!(
                f,
                "slot size {s} is not between 1 and {MAX_SLOT_SIZE} bytes"
            ),
            LayoutError::SlotAlign(a) => write!(
                f,
                "slot alignment {a} is not a power of two between 1 and {MAX_SLOT_ALIGN}"
            ),
            LayoutError::Unaligned { size, align } => write!(
                f,
                "slot size {size} is not a multiple of the slot alignment {align}"
            ),
            LayoutError::TooLarge => f.write_str("the ring would not fit in the address space"),
        }
    }
}

impl std::error::Error for LayoutError {}

fn round_up(value: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    Some(value.checked_add(align - 1)? & !(align - 1))
}

impl Geometry {
    /// Lays out a ring with no [`Identity::flags`] (an SPSC ring with
    /// contiguous slots), or says which parameter is out of range.
    ///
    /// # Errors
    /// A [`LayoutError`] naming the first parameter that cannot be used.
    pub fn new(
        kind: Kind,
        capacity: u64,
        slot_size: u32,
        slot_align: u32,
    ) -> Result<Geometry, LayoutError> {
        Geometry::with_flags(kind, 0, capacity, slot_size, slot_align)
    }

    /// Lays out a ring whose [`Identity::flags`] are `flags` (only
    /// [`FLAG_STAMPED`] changes the layout; the caller checks the flags
    /// against [`Kind::allowed_flags`]).
    ///
    /// # Errors
    /// A [`LayoutError`] naming the first parameter that cannot be used.
    pub fn with_flags(
        kind: Kind,
        flags: u32,
        capacity: u64,
        slot_size: u32,
        slot_align: u32,
    ) -> Result<Geometry, LayoutError> {
        let stamped = kind == Kind::Spsc && flags & FLAG_STAMPED != 0;
        if !capacity.is_power_of_two() || !(2..=MAX_CAPACITY).contains(&capacity) {
            return Err(LayoutError::Capacity(capacity));
        }
        if slot_size == 0 || slot_size > MAX_SLOT_SIZE {
            return Err(LayoutError::SlotSize(slot_size));
        }
        if !slot_align.is_power_of_two() || slot_align > MAX_SLOT_ALIGN {
            return Err(LayoutError::SlotAlign(slot_align));
        }
        let align = u64::from(slot_align);
        let (payload_offset, stride) = match kind {
            Kind::Spsc if !stamped => {
                if u64::from(slot_size) % align != 0 {
                    return Err(LayoutError::Unaligned {
                        size: slot_size,
                        align: slot_align,
                    });
                }
                (0, u64::from(slot_size))
            }
            // A stamp (8 bytes) in front of each payload.
            Kind::Spsc | Kind::Mpmc => {
                let slot_align = align.max(MPMC_STAMP_SIZE as u64);
                let payload =
                    round_up(MPMC_STAMP_SIZE as u64, slot_align).ok_or(LayoutError::TooLarge)?;
                let stride = round_up(payload + u64::from(slot_size), slot_align)
                    .ok_or(LayoutError::TooLarge)?;
                (payload, stride)
            }
            Kind::Record | Kind::Broadcast => {
                // A byte ring: one "slot" per byte, records 16-aligned.
                if u64::from(slot_size) != crate::record::RECORD_SLOT_SIZE {
                    return Err(LayoutError::SlotSize(slot_size));
                }
                if u64::from(slot_align) != crate::record::RECORD_ALIGN {
                    return Err(LayoutError::SlotAlign(slot_align));
                }
                if capacity < crate::record::MIN_CAPACITY {
                    return Err(LayoutError::Capacity(capacity));
                }
                (0, 1)
            }
        };
        let stride32 = u32::try_from(stride).map_err(|_| LayoutError::TooLarge)?;
        let slots_offset = round_up(
            (crate::peer::PEERS_OFFSET + crate::peer::PEER_TABLE_SIZE) as u64,
            align.max(LINE as u64),
        )
        .ok_or(LayoutError::TooLarge)?;
        let total_len = capacity
            .checked_mul(stride)
            .and_then(|slots| slots.checked_add(slots_offset))
            .filter(|&len| len <= isize::MAX as u64 && usize::try_from(len).is_ok())
            .ok_or(LayoutError::TooLarge)?;
        Ok(Geometry {
            kind,
            capacity,
            slot_size,
            slot_align,
            payload_offset: payload_offset as u32,
            stamped,
            stride: stride32,
            slots_offset,
            total_len,
        })
    }

    /// `capacity - 1`: the mask that turns a cursor into a slot index.
    pub fn mask(&self) -> u64 {
        self.capacity - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spsc_geometry_is_contiguous() {
        let g = Geometry::new(Kind::Spsc, 1024, 64, 8).unwrap();
        assert_eq!(g.stride, 64);
        assert_eq!(g.payload_offset, 0);
        assert_eq!(g.slots_offset, 6144);
        assert_eq!(g.total_len, 6144 + 1024 * 64);
    }

    #[test]
    fn mpmc_geometry_puts_a_stamp_before_each_payload() {
        let g = Geometry::new(Kind::Mpmc, 8, 8, 8).unwrap();
        assert_eq!((g.payload_offset, g.stride), (8, 16));
        let g = Geometry::new(Kind::Mpmc, 8, 5, 1).unwrap();
        assert_eq!((g.payload_offset, g.stride), (8, 16));
        let g = Geometry::new(Kind::Mpmc, 8, 64, 64).unwrap();
        assert_eq!((g.payload_offset, g.stride), (64, 128));
    }

    #[test]
    fn stamped_spsc_geometry_is_the_mpmc_one() {
        for (size, align) in [(8, 8), (5, 1), (64, 64), (24, 8), (1, 1)] {
            let s = Geometry::with_flags(Kind::Spsc, FLAG_STAMPED, 8, size, align).unwrap();
            let m = Geometry::new(Kind::Mpmc, 8, size, align).unwrap();
            assert!(s.stamped);
            assert_eq!((s.payload_offset, s.stride), (m.payload_offset, m.stride));
            assert_eq!(s.stride % 8, 0);
        }
        // A stamped slot size need not be a multiple of its alignment.
        assert!(Geometry::with_flags(Kind::Spsc, FLAG_STAMPED, 8, 12, 8).is_ok());
        // The flag means nothing to the other kinds.
        assert!(
            !Geometry::with_flags(Kind::Mpmc, FLAG_STAMPED, 8, 8, 8)
                .unwrap()
                .stamped
        );
        assert!(!Geometry::new(Kind::Spsc, 8, 8, 8).unwrap().stamped);
    }

    #[test]
    fn large_alignment_moves_the_slots() {
        let g = Geometry::new(Kind::Spsc, 4, 4096, 4096).unwrap();
        assert_eq!(g.slots_offset, 8192);
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert_eq!(
            Geometry::new(Kind::Spsc, 3, 8, 8),
            Err(LayoutError::Capacity(3))
        );
        assert_eq!(
            Geometry::new(Kind::Spsc, 1, 8, 8),
            Err(LayoutError::Capacity(1))
        );
        assert_eq!(
            Geometry::new(Kind::Spsc, 4, 0, 1),
            Err(LayoutError::SlotSize(0))
        );
        assert_eq!(
            Geometry::new(Kind::Spsc, 4, 8, 3),
            Err(LayoutError::SlotAlign(3))
        );
        assert_eq!(
            Geometry::new(Kind::Spsc, 4, 12, 8),
            Err(LayoutError::Unaligned { size: 12, align: 8 })
        );
    }

    #[test]
    fn record_geometry_is_a_byte_ring() {
        let g = Geometry::new(Kind::Record, 4096, 1, 16).unwrap();
        assert_eq!((g.payload_offset, g.stride), (0, 1));
        // The slots follow the header and the peer table.
        assert_eq!(g.slots_offset, 6144);
        assert_eq!(g.total_len, 6144 + 4096);
        assert_eq!(
            Geometry::new(Kind::Record, 32, 1, 16),
            Err(LayoutError::Capacity(32))
        );
        assert_eq!(
            Geometry::new(Kind::Record, 4096, 8, 16),
            Err(LayoutError::SlotSize(8))
        );
        assert_eq!(
            Geometry::new(Kind::Record, 4096, 1, 8),
            Err(LayoutError::SlotAlign(8))
        );
    }

    #[test]
    fn magic_spells_ringway() {
        assert_eq!(&MAGIC.to_le_bytes(), b"RINGWAY\0");
    }
}
