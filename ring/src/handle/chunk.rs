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

use super::side::{ConsumerSide, ProducerSide, Side, Span, Spans};
use super::{Flavor, Message, Slices, SlicesMut};
use crate::spsc::Spsc;

/// The parts of [`WriteChunk`] and [`ReadChunk`] that are the same but for
/// the side (`$side`, the core of `K` it borrows, and `$step`, its
/// `publish` or `release`): the struct, `Debug`, `new`, `len` (a producer's
/// claim has no skipped positions), `is_empty`, the public end of the claim
/// (`$end`, `$all`) and the drop.
macro_rules! chunk {
    (
        $(#[$doc:meta])* $name:ident($side:ident, $step:ident, $slots:ty),
        $(#[$end_doc:meta])* $end:ident($n:ident),
        $(#[$all_doc:meta])* $all:ident,
    ) => {
        $(#[$doc])*
        pub struct $name<'a, K: Flavor, M: Message> {
            side: &'a mut K::$side,
            claim: Span,
            per_slot: usize,
            _slots: PhantomData<$slots>,
        }

        impl<K: Flavor, M: Message> core::fmt::Debug for $name<'_, K, M> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("claim", &self.claim)
                    .finish()
            }
        }

        impl<'a, K: Flavor, M: Message> $name<'a, K, M> {
            pub(crate) fn new(side: &'a mut K::$side, claim: Span, per_slot: usize) -> Self {
                $name {
                    side,
                    claim,
                    per_slot,
                    _slots: PhantomData,
                }
            }

            /// Number of slots: free ones claimed (a write chunk; 0 when
            /// the ring is full), or messages (a read chunk; claimed
            /// positions published as skipped are not counted).
            pub fn len(&self) -> usize {
                (self.claim.len - self.claim.skips) as usize
            }

            /// Whether [`len`](Self::len) is 0.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            $(#[$end_doc])*
            pub fn $end(mut self, $n: usize) {
                let len = self.len();
                let what = stringify!($end);
                assert!($n <= len, "{what}({}) of a chunk of {len} slots", $n);
                self.end($n);
            }

            $(#[$all_doc])*
            pub fn $all(self) {
                let n = self.len();
                self.$end(n);
            }

            /// Ends the claim with its first `n` slots, once: the claim is
            /// taken, so the drop after an end finds it empty. A chunk
            /// that a `fork` copied into a child ends nothing: the claim is
            /// the parent's, which ends it with its own copy.
            #[inline]
            pub(super) fn end(&mut self, n: usize) {
                if self.claim.len > 0 {
                    let claim = core::mem::take(&mut self.claim);
                    if self.side.check_fork().is_ok() {
                        self.side.$step(claim, n as u64);
                    }
                }
            }
        }

        impl<K: Flavor, M: Message> Drop for $name<'_, K, M> {
            fn drop(&mut self) {
                self.end(0);
            }
        }
    };
}

chunk! {
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
    WriteChunk(Producer, publish, &'a mut [M::Elem]),
    /// Publishes the first `written` slots of the chunk, in order, and
    /// wakes sleeping consumers (see the module table for the rest).
    ///
    /// # Panics
    /// When `written` is more than [`len`](Self::len).
    commit(written),
    /// Publishes every slot of the chunk.
    commit_all,
}

chunk! {
    /// Ready messages claimed to be read in place; see the module table for
    /// [`release`](Self::release) and drop. Borrows its handle as
    /// [`WriteChunk`] does.
    ///
    /// **The bytes lent in place may change under you.** An honest peer does
    /// not write a claimed slot, but any process that can write the ring can:
    /// the views ([`get`](Self::get), [`iter`](Self::iter),
    /// [`slices`](Self::slices)) are for passing bytes on (to `write(2)`, a
    /// hash, a copy), and a value checked through them may read differently
    /// when it is used. Parse from a copy: [`copy_to`](Self::copy_to) or
    /// [`copy_message`](Self::copy_message) (volatile loads, each byte once;
    /// see the `copy` module docs of the crate source for why lending `&T` of a
    /// `Pod` type is kept and what its residual risk is).
    ///
    /// ```compile_fail,E0505
    /// use ringway::{spsc, Kind, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Spsc).capacity(4).message::<u8>().create_anonymous().unwrap();
    /// let mut rx = spsc::Consumer::<u8>::attach(&ring).unwrap();
    /// let chunk = rx.read_chunk(2).unwrap();
    /// drop(rx);
    /// chunk.release_all();
    /// ```
    ReadChunk(Consumer, release, &'a [M::Elem]),
    /// Gives back the first `read` messages of the chunk (see the module
    /// table for the rest) and wakes sleeping producers.
    ///
    /// # Panics
    /// When `read` is more than [`len`](Self::len).
    release(read),
    /// Gives back every message of the chunk.
    release_all,
}

/// The contiguous slots of `spans` (before and after the wrap) as raw
/// slices of `per` elements a slot; `None` where the kind gives no spans.
fn runs<E>(spans: Option<Spans>, per: usize) -> Option<(*mut [E], *mut [E])> {
    let ((a, an), (b, bn)) = spans?;
    let run = |p: *mut u8, n: usize| core::ptr::slice_from_raw_parts_mut(p.cast::<E>(), n * per);
    Some((run(a, an), run(b, bn)))
}

impl<K: Flavor, M: Message> WriteChunk<'_, K, M> {
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
    /// where the ring's slots are contiguous (SPSC, not stamped); `None`
    /// otherwise.
    pub fn slices_mut(&mut self) -> Option<SlicesMut<'_, M::Elem>> {
        let (a, b) = runs(self.side.spans(self.claim), M::elems(self.per_slot))?;
        // SAFETY: the runs are this chunk's claimed slots, which nobody
        // else touches until it publishes (that needs `self` by value, and
        // the slices borrow `self` mutably); aligned for `Elem`; the two do
        // not overlap (the second starts at slot 0 and is non-empty only
        // when the first ends at the last slot).
        Some(unsafe { (&mut *a, &mut *b) })
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

impl<K: Flavor, M: Message> ReadChunk<'_, K, M> {
    /// Message `i`, `None` past the end (O(1) unless the claim passed over
    /// skipped positions).
    pub fn get(&self, i: usize) -> Option<M::Ref<'_>> {
        let p = self.nth(i)?;
        // SAFETY: `p` is the payload of a position of this chunk's claim.
        Some(unsafe { self.view(p) })
    }

    /// The messages, in order.
    pub fn iter(&self) -> impl Iterator<Item = M::Ref<'_>> + '_ {
        let shown = (0..self.claim.len).filter_map(|k| self.side.shown(self.claim, k));
        // SAFETY: each `p` is the payload of a position of this chunk's claim.
        shown.map(|p| unsafe { self.view(p) })
    }

    /// The messages as two slices of elements (before and after the wrap),
    /// where the ring's slots are contiguous (SPSC, not stamped); `None`
    /// otherwise.
    pub fn slices(&self) -> Option<Slices<'_, M::Elem>> {
        let (a, b) = runs(self.side.spans(self.claim), M::elems(self.per_slot))?;
        // SAFETY: the runs are this chunk's ready slots, which the producer
        // does not write until they are released (that needs `self` by
        // value); aligned for `Elem`, `Elem` is Pod; the slices borrow
        // `self`.
        Some(unsafe { (&*a, &*b) })
    }

    /// Whether [`release`](Self::release) of part of the chunk leaves the
    /// rest in the ring (SPSC), or frees the whole claim (MPMC).
    pub fn releases_part(&self) -> bool {
        <K::Consumer as ConsumerSide>::PARTIAL_RELEASE
    }

    /// Copies whole messages of the chunk into `out`, in order, and returns
    /// how many (at most `out.len() / slot_size`). The chunk keeps them:
    /// [`release`](Self::release) still decides what leaves the ring.
    ///
    /// This is the read to parse from: each byte is read once with a
    /// volatile load (see the `copy` module docs), so what `out` holds is a
    /// private snapshot that a peer writing the slots cannot change after
    /// it is checked. The in-place views ([`get`](Self::get),
    /// [`iter`](Self::iter), [`slices`](Self::slices)) lend bytes that may
    /// change under the reader: copy before validating.
    ///
    /// # Examples
    /// ```
    /// use ringway::{spsc, Kind, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Spsc).capacity(4).slot_size(8).create_anonymous()?;
    /// let mut tx = spsc::BytesProducer::attach(&ring)?;
    /// let mut rx = spsc::BytesConsumer::attach(&ring)?;
    /// tx.push_slice(b"message1message2")?;
    /// let chunk = rx.read_chunk(4)?;
    /// let mut out = [0u8; 20];
    /// assert_eq!(chunk.copy_to(&mut out), 2);
    /// assert_eq!(&out[..16], b"message1message2");
    /// let mut one = [0u8; 8];
    /// assert!(chunk.copy_message(1, &mut one));
    /// assert_eq!(&one, b"message2");
    /// assert!(!chunk.copy_message(2, &mut one));
    /// chunk.release_all();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_to(&self, out: &mut [M::Elem]) -> usize {
        let per = M::elems(self.per_slot);
        let Some((a, b)) = runs::<M::Elem>(self.side.spans(self.claim), per) else {
            // One message at a time, until the chunk or `out` ends, in one
            // pass over the claim's positions (skipped ones show nothing).
            let mut dsts = out.chunks_exact_mut(per);
            let mut done = 0;
            for k in 0..self.claim.len {
                let Some(p) = self.side.shown(self.claim, k) else {
                    continue;
                };
                let Some(dst) = dsts.next() else { break };
                // SAFETY: as in `copy_into`: `p` is the payload of a
                // position of this chunk's claim, `dst` one message of our
                // caller's own memory.
                unsafe { crate::copy::copy_out_elems(p, dst) };
                done += 1;
            }
            return done;
        };
        // Contiguous slots: at most two runs, each copied at once.
        let mut done = 0;
        for run in [a, b] {
            let n = run.len().min(out.len() / per * per - done);
            let dst = &mut out[done..done + n];
            // SAFETY: the run is this chunk's ready slots (as in `slices`),
            // `n` elements of it copied into our caller's own memory.
            unsafe { crate::copy::copy_out_elems(run.cast::<u8>().cast_const(), dst) };
            done += n;
        }
        done / per
    }

    /// Copies message `i` of the chunk into `out`, which must be one message
    /// long ([`slot_size`](super::Consumer::slot_size) elements), as
    /// [`copy_to`](Self::copy_to) copies: a private snapshot to parse from.
    /// Returns `false` (and copies nothing) when `i` is past the end or
    /// `out` is not one message long.
    pub fn copy_message(&self, i: usize, out: &mut [M::Elem]) -> bool {
        out.len() == M::elems(self.per_slot) && self.copy_into(i, out)
    }

    /// Message `i` copied into `out` (one message long), unless past the end.
    fn copy_into(&self, i: usize, out: &mut [M::Elem]) -> bool {
        let Some(p) = self.nth(i) else { return false };
        debug_assert_eq!(out.len(), M::elems(self.per_slot));
        // SAFETY: as in `view` (a claimed, published slot of `out.len()`
        // elements inside the region); `out` is our caller's own memory;
        // volatile loads, so a peer writing the slot anyway only tears the
        // copy.
        unsafe { crate::copy::copy_out_elems(p, out) };
        true
    }

    /// The payload of message `i` (past the skipped positions), unless `i`
    /// is past the end.
    fn nth(&self, i: usize) -> Option<*const u8> {
        if self.claim.skips == 0 {
            return (i < self.len()).then(|| self.side.shown(self.claim, i as u64))?;
        }
        (0..self.claim.len)
            .filter_map(|k| self.side.shown(self.claim, k))
            .nth(i)
    }

    /// The message at `p`, lent for as long as `&self`.
    ///
    /// # Safety
    /// `p` is the payload of a position of this chunk's claim (from the
    /// side's `shown`).
    unsafe fn view(&self, p: *const u8) -> M::Ref<'_> {
        // SAFETY: the position is claimed by this chunk and its publication
        // was loaded with Acquire, so the producer's write is visible and
        // nobody writes the slot until the chunk frees it, which needs
        // `self` by value; inside the region, aligned for `Elem` (checked
        // on attach); `Elem` is Pod.
        unsafe { M::slot_ref(p, self.per_slot) }
    }
}

