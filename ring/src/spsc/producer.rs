//! The producing side of an SPSC ring.

use std::time::Instant;

use ringway_sync::WaitStrategy;

use super::Waited;
use crate::error::{CorruptError, HandleError, Role};
use crate::handle::side::{contiguous, ProducerSide, Span, Spans};
use crate::loom::ordering;
use crate::peer::Peer;
use crate::ring::Ring;
use crate::sigbus::Poison;

/// The producer's private state: its cursor and a cached copy of the consumer's.
#[derive(Debug)]
#[allow(unreachable_pub)] // named by the sealed `Flavor` only
pub struct ProducerCore {
    ring: Ring,
    /// The ring's SIGBUS poison flag, checked by every operation.
    poison: Poison,
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
    ring.check_poison()?;
    // Acquire: pairs with the Release store of head in
    // `ConsumerCore::release`: the consumer's reads of the slots below
    // head happen before we overwrite them.
    let head = ring
        .shared
        .header()
        .head
        .load(ordering!(Acquire, "spsc_read_head_relaxed"));
    if head < *cached_head {
        return Err(ring.corrupt("head moved backwards", head));
    }
    if head > tail {
        return Err(ring.corrupt("head is ahead of tail", head));
    }
    // head <= tail and head >= cached_head >= tail - capacity.
    *cached_head = head;
    Ok(capacity - (tail - head))
}

impl ProducerCore {
    /// Free slots, re-reading `head` only if the cached value shows fewer than `want`.
    #[inline]
    fn free(&mut self, want: u64) -> Result<u64, CorruptError> {
        self.poison.check()?;
        debug_assert!(self.tail - self.cached_head <= self.capacity);
        let free = self.capacity - (self.tail - self.cached_head);
        if free >= want {
            return Ok(free);
        }
        self.refresh()
    }

    /// Re-reads the consumer's cursor and checks it.
    fn refresh(&mut self) -> Result<u64, CorruptError> {
        read_head(&self.ring, self.tail, &mut self.cached_head, self.capacity)
    }
}

impl Drop for ProducerCore {
    fn drop(&mut self) {
        self.ring.release_role(Role::Producer, &self.peer);
    }
}

/// The seam of the handle layer, implemented by the core itself.
impl ProducerSide for ProducerCore {
    fn attach(ring: &Ring) -> Result<Self, HandleError> {
        let (peer, head, tail) = super::attach(ring, Role::Producer)?;
        Ok(ProducerCore {
            ring: ring.clone(),
            poison: ring.poison(),
            tail,
            cached_head: head,
            capacity: ring.capacity(),
            strategy: WaitStrategy::default(),
            peer,
        })
    }

    crate::handle::side::ring_and_strategy!();

    #[inline]
    fn claim_one(&mut self) -> Result<Span, CorruptError> {
        if self.free(1)? == 0 {
            return Ok(Span::default());
        }
        let shared = &self.ring.shared;
        shared.access.write(shared.slot(self.tail).1);
        Ok(Span::new(self.tail, 1))
    }

    fn claim(&mut self, n: u64) -> Result<Span, CorruptError> {
        let n = self.free(n)?.min(n);
        let shared = &self.ring.shared;
        for i in 0..n {
            shared.access.write(shared.slot(self.tail + i).1);
        }
        Ok(Span::new(self.tail, n))
    }

    fn claim_one_until(&mut self, deadline: Option<Instant>) -> Result<Span, Waited> {
        self.wait_free(1, deadline)?;
        self.claim_one().map_err(Waited::Corrupt)
    }

    #[inline]
    fn payload(&self, pos: u64) -> *mut u8 {
        self.ring.shared.slot(pos).0
    }

    fn spans(&self, claim: Span) -> Option<Spans> {
        Some(contiguous(&self.ring, claim.pos, claim.len))
    }

    /// Makes `written` slots visible to the consumer and wakes it if it sleeps.
    #[inline]
    fn publish(&mut self, _claim: Span, written: u64) {
        if written == 0 {
            return;
        }
        debug_assert!(self.tail + written - self.cached_head <= self.capacity);
        self.tail += written;
        let h = self.ring.shared.header();
        // Release: publishes the slot bytes written before; pairs with the
        // Acquire load of tail in `ConsumerCore::refresh`.
        h.tail
            .store(self.tail, ordering!(Release, "spsc_publish_relaxed"));
        h.data_event.notify_in(self.ring.shared.barrier);
    }

    fn free_slots(&mut self) -> Result<u64, CorruptError> {
        self.refresh()
    }

    /// Waits on the ring's space event (see `Peer::wait_count`).
    fn wait_free(&mut self, n: u64, deadline: Option<Instant>) -> Result<u64, Waited> {
        let want = n.clamp(1, self.capacity);
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

    /// Whether the ring is full because the consumer is gone (looked at as
    /// `Peer::gone_now` says).
    #[inline]
    fn peer_gone(&mut self) -> bool {
        self.peer.tick() && self.peer.gone_now(Role::Consumer) && {
            let full = matches!(self.refresh(), Ok(0));
            self.peer.confirm_gone(full)
        }
    }
}
