//! Zero-copy access to SPSC slots: a run of free slots to write in place, or a
//! run of ready slots to read in place. A run that crosses the end of the slot
//! array comes as two slices.

use core::fmt;
use core::marker::PhantomData;

use super::consumer::ConsumerCore;
use super::producer::ProducerCore;
use crate::error::CorruptError;

/// Free slots reserved for writing in place. Nothing is visible to the
/// consumer until [`commit`](Self::commit); dropping the chunk commits nothing.
pub struct WriteChunk<'a, E> {
    core: &'a mut ProducerCore,
    first: *mut E,
    first_slots: usize,
    second: *mut E,
    second_slots: usize,
    per_slot: usize,
    _slots: PhantomData<&'a mut [E]>,
}

impl<E> fmt::Debug for WriteChunk<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteChunk")
            .field("first_slots", &self.first_slots)
            .field("second_slots", &self.second_slots)
            .finish()
    }
}

impl<'a, E> WriteChunk<'a, E> {
    /// Reserves up to `n` slots of `per_slot` elements of `E` each.
    pub(crate) fn new(
        core: &'a mut ProducerCore,
        n: usize,
        per_slot: usize,
    ) -> Result<Self, CorruptError> {
        let (first, first_slots, second, second_slots) = core.reserve(n as u64)?;
        Ok(WriteChunk {
            core,
            first: first.cast(),
            first_slots,
            second: second.cast(),
            second_slots,
            per_slot,
            _slots: PhantomData,
        })
    }

    /// Number of slots in the chunk.
    pub fn len(&self) -> usize {
        self.first_slots + self.second_slots
    }

    /// Whether the chunk has no slot (the ring is full).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The slots, before and after the wrap. Their current contents are
    /// whatever was there (old messages), not zeroes.
    pub fn as_mut_slices(&mut self) -> (&mut [E], &mut [E]) {
        // SAFETY: both spans are free slots we reserved (tail - head + len <=
        // capacity), inside the region, aligned for E (typed rings check the
        // alignment on attach, bytes are u8), and the consumer does not touch
        // them until we publish. The two spans do not overlap: the second
        // starts at slot 0 and is non-empty only when the first ends at the
        // last slot. Their lengths are slots * elements per slot.
        unsafe {
            (
                core::slice::from_raw_parts_mut(self.first, self.first_slots * self.per_slot),
                core::slice::from_raw_parts_mut(self.second, self.second_slots * self.per_slot),
            )
        }
    }

    /// Publishes the first `slots` slots of the chunk (in order) and wakes
    /// the consumer if it sleeps.
    ///
    /// # Panics
    /// When `slots` is more than [`len`](Self::len).
    pub fn commit(self, slots: usize) {
        assert!(
            slots <= self.len(),
            "commit({slots}) of a chunk of {} slots",
            self.len()
        );
        if slots > 0 {
            self.core.publish(slots as u64);
        }
    }

    /// Publishes every slot of the chunk.
    pub fn commit_all(self) {
        let n = self.len();
        self.commit(n);
    }
}

/// Ready slots to read in place. They stay in the ring until
/// [`release`](Self::release); dropping the chunk releases nothing.
pub struct ReadChunk<'a, E> {
    core: &'a mut ConsumerCore,
    first: *const E,
    first_slots: usize,
    second: *const E,
    second_slots: usize,
    per_slot: usize,
    _slots: PhantomData<&'a [E]>,
}

impl<E> fmt::Debug for ReadChunk<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadChunk")
            .field("first_slots", &self.first_slots)
            .field("second_slots", &self.second_slots)
            .finish()
    }
}

impl<'a, E> ReadChunk<'a, E> {
    /// Takes up to `n` ready slots of `per_slot` elements of `E` each.
    pub(crate) fn new(
        core: &'a mut ConsumerCore,
        n: usize,
        per_slot: usize,
    ) -> Result<Self, CorruptError> {
        let (first, first_slots, second, second_slots) = core.peek_spans(n as u64)?;
        Ok(ReadChunk {
            core,
            first: first.cast_const().cast(),
            first_slots,
            second: second.cast_const().cast(),
            second_slots,
            per_slot,
            _slots: PhantomData,
        })
    }

    /// Number of slots in the chunk.
    pub fn len(&self) -> usize {
        self.first_slots + self.second_slots
    }

    /// Whether the chunk has no slot (the ring is empty).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The messages, before and after the wrap, in order.
    pub fn as_slices(&self) -> (&[E], &[E]) {
        // SAFETY: both spans are ready slots (head + len <= tail, tail loaded
        // with Acquire), inside the region, aligned for E; the producer does
        // not write them until we release them. They do not overlap (see
        // `WriteChunk::as_mut_slices`).
        unsafe {
            (
                core::slice::from_raw_parts(self.first, self.first_slots * self.per_slot),
                core::slice::from_raw_parts(self.second, self.second_slots * self.per_slot),
            )
        }
    }

    /// Frees the first `slots` slots of the chunk for the producer and wakes
    /// it if it sleeps.
    ///
    /// # Panics
    /// When `slots` is more than [`len`](Self::len).
    pub fn release(self, slots: usize) {
        assert!(
            slots <= self.len(),
            "release({slots}) of a chunk of {} slots",
            self.len()
        );
        if slots > 0 {
            self.core.release(slots as u64);
        }
    }

    /// Frees every slot of the chunk.
    pub fn release_all(self) {
        let n = self.len();
        self.release(n);
    }
}
