//! The consuming side of an MPMC ring.

use core::marker::PhantomData;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use ringway_sync::WaitStrategy;

use super::chunk::{BytesReadChunk, RawRead, ReadChunk};
use super::stamp::{Seen, Stamps, SKIP};
use super::{check_kind, deadline_after, Claim, Slot, MAX_ATTEMPTS};
use crate::error::PopTimeoutError;
use crate::error::Role;
use crate::error::Waited;
use crate::error::{CorruptError, HandleError, PopError};
use crate::loom::{ordering, spin_loop, Ordering};
use crate::peer::{self, Peer, WAIT_DATA};
use crate::ring::{check_message, Ring};

/// A consumer's private state.
#[derive(Debug)]
pub(crate) struct ConsumerCore {
    ring: Ring,
    stamps: Stamps,
    capacity: u64,
    payload_offset: usize,
    strategy: WaitStrategy,
    /// Our entry in the peer table (records the claim in flight).
    pub(crate) peer: Peer,
}

/// A run of claimed positions: the first, how many, and how many of them
/// are skipped (published without a message).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claimed {
    pub(crate) pos: u64,
    pub(crate) len: u64,
    pub(crate) skips: u64,
}

impl ConsumerCore {
    fn attach(ring: &Ring) -> Result<ConsumerCore, HandleError> {
        check_kind(ring)?;
        let peer = Peer::register(ring, Role::Consumer)?;
        Ok(ConsumerCore {
            ring: ring.clone(),
            stamps: Stamps::new(ring.capacity()),
            capacity: ring.capacity(),
            payload_offset: ring.geometry().payload_offset as usize,
            strategy: WaitStrategy::default(),
            peer,
        })
    }

