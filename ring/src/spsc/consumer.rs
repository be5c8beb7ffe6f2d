//! The consuming side of an SPSC ring.

use core::marker::PhantomData;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use ringway_sync::WaitStrategy;

use super::chunk::ReadChunk;
use super::Waited;
use crate::error::{CorruptError, HandleError, PopError, PopTimeoutError, Role};
use crate::loom::{ordering, Ordering};
use crate::peer::{self, Peer, WAIT_DATA};
use crate::ring::{check_message, Ring};

/// The consumer's private state: its cursor and a cached copy of the producer's.
#[derive(Debug)]
pub(crate) struct ConsumerCore {
    ring: Ring,
    /// Our cursor. Only we write the shared `head`, so it equals this value
    /// between operations.
    head: u64,
    /// Last `tail` read from the ring. Invariant: `head <= cached_tail <= head + capacity`.
    cached_tail: u64,
    capacity: u64,
    /// How the blocking calls wait for messages.
    strategy: WaitStrategy,
    /// Our entry in the peer table.
    pub(crate) peer: Peer,
}

/// Re-reads the producer's cursor, checks it against ours and the cached one,
/// and returns the ready slots.
fn read_tail(
    ring: &Ring,
    head: u64,
    cached_tail: &mut u64,
    capacity: u64,
) -> Result<u64, CorruptError> {
    // Acquire: pairs with the Release store of tail in
    // `ProducerCore::publish`: the slot bytes below tail are visible.
    let tail = ring
        .shared
        .header()
        .tail
        .load(ordering!(Acquire, "spsc_read_tail_relaxed"));
    if tail < *cached_tail {
        return Err(CorruptError {
            what: "tail moved backwards",
            value: tail,
        });
    }
    if tail - head > capacity {
        return Err(CorruptError {
            what: "tail is more than capacity ahead of head",
            value: tail,
        });
    }
    *cached_tail = tail;
    Ok(tail - head)
}

impl ConsumerCore {
    pub(crate) fn attach(ring: &Ring) -> Result<ConsumerCore, HandleError> {
        let peer = Peer::register(ring, Role::Consumer)?;
        ring.claim_role(Role::Consumer, &peer)?;
        let h = ring.shared.header();
        // Acquire: pairs with the previous consumer's Release store of head.
        let head = h.head.load(Ordering::Acquire);
        // Acquire: pairs with the producer's Release store of tail.
        let tail = h.tail.load(Ordering::Acquire);
        let capacity = ring.capacity();
        if head > tail || tail - head > capacity {
            ring.release_role(Role::Consumer, &peer);
            return Err(CorruptError {
                what: "tail is not within capacity ahead of head",
                value: tail,
            }
            .into());
        }
        Ok(ConsumerCore {
            ring: ring.clone(),
            head,
            cached_tail: tail,
            capacity,
            strategy: WaitStrategy::default(),
            peer,
        })
    }

    /// Whether the ring is drained and the producer is gone (checked at most
    /// every `peer::CHECK_INTERVAL`): the error a non-blocking pop that found
    /// nothing reports.
    #[cold]
    pub(crate) fn producer_gone(&mut self) -> bool {
        self.peer.gone_now(Role::Producer) && matches!(self.refresh(), Ok(0))
    }

    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Ready slots, re-reading `tail` only if the cached value shows fewer than `want`.
    #[inline]
    pub(crate) fn ready(&mut self, want: u64) -> Result<u64, CorruptError> {
        debug_assert!(self.cached_tail - self.head <= self.capacity);
        let ready = self.cached_tail - self.head;
        if ready >= want {
            return Ok(ready);
        }
        self.refresh()
    }

    /// Re-reads the producer's cursor and checks it.
    pub(crate) fn refresh(&mut self) -> Result<u64, CorruptError> {
        read_tail(&self.ring, self.head, &mut self.cached_tail, self.capacity)
    }

