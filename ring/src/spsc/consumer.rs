//! The consuming side of an SPSC ring.

use std::time::Instant;

use ringway_sync::WaitStrategy;

use super::Waited;
use crate::error::{CorruptError, HandleError, Role};
use crate::handle::side::{ConsumerSide, Side, Span, Spans};
use crate::layout::Header;
use crate::loom::ordering;
use crate::peer::Peer;
use crate::place::Place;
use crate::ring::Ring;

/// The consumer's private state: its cursor and a cached copy of the producer's.
#[derive(Debug)]
#[allow(unreachable_pub)] // named by the sealed `Flavor` only
pub struct ConsumerCore {
    ring: Ring,
    /// Our cursor. Only we write the shared `head`, so it equals this value
    /// between operations.
    head: u64,
    /// Last `tail` read from the ring. Invariant: `head <= cached_tail <= head + capacity`.
    cached_tail: u64,
    capacity: u64,
    /// How the blocking calls wait for messages.
    strategy: WaitStrategy,
    /// Stamped slots (`FLAG_STAMPED`): a one-message claim looks at the
    /// stamp of the slot at `head`, not at `tail`.
    stamped: bool,
    /// The ring's addresses, read without a pointer chase; its poison
    /// flag is checked by every operation.
    place: Place,
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
    ring.check_poison()?;
    load_tail(ring, ring.shared.header(), head, cached_tail, capacity)
}

/// [`read_tail`] after the caller checked the poison flag: the empty poll's
/// path, inline, its errors out of line.
#[inline]
fn load_tail(
    ring: &Ring,
    h: &Header,
    head: u64,
    cached_tail: &mut u64,
    capacity: u64,
) -> Result<u64, CorruptError> {
    // Acquire: pairs with the Release store of tail in
    // `ProducerCore::publish`: the slot bytes below tail are visible.
    let tail = h.tail.load(ordering!(Acquire, "spsc_read_tail_relaxed"));
    if tail < *cached_tail || tail.wrapping_sub(head) > capacity {
        return Err(bad_tail(ring, head, *cached_tail, capacity, tail));
    }
    *cached_tail = tail;
    Ok(tail - head)
}

/// The error of a `tail` that [`load_tail`] refused.
#[cold]
#[inline(never)]
fn bad_tail(ring: &Ring, head: u64, cached_tail: u64, capacity: u64, tail: u64) -> CorruptError {
    if tail < cached_tail {
        return ring.corrupt("tail moved backwards", tail);
    }
    debug_assert!(tail - head > capacity);
    ring.corrupt("tail is more than capacity ahead of head", tail)
}

impl ConsumerCore {
    pub(crate) fn attach(ring: &Ring) -> Result<ConsumerCore, HandleError> {
        let (peer, head, tail) = super::attach(ring, Role::Consumer)?;
        let capacity = ring.capacity();
        Ok(ConsumerCore {
            ring: ring.clone(),
            head,
            cached_tail: tail,
            capacity,
            strategy: WaitStrategy::default(),
            stamped: ring.geometry().stamped,
            place: Place::new(ring),
            peer,
        })
    }

