//! The producing side of an SPSC ring.

use core::marker::PhantomData;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use ringway_sync::WaitStrategy;

use super::chunk::WriteChunk;
use super::Waited;
use crate::error::{CorruptError, HandleError, PushError, PushTimeoutError, Role};
use crate::loom::{ordering, Ordering};
use crate::peer::{self, Peer, WAIT_SPACE};
use crate::ring::{check_message, Ring};

/// The producer's private state: its cursor and a cached copy of the consumer's.
#[derive(Debug)]
pub(crate) struct ProducerCore {
    ring: Ring,
    /// Our cursor. Only we write the shared `tail`, so it equals this value
    /// between operations.
    tail: u64,
    /// Last `head` read from the ring. Invariant: `cached_head <= tail <= cached_head + capacity`.
    cached_head: u64,
    capacity: u64,
    /// How the blocking calls wait for space.
    strategy: WaitStrategy,
    /// Our entry in the peer table.
    pub(crate) peer: Peer,
}

/// Re-reads the consumer's cursor, checks it against ours and the cached one,
/// and returns the free slots.
fn read_head(
    ring: &Ring,
    tail: u64,
    cached_head: &mut u64,
    capacity: u64,
) -> Result<u64, CorruptError> {
    // Acquire: pairs with the Release store of head in
    // `ConsumerCore::release`: the consumer's reads of the slots below
    // head happen before we overwrite them.
    let head = ring
        .shared
        .header()
        .head
        .load(ordering!(Acquire, "spsc_read_head_relaxed"));
    if head < *cached_head {
        return Err(CorruptError {
            what: "head moved backwards",
            value: head,
        });
    }
    if head > tail {
        return Err(CorruptError {
            what: "head is ahead of tail",
            value: head,
        });
    }
    // head <= tail and head >= cached_head >= tail - capacity.
    *cached_head = head;
    Ok(capacity - (tail - head))
}

impl ProducerCore {
    pub(crate) fn attach(ring: &Ring) -> Result<ProducerCore, HandleError> {
        let peer = Peer::register(ring, Role::Producer)?;
        ring.claim_role(Role::Producer, &peer)?;
        let h = ring.shared.header();
        // Acquire: pairs with the previous producer's Release store of tail,
        // so we continue exactly where it stopped.
        let tail = h.tail.load(Ordering::Acquire);
        // Acquire: pairs with the consumer's Release store of head.
        let head = h.head.load(Ordering::Acquire);
        let capacity = ring.capacity();
        if head > tail || tail - head > capacity {
            ring.release_role(Role::Producer, &peer);
            return Err(CorruptError {
                what: "tail is not within capacity ahead of head",
                value: tail,
            }
            .into());
        }
        Ok(ProducerCore {
            ring: ring.clone(),
            tail,
            cached_head: head,
            capacity,
            strategy: WaitStrategy::default(),
            peer,
        })
    }

    /// Whether the ring is full because the consumer is gone (checked at most
    /// every `peer::CHECK_INTERVAL`): the error a non-blocking push that found
    /// no free slot reports.
    #[cold]
    pub(crate) fn consumer_gone(&mut self) -> bool {
        self.peer.gone_now(Role::Consumer) && matches!(self.refresh(), Ok(0))
    }

    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Free slots, re-reading `head` only if the cached value shows fewer than `want`.
    #[inline]
    pub(crate) fn free(&mut self, want: u64) -> Result<u64, CorruptError> {
        debug_assert!(self.tail - self.cached_head <= self.capacity);
        let free = self.capacity - (self.tail - self.cached_head);
        if free >= want {
            return Ok(free);
        }
        self.refresh()
    }

    /// Re-reads the consumer's cursor and checks it.
    pub(crate) fn refresh(&mut self) -> Result<u64, CorruptError> {
        read_head(&self.ring, self.tail, &mut self.cached_head, self.capacity)
    }