    /// Waits until at least `want` messages (at most the capacity) are ready,
    /// or the deadline passes, sleeping on the ring's data event as the wait
    /// strategy says. Returns the ready messages.
    pub(crate) fn wait_ready(
        &mut self,
        want: u64,
        deadline: Option<Instant>,
    ) -> Result<u64, Waited> {
        let want = want.clamp(1, self.capacity);
        let ready = self.ready(want).map_err(Waited::Corrupt)?;
        if ready >= want {
            return Ok(ready);
        }
        let (ring, head, capacity, peer) = (&self.ring, self.head, self.capacity, &self.peer);
        let cached_tail = &mut self.cached_tail;
        let mut found = 0;
        peer::wait_sliced(
            &ring.shared.header().data_event,
            self.strategy,
            deadline,
            |on| peer.note_wait(WAIT_DATA, on),
            || match read_tail(ring, head, cached_tail, capacity) {
                Ok(n) if n < want => {
                    found = n;
                    None
                }
                other => Some(other),
            },
            || peer.gone(Role::Producer),
        )
        .map_err(|e| match e {
            // Fewer than `want` and no producer to bring more: hand over
            // what there is first.
            Waited::PeerGone if found > 0 => Waited::Timeout,
            e => e,
        })?
        .map_err(Waited::Corrupt)
    }

    pub(crate) fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Up to `want` ready slots from `head`, as two spans (before and after the wrap).
    pub(crate) fn peek_spans(
        &mut self,
        want: u64,
    ) -> Result<(*mut u8, usize, *mut u8, usize), CorruptError> {
        let n = self.ready(want)?.min(want);
        let shared = &self.ring.shared;
        let (first_ptr, idx) = shared.slot(self.head);
        let first = n.min(self.capacity - idx as u64);
        let (second_ptr, _) = shared.slot(0);
        for i in 0..n {
            shared.access.read(shared.slot(self.head + i).1);
        }
        Ok((first_ptr, first as usize, second_ptr, (n - first) as usize))
    }

    /// Hands `n` read slots back to the producer and wakes it if it sleeps.
    #[inline]
    pub(crate) fn release(&mut self, n: u64) {
        debug_assert!(self.head + n <= self.cached_tail);
        self.head += n;
        let h = self.ring.shared.header();
        // Release: our reads of the slots below head happen before the
        // producer's overwrite; pairs with the Acquire load of head in
        // `ProducerCore::refresh`.
        h.head
            .store(self.head, ordering!(Release, "spsc_release_relaxed"));
        h.space_event.notify();
    }

    /// The slot at `head`, if one is ready.
    #[inline]
    fn front(&mut self) -> Result<*mut u8, PopError> {
        match self.ready(1) {
            Ok(0) if self.peer.tick() && self.producer_gone() => Err(PopError::PeerGone),
            Ok(0) => Err(PopError::Empty),
            Ok(_) => {
                let shared = &self.ring.shared;
                let (ptr, idx) = shared.slot(self.head);
                shared.access.read(idx);
                Ok(ptr)
            }
            Err(e) => Err(PopError::Corrupt(e)),
        }
    }
}

impl Drop for ConsumerCore {
    fn drop(&mut self) {
        self.ring.release_role(Role::Consumer, &self.peer);
    }
}

/// The consumer of a typed SPSC ring of `T`. `Send`, not `Sync`.
#[derive(Debug)]
pub struct Consumer<T> {
    core: ConsumerCore,
    _message: PhantomData<fn(T) -> T>,
}

impl<T: Pod> Consumer<T> {
    /// Takes the consumer role of `ring`. It continues from the ring's `head`:
    /// a consumer that reopens a file-backed ring resumes where the last one
    /// stopped.
    ///
    /// # Errors
    /// As [`Producer::attach`](super::Producer::attach).
    pub fn attach(ring: &Ring) -> Result<Consumer<T>, HandleError> {
        check_message::<T>(ring)?;
        Ok(Consumer {
            core: ConsumerCore::attach(ring)?,
            _message: PhantomData,
        })
    }

