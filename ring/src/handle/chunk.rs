//! Chunks: claimed slots lent in place, written once for every kind.
//!
//! | | SPSC | MPMC |
//! |---|---|---|
//! | slots of a chunk | contiguous: two slices (before and after the wrap) | one per stamp: per-slot access only |
//! | `commit(n)` / `release(n)` | publishes / frees the first `n`; the rest stay free / ready | publishes the first `n`, the rest as skipped / frees all (the claim took the messages) |
//! | dropped without `commit` / `release` | nothing published / nothing freed | all published as skipped / all freed |
//!
//! Every kind has `len`, `get`/`get_mut`, `iter`/`iter_mut`, and
//! `slices`/`slices_mut` (`Some` where the slots are contiguous).

use core::marker::PhantomData;

use super::side::{ConsumerSide, ProducerSide, Span, Spans};
use super::{Flavor, Message, Slices, SlicesMut};
use crate::spsc::Spsc;

/// Free slots claimed to be written in place. Their contents are whatever
/// was there (old messages), not zeroes. [`commit`](Self::commit) publishes
/// them; see the module table for the rest.
///
/// A chunk borrows its handle: the handle cannot be used, nor dropped, while
/// the chunk lives.
///
/// ```compile_fail,E0499
/// use ringway::{spsc, Kind, RingBuilder};
/// let ring = RingBuilder::new(Kind::Spsc).capacity(4).message::<u8>().create_anonymous().unwrap();
/// let mut tx = spsc::Producer::<u8>::attach(&ring).unwrap();
/// let chunk = tx.write_chunk(2).unwrap();
/// tx.try_push(1).unwrap(); // the handle is borrowed by the chunk
/// chunk.commit_all();
/// ```
/// ```compile_fail,E0505
/// use ringway::{mpmc, Kind, RingBuilder};
/// let ring = RingBuilder::new(Kind::Mpmc).capacity(4).message::<u8>().create_anonymous().unwrap();
/// let mut tx = mpmc::Producer::<u8>::attach(&ring).unwrap();
/// let chunk = tx.write_chunk(2).unwrap();
/// drop(tx); // the chunk may not outlive its handle
/// chunk.commit_all();
/// ```
pub struct WriteChunk<'a, K: Flavor, M: Message> {
    side: &'a mut K::Producer,
    claim: Span,
    per_slot: usize,
    _slots: PhantomData<&'a mut [M::Elem]>,
}

/// Ready messages claimed to be read in place; see the module table for
/// [`release`](Self::release) and drop. Borrows its handle as
/// [`WriteChunk`] does.
///
/// ```compile_fail,E0505
/// use ringway::{spsc, Kind, RingBuilder};
/// let ring = RingBuilder::new(Kind::Spsc).capacity(4).message::<u8>().create_anonymous().unwrap();
/// let mut rx = spsc::Consumer::<u8>::attach(&ring).unwrap();
/// let chunk = rx.read_chunk(2).unwrap();
/// drop(rx);
/// chunk.release_all();
/// ```
pub struct ReadChunk<'a, K: Flavor, M: Message> {
    side: &'a mut K::Consumer,
    claim: Span,
    per_slot: usize,
    _slots: PhantomData<&'a [M::Elem]>,
}

impl<K: Flavor, M: Message> core::fmt::Debug for WriteChunk<'_, K, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WriteChunk")
            .field("claim", &self.claim)
            .finish()
    }
}

impl<K: Flavor, M: Message> core::fmt::Debug for ReadChunk<'_, K, M> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ReadChunk")
            .field("claim", &self.claim)
            .finish()
    }
}

/// `(first, second)` slices of `per_slot` elements a slot over `spans`.
///
/// # Safety
/// The spans are claimed slots of this chunk, aligned for `E`, not aliased
/// for `'a` (see the callers).
unsafe fn slices<'a, E>(spans: Spans, per_slot: usize) -> (&'a mut [E], &'a mut [E]) {
    let ((a, an), (b, bn)) = spans;
    // SAFETY: the caller's promise; the two spans do not overlap (the second
    // starts at slot 0 and is non-empty only when the first ends at the last
    // slot).
    unsafe {
        (
            core::slice::from_raw_parts_mut(a.cast(), an * per_slot),
            core::slice::from_raw_parts_mut(b.cast(), bn * per_slot),
        )
    }
}

