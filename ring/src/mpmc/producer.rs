//! The producing side of an MPMC ring.

use core::marker::PhantomData;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use ringway_sync::WaitStrategy;

use super::chunk::{BytesWriteChunk, RawWrite, WriteChunk};
use super::stamp::{Seen, Stamps, READY, SKIP};
use super::{check_kind, deadline_after, Claim, Slot, MAX_ATTEMPTS};
use crate::error::PushTimeoutError;
use crate::error::Role;
use crate::error::Waited;
use crate::error::{CorruptError, HandleError, PushError};
use crate::loom::{ordering, spin_loop, Ordering};
use crate::peer::{self, Peer, WAIT_SPACE};
use crate::ring::{check_message, Ring};

/// A producer's private state: the ring, its producer-table entry, and the
/// numbers it needs on every operation.
#[derive(Debug)]
pub(crate) struct ProducerCore {
    ring: Ring,
    pub(crate) peer: Peer,
    stamps: Stamps,
    capacity: u64,
    payload_offset: usize,
    strategy: WaitStrategy,
}

impl ProducerCore {
    fn attach(ring: &Ring) -> Result<ProducerCore, HandleError> {
        check_kind(ring)?;
        let peer = Peer::register(ring, Role::Producer)?;
        Ok(ProducerCore {
            ring: ring.clone(),
            peer,
            stamps: Stamps::new(ring.capacity()),
            capacity: ring.capacity(),
            payload_offset: ring.geometry().payload_offset as usize,
            strategy: WaitStrategy::default(),
        })
    }