    /// The stamp and payload of the slot of `pos`.
    #[inline]
    pub(crate) fn slot(&self, pos: u64) -> Slot<'_> {
        Slot::of(&self.ring.shared, self.payload_offset, pos)
    }

    pub(crate) fn stamps(&self) -> Stamps {
        self.stamps
    }

    /// Claims as `claim_inner` says; a claim that got nothing leaves no
    /// pending record behind (see `heal`: a live pending record holds back
    /// the healing of the positions it names).
    #[inline]
    pub(crate) fn claim(&mut self, want: u64) -> Result<Claimed, Claim> {
        let claimed = self.claim_inner(want);
        if claimed.is_err() {
            self.peer.settled();
        }
        claimed
    }

    /// Claims up to `want` positions from `head` with one CAS: the prefix of
    /// positions whose stamps say ready (or skipped) for their lap. The
    /// argument is the producer's (`ProducerCore::claim`) with "ready" for
    /// "free": only the CAS that moves `head` across `p` takes `p`.
    fn claim_inner(&mut self, want: u64) -> Result<Claimed, Claim> {
        let want = want.min(self.capacity);
        if want == 0 {
            return Err(Claim::Unavailable);
        }
        let header = self.ring.shared.header();
        // Acquire: pairs with the AcqRel CAS of the consumer that claimed
        // `head - capacity`, so the stamp it read as ready (or a later one)
        // is what our stamp loads see: an older stamp proves corruption.
        let mut head = header
            .head
            .load(ordering!(Acquire, "mpmc_read_head_relaxed"));
        for _ in 0..MAX_ATTEMPTS {
            let mut n = 0;
            let mut skips = 0;
            let mut seen = Seen::Claimable;
            let mut stamp = 0;
            while n < want {
                let pos = head.wrapping_add(n);
                // Acquire: pairs with the producer's Release store in
                // `ProducerCore::publish`: the payload is visible.
                stamp = self
                    .slot(pos)
                    .stamp
                    .load(ordering!(Acquire, "mpmc_read_ready_relaxed"));
                seen = self.stamps.for_consumer(pos, stamp);
                if seen != Seen::Claimable {
                    break;
                }
                if stamp == self.stamps.at(pos, SKIP) {
                    skips += 1;
                }
                n += 1;
            }
            if n > 0 {
                self.peer.pending(head, n);
                // AcqRel / Acquire: as the producer's CAS of `tail`.
                match header.head.compare_exchange(
                    head,
                    head.wrapping_add(n),
                    ordering!(AcqRel, "mpmc_head_cas_relaxed"),
                    Ordering::Acquire,
                ) {
                    Ok(_) => {
                        for i in 0..n {
                            let slot = self.slot(head.wrapping_add(i));
                            self.ring.shared.access.read(slot.idx);
                        }
                        return Ok(Claimed {
                            pos: head,
                            len: n,
                            skips,
                        });
                    }
                    Err(now) => head = now,
                }
            } else {
                match seen {
                    Seen::Wait | Seen::Claimable => return Err(Claim::Unavailable),
                    Seen::Corrupt => {
                        return Err(Claim::Corrupt(CorruptError {
                            what: "slot stamp is impossible for the consumer cursor",
                            value: stamp,
                        }))
                    }
                    Seen::Ahead => {
                        // Acquire: as the first load.
                        let now = header.head.load(Ordering::Acquire);
                        if now == head {
                            // The stamp was stored after a claim past `head`
                            // (Release, read with Acquire above).
                            return Err(Claim::Corrupt(CorruptError {
                                what: "slot stamp is ahead of the consumer cursor",
                                value: stamp,
                            }));
                        }
                        head = now;
                    }
                }
            }
            spin_loop();
        }
        Err(Claim::Unavailable)
    }

    /// Frees the claimed positions `pos..pos + len` for the producers of the
    /// next lap, then wakes sleeping producers.
    #[inline]
    pub(crate) fn release(&mut self, pos: u64, len: u64) {
        for i in 0..len {
            let p = pos.wrapping_add(i);
            // Release: our reads of the payload happen before the next
            // producer's writes; pairs with the Acquire stamp load in
            // `ProducerCore::claim`.
            self.slot(p).stamp.store(
                self.stamps.released(p),
                ordering!(Release, "mpmc_release_relaxed"),
            );
        }
        self.peer.settled();
        self.ring.shared.header().space_event.notify();
    }

    /// Claims the next message (passing over skipped slots): its position.
    fn claim_message(&mut self) -> Result<u64, Claim> {
        for _ in 0..MAX_ATTEMPTS {
            let claimed = self.claim(1)?;
            if claimed.skips == 0 {
                return Ok(claimed.pos);
            }
            self.release(claimed.pos, 1);
        }
        Err(Claim::Unavailable)
    }

    /// Whether a pop could go ahead now: the slot at `head` is ready, or the
    /// ring is in a state `claim` reports. The condition of the blocking calls.
    fn may_claim(&self) -> bool {
        // Acquire: as in `claim`.
        let head = self.ring.shared.header().head.load(Ordering::Acquire);
        // Acquire: as in `claim`.
        let stamp = self.slot(head).stamp.load(Ordering::Acquire);
        self.stamps.for_consumer(head, stamp) != Seen::Wait
    }

    /// Claims the next message, waiting on `data_event` until `deadline`.
    fn claim_message_until(&mut self, deadline: Option<Instant>) -> Result<u64, Waited> {
        loop {
            match self.claim_message() {
                Ok(pos) => return Ok(pos),
                Err(Claim::Corrupt(e)) => return Err(Waited::Corrupt(e)),
                Err(Claim::Unavailable) => {}
            }
            let this = &*self;
            peer::wait_sliced(
                &this.ring.shared.header().data_event,
                this.strategy,
                deadline,
                |on| this.peer.note_wait(WAIT_DATA, on),
                || this.may_claim().then_some(()),
                || this.peer.gone(Role::Producer),
            )?;
        }
    }

    /// Whether the ring is drained and every producer is gone (looked at no
    /// more often than `peer::CHECK_INTERVAL`; reaps dead producers on the
    /// way, which may tombstone the positions we wait at).
    #[cold]
    fn producers_gone(&mut self) -> bool {
        self.peer.gone_now(Role::Producer) && !self.may_claim()
    }
}

/// A consumer of a typed MPMC ring of `T`. `Send`; one thread uses a
/// handle at a time. Each handle holds an entry of the peer table (see
/// [`peer`](crate::peer)), shared with producers: 62 handles in all.
#[derive(Debug)]
pub struct Consumer<T> {
    core: ConsumerCore,
    _message: PhantomData<fn(T) -> T>,
}

