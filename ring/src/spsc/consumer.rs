//! The consuming side of an SPSC ring.

use std::time::Instant;

use ringway_sync::WaitStrategy;

use super::Waited;
use crate::error::{CorruptError, HandleError, Role};
use crate::handle::side::{contiguous, ConsumerSide, Span, Spans};
use crate::loom::ordering;
use crate::peer::Peer;
use crate::ring::Ring;
use crate::sigbus::Poison;

/// The consumer's private state: its cursor and a cached copy of the producer's.
#[derive(Debug)]
#[allow(unreachable_pub)] // named by the sealed `Flavor` only
pub struct ConsumerCore {
    ring: Ring,
    /// The ring's SIGBUS poison flag, checked by every operation.
    poison: Poison,
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
    ring.check_poison()?;
    // Acquire: pairs with the Release store of tail in
    // `ProducerCore::publish`: the slot bytes below tail are visible.
    let tail = ring
        .shared
        .header()
        .tail
        .load(ordering!(Acquire, "spsc_read_tail_relaxed"));
    if tail < *cached_tail {
        return Err(ring.corrupt("tail moved backwards", tail));
    }
    if tail - head > capacity {
        return Err(ring.corrupt("tail is more than capacity ahead of head", tail));
    }
    *cached_tail = tail;
    Ok(tail - head)
}

impl ConsumerCore {
    /// Ready slots, re-reading `tail` only if the cached value shows fewer than `want`.
    #[inline]
    fn ready(&mut self, want: u64) -> Result<u64, CorruptError> {
        self.poison.check()?;
        debug_assert!(self.cached_tail - self.head <= self.capacity);
        let ready = self.cached_tail - self.head;
        if ready >= want {
            return Ok(ready);
        }
        self.refresh()
    }

    /// Re-reads the producer's cursor and checks it.
    fn refresh(&mut self) -> Result<u64, CorruptError> {
        read_tail(&self.ring, self.head, &mut self.cached_tail, self.capacity)
    }
}

impl Drop for ConsumerCore {
    fn drop(&mut self) {
        self.ring.release_role(Role::Consumer, &self.peer);
    }
}

/// The seam of the handle layer, implemented by the core itself.
impl ConsumerSide for ConsumerCore {
    const PARTIAL_RELEASE: bool = true;

    fn attach(ring: &Ring) -> Result<Self, HandleError> {
        let (peer, head, tail) = super::attach(ring, Role::Consumer)?;
        Ok(ConsumerCore {
            ring: ring.clone(),
            poison: ring.poison(),
            head,
            cached_tail: tail,
            capacity: ring.capacity(),
            strategy: WaitStrategy::default(),
            peer,
        })
    }

    crate::handle::side::ring_and_strategy!();

    #[inline]
    fn claim_one(&mut self) -> Result<Span, CorruptError> {
        if self.ready(1)? == 0 {
            return Ok(Span::default());
        }
        let shared = &self.ring.shared;
        shared.access.read(shared.slot(self.head).1);
        Ok(Span::new(self.head, 1))
    }

    fn claim(&mut self, n: u64) -> Result<Span, CorruptError> {
        let n = self.ready(n)?.min(n);
        let shared = &self.ring.shared;
        for i in 0..n {
            shared.access.read(shared.slot(self.head + i).1);
        }
        Ok(Span::new(self.head, n))
    }

    fn claim_one_until(&mut self, deadline: Option<Instant>) -> Result<Span, Waited> {
        self.wait_ready(1, deadline)?;
        self.claim_one().map_err(Waited::Corrupt)
    }

    #[inline]
    fn shown(&self, claim: Span, i: u64) -> Option<*const u8> {
        (i < claim.len).then(|| self.ring.shared.slot(claim.pos + i).0.cast_const())
    }

    fn spans(&self, claim: Span) -> Option<Spans> {
        Some(contiguous(&self.ring, claim.pos, claim.len))
    }

    /// Hands `read` slots back to the producer and wakes it if it sleeps.
    #[inline]
    fn release(&mut self, _claim: Span, read: u64) {
        if read == 0 {
            return;
        }
        debug_assert!(self.head + read <= self.cached_tail);
        self.head += read;
        let h = self.ring.shared.header();
        // Release: our reads of the slots below head happen before the
        // producer's overwrite; pairs with the Acquire load of head in
        // `ProducerCore::refresh`.
        h.head
            .store(self.head, ordering!(Release, "spsc_release_relaxed"));
        h.space_event.notify_in(self.ring.shared.barrier);
    }

    fn ready_slots(&mut self) -> Result<u64, CorruptError> {
        self.refresh()
    }

    /// Waits on the ring's data event (see `Peer::wait_count`).
    fn wait_ready(&mut self, n: u64, deadline: Option<Instant>) -> Result<u64, Waited> {
        let want = n.clamp(1, self.capacity);
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

    /// Whether the ring is drained and the producer is gone (looked at as
    /// `Peer::gone_now` says).
    #[inline]
    fn peer_gone(&mut self) -> bool {
        self.peer.tick() && self.peer.gone_now(Role::Producer) && {
            let drained = matches!(self.refresh(), Ok(0));
            self.peer.confirm_gone(drained)
        }
    }
}