    /// Pops one message.
    ///
    /// # Errors
    /// [`PopError::Empty`] when nothing is ready; `Corrupt` when the
    /// producer's cursor is impossible.
    #[inline]
    pub fn try_pop(&mut self) -> Result<T, PopError> {
        let ptr = self.core.front()?;
        // SAFETY: `ptr` is the slot at head (masked, inside the region),
        // aligned for T (checked in `attach`); it is ready (head < tail, tail
        // loaded with Acquire), so the producer does not write it until we
        // release it. T is Pod: any bytes are a valid T.
        let value = unsafe { ptr.cast::<T>().read() };
        self.core.release(1);
        Ok(value)
    }

    /// The next message, in place, without consuming it.
    ///
    /// # Errors
    /// As [`try_pop`](Self::try_pop).
    #[inline]
    pub fn peek(&mut self) -> Result<&T, PopError> {
        let ptr = self.core.front()?;
        // SAFETY: as in `try_pop`; the reference borrows `self`, so the slot
        // cannot be released while it lives.
        Ok(unsafe { &*ptr.cast::<T>() })
    }

    /// Pops up to `out.len()` messages into `out` with one cursor update.
    /// Returns how many were popped.
    ///
    /// # Errors
    /// `Corrupt` when the producer's cursor is impossible.
    pub fn pop_into(&mut self, out: &mut [T]) -> Result<usize, CorruptError> {
        let chunk = self.read_chunk(out.len())?;
        let (a, b) = chunk.as_slices();
        out[..a.len()].copy_from_slice(a);
        out[a.len()..a.len() + b.len()].copy_from_slice(b);
        let n = chunk.len();
        chunk.release_all();
        Ok(n)
    }

