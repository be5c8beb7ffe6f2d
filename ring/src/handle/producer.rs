//! [`Producer`]: the pushing handle of every kind and format.

use super::chunk::WriteChunk;
use super::side::{ProducerSide, Side, Span};
use super::{claim_single, Failed, Flavor, Message, Wait};
use crate::error::{PopError, PushError, PushTimeoutError, Waited};

handle! {
    /// The producer of a ring of kind `K` ([`Spsc`](crate::spsc::Spsc),
    /// [`Mpmc`](crate::mpmc::Mpmc)) carrying messages `M` (a [`Pod`](bytemuck::Pod)
    /// type, or [`Bytes`](super::Bytes)).
    ///
    /// `Send`, not `Sync`: one thread pushes through a handle at a time (attach
    /// one handle per thread where the kind allows several producers).
    ///
    /// A handle belongs to the process that attached it: its copy in a child
    /// made by `fork` refuses every call that would touch the ring with the
    /// forked error ([`CorruptError::is_forked`](crate::CorruptError::is_forked)),
    /// and may only be dropped; the child attaches a handle of its own (to
    /// the inherited [`Ring`](crate::Ring) or to the ring opened again).
    /// The same holds for [`Consumer`](super::Consumer) and the record and
    /// broadcast handles.
    ///
    /// ```compile_fail,E0277
    /// fn is_sync<T: Sync>() {}
    /// is_sync::<ringway::spsc::Producer<u64>>();
    /// ```
    /// ```compile_fail,E0277
    /// fn is_sync<T: Sync>() {}
    /// is_sync::<ringway::mpmc::BytesProducer>();
    /// ```
    Producer(Producer),
    /// Attaches a producer to `ring`: the producer role of an SPSC ring (one
    /// at a time), any number on an MPMC ring; each holds an entry of the
    /// peer table.
    ///
    /// # Errors
    /// [`HandleError::WrongKind`](crate::HandleError::WrongKind) for a ring of another kind, `TypeMismatch`
    /// when a typed `M` does not fit the slots, `RoleTaken` (SPSC),
    /// `TooManyPeers` when the peer table is full, `Corrupt` when the cursors
    /// are inconsistent.
    ///
    /// # Examples
    /// ```
    /// use ringway::{spsc, Kind, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Spsc).capacity(8).message::<u32>().create_anonymous()?;
    /// let tx = spsc::Producer::<u32>::attach(&ring)?;
    /// assert!(spsc::Producer::<u32>::attach(&ring).is_err()); // one producer
    /// # drop(tx); Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    attach,
    /// Pushes as many whole messages of `values` (`slot_size` elements each)
    /// as there are free slots, in order, with one claim. Returns how many
    /// messages were pushed (0 when full).
    ///
    /// # Errors
    /// `Corrupt` when the peer's state is impossible.
    ///
    /// # Examples
    /// ```
    /// use ringway::{spsc, Kind, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Spsc).capacity(4).message::<u16>().create_anonymous()?;
    /// let mut tx = spsc::Producer::<u16>::attach(&ring)?;
    /// assert_eq!(tx.push_slice(&[1, 2, 3, 4, 5, 6])?, 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    push_slice(values: &[M::Elem]) = fill_from,
    /// Claims up to `n` free slots to write in place. The chunk may be
    /// shorter than `n` (empty when the ring is full); see [`WriteChunk`]
    /// for commit and drop.
    ///
    /// # Errors
    /// `Corrupt` when the peer's state is impossible.
    ///
    /// # Examples
    /// ```
    /// use ringway::{mpmc, Kind, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Mpmc).capacity(4).message::<u32>().create_anonymous()?;
    /// let mut tx = mpmc::Producer::<u32>::attach(&ring)?;
    /// let mut chunk = tx.write_chunk(3)?;
    /// for (i, slot) in chunk.iter_mut().enumerate() {
    ///     *slot = i as u32;
    /// }
    /// chunk.commit_all();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    write_chunk -> WriteChunk,
    /// Free slots now (re-reads the peer's state). On MPMC a snapshot:
    /// other producers may claim them first.
    ///
    /// # Errors
    /// `Corrupt` when the peer's state is impossible.
    free_slots,
    /// Waits until at least `n` slots (1 to the capacity) are free, for a
    /// [`write_chunk`](Self::write_chunk) of that size, or `deadline` passes
    /// (`None`: no deadline). Returns the free slots.
    ///
    /// # Errors
    /// `Timeout`; `Corrupt`.
    wait_for_free(wait_free) -> PushTimeoutError<()> = into_push,
}

