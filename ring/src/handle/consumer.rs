//! [`Consumer`]: the popping handle of every kind and format.

use bytemuck::Pod;

use super::chunk::ReadChunk;
use super::side::{ConsumerSide, Side};
use super::{claim_single, Bytes, Failed, Flavor, Message, Wait};
use crate::error::{PopError, PopTimeoutError};

handle! {
    /// The consumer of a ring of kind `K` carrying messages `M`; see
    /// [`Producer`](super::Producer). `Send`, not `Sync`.
    ///
    /// ```compile_fail,E0277
    /// fn is_sync<T: Sync>() {}
    /// is_sync::<ringway::spsc::Consumer<u64>>();
    /// ```
    /// ```compile_fail,E0277
    /// fn is_sync<T: Sync>() {}
    /// is_sync::<ringway::mpmc::BytesConsumer>();
    /// ```
    Consumer(Consumer),
    /// Attaches a consumer to `ring`: the consumer role of an SPSC ring (it
    /// continues from the ring's `head`, so a consumer that reopens a
    /// file-backed ring resumes where the last one stopped), or one more
    /// consumer of an MPMC ring.
    ///
    /// # Errors
    /// As [`Producer::attach`](super::Producer::attach).
    attach,
    /// Pops up to `out.len() / slot_size` messages into `out`, in order,
    /// with one claim. Returns how many messages came (0 when empty).
    ///
    /// # Errors
    /// `Corrupt` when the peer's state is impossible.
    ///
    /// # Examples
    /// ```
    /// use ringway::{mpmc, Kind, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Mpmc).capacity(4).slot_size(2).create_anonymous()?;
    /// let mut tx = mpmc::BytesProducer::attach(&ring)?;
    /// let mut rx = mpmc::BytesConsumer::attach(&ring)?;
    /// tx.push_slice(b"abcd")?;
    /// let mut out = [0u8; 6];
    /// assert_eq!(rx.pop_into(&mut out)?, 2);
    /// assert_eq!(&out[..4], b"abcd");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pop_into(out: &mut [M::Elem]) = copy_to,
    /// Claims up to `n` ready messages to read in place; see [`ReadChunk`]
    /// for release and drop. The chunk may hold fewer than `n` (none when
    /// the ring is empty).
    ///
    /// # Errors
    /// `Corrupt` when the peer's state is impossible.
    ///
    /// # Examples
    /// ```
    /// use ringway::{spsc, Kind, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Spsc).capacity(4).message::<u8>().create_anonymous()?;
    /// let mut tx = spsc::Producer::<u8>::attach(&ring)?;
    /// let mut rx = spsc::Consumer::<u8>::attach(&ring)?;
    /// tx.push_slice(&[1, 2, 3])?;
    /// let chunk = rx.read_chunk(8)?;
    /// assert_eq!(chunk.iter().copied().collect::<Vec<u8>>(), [1, 2, 3]);
    /// chunk.release(2); // 3 stays in the ring
    /// assert_eq!(rx.try_pop(), Ok(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    read_chunk -> ReadChunk,
    /// Ready messages now (re-reads the peer's state). On MPMC this counts
    /// positions from the consumer cursor, including any a producer
    /// published as skipped (a chunk passes over them), and is a snapshot:
    /// other consumers may take them first.
    ///
    /// # Errors
    /// `Corrupt` when the peer's state is impossible.
    ready_slots,
    /// Waits until at least `n` messages (1 to the capacity) are ready, for
    /// a [`read_chunk`](Self::read_chunk), or `deadline` passes (`None`: no
    /// deadline). Returns the ready messages.
    ///
    /// # Errors
    /// `Timeout`; `Corrupt`.
    wait_for_ready(wait_ready) -> PopTimeoutError = into_pop,
}

impl<K: Flavor, M: Message> Consumer<K, M> {
    /// Claims the next message (waiting as told), copies it into `out`
    /// (one message long) and frees its slot.
    #[inline]
    fn pop(&mut self, out: &mut [M::Elem], wait: Wait) -> Result<(), Failed> {
        let per = self.slot_size();
        if out.len() != per {
            return Err(Failed::Size(per, out.len()));
        }
        let claim = claim_single(&mut self.side, wait).map_err(|failed| match failed {
            Failed::Nothing(_) => Failed::Nothing(self.side.empty_reason()),
            failed => failed,
        })?;
        let Some(src) = self.side.shown(claim, 0) else {
            // Not from an honest core (`claim_one` passes over skipped
            // positions): give the claim back.
            self.side.release(claim, claim.len);
            return Err(Failed::Nothing(self.side.empty_reason()));
        };
        // SAFETY: the message of `claim.pos` is ours until `release` (the
        // claim gave it to this handle alone, its publication was loaded
        // with Acquire); `per` elements inside the region; copied out with
        // volatile loads (`crate::copy`: a hostile peer may write it anyway);
        // `out` is our own memory of that length.
        unsafe { crate::copy::copy_out_elems(src, out) };
        self.side.release(claim, 1);
        Ok(())
    }
}