    /// Whether the ring is drained and the producer is gone (checked at most
    /// every `peer::CHECK_INTERVAL`): the error a non-blocking pop that found
    /// nothing reports.
    #[cold]
    pub(crate) fn producer_gone(&mut self) -> bool {
        if !self.peer.gone_now(Role::Producer) {
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

    /// Ready slots, re-reading `tail` only if the cached value shows fewer
    /// than `want`; for one message from stamped slots, the stamp at `head`
    /// instead of `tail`.
    ///
    /// Always inline, as `ProducerCore::free`: left to `#[inline]`, LLVM kept
    /// it out of line in the criterion `spsc/u64/single/ringway` consumer
    /// (a call, and its `Result` through memory, on every pop).
    #[inline(always)]
    pub(crate) fn ready(&mut self, want: u64) -> Result<u64, CorruptError> {
        self.place.poison.check(&self.ring, self.place.forks)?;
        debug_assert!(self.cached_tail - self.head <= self.capacity);
        let ready = self.cached_tail - self.head;
        if ready >= want {
            return Ok(ready);
        }
        if self.stamped && want == 1 {
            return self.stamp_ready();
        }
        // The poison flag was checked above.
        load_tail(
            &self.ring,
            self.place.header(),
            self.head,
            &mut self.cached_tail,
            self.capacity,
        )
    }

    /// With nothing known ready: whether the slot at `head` holds its
    /// message, from its stamp (1 or 0). The shared `tail` stays untouched,
    /// so a polling consumer keeps only the slot's line.
    ///
    /// The stamp is classified against `head`: `head + 1` is ready; 0 or
    /// the stamp of an earlier position of this slot is "not yet"; anything
    /// else (a later position, another slot's) no honest producer writes.
    #[inline]
    fn stamp_ready(&mut self) -> Result<u64, CorruptError> {
        let pos = self.head;
        debug_assert_eq!(self.cached_tail, pos);
        // Acquire: pairs with the producer's Release stamp stores in
        // `ProducerCore::publish` (and in `ProducerCore::attach`): the payload and a tail of at least
        // `pos + 1` are visible once the stamp is.
        let stamp = self
            .place
            .stamp(&self.ring, pos)
            .load(ordering!(Acquire, "spsc_stamp_acquire_relaxed"));
        if stamp == pos + 1 {
            self.cached_tail = pos + 1;
            return Ok(1);
        }
        let mask = self.capacity - 1;
        if stamp == 0 || (stamp <= pos && (stamp - 1) & mask == pos & mask) {
            return Ok(0);
        }
        Err(self
            .ring
            .corrupt("slot stamp is impossible for its position", stamp))
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
        let (ring, head, capacity) = (&self.ring, self.head, self.capacity);
        let cached_tail = &mut self.cached_tail;
        self.peer.wait_count(self.strategy, want, deadline, || {
            read_tail(ring, head, cached_tail, capacity)
        })
    }

    pub(crate) fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Hands `n` read slots back to the producer and wakes it if it sleeps.
    #[inline]
    pub(crate) fn release(&mut self, n: u64) {
        debug_assert!(self.head + n <= self.cached_tail);
        self.head += n;
        let h = self.place.header();
        // Release: our reads of the slots below head happen before the
        // producer's overwrite; pairs with the Acquire load of head in
        // `load_head` (producer.rs).
        h.head
            .store(self.head, ordering!(Release, "spsc_release_relaxed"));
        h.space_event.notify_in(self.place.barrier);
    }
}

impl Drop for ConsumerCore {
    fn drop(&mut self) {
        self.ring.release_role(Role::Consumer, &self.peer);
    }
}

/// The seam of the handle layer: each step is one of the core's above.
impl Side for ConsumerCore {
    fn attach(ring: &Ring) -> Result<Self, HandleError> {
        ConsumerCore::attach(ring)
    }

    fn ring(&self) -> &Ring {
        ConsumerCore::ring(self)
    }

    fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        ConsumerCore::set_wait_strategy(self, strategy);
    }

    #[inline(always)]
    fn check_fork(&self) -> Result<(), CorruptError> {
        self.place.check_fork(&self.peer)
    }

    // Always: as an out-of-line call (what `#[inline]` got in the CLI's
    // busy-poll loops) its `Result` goes through memory on every poll.
    #[inline(always)]
    fn claim_one(&mut self) -> Result<Span, CorruptError> {
        if self.ready(1)? == 0 {
            return Ok(Span::default());
        }
        (self.ring.shared.access).read(self.place.slot(self.head).1);
        Ok(Span::new(self.head, 1))
    }

    fn claim(&mut self, n: u64) -> Result<Span, CorruptError> {
        let n = self.ready(n)?.min(n);
        for i in 0..n {
            (self.ring.shared.access).read(self.place.slot(self.head + i).1);
        }
        Ok(Span::new(self.head, n))
    }

    fn claim_one_until(&mut self, deadline: Option<Instant>) -> Result<Span, Waited> {
        self.wait_ready(1, deadline)?;
        self.claim_one().map_err(Waited::Corrupt)
    }

    fn spans(&self, claim: Span) -> Option<Spans> {
        (!self.stamped).then(|| super::contiguous(&self.ring, claim.pos, claim.len))
    }

    #[inline]
    fn peer_gone(&mut self) -> bool {
        self.peer.tick() && self.producer_gone()
    }
}

impl ConsumerSide for ConsumerCore {
    const PARTIAL_RELEASE: bool = true;

    #[inline]
    fn shown(&self, claim: Span, i: u64) -> Option<*const u8> {
        (i < claim.len).then(|| self.place.payload(claim.pos + i).cast_const())
    }

    #[inline]
    fn release(&mut self, _claim: Span, read: u64) {
        if read > 0 {
            ConsumerCore::release(self, read);
        }
    }

    fn ready_slots(&mut self) -> Result<u64, CorruptError> {
        self.refresh()
    }

    fn wait_ready(&mut self, n: u64, deadline: Option<Instant>) -> Result<u64, Waited> {
        ConsumerCore::wait_ready(self, n, deadline)
    }
}
