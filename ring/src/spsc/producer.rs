//! The producing side of an SPSC ring.

use std::time::Instant;

use ringway_sync::WaitStrategy;

use super::Waited;
use crate::error::{CorruptError, HandleError, Role};
use crate::handle::side::{ProducerSide, Side, Span, Spans};
use crate::layout::Header;
use crate::loom::{ordering, Ordering};
use crate::peer::Peer;
use crate::place::Place;
use crate::ring::Ring;

/// The producer's private state: its cursor and a cached copy of the consumer's.
#[derive(Debug)]
#[allow(unreachable_pub)] // named by the sealed `Flavor` only
pub struct ProducerCore {
    ring: Ring,
    /// Our cursor. Only we write the shared `tail`, so it equals this value
    /// between operations.
    tail: u64,
    /// Last `head` read from the ring. Invariant: `cached_head <= tail <= cached_head + capacity`.
    cached_head: u64,
    capacity: u64,
    /// How the blocking calls wait for space.
    strategy: WaitStrategy,
    /// Stamped slots (`FLAG_STAMPED`): `publish` stores each slot's stamp.
    stamped: bool,
    /// The ring's addresses, read without a pointer chase; its poison
    /// flag is checked by every operation.
    place: Place,
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
    ring.check_poison()?;
    load_head(ring, ring.shared.header(), tail, cached_head, capacity)
}

/// [`read_head`] after the caller checked the poison flag: the full ring's
/// path, inline, its errors out of line.
#[inline]
fn load_head(
    ring: &Ring,
    h: &Header,
    tail: u64,
    cached_head: &mut u64,
    capacity: u64,
) -> Result<u64, CorruptError> {
    // Acquire: pairs with the Release store of head in
    // `ConsumerCore::release`: the consumer's reads of the slots below
    // head happen before we overwrite them.
    let head = h.head.load(ordering!(Acquire, "spsc_read_head_relaxed"));
    if head < *cached_head || head > tail {
        return Err(bad_head(ring, head, *cached_head));
    }
    // head <= tail and head >= cached_head >= tail - capacity.
    *cached_head = head;
    Ok(capacity - (tail - head))
}

/// The error of a `head` that [`load_head`] refused.
#[cold]
#[inline(never)]
fn bad_head(ring: &Ring, head: u64, cached_head: u64) -> CorruptError {
    if head < cached_head {
        return ring.corrupt("head moved backwards", head);
    }
    ring.corrupt("head is ahead of tail", head)
}

impl ProducerCore {
    pub(crate) fn attach(ring: &Ring) -> Result<ProducerCore, HandleError> {
        let (peer, head, tail) = super::attach(ring, Role::Producer)?;
        let capacity = ring.capacity();
        let core = ProducerCore {
            ring: ring.clone(),
            tail,
            cached_head: head,
            capacity,
            strategy: WaitStrategy::default(),
            stamped: ring.geometry().stamped,
            place: Place::new(ring),
            peer,
        };
        if core.stamped {
            // A producer that died between its `tail` store and its stamp
            // stores left published messages without stamps: stamp every
            // message still in the ring again (the same values an honest
            // producer wrote; a slot the consumer frees meanwhile gets a
            // stamp of an older position, which it reads as "not yet").
            // Release: each stamp publishes the payload, which our Acquire
            // load of tail above made ours to publish; pairs with the
            // Acquire load in `ConsumerCore::stamp_ready`.
            for pos in head..tail {
                core.place
                    .stamp(&core.ring, pos)
                    .store(pos + 1, Ordering::Release);
            }
        }
        Ok(core)
    }

    /// Whether the ring is full because the consumer is gone (checked at most
    /// every `peer::CHECK_INTERVAL`): the error a non-blocking push that found
    /// no free slot reports.
    #[cold]
    pub(crate) fn consumer_gone(&mut self) -> bool {
        if !self.peer.gone_now(Role::Consumer) {
            return false;
        }
        if !matches!(self.refresh(), Ok(0)) {
            // Reported once nothing is left to do.
            self.peer.unreport();
            return false;
        }
        true
    }

    pub(crate) fn ring(&self) -> &Ring {
        &self.ring
    }