    /// Waits until at least `want` slots (at most the capacity) are free, or
    /// the deadline passes, sleeping on the ring's space event as the wait
    /// strategy says. Returns the free slots.
    pub(crate) fn wait_free(
        &mut self,
        want: u64,
        deadline: Option<Instant>,
    ) -> Result<u64, Waited> {
        let want = want.clamp(1, self.capacity);
        let free = self.free(want).map_err(Waited::Corrupt)?;
        if free >= want {
            return Ok(free);
        }
        let (ring, tail, capacity, peer) = (&self.ring, self.tail, self.capacity, &self.peer);
        let cached_head = &mut self.cached_head;
        peer::wait_sliced(
            &ring.shared.header().space_event,
            self.strategy,
            deadline,
            |on| peer.note_wait(WAIT_SPACE, on),
            || match read_head(ring, tail, cached_head, capacity) {
                Ok(n) if n < want => None,
                other => Some(other),
            },
            || peer.gone(Role::Consumer),
        )?
        .map_err(Waited::Corrupt)
    }

    pub(crate) fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Up to `want` free slots from `tail`: pointers to the first slot of the
    /// two spans (before and after the wrap) and their lengths in slots.
    pub(crate) fn reserve(
        &mut self,
        want: u64,
    ) -> Result<(*mut u8, usize, *mut u8, usize), CorruptError> {
        let n = self.free(want)?.min(want);
        let shared = &self.ring.shared;
        let (first_ptr, idx) = shared.slot(self.tail);
        let first = n.min(self.capacity - idx as u64);
        let (second_ptr, _) = shared.slot(0);
        for i in 0..n {
            shared.access.write(shared.slot(self.tail + i).1);
        }
        Ok((first_ptr, first as usize, second_ptr, (n - first) as usize))
    }

    /// Makes `n` written slots visible to the consumer and wakes it if it sleeps.
    #[inline]
    pub(crate) fn publish(&mut self, n: u64) {
        debug_assert!(self.tail + n - self.cached_head <= self.capacity);
        self.tail += n;
        let h = self.ring.shared.header();
        // Release: publishes the slot bytes written before; pairs with the
        // Acquire load of tail in `ConsumerCore::refresh`.
        h.tail
            .store(self.tail, ordering!(Release, "spsc_publish_relaxed"));
        h.data_event.notify();
    }
}

impl Drop for ProducerCore {
    fn drop(&mut self) {
        self.ring.release_role(Role::Producer, &self.peer);
    }
}

/// The producer of a typed SPSC ring of `T`.
///
/// `T` is [`Pod`]: valid for any bit pattern, so a corrupt or malicious peer
/// can make us read garbage values but never undefined behaviour.
/// `Send`, not `Sync`: one thread pushes at a time.
#[derive(Debug)]
pub struct Producer<T> {
    core: ProducerCore,
    _message: PhantomData<fn(T) -> T>,
}

impl<T: Pod> Producer<T> {
    /// Takes the producer role of `ring`.
    ///
    /// # Errors
    /// [`HandleError::WrongKind`] for an MPMC ring, `TypeMismatch` when `T`
    /// does not fit the slots, `RoleTaken` when another producer holds the role,
    /// `Corrupt` when the cursors are inconsistent.
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
    /// [`PushError::Full`] hands the message back; `Corrupt` when the
    /// consumer's cursor is impossible.
    #[inline]
    pub fn try_push(&mut self, value: T) -> Result<(), PushError<T>> {
        match self.core.free(1) {
            Ok(0) if self.core.peer.tick() && self.core.consumer_gone() => {
                return Err(PushError::PeerGone(value))
            }
            Ok(0) => return Err(PushError::Full(value)),
            Ok(_) => {}
            Err(e) => return Err(PushError::Corrupt(e)),
        }
        let shared = &self.core.ring.shared;
        let (ptr, idx) = shared.slot(self.core.tail);
        shared.access.write(idx);
        // SAFETY: `ptr` is slot `idx` (masked), inside the region; it is
        // aligned for T (slots are aligned to slot_align >= align_of::<T>(),
        // stride == size_of::<T>(), checked in `attach`); the slot is free
        // (tail - head < capacity), so the consumer does not read it until
        // `publish`.
        unsafe { ptr.cast::<T>().write(value) };
        self.core.publish(1);
        Ok(())
    }

