//! Zero-copy access to claimed MPMC slots.
//!
//! A batch of claimed positions is not one contiguous slice: each slot's
//! payload follows its stamp. So chunks give indexed and iterator access to
//! each slot's payload (`&mut T` / `&mut [u8]` to write, `&T` / `&[u8]` to
//! read).
//!
//! Every claimed position must eventually get a new stamp, or the other side
//! stalls at it. Hence:
//! - a write chunk publishes on [`commit`](WriteChunk::commit) the slots it
//!   was told to and marks the rest *skipped*; dropping it uncommitted marks
//!   all of its slots skipped. Consumers pass over skipped slots silently.
//! - a read chunk frees all of its slots when released or dropped. The
//!   messages in it were taken from the ring by the claim; no other consumer
//!   sees them, so dropping a chunk neither loses (to the caller, who holds
//!   them) nor duplicates messages.

use core::fmt;
use core::marker::PhantomData;

use super::consumer::{Claimed, ConsumerCore};
use super::producer::ProducerCore;
use super::stamp::SKIP;
use super::Claim;
use crate::error::CorruptError;
use crate::loom::Ordering;

/// Claimed free positions `pos..pos + len`, published when finished.
pub(crate) struct RawWrite<'a> {
    core: &'a mut ProducerCore,
    pos: u64,
    len: u64,
}

impl<'a> RawWrite<'a> {
    /// Claims up to `n` free slots; an empty claim when none are free.
    pub(crate) fn claim(core: &'a mut ProducerCore, n: u64) -> Result<Self, CorruptError> {
        let (pos, len) = match core.claim(n) {
            Ok(claim) => claim,
            Err(Claim::Unavailable) => (0, 0),
            Err(Claim::Corrupt(e)) => return Err(e),
        };
        Ok(RawWrite { core, pos, len })
    }

    /// Payload of claimed slot `i` (`i < len`).
    #[inline]
    fn payload(&self, i: usize) -> *mut u8 {
        debug_assert!((i as u64) < self.len);
        self.core.slot(self.pos.wrapping_add(i as u64)).payload
    }

    /// Publishes the first `written` slots as messages, the rest as skipped.
    fn finish(&mut self, written: u64) {
        if self.len > 0 {
            self.core.publish(self.pos, self.len, written);
            self.len = 0;
        }
    }
}

impl Drop for RawWrite<'_> {
    fn drop(&mut self) {
        self.finish(0);
    }
}

/// Claimed ready positions, released when finished.
pub(crate) struct RawRead<'a> {
    core: &'a mut ConsumerCore,
    claimed: Claimed,
}

impl<'a> RawRead<'a> {
    /// Claims up to `n` ready positions; an empty claim when none are ready.
    pub(crate) fn claim(core: &'a mut ConsumerCore, n: u64) -> Result<Self, CorruptError> {
        let claimed = match core.claim(n, false) {
            Ok(claimed) => claimed,
            Err(Claim::Unavailable) => Claimed {
                pos: 0,
                len: 0,
                skips: 0,
            },
            Err(Claim::Corrupt(e)) => return Err(e),
        };
        Ok(RawRead { core, claimed })
    }

    /// Number of messages (claimed positions that are not skipped).
    fn messages(&self) -> usize {
        (self.claimed.len - self.claimed.skips) as usize
    }

    /// Payloads of the messages, in order.
    fn iter(&self) -> RawIter<'_> {
        RawIter {
            core: self.core,
            pos: self.claimed.pos,
            end: self.claimed.pos.wrapping_add(self.claimed.len),
            skips_left: self.claimed.skips,
        }
    }

    /// Payload of message `i`: O(1) when the claim has no skipped position.
    fn get(&self, i: usize) -> Option<*const u8> {
        if i >= self.messages() {
            return None;
        }
        if self.claimed.skips == 0 {
            let pos = self.claimed.pos.wrapping_add(i as u64);
            return Some(self.core.slot(pos).payload.cast_const());
        }
        self.iter().nth(i)
    }

    fn finish(&mut self) {
        if self.claimed.len > 0 {
            self.core.release(self.claimed.pos, self.claimed.len);
            self.claimed.len = 0;
            self.claimed.skips = 0;
        }
    }
}