impl<K: Flavor, T: Pod> Consumer<K, T> {
    #[inline]
    fn take(&mut self, wait: Wait) -> Result<T, Failed> {
        let mut value = T::zeroed();
        self.pop(core::slice::from_mut(&mut value), wait)?;
        Ok(value)
    }
}

/// The single pops of a typed consumer (the message returned) and of a bytes
/// one (copied into `out`, which must be one slot long), documented once.
macro_rules! pops {
    ([$($gen:tt)*] $m:ty, ($($out:ident: $out_ty:ty)?) -> $ret:ty, |$c:ident, $w:ident| $pop:expr) => {
        singles! {
            [$($gen)*] Consumer<$m>, ($($out: $out_ty)?) -> $ret, |$c, $w| $pop,
            /// Pops one message without waiting (bytes: into `out`).
            ///
            /// # Errors
            /// [`PopError::Empty`] when nothing is ready; on MPMC,
            /// [`PopError::Busy`] when a producer's claim holds the head (a
            /// message is being written there; later ones may be ready) or
            /// after losing many races in a row; `Size` for a bytes buffer of
            /// another length; `Corrupt` when the peer's state is impossible;
            /// `PeerGone` when the ring is drained and no producer is left.
            ///
            /// # Examples
            /// ```
            /// use ringway::{spsc, Kind, PopError, RingBuilder};
            /// let ring = RingBuilder::new(Kind::Spsc).capacity(2).message::<u64>().create_anonymous()?;
            /// let mut tx = spsc::Producer::<u64>::attach(&ring)?;
            /// let mut rx = spsc::Consumer::<u64>::attach(&ring)?;
            /// assert_eq!(rx.try_pop(), Err(PopError::Empty));
            /// tx.try_push(7)?;
            /// assert_eq!(rx.try_pop(), Ok(7)); // bytes: rx.try_pop(&mut buf)
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            try_pop -> PopError = Failed::into_pop,
            /// Pops one message, waiting until `deadline` (an
            /// [`Instant`](std::time::Instant), or `None` for as long as it
            /// takes).
            ///
            /// # Errors
            /// [`PopTimeoutError::Timeout`]; `Size`, `Corrupt` and `PeerGone`
            /// as [`try_pop`](Self::try_pop).
            ///
            /// # Examples
            /// ```
            /// use std::time::{Duration, Instant};
            /// use ringway::{mpmc, Kind, PopTimeoutError, RingBuilder};
            /// let ring = RingBuilder::new(Kind::Mpmc).capacity(2).message::<u64>().create_anonymous()?;
            /// let mut rx = mpmc::Consumer::<u64>::attach(&ring)?;
            /// let soon = Instant::now() + Duration::from_millis(1);
            /// assert_eq!(rx.pop_deadline(soon), Err(PopTimeoutError::Timeout));
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            pop_deadline -> PopTimeoutError = Failed::into_pop_timeout,
            /// Pops one message, waiting at most `timeout`.
            ///
            /// # Errors
            /// As [`pop_deadline`](Self::pop_deadline).
            pop_timeout,
            /// Pops one message, waiting as long as it takes.
            ///
            /// # Errors
            /// As [`pop_deadline`](Self::pop_deadline), never `Timeout`.
            pop_blocking,
        }
    };
}

pops!([K: Flavor, T: Pod] T, () -> T, |c, w| c.take(w));
pops!([K: Flavor] Bytes, (out: &mut [u8]) -> (), |c, w| c.pop(out, w));

impl<M: Message> Consumer<crate::spsc::Spsc, M> {
    /// The next message in place, without consuming it (SPSC only: an SPSC
    /// claim moves no shared cursor until it is released; an MPMC claim
    /// takes the message from the other consumers). The bytes may change
    /// under you if a peer writes the slot: copy before validating (see
    /// [`ReadChunk`]).
    ///
    /// # Errors
    /// `Empty` or `Corrupt`.
    pub fn peek(&mut self) -> Result<M::Ref<'_>, PopError> {
        self.side.check_fork()?;
        let claim = self.side.claim_one()?;
        let p = self.side.shown(claim, 0).ok_or(PopError::Empty)?;
        // SAFETY: the slot at `head` is ready (published with Release, read
        // with Acquire) and the producer does not write it until it is
        // released, which needs `&mut self`, borrowed by the returned
        // reference; aligned and sized for `M` (checked on attach).
        Ok(unsafe { M::slot_ref(p, self.per_slot) })
    }
}

#[cfg(loom)]
impl<M: Message> Consumer<crate::mpmc::Mpmc, M> {
    /// What an empty or busy `try_pop` asks every `peer::CLOCK_EVERY`-th
    /// time (whether every producer is gone and the ring is drained),
    /// without the clock that rate-limits it: loom models have no clock,
    /// and their deaths are reaped by the model (`Ring::reap_as_dead`).
    #[doc(hidden)]
    pub fn loom_peer_gone(&mut self) -> bool {
        self.side.loom_producers_gone()
    }
}