    /// Pushes as many of `values` as fit, in order, with one cursor update.
    /// Returns how many were pushed (0 when full).
    ///
    /// # Errors
    /// `Corrupt` when the consumer's cursor is impossible.
    pub fn push_slice(&mut self, values: &[T]) -> Result<usize, CorruptError> {
        let mut chunk = self.write_chunk(values.len())?;
        let (a, b) = chunk.as_mut_slices();
        let (first, rest) = values.split_at(a.len());
        a.copy_from_slice(first);
        b.copy_from_slice(&rest[..b.len()]);
        let n = chunk.len();
        chunk.commit_all();
        Ok(n)
    }

    /// Up to `n` free slots to write in place; [`WriteChunk::commit`]
    /// publishes them. The chunk may be shorter than `n` (or empty) when the
    /// ring has less room.
    ///
    /// # Errors
    /// `Corrupt` when the consumer's cursor is impossible.
    pub fn write_chunk(&mut self, n: usize) -> Result<WriteChunk<'_, T>, CorruptError> {
        WriteChunk::new(&mut self.core, n, 1)
    }

    /// Free slots now (re-reads the consumer's cursor).
    ///
    /// # Errors
    /// `Corrupt` when the consumer's cursor is impossible.
    pub fn free_slots(&mut self) -> Result<usize, CorruptError> {
        self.core.refresh().map(|n| n as usize)
    }

    /// Pushes one message, waiting for a free slot as long as it takes (or
    /// until the consumer is gone).
    ///
    /// # Errors
    /// [`PushTimeoutError::PeerGone`] hands the message back when the
    /// consumer died and none is attached (learned within
    /// [`LIVENESS_SLICE`](crate::peer::LIVENESS_SLICE) of sleeping); `Corrupt`
    /// when the consumer's cursor is impossible. Never `Timeout`.
    pub fn push_blocking(&mut self, value: T) -> Result<(), PushTimeoutError<T>> {
        self.push_deadline_inner(value, None)
    }

    /// Pushes one message, waiting at most `timeout` for a free slot.
    ///
    /// # Errors
    /// [`PushTimeoutError::Timeout`] hands the message back; `Corrupt`.
    pub fn push_timeout(&mut self, value: T, timeout: Duration) -> Result<(), PushTimeoutError<T>> {
        self.push_deadline_inner(value, Instant::now().checked_add(timeout))
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
        self.push_deadline_inner(value, Some(deadline))
    }

    fn push_deadline_inner(
        &mut self,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), PushTimeoutError<T>> {
        match self.core.wait_free(1, deadline) {
            Ok(_) => {}
            Err(Waited::Timeout) => return Err(PushTimeoutError::Timeout(value)),
            Err(Waited::PeerGone) => return Err(PushTimeoutError::PeerGone(value)),
            Err(Waited::Corrupt(e)) => return Err(PushTimeoutError::Corrupt(e)),
        }
        match self.try_push(value) {
            Ok(()) => Ok(()),
            Err(PushError::Corrupt(e)) => Err(PushTimeoutError::Corrupt(e)),
            Err(_) => unreachable!("a slot is free and only this handle fills slots"),
        }
    }

    /// Waits until at least `n` slots (at most the capacity) are free, for a
    /// [`write_chunk`](Self::write_chunk) of that size. `None` waits forever.
    /// Returns the free slots.
    ///
    /// # Errors
    /// `Timeout` when the deadline passes first; `Corrupt`.
    pub fn wait_for_free(
        &mut self,
        n: usize,
        deadline: Option<Instant>,
    ) -> Result<usize, PushTimeoutError<()>> {
        self.core
            .wait_free(n as u64, deadline)
            .map(|n| n as usize)
            .map_err(Waited::into_push)
    }

    /// How the blocking calls wait (default: spin, then sleep on the futex).
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.core.set_wait_strategy(strategy);
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        self.core.ring()
    }
}

/// The producer of an SPSC ring of fixed-size byte slots (for C and other
/// non-Rust peers). `Send`, not `Sync`.
#[derive(Debug)]
pub struct BytesProducer {
    core: ProducerCore,
    slot_size: usize,
}