impl Drop for RawRead<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Walks the claimed positions, passing over skipped ones.
struct RawIter<'c> {
    core: &'c ConsumerCore,
    pos: u64,
    end: u64,
    skips_left: u64,
}

impl Iterator for RawIter<'_> {
    type Item = *const u8;

    fn next(&mut self) -> Option<*const u8> {
        while self.pos != self.end {
            let pos = self.pos;
            self.pos = pos.wrapping_add(1);
            let slot = self.core.slot(pos);
            if self.skips_left > 0 {
                // Relaxed: we hold the claim, so no honest peer writes this
                // stamp until we release it, and `claim` loaded it with
                // Acquire already. A scribbled value only decides whether
                // we show these (in-bounds, Pod) bytes.
                let stamp = slot.stamp.load(Ordering::Relaxed);
                if stamp == self.core.stamps().at(pos, SKIP) {
                    self.skips_left -= 1;
                    continue;
                }
            }
            return Some(slot.payload.cast_const());
        }
        None
    }
}

/// Free slots of a typed MPMC ring claimed to be written in place.
///
/// The slots hold whatever was there (old messages), not zeroes.
/// [`commit`](Self::commit) publishes them; dropping the chunk uncommitted
/// publishes them as skipped (consumers never see them).
pub struct WriteChunk<'a, T> {
    raw: RawWrite<'a>,
    _slots: PhantomData<&'a mut [T]>,
}

impl<T> fmt::Debug for WriteChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteChunk")
            .field("pos", &self.raw.pos)
            .field("len", &self.raw.len)
            .finish()
    }
}

impl<'a, T: bytemuck::Pod> WriteChunk<'a, T> {
    pub(crate) fn new(raw: RawWrite<'a>) -> Self {
        WriteChunk {
            raw,
            _slots: PhantomData,
        }
    }

    /// Number of slots claimed.
    pub fn len(&self) -> usize {
        self.raw.len as usize
    }

    /// Whether no slot was claimed (the ring is full).
    pub fn is_empty(&self) -> bool {
        self.raw.len == 0
    }

    /// Slot `i` of the chunk, `None` past the end.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if i >= self.len() {
            return None;
        }
        // SAFETY: slot `i` is claimed by this chunk (we won the CAS over its
        // position), so nobody else touches it until we publish; the pointer
        // is inside the region and aligned for T (checked on attach); the
        // reference borrows `self`, which publishes only when consumed. T is
        // Pod, so the old bytes are a valid T.
        Some(unsafe { &mut *self.raw.payload(i).cast::<T>() })
    }

    /// The slots in order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        let raw = &self.raw;
        (0..raw.len as usize).map(move |i| {
            // SAFETY: as in `get_mut`; each index is visited once and the
            // positions of a claim (at most `capacity`) map to distinct
            // slots, so the references do not alias.
            unsafe { &mut *raw.payload(i).cast::<T>() }
        })
    }

    /// Publishes the first `written` slots of the chunk as messages, in
    /// order, and the rest as skipped; wakes sleeping consumers.
    ///
    /// # Panics
    /// When `written` is more than [`len`](Self::len).
    pub fn commit(mut self, written: usize) {
        assert!(
            written <= self.len(),
            "commit({written}) of a chunk of {} slots",
            self.len()
        );
        self.raw.finish(written as u64);
    }

    /// Publishes every slot of the chunk.
    pub fn commit_all(self) {
        let n = self.len();
        self.commit(n);
    }
}

/// Free slots of a bytes MPMC ring claimed to be written in place; each slot
/// is `slot_size` bytes. Commit and drop as [`WriteChunk`].
pub struct BytesWriteChunk<'a> {
    raw: RawWrite<'a>,
    slot_size: usize,
}

impl fmt::Debug for BytesWriteChunk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BytesWriteChunk")
            .field("pos", &self.raw.pos)
            .field("len", &self.raw.len)
            .finish()
    }
}

impl<'a> BytesWriteChunk<'a> {
    pub(crate) fn new(raw: RawWrite<'a>, slot_size: usize) -> Self {
        BytesWriteChunk { raw, slot_size }
    }

    /// Number of slots claimed.
    pub fn len(&self) -> usize {
        self.raw.len as usize
    }

    /// Whether no slot was claimed (the ring is full).
    pub fn is_empty(&self) -> bool {
        self.raw.len == 0
    }