    /// Free slots, re-reading `head` only if the cached value shows fewer than `want`.
    #[inline]
    pub(crate) fn free(&mut self, want: u64) -> Result<u64, CorruptError> {
        self.place.poison.check(&self.ring, self.place.forks)?;
        debug_assert!(self.tail - self.cached_head <= self.capacity);
        let free = self.capacity - (self.tail - self.cached_head);
        if free >= want {
            return Ok(free);
        }
        // The poison flag was checked above.
        load_head(
            &self.ring,
            self.place.header(),
            self.tail,
            &mut self.cached_head,
            self.capacity,
        )
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
        let (ring, tail, capacity) = (&self.ring, self.tail, self.capacity);
        let cached_head = &mut self.cached_head;
        self.peer.wait_count(self.strategy, want, deadline, || {
            read_head(ring, tail, cached_head, capacity)
        })
    }

    pub(crate) fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Makes `n` written slots visible to the consumer and wakes it if it
    /// sleeps: one `tail` store, then (stamped slots) each slot's stamp, then
    /// one notify.
    #[inline]
    pub(crate) fn publish(&mut self, n: u64) {
        debug_assert!(self.tail + n - self.cached_head <= self.capacity);
        let first = self.tail;
        self.tail += n;
        let h = self.place.header();
        // Release: publishes the slot bytes written before; pairs with the
        // Acquire load of tail in `load_tail` (consumer.rs).
        h.tail
            .store(self.tail, ordering!(Release, "spsc_publish_relaxed"));
        if self.stamped {
            for pos in first..self.tail {
                // Release: the payloads and the tail store above happen
                // before the stamp is seen; pairs with the Acquire load of a
                // stamp in `ConsumerCore::stamp_ready`. So a consumer that
                // saw a stamp reads the payload, and reads a tail no lower.
                // (A Release store per stamp rather than one fence(Release)
                // per batch: the same instructions on x86, and ThreadSanitizer
                // does not model standalone fences.)
                self.place
                    .stamp(&self.ring, pos)
                    .store(pos + 1, ordering!(Release, "spsc_stamp_relaxed"));
            }
        }
        h.data_event.notify_in(self.place.barrier);
    }
}

impl Drop for ProducerCore {
    fn drop(&mut self) {
        self.ring.release_role(Role::Producer, &self.peer);
    }
}

/// The seam of the handle layer: each step is one of the core's above.
impl Side for ProducerCore {
    fn attach(ring: &Ring) -> Result<Self, HandleError> {
        ProducerCore::attach(ring)
    }

    fn ring(&self) -> &Ring {
        ProducerCore::ring(self)
    }

    fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        ProducerCore::set_wait_strategy(self, strategy);
    }

    #[inline(always)]
    fn check_fork(&self) -> Result<(), CorruptError> {
        self.place.check_fork(&self.peer)
    }

    // Always: as an out-of-line call (what `#[inline]` got in the CLI's
    // busy-poll loops) its `Result` goes through memory on every poll.
    #[inline(always)]
    fn claim_one(&mut self) -> Result<Span, CorruptError> {
        if self.free(1)? == 0 {
            return Ok(Span::default());
        }
        (self.ring.shared.access).write(self.place.slot(self.tail).1);
        Ok(Span::new(self.tail, 1))
    }

    fn claim(&mut self, n: u64) -> Result<Span, CorruptError> {
        let n = self.free(n)?.min(n);
        for i in 0..n {
            (self.ring.shared.access).write(self.place.slot(self.tail + i).1);
        }
        Ok(Span::new(self.tail, n))
    }

    fn claim_one_until(&mut self, deadline: Option<Instant>) -> Result<Span, Waited> {
        self.wait_free(1, deadline)?;
        self.claim_one().map_err(Waited::Corrupt)
    }

    fn spans(&self, claim: Span) -> Option<Spans> {
        (!self.stamped).then(|| super::contiguous(&self.ring, claim.pos, claim.len))
    }

    #[inline]
    fn peer_gone(&mut self) -> bool {
        self.peer.tick() && self.consumer_gone()
    }
}

impl ProducerSide for ProducerCore {
    #[inline]
    fn payload(&self, pos: u64) -> *mut u8 {
        self.place.payload(pos)
    }

    #[inline]
    fn publish(&mut self, _claim: Span, written: u64) {
        if written > 0 {
            ProducerCore::publish(self, written);
        }
    }

    fn free_slots(&mut self) -> Result<u64, CorruptError> {
        self.refresh()
    }

    fn wait_free(&mut self, n: u64, deadline: Option<Instant>) -> Result<u64, Waited> {
        ProducerCore::wait_free(self, n, deadline)
    }
}