    /// The stamp and payload of the slot of `pos`.
    #[inline]
    pub(crate) fn slot(&self, pos: u64) -> Slot<'_> {
        Slot::of(&self.ring.shared, self.payload_offset, pos)
    }

    /// Claims as `claim_inner` says; a claim that got nothing leaves no
    /// pending record behind (see `heal`: a live pending record holds back
    /// the healing of the positions it names).
    #[inline]
    pub(crate) fn claim(&mut self, want: u64) -> Result<(u64, u64), Claim> {
        let claimed = self.claim_inner(want);
        if claimed.is_err() {
            self.peer.settled();
        }
        claimed
    }

    /// Claims up to `want` slots from `tail` with one CAS: the prefix of
    /// positions whose stamps say free for their lap. Returns the first
    /// position and how many (at least 1).
    ///
    /// Why this is sound: the stamp of a slot says free for position `p` from
    /// the moment the consumer of `p - capacity` released it until a
    /// producer publishes `p`. Only the producer whose CAS moves `tail` across
    /// `p` may write it, and `tail` only moves forward, so exactly one CAS
    /// ever covers `p`. A CAS from `t` succeeds only while `tail == t`, so no
    /// position at or after `t` has been claimed, and the stamps we read as
    /// free are still free.
    fn claim_inner(&mut self, want: u64) -> Result<(u64, u64), Claim> {
        let want = want.min(self.capacity);
        if want == 0 {
            return Err(Claim::Unavailable);
        }
        let header = self.ring.shared.header();
        // Acquire: pairs with the AcqRel CAS of the producer that claimed
        // `tail - capacity`, so the stamp it read as free (or a later one) is
        // what our stamp loads see: an older stamp proves corruption.
        let mut tail = header
            .tail
            .load(ordering!(Acquire, "mpmc_read_tail_relaxed"));
        for _ in 0..MAX_ATTEMPTS {
            let mut n = 0;
            let mut seen = Seen::Claimable;
            let mut stamp = 0;
            while n < want {
                let pos = tail.wrapping_add(n);
                // Acquire: pairs with the consumer's Release store in
                // `ConsumerCore::release`: its reads of the slot's previous
                // message happen before our writes.
                stamp = self
                    .slot(pos)
                    .stamp
                    .load(ordering!(Acquire, "mpmc_read_free_relaxed"));
                seen = self.stamps.for_producer(pos, stamp);
                if seen != Seen::Claimable {
                    break;
                }
                n += 1;
            }
            if n > 0 {
                self.peer.pending(tail, n);
                // AcqRel: Release so that producers that read the new tail
                // with Acquire see the stamps we read (see the load above);
                // Acquire for the same reason on our side. On failure,
                // Acquire: the value is our next `tail`.
                match header.tail.compare_exchange(
                    tail,
                    tail.wrapping_add(n),
                    ordering!(AcqRel, "mpmc_tail_cas_relaxed"),
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        for i in 0..n {
                            let slot = self.slot(tail.wrapping_add(i));
                            self.ring.shared.access.write(slot.idx);
                        }
                        return Ok((tail, n));
                    }
                    Err(now) => tail = now,
                }
            } else {
                match seen {
                    Seen::Wait | Seen::Claimable => return Err(Claim::Unavailable),
                    Seen::Corrupt => {
                        return Err(Claim::Corrupt(CorruptError {
                            what: "slot stamp is impossible for the producer cursor",
                            value: stamp,
                        }))
                    }
                    Seen::Ahead => {
                        // Acquire: as the first load.
                        let now = header.tail.load(Ordering::Acquire);
                        if now == tail {
                            // The stamp was stored after a claim past `tail`
                            // (Release, read with Acquire above), so an honest
                            // `tail` has moved on.
                            return Err(Claim::Corrupt(CorruptError {
                                what: "slot stamp is ahead of the producer cursor",
                                value: stamp,
                            }));
                        }
                        tail = now;
                    }
                }
            }
            spin_loop();
        }
        Err(Claim::Unavailable)
    }

    /// Publishes the claim `pos..pos + len`: the first `written` slots as
    /// messages, the rest as skipped. Then wakes sleeping consumers.
    #[inline]
    pub(crate) fn publish(&mut self, pos: u64, len: u64, written: u64) {
        for i in 0..len {
            let p = pos.wrapping_add(i);
            let state = if i < written { READY } else { SKIP };
            // Release: publishes the payload written since the claim; pairs
            // with the Acquire stamp load in `ConsumerCore::claim`.
            self.slot(p).stamp.store(
                self.stamps.at(p, state),
                ordering!(Release, "mpmc_publish_relaxed"),
            );
        }
        self.peer.settled();
        self.ring.shared.header().data_event.notify();
    }

    /// Whether a push could go ahead now: the slot at `tail` is free, or the
    /// ring is in a state `claim` reports (stale, corrupt). The condition of
    /// the blocking calls.
    fn may_claim(&self) -> bool {
        // Acquire: as in `claim`.
        let tail = self.ring.shared.header().tail.load(Ordering::Acquire);
        // Acquire: as in `claim`.
        let stamp = self.slot(tail).stamp.load(Ordering::Acquire);
        self.stamps.for_producer(tail, stamp) != Seen::Wait
    }

    /// Whether the ring is full and every consumer is gone (looked at no more
    /// often than `peer::CHECK_INTERVAL`; reaps dead consumers on the way,
    /// which may free slots).
    #[cold]
    fn consumers_gone(&mut self) -> bool {
        self.peer.gone_now(Role::Consumer) && !self.may_claim()
    }

    /// Claims one slot, waiting on `space_event` until `deadline`.
    fn claim_one_until(&mut self, deadline: Option<Instant>) -> Result<u64, Waited> {
        loop {
            match self.claim(1) {
                Ok((pos, _)) => return Ok(pos),
                Err(Claim::Corrupt(e)) => return Err(Waited::Corrupt(e)),
                Err(Claim::Unavailable) => {}
            }
            let this = &*self;
            peer::wait_sliced(
                &this.ring.shared.header().space_event,
                this.strategy,
                deadline,
                |on| this.peer.note_wait(WAIT_SPACE, on),
                || this.may_claim().then_some(()),
                || this.peer.gone(Role::Consumer),
            )?;
        }
    }
}

/// A producer of a typed MPMC ring of `T`.
///
/// Any number of producers and consumers (62 handles in all: the entries of
/// the peer table) may be attached to one ring, in any threads and processes.
/// `T` is [`Pod`]: valid for any bit pattern, so a corrupt or malicious peer
/// can make us read garbage values but never undefined behaviour. `Send`;
/// methods take `&mut self`: one thread uses a handle at a time. Attach one
/// handle per thread.
#[derive(Debug)]
pub struct Producer<T> {
    core: ProducerCore,
    _message: PhantomData<fn(T) -> T>,
}

impl<T: Pod> Producer<T> {
    /// Attaches a producer to `ring` and registers it in the peer table
    /// (the entry is freed when the handle drops).
    ///
    /// # Errors
    /// [`HandleError::WrongKind`] for an SPSC ring, `TypeMismatch` when `T`
    /// does not fit the slots, `TooManyProducers` when the table is full.
    pub fn attach(ring: &Ring) -> Result<Producer<T>, HandleError> {
        check_message::<T>(ring)?;
        Ok(Producer {
            core: ProducerCore::attach(ring)?,
            _message: PhantomData,
        })
    }