    /// Up to `n` ready messages in place; [`ReadChunk::release`] frees them.
    ///
    /// # Errors
    /// `Corrupt` when the producer's cursor is impossible.
    pub fn read_chunk(&mut self, n: usize) -> Result<ReadChunk<'_, T>, CorruptError> {
        ReadChunk::new(&mut self.core, n, 1)
    }

    /// Ready messages now (re-reads the producer's cursor).
    ///
    /// # Errors
    /// `Corrupt` when the producer's cursor is impossible.
    pub fn ready_slots(&mut self) -> Result<usize, CorruptError> {
        self.core.refresh().map(|n| n as usize)
    }

    /// Pops one message, waiting for one as long as it takes (or until the
    /// ring is drained and the producer gone).
    ///
    /// # Errors
    /// [`PopTimeoutError::PeerGone`] when the producer died, none is
    /// attached and every message it published has been taken (learned
    /// within [`LIVENESS_SLICE`](crate::peer::LIVENESS_SLICE) of sleeping);
    /// `Corrupt` when the producer's cursor is impossible. Never `Timeout`.
    pub fn pop_blocking(&mut self) -> Result<T, PopTimeoutError> {
        self.pop_deadline_inner(None)
    }

    /// Pops one message, waiting at most `timeout` for one.
    ///
    /// # Errors
    /// [`PopTimeoutError::Timeout`]; `Corrupt`.
    pub fn pop_timeout(&mut self, timeout: Duration) -> Result<T, PopTimeoutError> {
        self.pop_deadline_inner(Instant::now().checked_add(timeout))
    }

    /// Pops one message, waiting until `deadline` at the latest.
    ///
    /// # Errors
    /// As [`pop_timeout`](Self::pop_timeout).
    pub fn pop_deadline(&mut self, deadline: Instant) -> Result<T, PopTimeoutError> {
        self.pop_deadline_inner(Some(deadline))
    }

    fn pop_deadline_inner(&mut self, deadline: Option<Instant>) -> Result<T, PopTimeoutError> {
        self.core
            .wait_ready(1, deadline)
            .map_err(Waited::into_pop)?;
        self.try_pop().map_err(|e| match e {
            PopError::Corrupt(e) => PopTimeoutError::Corrupt(e),
            _ => unreachable!("a message is ready and only this handle takes messages"),
        })
    }

    /// Waits until at least `n` messages (at most the capacity) are ready,
    /// for a [`read_chunk`](Self::read_chunk). `None` waits forever. Returns
    /// the ready messages.
    ///
    /// # Errors
    /// `Timeout` when the deadline passes first; `Corrupt`.
    pub fn wait_for_ready(
        &mut self,
        n: usize,
        deadline: Option<Instant>,
    ) -> Result<usize, PopTimeoutError> {
        self.core
            .wait_ready(n as u64, deadline)
            .map(|n| n as usize)
            .map_err(Waited::into_pop)
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

/// The consumer of an SPSC ring of fixed-size byte slots. `Send`, not `Sync`.
#[derive(Debug)]
pub struct BytesConsumer {
    core: ConsumerCore,
    slot_size: usize,
}

impl BytesConsumer {
    /// Takes the consumer role of `ring`.
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

    /// Pops one message into `out`, which must be exactly
    /// [`slot_size`](Self::slot_size) bytes.
    ///
    /// # Errors
    /// `Empty`, `Size` for a buffer of another length, `Corrupt`.
    #[inline]
    pub fn try_pop(&mut self, out: &mut [u8]) -> Result<(), PopError> {
        if out.len() != self.slot_size {
            return Err(PopError::Size {
                expected: self.slot_size,
                found: out.len(),
            });
        }
        let ptr = self.core.front()?;
        // SAFETY: `ptr` is the ready slot at head with slot_size bytes inside
        // the region; the producer does not write it until we release it;
        // `out` is our own memory.
        unsafe { core::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr(), self.slot_size) };
        self.core.release(1);
        Ok(())
    }

    /// The next message in place, without consuming it.
    ///
    /// # Errors
    /// `Empty` or `Corrupt`.
    pub fn peek(&mut self) -> Result<&[u8], PopError> {
        let ptr = self.core.front()?;
        // SAFETY: as in `try_pop`; the slice borrows `self`, so the slot
        // cannot be released while it lives.
        Ok(unsafe { core::slice::from_raw_parts(ptr, self.slot_size) })
    }

    /// Up to `n` ready messages in place, as bytes (`slot_size` per message).
    ///
    /// # Errors
    /// `Corrupt` when the producer's cursor is impossible.
    pub fn read_chunk(&mut self, n: usize) -> Result<ReadChunk<'_, u8>, CorruptError> {
        let per_slot = self.slot_size;
        ReadChunk::new(&mut self.core, n, per_slot)
    }

    /// Ready messages now (re-reads the producer's cursor).
    ///
    /// # Errors
    /// `Corrupt` when the producer's cursor is impossible.
    pub fn ready_slots(&mut self) -> Result<usize, CorruptError> {
        self.core.refresh().map(|n| n as usize)
    }

    /// Pops one message into `out`, waiting until `deadline` (`None`: as long
    /// as it takes) for one.
    ///
    /// # Errors
    /// `Timeout`, `Size` for a buffer of another length, `Corrupt`.
    pub fn pop_deadline(
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
        self.core
            .wait_ready(1, deadline)
            .map_err(Waited::into_pop)?;
        self.try_pop(out).map_err(|e| match e {
            PopError::Corrupt(e) => PopTimeoutError::Corrupt(e),
            _ => unreachable!("a message is ready, the size is right"),
        })
    }

    /// Pops one message into `out`, waiting at most `timeout`.
    ///
    /// # Errors
    /// As [`pop_deadline`](Self::pop_deadline).
    pub fn pop_timeout(
        &mut self,
        out: &mut [u8],
        timeout: Duration,
    ) -> Result<(), PopTimeoutError> {
        self.pop_deadline(out, Instant::now().checked_add(timeout))
    }

    /// Pops one message into `out`, waiting as long as it takes.
    ///
    /// # Errors
    /// `Size` or `Corrupt` (never `Timeout`).
    pub fn pop_blocking(&mut self, out: &mut [u8]) -> Result<(), PopTimeoutError> {
        self.pop_deadline(out, None)
    }

    /// Waits until at least `n` messages (at most the capacity) are ready.
    ///
    /// # Errors
    /// `Timeout` when the deadline passes first; `Corrupt`.
    pub fn wait_for_ready(
        &mut self,
        n: usize,
        deadline: Option<Instant>,
    ) -> Result<usize, PopTimeoutError> {
        self.core
            .wait_ready(n as u64, deadline)
            .map(|n| n as usize)
            .map_err(Waited::into_pop)
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