    /// The bytes of slot `i`, `None` past the end.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        if i >= self.len() {
            return None;
        }
        // SAFETY: as in `WriteChunk::get_mut`; the payload has slot_size
        // bytes inside the slot (payload_offset + slot_size <= stride).
        Some(unsafe { core::slice::from_raw_parts_mut(self.raw.payload(i), self.slot_size) })
    }

    /// The slots in order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        let raw = &self.raw;
        let size = self.slot_size;
        (0..raw.len as usize).map(move |i| {
            // SAFETY: as in `WriteChunk::iter_mut`.
            unsafe { core::slice::from_raw_parts_mut(raw.payload(i), size) }
        })
    }

    /// Publishes the first `written` slots as messages and the rest as
    /// skipped.
    ///
    /// # Panics
    /// When `written` is more than [`len`](Self::len).
    pub fn commit(mut self, written: usize) {
        assert!(
            written <= self.len(),
            "commit({written}) of a chunk of {} slots",
            self.len()
        );
        self.raw.finish(written as u64);
    }

    /// Publishes every slot of the chunk.
    pub fn commit_all(self) {
        let n = self.len();
        self.commit(n);
    }
}

/// Messages of a typed MPMC ring claimed to be read in place. They are this
/// consumer's: [`release`](Self::release) or dropping the chunk frees their
/// slots.
pub struct ReadChunk<'a, T> {
    raw: RawRead<'a>,
    _slots: PhantomData<&'a [T]>,
}

impl<T> fmt::Debug for ReadChunk<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunk")
            .field("pos", &self.raw.claimed.pos)
            .field("positions", &self.raw.claimed.len)
            .field("skipped", &self.raw.claimed.skips)
            .finish()
    }
}

impl<'a, T: bytemuck::Pod> ReadChunk<'a, T> {
    pub(crate) fn new(raw: RawRead<'a>) -> Self {
        ReadChunk {
            raw,
            _slots: PhantomData,
        }
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.raw.messages()
    }

    /// Whether the chunk holds no message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Message `i` (O(1) unless the claim passed over skipped slots).
    pub fn get(&self, i: usize) -> Option<&T> {
        // SAFETY: see `iter`.
        self.raw.get(i).map(|p| unsafe { &*p.cast::<T>() })
    }

    /// The messages in order.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.raw.iter().map(|p| {
            // SAFETY: the position is claimed by this chunk and its stamp was
            // loaded ready with Acquire, so the producer's write is visible
            // and nobody writes the slot until the chunk frees it, which needs
            // `self` by value; inside the region, aligned for T (checked on
            // attach); T is Pod.
            unsafe { &*p.cast::<T>() }
        })
    }

    /// Frees the chunk's slots for the producers and wakes sleeping ones
    /// (dropping the chunk does the same).
    pub fn release(mut self) {
        self.raw.finish();
    }
}

/// Messages of a bytes MPMC ring claimed to be read in place (`slot_size`
/// bytes each). Release and drop as [`ReadChunk`].
pub struct BytesReadChunk<'a> {
    raw: RawRead<'a>,
    slot_size: usize,
}

impl fmt::Debug for BytesReadChunk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BytesReadChunk")
            .field("pos", &self.raw.claimed.pos)
            .field("positions", &self.raw.claimed.len)
            .field("skipped", &self.raw.claimed.skips)
            .finish()
    }
}

impl<'a> BytesReadChunk<'a> {
    pub(crate) fn new(raw: RawRead<'a>, slot_size: usize) -> Self {
        BytesReadChunk { raw, slot_size }
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.raw.messages()
    }

    /// Whether the chunk holds no message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Message `i` (O(1) unless the claim passed over skipped slots).
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let size = self.slot_size;
        // SAFETY: see `ReadChunk::iter`; slot_size bytes inside the slot.
        self.raw
            .get(i)
            .map(|p| unsafe { core::slice::from_raw_parts(p, size) })
    }

    /// The messages in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let size = self.slot_size;
        self.raw.iter().map(move |p| {
            // SAFETY: see `ReadChunk::iter`; slot_size bytes inside the slot.
            unsafe { core::slice::from_raw_parts(p, size) }
        })
    }

    /// Frees the chunk's slots (dropping the chunk does the same).
    pub fn release(mut self) {
        self.raw.finish();
    }
}