    /// Pushes one message.
    ///
    /// # Errors
    /// [`PushError::Full`] hands the message back when the slot at the
    /// producer cursor is not free (or, rarely, after losing many races for
    /// the cursor in a row); `Corrupt` when a stamp or cursor is impossible.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), PushError<T>> {
        let pos = match self.core.claim(1) {
            Ok((pos, _)) => pos,
            Err(Claim::Unavailable) if self.core.peer.tick() && self.core.consumers_gone() => {
                return Err(PushError::PeerGone(value))
            }
            Err(Claim::Unavailable) => return Err(PushError::Full(value)),
            Err(Claim::Corrupt(e)) => return Err(PushError::Corrupt(e)),
        };
        self.write_and_publish(pos, value);
        Ok(())
    }

    fn write_and_publish(&mut self, pos: u64, value: T) {
        let payload = self.core.slot(pos).payload;
        // SAFETY: we won the CAS over `pos`, so the slot is ours until we
        // publish it; `payload` is inside the region (masked index) and
        // aligned for T (`check_message` on attach).
        unsafe { payload.cast::<T>().write(value) };
        self.core.publish(pos, 1, 1);
    }

    /// Pushes as many of `values` as there are free slots, in order, with
    /// one CAS on the producer cursor. Returns how many were pushed (0 when
    /// the ring is full).
    ///
    /// # Errors
    /// `Corrupt` when a stamp or cursor is impossible.
    pub fn push_slice(&mut self, values: &[T]) -> Result<usize, CorruptError> {
        let mut chunk = self.write_chunk(values.len())?;
        let n = chunk.len();
        for (slot, value) in chunk.iter_mut().zip(values) {
            *slot = *value;
        }
        chunk.commit_all();
        Ok(n)
    }

    /// Claims up to `n` free slots with one CAS, to write in place. The chunk
    /// may be shorter than `n` (empty when the ring is full).
    /// [`WriteChunk::commit`] publishes them; dropping the chunk uncommitted
    /// publishes its slots as *skipped* (consumers pass over them), since a
    /// claimed slot must be published for consumers to get past it.
    ///
    /// # Errors
    /// `Corrupt` when a stamp or cursor is impossible.
    pub fn write_chunk(&mut self, n: usize) -> Result<WriteChunk<'_, T>, CorruptError> {
        RawWrite::claim(&mut self.core, n as u64).map(WriteChunk::new)
    }

    /// Pushes one message, waiting for a free slot as the
    /// [`wait_strategy`](Self::set_wait_strategy) says.
    ///
    /// # Errors
    /// `Corrupt` when a stamp or cursor is impossible (never `Timeout`).
    pub fn push_blocking(&mut self, value: T) -> Result<(), PushTimeoutError<T>> {
        self.push_until(value, None)
    }

    /// Pushes one message, waiting at most `timeout` for a free slot.
    ///
    /// # Errors
    /// [`PushTimeoutError::Timeout`] hands the message back; `Corrupt`.
    pub fn push_timeout(&mut self, value: T, timeout: Duration) -> Result<(), PushTimeoutError<T>> {
        self.push_until(value, deadline_after(timeout))
    }

    /// Pushes one message, waiting until `deadline` at the latest.
    ///
    /// # Errors
    /// As [`push_timeout`](Self::push_timeout).
    pub fn push_deadline(
        &mut self,
        value: T,
        deadline: Instant,
    ) -> Result<(), PushTimeoutError<T>> {
        self.push_until(value, Some(deadline))
    }

    fn push_until(
        &mut self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), PushTimeoutError<T>> {
        match self.core.claim_one_until(deadline) {
            Ok(pos) => {
                self.write_and_publish(pos, value);
                Ok(())
            }
            Err(Waited::Timeout) => Err(PushTimeoutError::Timeout(value)),
            Err(Waited::PeerGone) => Err(PushTimeoutError::PeerGone(value)),
            Err(Waited::Corrupt(e)) => Err(PushTimeoutError::Corrupt(e)),
        }
    }

    /// How the blocking calls wait (default: spin briefly, then sleep).
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.core.strategy = strategy;
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.core.ring
    }
}