impl<T: Pod> Consumer<T> {
    /// Attaches a consumer to `ring`.
    ///
    /// # Errors
    /// [`HandleError::WrongKind`] for an SPSC ring, `TypeMismatch` when `T`
    /// does not fit the slots.
    pub fn attach(ring: &Ring) -> Result<Consumer<T>, HandleError> {
        check_message::<T>(ring)?;
        Ok(Consumer {
            core: ConsumerCore::attach(ring)?,
            _message: PhantomData,
        })
    }

    fn read_and_release(&mut self, pos: u64) -> T {
        let payload = self.core.slot(pos).payload;
        // SAFETY: we won the CAS over `pos` and its stamp said ready (loaded
        // with Acquire), so the producer's write is visible and nobody writes
        // the slot until we release it; `payload` is inside the region
        // (masked index) and aligned for T (`check_message`). T is Pod: any
        // bytes are a valid T.
        let value = unsafe { payload.cast::<T>().read() };
        self.core.release(pos, 1);
        value
    }

    /// Pops one message.
    ///
    /// # Errors
    /// [`PopError::Empty`] when the slot at the consumer cursor holds no
    /// message yet (or, rarely, after losing many races for the cursor in a
    /// row); `Corrupt` when a stamp or cursor is impossible.
    #[inline]
    pub fn try_pop(&mut self) -> Result<T, PopError> {
        match self.core.claim_message() {
            Ok(pos) => Ok(self.read_and_release(pos)),
            Err(Claim::Unavailable) if self.core.peer.tick() && self.core.producers_gone() => {
                Err(PopError::PeerGone)
            }
            Err(Claim::Unavailable) => Err(PopError::Empty),
            Err(Claim::Corrupt(e)) => Err(PopError::Corrupt(e)),
        }
    }

    /// Pops up to `out.len()` messages into `out`, in order, with one CAS on
    /// the consumer cursor. Returns how many were popped (0 when empty).
    ///
    /// # Errors
    /// `Corrupt` when a stamp or cursor is impossible.
    pub fn pop_into(&mut self, out: &mut [T]) -> Result<usize, CorruptError> {
        let chunk = self.read_chunk(out.len())?;
        let mut n = 0;
        for (dst, src) in out.iter_mut().zip(chunk.iter()) {
            *dst = *src;
            n += 1;
        }
        chunk.release();
        Ok(n)
    }