impl BytesProducer {
    /// Takes the producer role of `ring`.
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

    /// Pushes one message of exactly [`slot_size`](Self::slot_size) bytes.
    ///
    /// # Errors
    /// `Full` when there is no free slot, `Size` for a message of another
    /// length, `Corrupt` when the consumer's cursor is impossible.
    #[inline]
    pub fn try_push(&mut self, message: &[u8]) -> Result<(), PushError<()>> {
        if message.len() != self.slot_size {
            return Err(PushError::Size {
                expected: self.slot_size,
                found: message.len(),
            });
        }
        match self.core.free(1) {
            Ok(0) if self.core.peer.tick() && self.core.consumer_gone() => {
                return Err(PushError::PeerGone(()))
            }
            Ok(0) => return Err(PushError::Full(())),
            Ok(_) => {}
            Err(e) => return Err(PushError::Corrupt(e)),
        }
        let shared = &self.core.ring.shared;
        let (ptr, idx) = shared.slot(self.core.tail);
        shared.access.write(idx);
        // SAFETY: `ptr` is slot `idx` (masked), with slot_size bytes inside the
        // region; the slot is free until `publish`; `message` is our own memory
        // and cannot overlap the mapping's slot we own.
        unsafe { core::ptr::copy_nonoverlapping(message.as_ptr(), ptr, self.slot_size) };
        self.core.publish(1);
        Ok(())
    }

    /// Up to `n` free slots to write in place, as bytes (`slot_size` bytes per
    /// slot, contiguous).
    ///
    /// # Errors
    /// `Corrupt` when the consumer's cursor is impossible.
    pub fn write_chunk(&mut self, n: usize) -> Result<WriteChunk<'_, u8>, CorruptError> {
        let per_slot = self.slot_size;
        WriteChunk::new(&mut self.core, n, per_slot)
    }

    /// Free slots now (re-reads the consumer's cursor).
    ///
    /// # Errors
    /// `Corrupt` when the consumer's cursor is impossible.
    pub fn free_slots(&mut self) -> Result<usize, CorruptError> {
        self.core.refresh().map(|n| n as usize)
    }

    /// Pushes one message, waiting until `deadline` (`None`: as long as it
    /// takes) for a free slot.
    ///
    /// # Errors
    /// `Timeout`, `Size` for a message of another length, `Corrupt`.
    pub fn push_deadline(
        &mut self,
        message: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), PushTimeoutError<()>> {
        if message.len() != self.slot_size {
            return Err(PushTimeoutError::Size {
                expected: self.slot_size,
                found: message.len(),
            });
        }
        self.core
            .wait_free(1, deadline)
            .map_err(Waited::into_push)?;
        self.try_push(message).map_err(|e| match e {
            PushError::Corrupt(e) => PushTimeoutError::Corrupt(e),
            _ => unreachable!("a slot is free, the size is right"),
        })
    }

    /// Pushes one message, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`push_deadline`](Self::push_deadline).
    pub fn push_timeout(
        &mut self,
        message: &[u8],
        timeout: Duration,
    ) -> Result<(), PushTimeoutError<()>> {
        self.push_deadline(message, Instant::now().checked_add(timeout))
    }

    /// Pushes one message, waiting as long as it takes.
    ///
    /// # Errors
    /// `Size` or `Corrupt` (never `Timeout`).
    pub fn push_blocking(&mut self, message: &[u8]) -> Result<(), PushTimeoutError<()>> {
        self.push_deadline(message, None)
    }

    /// Waits until at least `n` slots (at most the capacity) are free.
    ///
    /// # Errors
    /// `Timeout` when the deadline passes first; `Corrupt`.
    pub fn wait_for_free(
        &mut self,
        n: usize,
        deadline: Option<Instant>,
    ) -> Result<usize, PushTimeoutError<()>> {
        self.core
            .wait_free(n as u64, deadline)
            .map(|n| n as usize)
            .map_err(Waited::into_push)
    }

    /// How the blocking calls wait (default: spin, then sleep on the futex).
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.core.set_wait_strategy(strategy);
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        self.core.ring()
    }
}
