//! The mapped peer table: where it is, what an entry holds, and the meaning
//! of each bit. Pinned by the const asserts at the end.

use core::cell::UnsafeCell;
use core::mem::{offset_of, size_of};

use crate::layout::HEADER_SIZE;
use crate::loom::untracked::{AtomicU32, AtomicU64};

/// Offset of the peer table in the region: right after the 2 KiB header.
pub const PEERS_OFFSET: usize = HEADER_SIZE;

/// Bytes of the peer table (one page); the slots follow it.
pub const PEER_TABLE_SIZE: usize = 4096;

/// Number of entries: every attached handle (producer or consumer, any kind)
/// holds one while it lives.
pub const PEER_TABLE_LEN: usize = 62;

/// `info` bits 0-1: the role of the handle.
pub(crate) const ROLE_MASK: u32 = 0b11;
/// A producer handle (SPSC or MPMC).
pub(crate) const ROLE_PRODUCER: u32 = 1;
/// A consumer handle (SPSC or MPMC).
pub(crate) const ROLE_CONSUMER: u32 = 2;
/// `info` bit: the holder keeps an OFD lock on the entry's byte (otherwise
/// only its pid and start time tell whether it lives).
pub(crate) const TOKEN_OFD: u32 = 1 << 2;
/// `info` bit: the holder is (about to be) registered as a waiter in `data_event`.
pub(crate) const WAIT_DATA: u32 = 1 << 3;
/// `info` bit: the holder is (about to be) registered as a waiter in `space_event`.
pub(crate) const WAIT_SPACE: u32 = 1 << 4;
/// `info` bit: a reaper found the holder dead and is cleaning the entry up
/// (it holds the entry's byte with its own exclusive lock, which
/// `F_OFD_GETLK` cannot tell from the dead holder's: this bit can). Set before
/// the death is counted; cleared after the pid is freed, or overwritten by
/// the next registrant's `info`.
pub(crate) const REAPING: u32 = 1 << 5;
/// `info` bits 8-31: the entry's generation, bumped by every registration.
pub(crate) const GEN_SHIFT: u32 = 8;

/// `producer_left` / `consumer_left`: no holder of the role has left since
/// the last one attached (or none ever attached).
pub const LEFT_NONE: u32 = 0;
/// The last holder of the role to leave dropped its handle.
pub const LEFT_DETACHED: u32 = 1;
/// The last holder of the role to leave died (found dead and reaped).
pub const LEFT_DIED: u32 = 2;

/// One registered handle.
#[derive(Debug)]
#[repr(C)]
pub struct PeerEntry {
    /// Pid of the holder (in its own pid namespace), 0 when the entry is free.
    pub pid: AtomicU32,
    /// Role, token kind, waiter bits and generation (see the constants).
    pub info: AtomicU32,
    /// Start time of the holder process (clock ticks since boot).
    pub start_time: AtomicU64,
    /// Inode of the holder's pid namespace (`/proc/self/ns/pid`), 0 if unknown.
    pub pid_ns: AtomicU64,
    /// MPMC and record rings: first position of the claim in flight (a
    /// record consumer: of the bytes it is freeing). Broadcast subscriber:
    /// its cursor.
    pub claim_pos: AtomicU64,
    /// MPMC: positions claimed and not yet published (producer) or released
    /// (consumer); record rings: bytes claimed (producer) or being freed
    /// (consumer); 0 when none.
    pub claim_len: AtomicU64,
    /// Reserved, zero.
    pub reserved: [AtomicU64; 3],
}

/// The table: how the last holder of each role left, counters, and the entries.
#[derive(Debug)]
#[repr(C, align(128))]
pub struct PeerTable {
    /// How the last producer to leave left: [`LEFT_NONE`], [`LEFT_DETACHED`], [`LEFT_DIED`].
    pub producer_left: AtomicU32,
    /// How the last consumer to leave left.
    pub consumer_left: AtomicU32,
    /// MPMC messages lost with consumers that died holding them.
    pub lost: AtomicU64,
    /// Dead entries reaped so far.
    pub reaped: AtomicU64,
    /// Producers found dead so far (wrapping).
    pub producer_deaths: AtomicU32,
    /// Consumers found dead so far (wrapping).
    pub consumer_deaths: AtomicU32,
    _pad: UnsafeCell<[u8; 128 - 32]>,
    /// The entries.
    pub entries: [PeerEntry; PEER_TABLE_LEN],
}

// SAFETY: every field is an atomic or padding in an `UnsafeCell` never read.
unsafe impl Sync for PeerTable {}

impl PeerTable {
    /// Offset, in the region, of the byte whose OFD lock is entry `index`'s
    /// liveness token (the entry's first byte).
    pub(crate) fn lock_offset(index: usize) -> u64 {
        (PEERS_OFFSET + offset_of!(PeerTable, entries) + index * size_of::<PeerEntry>()) as u64
    }

    /// A zeroed table on the heap (loom models).
    #[cfg(loom)]
    pub(crate) fn zeroed_boxed() -> Box<PeerTable> {
        Box::new(PeerTable {
            producer_left: AtomicU32::new(0),
            consumer_left: AtomicU32::new(0),
            lost: AtomicU64::new(0),
            reaped: AtomicU64::new(0),
            producer_deaths: AtomicU32::new(0),
            consumer_deaths: AtomicU32::new(0),
            _pad: UnsafeCell::new([0; 128 - 32]),
            entries: core::array::from_fn(|_| PeerEntry {
                pid: AtomicU32::new(0),
                info: AtomicU32::new(0),
                start_time: AtomicU64::new(0),
                pid_ns: AtomicU64::new(0),
                claim_pos: AtomicU64::new(0),
                claim_len: AtomicU64::new(0),
                reserved: core::array::from_fn(|_| AtomicU64::new(0)),
            }),
        })
    }
}

/// Offsets folded into the layout hash.
#[cfg(not(loom))]
pub(crate) const LAYOUT_FIELDS: [u64; 9] = [
    PEERS_OFFSET as u64,
    PEER_TABLE_SIZE as u64,
    PEER_TABLE_LEN as u64,
    size_of::<PeerEntry>() as u64,
    offset_of!(PeerTable, entries) as u64,
    offset_of!(PeerTable, producer_deaths) as u64,
    offset_of!(PeerEntry, info) as u64,
    offset_of!(PeerEntry, claim_pos) as u64,
    offset_of!(PeerEntry, claim_len) as u64,
];

#[cfg(not(loom))]
const _: () = {
    assert!(size_of::<PeerEntry>() == 64);
    assert!(size_of::<PeerTable>() == PEER_TABLE_SIZE);
    assert!(offset_of!(PeerTable, entries) == 128);
    assert!(offset_of!(PeerTable, lost) == 8);
    assert!(offset_of!(PeerTable, reaped) == 16);
    assert!(offset_of!(PeerTable, producer_deaths) == 24);
    assert!(offset_of!(PeerTable, consumer_deaths) == 28);
    assert!(offset_of!(PeerEntry, info) == 4);
    assert!(offset_of!(PeerEntry, start_time) == 8);
    assert!(offset_of!(PeerEntry, pid_ns) == 16);
    assert!(offset_of!(PeerEntry, claim_pos) == 24);
    assert!(offset_of!(PeerEntry, claim_len) == 32);
    assert!(PEERS_OFFSET % 128 == 0);
};