impl<M: Message> WriteChunk<'_, Spsc, M> {
    /// The slots as two slices (before and after the wrap): the slots of an
    /// SPSC ring with the default, contiguous layout follow each other.
    ///
    /// # Panics
    /// On a ring created with [`RingBuilder::stamped`](crate::RingBuilder::stamped)
    /// (each slot carries a stamp, so the payloads are not contiguous): use
    /// [`slices_mut`](Self::slices_mut), [`get_mut`](Self::get_mut) or
    /// [`iter_mut`](Self::iter_mut), which work on every layout.
    pub fn as_mut_slices(&mut self) -> (&mut [M::Elem], &mut [M::Elem]) {
        self.slices_mut()
            .expect("as_mut_slices on a stamped SPSC ring: its slots are not contiguous")
    }
}

impl<M: Message> ReadChunk<'_, Spsc, M> {
    /// The messages as two slices (before and after the wrap).
    ///
    /// # Panics
    /// On a ring created with [`RingBuilder::stamped`](crate::RingBuilder::stamped):
    /// use [`slices`](Self::slices), [`get`](Self::get) or
    /// [`iter`](Self::iter), which work on every layout.
    pub fn as_slices(&self) -> (&[M::Elem], &[M::Elem]) {
        self.slices()
            .expect("as_slices on a stamped SPSC ring: its slots are not contiguous")
    }
}