/// Ends a chunk's claim with `end` (the side's `publish` or `release`) of
/// its first `n` slots, once: the claim is taken, so the drop after a commit
/// or release finds it empty.
#[inline]
fn end<S>(side: &mut S, claim: &mut Span, n: usize, end: impl FnOnce(&mut S, Span, u64)) {
    if claim.len > 0 {
        end(side, core::mem::take(claim), n as u64);
    }
}

impl<'a, K: Flavor, M: Message> WriteChunk<'a, K, M> {
    pub(crate) fn new(side: &'a mut K::Producer, claim: Span, per_slot: usize) -> Self {
        WriteChunk {
            side,
            claim,
            per_slot,
            _slots: PhantomData,
        }
    }

    /// Number of slots claimed.
    pub fn len(&self) -> usize {
        self.claim.len as usize
    }

    /// Whether no slot was claimed (the ring is full).
    pub fn is_empty(&self) -> bool {
        self.claim.len == 0
    }

    /// Slot `i` of the chunk, `None` past the end.
    pub fn get_mut(&mut self, i: usize) -> Option<M::Mut<'_>> {
        (i < self.len()).then(|| self.slot(i))
    }

    /// The slots, in order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = M::Mut<'_>> + '_ {
        let this = &*self;
        (0..this.len()).map(move |i| this.slot(i))
    }

    /// The slots as two slices of elements (before and after the wrap),
    /// where the kind's slots are contiguous (SPSC); `None` otherwise.
    pub fn slices_mut(&mut self) -> Option<SlicesMut<'_, M::Elem>> {
        let spans = self.side.spans(self.claim)?;
        // SAFETY: the spans are this chunk's claimed slots, which nobody
        // else touches until it publishes (that needs `self` by value, and
        // the slices borrow `self` mutably); aligned for `Elem`.
        Some(unsafe { slices(spans, M::elems(self.per_slot)) })
    }

    /// Publishes the first `written` slots of the chunk, in order, and
    /// wakes sleeping consumers (see the module table for the rest).
    ///
    /// # Panics
    /// When `written` is more than [`len`](Self::len).
    pub fn commit(mut self, written: usize) {
        let len = self.len();
        assert!(
            written <= len,
            "commit({written}) of a chunk of {len} slots"
        );
        end(self.side, &mut self.claim, written, K::Producer::publish);
    }

    /// Publishes every slot of the chunk.
    pub fn commit_all(self) {
        let n = self.len();
        self.commit(n);
    }

    /// Copies whole messages of `src` into the slots, in order; how many.
    pub(crate) fn fill_from(&mut self, src: &[M::Elem]) -> usize {
        let per = M::elems(self.per_slot);
        if let Some((a, b)) = self.slices_mut() {
            let (first, rest) = src.split_at(a.len().min(src.len()));
            a[..first.len()].copy_from_slice(first);
            let m = b.len().min(rest.len());
            b[..m].copy_from_slice(&rest[..m]);
            return (first.len() + m) / per;
        }
        let n = self.len().min(src.len() / per);
        for (i, message) in src.chunks_exact(per).take(n).enumerate() {
            let dst = self.side.payload(self.claim.pos.wrapping_add(i as u64));
            // SAFETY: as in `slot`, for i < len; `message` is our own memory
            // of `per` elements.
            unsafe { core::ptr::copy_nonoverlapping(message.as_ptr(), dst.cast(), per) };
        }
        n
    }

    /// Slot `i < len`, lent for as long as `&self` (the caller ties it).
    fn slot<'s>(&self, i: usize) -> M::Mut<'s> {
        debug_assert!(i < self.len());
        let p = self.side.payload(self.claim.pos.wrapping_add(i as u64));
        // SAFETY: slot `i` is claimed by this chunk, so nobody else touches
        // it until it is published, which needs the chunk by value; inside
        // the region (masked index) and aligned for `Elem` (checked on
        // attach); the positions of a claim (at most the capacity) are
        // distinct slots, and each caller lends each index once per borrow
        // of the chunk. `Elem` is Pod, so the old bytes are valid.
        unsafe { M::slot_mut(p, self.per_slot) }
    }
}

impl<K: Flavor, M: Message> Drop for WriteChunk<'_, K, M> {
    fn drop(&mut self) {
        end(self.side, &mut self.claim, 0, K::Producer::publish);
    }
}

impl<'a, K: Flavor, M: Message> ReadChunk<'a, K, M> {
    pub(crate) fn new(side: &'a mut K::Consumer, claim: Span, per_slot: usize) -> Self {
        ReadChunk {
            side,
            claim,
            per_slot,
            _slots: PhantomData,
        }
    }

