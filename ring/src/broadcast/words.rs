//! The broadcast ring's bytes as atomic 64-bit words: subscribers read
//! bytes the producer may be overwriting (the seqlock of `broadcast`), so
//! every access is atomic, and a torn read is a detected, discarded copy
//! rather than undefined behaviour.

use crate::loom::AtomicU64;
use crate::record::{record_size, RECORD_HEADER, TYPE_MASK};
use crate::ring::Shared;

/// The word at position `pos` (any value: masked to the ring and down to a
/// multiple of 8).
#[inline]
pub(crate) fn word(shared: &Shared, pos: u64) -> &AtomicU64 {
    let (ptr, _idx) = shared.slot(pos & !7);
    #[cfg(not(loom))]
    {
        // SAFETY: `ptr` is byte `idx` of the ring, a multiple of 8 (capacity
        // is a power of two >= 64), and idx + 8 <= capacity: the word is
        // inside the region, which lives as long as `shared`, and 8-aligned
        // (the ring starts at a multiple of 128). The ring's bytes are only
        // ever accessed as atomic words in a broadcast ring.
        unsafe { &*ptr.cast::<AtomicU64>() }
    }
    #[cfg(loom)]
    {
        let _ = ptr;
        shared.access.stamp(_idx)
    }
}

/// A record's stamp word.
#[inline]
pub(crate) fn stamp(shared: &Shared, pos: u64) -> &AtomicU64 {
    word(shared, pos)
}

/// A record's meta word: `len | seq << 32`.
#[inline]
pub(crate) fn meta(shared: &Shared, pos: u64) -> &AtomicU64 {
    word(shared, (pos & !TYPE_MASK) + 8)
}

/// Bytes from `pos` (a record's position) to the end of its lap.
#[inline]
pub(crate) fn room(pos: u64, capacity: u64) -> u64 {
    capacity - (pos & (capacity - 1))
}

/// The bytes a record of `len` at `pos` occupies, if it ends inside the lap.
#[inline]
pub(crate) fn size_within(pos: u64, len: u32, capacity: u64) -> Option<u64> {
    record_size(len as usize).filter(|&size| size <= room(pos, capacity))
}

/// The payload of the record at `pos`, `len` bytes that end inside the lap
/// (the caller checked), as word addresses.
#[inline]
pub(crate) fn payload_word(shared: &Shared, pos: u64, word_index: u64) -> &AtomicU64 {
    word(shared, pos + RECORD_HEADER + word_index * 8)
}