/// A producer of an MPMC ring of fixed-size byte slots (for C and other
/// non-Rust peers). As [`Producer`], with messages of exactly
/// [`slot_size`](Self::slot_size) bytes.
#[derive(Debug)]
pub struct BytesProducer {
    core: ProducerCore,
    slot_size: usize,
}

impl BytesProducer {
    /// Attaches a producer to `ring` and registers it in the peer table.
    ///
    /// # Errors
    /// As [`Producer::attach`], without the type check.
    pub fn attach(ring: &Ring) -> Result<BytesProducer, HandleError> {
        Ok(BytesProducer {
            core: ProducerCore::attach(ring)?,
            slot_size: ring.slot_size(),
        })
    }

    /// Bytes per message.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    fn check_len(&self, message: &[u8]) -> Result<(), (usize, usize)> {
        if message.len() == self.slot_size {
            Ok(())
        } else {
            Err((self.slot_size, message.len()))
        }
    }

    fn write_and_publish(&mut self, pos: u64, message: &[u8]) {
        let payload = self.core.slot(pos).payload;
        // SAFETY: we won the CAS over `pos`, so the slot is ours until we
        // publish it; `payload` has slot_size bytes inside the region (masked
        // index, payload_offset + slot_size <= stride); `message` is our own
        // memory of that length (checked by the caller).
        unsafe { core::ptr::copy_nonoverlapping(message.as_ptr(), payload, self.slot_size) };
        self.core.publish(pos, 1, 1);
    }

    /// Pushes one message of exactly [`slot_size`](Self::slot_size) bytes.
    ///
    /// # Errors
    /// `Full` when no slot is free, `Size` for a message of another length,
    /// `Corrupt` when a stamp or cursor is impossible.
    #[inline]
    pub fn try_push(&mut self, message: &[u8]) -> Result<(), PushError<()>> {
        if let Err((expected, found)) = self.check_len(message) {
            return Err(PushError::Size { expected, found });
        }
        let pos = match self.core.claim(1) {
            Ok((pos, _)) => pos,
            Err(Claim::Unavailable) if self.core.peer.tick() && self.core.consumers_gone() => {
                return Err(PushError::PeerGone(()))
            }
            Err(Claim::Unavailable) => return Err(PushError::Full(())),
            Err(Claim::Corrupt(e)) => return Err(PushError::Corrupt(e)),
        };
        self.write_and_publish(pos, message);
        Ok(())
    }

    /// Claims up to `n` free slots with one CAS, to write in place (each
    /// slot is `slot_size` bytes; slots are not contiguous). Commit and drop
    /// as [`Producer::write_chunk`].
    ///
    /// # Errors
    /// `Corrupt` when a stamp or cursor is impossible.
    pub fn write_chunk(&mut self, n: usize) -> Result<BytesWriteChunk<'_>, CorruptError> {
        let slot_size = self.slot_size;
        RawWrite::claim(&mut self.core, n as u64).map(|raw| BytesWriteChunk::new(raw, slot_size))
    }

    /// Pushes one message, waiting for a free slot.
    ///
    /// # Errors
    /// `Size` or `Corrupt` (never `Timeout`).
    pub fn push_blocking(&mut self, message: &[u8]) -> Result<(), PushTimeoutError<()>> {
        self.push_until(message, None)
    }

    /// Pushes one message, waiting at most `timeout` for a free slot.
    ///
    /// # Errors
    /// `Timeout`, `Size` or `Corrupt`.
    pub fn push_timeout(
        &mut self,
        message: &[u8],
        timeout: Duration,
    ) -> Result<(), PushTimeoutError<()>> {
        self.push_until(message, deadline_after(timeout))
    }

    /// Pushes one message, waiting until `deadline` at the latest.
    ///
    /// # Errors
    /// `Timeout`, `Size` or `Corrupt`.
    pub fn push_deadline(
        &mut self,
        message: &[u8],
        deadline: Instant,
    ) -> Result<(), PushTimeoutError<()>> {
        self.push_until(message, Some(deadline))
    }

    fn push_until(
        &mut self,
        message: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), PushTimeoutError<()>> {
        if let Err((expected, found)) = self.check_len(message) {
            return Err(PushTimeoutError::Size { expected, found });
        }
        let pos = self
            .core
            .claim_one_until(deadline)
            .map_err(Waited::into_push)?;
        self.write_and_publish(pos, message);
        Ok(())
    }

    /// How the blocking calls wait (default: spin briefly, then sleep).
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.core.strategy = strategy;
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.core.ring
    }
}