    /// Number of messages (claimed positions published as skipped are not
    /// shown).
    pub fn len(&self) -> usize {
        (self.claim.len - self.claim.skips) as usize
    }

    /// Whether the chunk holds no message.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Message `i`, `None` past the end (O(1) unless the claim passed over
    /// skipped positions).
    pub fn get(&self, i: usize) -> Option<M::Ref<'_>> {
        if self.claim.skips == 0 {
            return (i < self.len()).then(|| self.show(i as u64)).flatten();
        }
        self.iter().nth(i)
    }

    /// The messages, in order.
    pub fn iter(&self) -> impl Iterator<Item = M::Ref<'_>> + '_ {
        (0..self.claim.len).filter_map(move |i| self.show(i))
    }

    /// The messages as two slices of elements (before and after the wrap),
    /// where the kind's slots are contiguous (SPSC); `None` otherwise.
    pub fn slices(&self) -> Option<Slices<'_, M::Elem>> {
        let ((a, an), (b, bn)) = self.side.spans(self.claim)?;
        let per = M::elems(self.per_slot);
        // SAFETY: the spans are this chunk's ready slots, which the producer
        // does not write until they are released (that needs `self` by
        // value); aligned for `Elem`, `Elem` is Pod; the slices borrow
        // `self`.
        unsafe {
            Some((
                core::slice::from_raw_parts(a.cast_const().cast(), an * per),
                core::slice::from_raw_parts(b.cast_const().cast(), bn * per),
            ))
        }
    }

    /// Gives back the first `read` messages of the chunk (see the module
    /// table for the rest) and wakes sleeping producers.
    ///
    /// # Panics
    /// When `read` is more than [`len`](Self::len).
    pub fn release(mut self, read: usize) {
        let len = self.len();
        assert!(read <= len, "release({read}) of a chunk of {len} slots");
        end(self.side, &mut self.claim, read, K::Consumer::release);
    }

    /// Whether [`release`](Self::release) of part of the chunk leaves the
    /// rest in the ring (SPSC), or frees the whole claim (MPMC).
    pub fn releases_part(&self) -> bool {
        <K::Consumer as ConsumerSide>::PARTIAL_RELEASE
    }

    /// Gives back every message of the chunk.
    pub fn release_all(self) {
        let n = self.len();
        self.release(n);
    }

    /// Copies whole messages into `out`, in order; how many.
    pub(crate) fn copy_to(&self, out: &mut [M::Elem]) -> usize {
        let per = M::elems(self.per_slot);
        if let Some((a, b)) = self.slices() {
            let (first, rest) = out.split_at_mut(a.len().min(out.len()));
            first.copy_from_slice(&a[..first.len()]);
            let m = b.len().min(rest.len());
            rest[..m].copy_from_slice(&b[..m]);
            return (first.len() + m) / per;
        }
        let mut n = 0;
        let shown = (0..self.claim.len).filter_map(|i| self.side.shown(self.claim, i));
        for (dst, src) in out.chunks_exact_mut(per).zip(shown) {
            // SAFETY: as in `show`; `dst` is our own memory of `per` elements.
            unsafe { core::ptr::copy_nonoverlapping(src.cast(), dst.as_mut_ptr(), per) };
            n += 1;
        }
        n
    }

    /// Position `i` of the claim, unless it is skipped.
    fn show(&self, i: u64) -> Option<M::Ref<'_>> {
        let p = self.side.shown(self.claim, i)?;
        // SAFETY: the position is claimed by this chunk and its publication
        // was loaded with Acquire, so the producer's write is visible and
        // nobody writes the slot until the chunk frees it, which needs
        // `self` by value; inside the region, aligned for `Elem` (checked
        // on attach); `Elem` is Pod.
        Some(unsafe { M::slot_ref(p, self.per_slot) })
    }
}

impl<K: Flavor, M: Message> Drop for ReadChunk<'_, K, M> {
    fn drop(&mut self) {
        end(self.side, &mut self.claim, 0, K::Consumer::release);
    }
}

impl<M: Message> WriteChunk<'_, Spsc, M> {
    /// The slots as two slices (before and after the wrap): SPSC slots are
    /// contiguous.
    pub fn as_mut_slices(&mut self) -> (&mut [M::Elem], &mut [M::Elem]) {
        self.slices_mut().unwrap_or_default()
    }
}

impl<M: Message> ReadChunk<'_, Spsc, M> {
    /// The messages as two slices (before and after the wrap).
    pub fn as_slices(&self) -> (&[M::Elem], &[M::Elem]) {
        self.slices().unwrap_or_default()
    }
}
