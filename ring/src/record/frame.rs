//! One record header in the mapping: where its stamp, length and payload are.
//!
//! Every accessor masks the position itself (to the ring and down to a
//! multiple of 16), so no value read from shared memory can point a header
//! outside the ring; a payload's length is checked by the caller against
//! the end of the lap before any byte of it is touched.

use super::{RECORD_HEADER, TYPE_MASK};
use crate::loom::AtomicU64;
#[cfg(loom)]
use crate::loom::Ordering;
use crate::ring::Shared;

/// The header of the record at one position.
pub(crate) struct Frame<'a> {
    /// The stamp: 0, or `pos | type` once committed.
    pub(crate) stamp: &'a AtomicU64,
    /// Start of the header.
    start: *mut u8,
    /// Byte index of the header, a multiple of 16, at most `capacity - 16`.
    pub(crate) idx: usize,
}

impl<'a> Frame<'a> {
    /// The header at `pos` (any value: masked to the ring and to 16).
    #[inline]
    pub(crate) fn of(shared: &'a Shared, pos: u64) -> Frame<'a> {
        let (start, idx) = shared.slot(pos & !TYPE_MASK);
        #[cfg(not(loom))]
        // SAFETY: `start` is byte `idx` of the ring, with idx a multiple of 16
        // (capacity is a power of two >= 64, so masking keeps the low bits
        // clear) and idx + 16 <= capacity: the whole header is inside the
        // region, which lives as long as `shared`. The ring's data starts at
        // a multiple of 128, so `start` is 16-aligned. The first 8 bytes of a
        // header are only accessed atomically, or zeroed by the consumer
        // while it owns them (see `zero`).
        let stamp = unsafe { &*start.cast::<AtomicU64>() };
        #[cfg(loom)]
        let stamp = shared.access.stamp(idx);
        Frame { stamp, start, idx }
    }

    /// The length word, read once (a peer may change it at any time: the
    /// caller validates the copy).
    #[inline]
    pub(crate) fn len(&self) -> u32 {
        // SAFETY: bytes 8..12 of a header inside the ring (see `of`), 4-aligned.
        // Volatile: read exactly once from memory a peer may write.
        unsafe { core::ptr::read_volatile(self.start.add(8).cast::<u32>()) }
    }

    /// Writes the length word (the claim's owner, before publishing the stamp).
    #[inline]
    pub(crate) fn set_len(&self, len: u32) {
        // SAFETY: as in `len`; the caller owns the claim of this header.
        unsafe { core::ptr::write_volatile(self.start.add(8).cast::<u32>(), len) }
    }

    /// The checksum word, read once.
    #[inline]
    pub(crate) fn crc(&self) -> u32 {
        // SAFETY: bytes 12..16 of a header inside the ring (see `of`), 4-aligned.
        unsafe { core::ptr::read_volatile(self.start.add(12).cast::<u32>()) }
    }

    /// Writes the checksum word (the claim's owner, before publishing).
    #[inline]
    pub(crate) fn set_crc(&self, crc: u32) {
        // SAFETY: as in `crc`; the caller owns the claim of this header.
        unsafe { core::ptr::write_volatile(self.start.add(12).cast::<u32>(), crc) }
    }

    /// The payload of `len` bytes.
    ///
    /// # Safety
    /// The header's position plus `record_size(len)` must end inside the lap
    /// (checked by the caller), and nobody may write those bytes while the
    /// slice lives (the claim's owner before publishing, the consumer before
    /// releasing).
    #[inline]
    pub(crate) unsafe fn payload_slice(&self, len: usize) -> &[u8] {
        // SAFETY: the caller's promise.
        unsafe { core::slice::from_raw_parts(self.payload(), len) }
    }

    /// Start of the payload, 16 bytes after the header. In bounds as a
    /// pointer (at most one past the ring's end); the caller checks the
    /// payload's length before reading or writing through it.
    #[inline]
    pub(crate) fn payload(&self) -> *mut u8 {
        // SAFETY: idx + 16 <= capacity, so the result is inside the region
        // or one past the ring's bytes (still inside the mapping's bounds
        // for pointer arithmetic: total_len = slots_offset + capacity).
        unsafe { self.start.add(RECORD_HEADER as usize) }
    }
}

/// Zeroes the `size` bytes of a record at `pos` that the consumer owns (it
/// read or skipped them and has not yet moved `head` past them), so that the
/// next lap finds every stamp 0. `size` is a multiple of 16 with
/// `idx + size <= capacity` (the caller checked it).
#[inline]
pub(crate) fn zero(shared: &Shared, pos: u64, size: u64) {
    let frame = Frame::of(shared, pos);
    debug_assert!(size % 16 == 0);
    #[cfg(not(loom))]
    // SAFETY: [idx, idx + size) is inside the ring (the caller's check) and
    // owned by the consumer: producers write it only after they read a `head`
    // past it, which the consumer stores (Release) after this.
    unsafe {
        core::ptr::write_bytes(frame.start, 0, size as usize)
    };
    #[cfg(loom)]
    {
        let _ = frame.start;
        let mut at = 0;
        while at < size {
            let f = Frame::of(shared, pos + at);
            // Relaxed: ordered before the producers' writes by the Release
            // store of head that follows.
            f.stamp.store(0, Ordering::Relaxed);
            shared.access.write(f.idx);
            at += 16;
        }
    }
}