singles! {
    [K: Flavor, M: Message] Producer<M> <'m>,
    (message: M::In<'m>) -> (), |h, w| h.push(&message, w),
    /// Pushes one message without waiting.
    ///
    /// # Errors
    /// [`PushError::Full`] hands the message back; on MPMC,
    /// [`PushError::Busy`] when a consumer's claim holds the slot at the
    /// tail (the ring is not full; retry) or after losing many races for
    /// the cursor in a row; `Size` for a bytes message that
    /// is not one slot long; `Corrupt` when the peer's state is impossible.
    ///
    /// # Examples
    /// ```
    /// use ringway::{mpmc, Kind, PushError, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Mpmc).capacity(2).message::<u64>().create_anonymous()?;
    /// let mut tx = mpmc::Producer::<u64>::attach(&ring)?;
    /// tx.try_push(1)?;
    /// tx.try_push(2)?;
    /// assert_eq!(tx.try_push(3), Err(PushError::Full(3)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    try_push -> PushError<M::In<'m>> = |failed| failed.into_push(message),
    /// Pushes one message, waiting until `deadline` (an
    /// [`Instant`](std::time::Instant), or `None` for as long as it takes)
    /// for a free slot, as the [wait strategy](Self::set_wait_strategy)
    /// says.
    ///
    /// # Errors
    /// [`PushTimeoutError::Timeout`] hands the message back; `Size`;
    /// `Corrupt`.
    ///
    /// # Examples
    /// ```
    /// use std::time::{Duration, Instant};
    /// use ringway::{spsc, Kind, PushTimeoutError, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Spsc).capacity(2).message::<u64>().create_anonymous()?;
    /// let mut tx = spsc::Producer::<u64>::attach(&ring)?;
    /// tx.push_deadline(1, None)?; // no deadline
    /// tx.push_timeout(2, Duration::from_secs(1))?;
    /// let soon = Instant::now() + Duration::from_millis(1);
    /// assert_eq!(tx.push_deadline(3, soon), Err(PushTimeoutError::Timeout(3)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    push_deadline -> PushTimeoutError<M::In<'m>> = |failed| failed.into_push_timeout(message),
    /// Pushes one message, waiting at most `timeout` for a free slot.
    ///
    /// # Errors
    /// As [`push_deadline`](Self::push_deadline).
    push_timeout,
    /// Pushes one message, waiting as long as it takes for a free slot.
    ///
    /// # Errors
    /// As [`push_deadline`](Self::push_deadline), never `Timeout`.
    push_blocking,
}

impl<K: Flavor, M: Message> Producer<K, M> {
    /// Claims a slot (waiting as told), copies `message` in and publishes it.
    #[inline]
    fn push(&mut self, message: &M::In<'_>, wait: Wait) -> Result<(), Failed> {
        let src = M::as_elems(message);
        let per = self.slot_size();
        if src.len() != per {
            return Err(Failed::Size(per, src.len()));
        }
        let claim = claim_single(&mut self.side, wait).map_err(|failed| match failed {
            // Full, or (MPMC) a live claim holds the slot at the tail.
            Failed::Nothing(_) if self.side.busy() => Failed::Nothing(PopError::Busy),
            Failed::Nothing(_) => Failed::Waited(Waited::Timeout),
            failed => failed,
        })?;
        self.write(claim, src);
        Ok(())
    }

    #[inline]
    fn write(&mut self, claim: Span, src: &[M::Elem]) {
        let dst = self.side.payload(claim.pos).cast::<M::Elem>();
        // SAFETY: the slot of `claim.pos` is ours until `publish` (the claim
        // gave it to this handle alone); the payload holds `per_slot`
        // elements inside the region (masked index; the slot size was
        // checked on attach) aligned for `Elem`; `src` is our own memory of
        // that length (checked by the caller).
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
        self.side.publish(claim, 1);
    }
}