    /// Claims up to `n` ready positions with one CAS, to read in place. The
    /// messages are this consumer's from then on: the chunk frees their slots
    /// when it is released or dropped, read or not (no other consumer will
    /// see them). Positions published as skipped are claimed too but not
    /// shown, so the chunk may hold fewer than `n` messages, or none, even
    /// when more are ready.
    ///
    /// # Errors
    /// `Corrupt` when a stamp or cursor is impossible.
    pub fn read_chunk(&mut self, n: usize) -> Result<ReadChunk<'_, T>, CorruptError> {
        RawRead::claim(&mut self.core, n as u64).map(ReadChunk::new)
    }

    /// Pops one message, waiting for one as the
    /// [`wait strategy`](Self::set_wait_strategy) says.
    ///
    /// # Errors
    /// `Corrupt` when a stamp or cursor is impossible (never `Timeout`).
    pub fn pop_blocking(&mut self) -> Result<T, PopTimeoutError> {
        self.pop_until(None)
    }

    /// Pops one message, waiting at most `timeout`.
    ///
    /// # Errors
    /// [`PopTimeoutError::Timeout`] or `Corrupt`.
    pub fn pop_timeout(&mut self, timeout: Duration) -> Result<T, PopTimeoutError> {
        self.pop_until(deadline_after(timeout))
    }

    /// Pops one message, waiting until `deadline` at the latest.
    ///
    /// # Errors
    /// [`PopTimeoutError::Timeout`] or `Corrupt`.
    pub fn pop_deadline(&mut self, deadline: Instant) -> Result<T, PopTimeoutError> {
        self.pop_until(Some(deadline))
    }

    fn pop_until(&mut self, deadline: Option<Instant>) -> Result<T, PopTimeoutError> {
        let pos = self
            .core
            .claim_message_until(deadline)
            .map_err(Waited::into_pop)?;
        Ok(self.read_and_release(pos))
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

/// A consumer of an MPMC ring of fixed-size byte slots. As [`Consumer`],
/// with messages of exactly [`slot_size`](Self::slot_size) bytes.
#[derive(Debug)]
pub struct BytesConsumer {
    core: ConsumerCore,
    slot_size: usize,
}

impl BytesConsumer {
    /// Attaches a consumer to `ring`.
    ///
    /// # Errors
    /// As [`Consumer::attach`], without the type check.
    pub fn attach(ring: &Ring) -> Result<BytesConsumer, HandleError> {
        Ok(BytesConsumer {
            core: ConsumerCore::attach(ring)?,
            slot_size: ring.slot_size(),
        })
    }

    /// Bytes per message.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    fn read_and_release(&mut self, pos: u64, out: &mut [u8]) {
        let payload = self.core.slot(pos).payload;
        // SAFETY: as in `Consumer::read_and_release`; `payload` has slot_size
        // bytes inside the region and `out` is our own memory of that length
        // (checked by the caller).
        unsafe { core::ptr::copy_nonoverlapping(payload, out.as_mut_ptr(), self.slot_size) };
        self.core.release(pos, 1);
    }

    fn check_len(&self, out: &[u8]) -> Result<(), PopError> {
        if out.len() == self.slot_size {
            Ok(())
        } else {
            Err(PopError::Size {
                expected: self.slot_size,
                found: out.len(),
            })
        }
    }

    /// Pops one message into `out`, which must be exactly
    /// [`slot_size`](Self::slot_size) bytes.
    ///
    /// # Errors
    /// `Empty`, `Size` for a buffer of another length, `Corrupt`.
    #[inline]
    pub fn try_pop(&mut self, out: &mut [u8]) -> Result<(), PopError> {
        self.check_len(out)?;
        match self.core.claim_message() {
            Ok(pos) => {
                self.read_and_release(pos, out);
                Ok(())
            }
            Err(Claim::Unavailable) if self.core.peer.tick() && self.core.producers_gone() => {
                Err(PopError::PeerGone)
            }
            Err(Claim::Unavailable) => Err(PopError::Empty),
            Err(Claim::Corrupt(e)) => Err(PopError::Corrupt(e)),
        }
    }

    /// Claims up to `n` ready positions with one CAS, to read in place (each
    /// message is `slot_size` bytes). Release and drop as
    /// [`Consumer::read_chunk`].
    ///
    /// # Errors
    /// `Corrupt` when a stamp or cursor is impossible.
    pub fn read_chunk(&mut self, n: usize) -> Result<BytesReadChunk<'_>, CorruptError> {
        let slot_size = self.slot_size;
        RawRead::claim(&mut self.core, n as u64).map(|raw| BytesReadChunk::new(raw, slot_size))
    }

    /// Pops one message into `out`, waiting for one.
    ///
    /// # Errors
    /// `Size` or `Corrupt` (never `Timeout`).
    pub fn pop_blocking(&mut self, out: &mut [u8]) -> Result<(), PopTimeoutError> {
        self.pop_until(out, None)
    }

    /// Pops one message into `out`, waiting at most `timeout`.
    ///
    /// # Errors
    /// `Timeout`, `Size` or `Corrupt`.
    pub fn pop_timeout(
        &mut self,
        out: &mut [u8],
        timeout: Duration,
    ) -> Result<(), PopTimeoutError> {
        self.pop_until(out, deadline_after(timeout))
    }

    /// Pops one message into `out`, waiting until `deadline` at the latest.
    ///
    /// # Errors
    /// `Timeout`, `Size` or `Corrupt`.
    pub fn pop_deadline(
        &mut self,
        out: &mut [u8],
        deadline: Instant,
    ) -> Result<(), PopTimeoutError> {
        self.pop_until(out, Some(deadline))
    }

    fn pop_until(
        &mut self,
        out: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<(), PopTimeoutError> {
        if out.len() != self.slot_size {
            return Err(PopTimeoutError::Size {
                expected: self.slot_size,
                found: out.len(),
            });
        }
        let pos = self
            .core
            .claim_message_until(deadline)
            .map_err(Waited::into_pop)?;
        self.read_and_release(pos, out);
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
