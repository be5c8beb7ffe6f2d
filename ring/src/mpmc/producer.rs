//! The producing side of an MPMC ring.

use std::time::Instant;

use ringway_sync::WaitStrategy;

use super::held::Held;
use super::stamp::{Seen, Stamps, CLAIMED, FREE, READY, SKIP};
use super::{
    backoff, check_kind, claim_until, claimable, peer_spin_rounds, raced_rounds, Claim, Single,
    Slot, MAX_ATTEMPTS,
};
use crate::error::Role;
use crate::error::Waited;
use crate::error::{CorruptError, HandleError};
use crate::handle::side::{ProducerSide, Side, Span};
use crate::loom::{ordering, spin_loop, Ordering};
use crate::peer::Peer;
use crate::place::Place;
use crate::ring::Ring;

/// A producer's private state: the ring's addresses (read on every
/// operation without a pointer chase), its claim record, the ring and its
/// peer entry.
#[derive(Debug)]
#[allow(unreachable_pub)] // named by the sealed `Flavor` only
pub struct ProducerCore {
    place: Place,
    /// The lap arithmetic of the ring's stamps.
    stamps: Stamps,
    held: Held,
    capacity: u64,
    ring: Ring,
    pub(crate) peer: Peer,
    strategy: WaitStrategy,
    /// Why the last `claim_one` that got nothing did: a consumer's claim
    /// holds the slot at `tail` (`Busy`), or the ring is full. Read by the
    /// handle right after (`ProducerSide::busy`), so it does not read the
    /// cursors again.
    busy: bool,
    /// loom models only: the next claim stops after its CAS, before it
    /// stamps its first slot `CLAIMED` (a producer that dies in between).
    #[cfg(loom)]
    pub(crate) stop_before_marking: bool,
}

impl ProducerCore {
    /// The stamp and payload of the slot of `pos`.
    #[inline]
    pub(crate) fn slot(&self, pos: u64) -> Slot<'_> {
        Slot::at(&self.place, &self.ring, pos)
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
    /// Claims as `claim_inner` says; a claim that got nothing leaves no
    /// pending record behind (see `heal`: a live pending record holds back
    /// the healing of the positions it names).
    /// `lent`: the claim is lent to the caller as a write chunk, which may
    /// hold it for as long as it likes: its first slot is stamped `CLAIMED`
    /// (`mark_claimed`). Claims the handle fills and publishes at once
    /// (`push_slice`, one-message pushes) are not marked.
    #[inline]
    pub(crate) fn claim(&mut self, want: u64, lent: bool) -> Result<(u64, u64), Claim> {
        let claimed = self.claim_inner(want, lent);
        // A `fork`ed copy (refused by the poison check, before it claimed
        // anything) leaves the record alone: it is the parent's entry.
        if claimed.is_err() && !matches!(&claimed, Err(Claim::Corrupt(e)) if e.is_forked()) {
            self.held.settled();
        }
        claimed
    }

    /// The common case of a one-slot claim, inline: the slot at `tail` is
    /// free for its lap and the CAS wins. `Wait` when the stamp says the
    /// ring is full here (or `Busy`), `Raced` when another producer got
    /// there first, `Other` for anything else (an impossible stamp, a
    /// poisoned ring, a set fork-generation word), which the caller hands
    /// to `claim` (it retries,
    /// classifies and reports). The
    /// atomics and orderings are those of `claim_inner`, with `n = 1`; the
    /// record is a one-position one (`Held::one`: the position only, never
    /// settled), stored only once the stamp said free.
    #[inline(always)]
    pub(crate) fn claim_single(&mut self) -> Single {
        if !self.place.poison.is_clear() {
            return Single::Other;
        }
        let header = self.place.header();
        // Acquire: as in `claim_inner`.
        let tail = header
            .tail
            .load(ordering!(Acquire, "mpmc_read_tail_relaxed"));
        let slot = Slot::at(&self.place, &self.ring, tail);
        // Acquire: as in `claim_inner` (pairs with the consumer's Release
        // store in `ConsumerCore::release`).
        let stamp = slot
            .stamp
            .load(ordering!(Acquire, "mpmc_read_free_relaxed"));
        // Exactly `Stamps::for_producer(tail, stamp) == Seen::Claimable`.
        if stamp != self.stamps.at(tail, FREE) {
            return match self.stamps.for_producer(tail, stamp) {
                Seen::Wait => Single::Wait { busy: false },
                Seen::Ahead => Single::Raced,
                Seen::Claimable | Seen::Corrupt => Single::Other,
            };
        }
        let idx = slot.idx;
        self.held.one(tail);
        // AcqRel / Acquire: as in `claim_inner`. On failure the position
        // is another handle's: the record is settled before we return,
        // so that it never names a claim we lost (a live record holds
        // back the healing of what it names, `heal`; the winner may die
        // holding it while we find nothing more to claim).
        if self
            .place
            .header()
            .tail
            .compare_exchange(
                tail,
                tail.wrapping_add(1),
                ordering!(AcqRel, "mpmc_tail_cas_relaxed"),
                Ordering::Acquire,
            )
            .is_err()
        {
            self.held.settled();
            return Single::Raced;
        }
        // No `CLAIMED` stamp here: a one-message push publishes right after
        // its copy, so the stamp would buy a `Busy` for a few nanoseconds
        // at the price of a second store into a line that a caught-up
        // consumer polls (and of larger loom models). Consumers see `Empty`
        // for that window (see the module docs).
        self.ring.shared.access.write(idx);
        Single::Won(tail)
    }

    /// Stamps the first position `pos` of a claim we just won in
    /// `claim_inner` for a write chunk (`lent`) `CLAIMED`, so that consumers
    /// waiting at it report `Busy` without reading `tail`.
    /// Only the first: consumers reach the later positions of the claim
    /// only after the first is published, and `publish` stores the rest
    /// within a few instructions (see the module docs for that window).
    #[inline]
    fn mark_claimed(&self, pos: u64) {
        #[cfg(loom)]
        if self.stop_before_marking {
            return;
        }
        // Release: pairs with the Acquire stamp loads of the producers'
        // claim scans (`claim_inner`): a producer that finds this stamp
        // (ahead of its stale `tail`) and reloads `tail` sees our CAS, so it
        // does not take the stamp for corruption. Consumers read nothing
        // through it (the payload is published by `publish`).
        self.slot(pos).stamp.store(
            self.stamps.at(pos, CLAIMED),
            ordering!(Release, "mpmc_claimed_relaxed"),
        );
    }

    fn claim_inner(&mut self, want: u64, lent: bool) -> Result<(u64, u64), Claim> {
        let want = want.min(self.capacity);
        self.place
            .poison
            .check(&self.ring, self.place.forks)
            .map_err(Claim::Corrupt)?;
        if want == 0 {
            return Err(Claim::Unavailable);
        }
        // A copy the scan can keep in registers (the core's fields are
        // reloaded after every atomic load).
        let place = self.place;
        let stamps = self.stamps;
        let header = place.header();
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
                stamp = place
                    .stamp(&self.ring, pos)
                    .load(ordering!(Acquire, "mpmc_read_free_relaxed"));
                // `FREE` of this lap is exactly `Seen::Claimable`; only
                // another stamp needs the classification.
                if stamp != stamps.at(pos, FREE) {
                    seen = stamps.for_producer(pos, stamp);
                    break;
                }
                n += 1;
            }
            if n > 0 {
                self.held.pending(tail, n);
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
                        if lent {
                            self.mark_claimed(tail);
                        }
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
                        return Err(Claim::Corrupt(self.ring.corrupt(
                            "slot stamp is impossible for the producer cursor",
                            stamp,
                        )))
                    }
                    Seen::Ahead => {
                        // Acquire: as the first load.
                        let now = header.tail.load(Ordering::Acquire);
                        if now == tail {
                            // The stamp was stored after a claim past `tail`
                            // (Release, read with Acquire above), so an honest
                            // `tail` has moved on.
                            return Err(Claim::Corrupt(
                                self.ring
                                    .corrupt("slot stamp is ahead of the producer cursor", stamp),
                            ));
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
    ///
    /// In position order: a producer killed half-way has published a
    /// prefix of its claim, and the healed rest (`SKIP`) comes after it, so
    /// what it committed reaches consumers without a gap. (Last slot first
    /// would keep the first slot `CLAIMED` until the end, but a death in
    /// the loop would then deliver later messages without earlier ones:
    /// the crash torture test caught that.)
    #[inline]
    pub(crate) fn publish(&mut self, pos: u64, len: u64, written: u64) {
        let place = self.place;
        let stamps = self.stamps;
        for i in 0..len {
            let p = pos.wrapping_add(i);
            let state = if i < written { READY } else { SKIP };
            // Release: publishes the payload written since the claim; pairs
            // with the Acquire stamp load in `ConsumerCore::claim`.
            place.stamp(&self.ring, p).store(
                stamps.at(p, state),
                ordering!(Release, "mpmc_publish_relaxed"),
            );
        }
        self.held.settled();
        self.place.header().data_event.notify_in(self.place.barrier);
    }

    /// `publish(pos, 1, 1)` of a one-position claim: its stamp, then the
    /// wake. The record is left in place (`Held::one`: the stamp now says
    /// the position is done).
    #[inline(always)]
    fn publish_one(&mut self, pos: u64) {
        // Release: as in `publish`.
        self.slot(pos).stamp.store(
            self.stamps.at(pos, READY),
            ordering!(Release, "mpmc_publish_relaxed"),
        );
        self.place.header().data_event.notify_in(self.place.barrier);
    }

    /// Whether a push could go ahead now: the slot at `tail` is free, or the
    /// ring is in a state `claim` reports (stale, corrupt). The condition of
    /// the blocking calls.
    fn may_claim(&self) -> bool {
        // Acquire: as in `claim`.
        let tail = self.place.header().tail.load(Ordering::Acquire);
        // Acquire: as in `claim`.
        let stamp = self.slot(tail).stamp.load(Ordering::Acquire);
        self.stamps.for_producer(tail, stamp) != Seen::Wait
    }
}

/// The seam of the handle layer, implemented by the core itself.
impl Side for ProducerCore {
    fn attach(ring: &Ring) -> Result<Self, HandleError> {
        check_kind(ring)?;
        let peer = Peer::register(ring, Role::Producer)?;
        Ok(ProducerCore {
            place: Place::new(ring),
            stamps: Stamps::new(ring.capacity()),
            held: Held::new(&peer),
            capacity: ring.capacity(),
            ring: ring.clone(),
            peer,
            strategy: WaitStrategy::default(),
            busy: false,
            #[cfg(loom)]
            stop_before_marking: false,
        })
    }

    fn ring(&self) -> &Ring {
        &self.ring
    }

    fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    #[inline(always)]
    fn check_fork(&self) -> Result<(), CorruptError> {
        self.place.check_fork(&self.peer)
    }

    #[inline]
    fn claim_one(&mut self) -> Result<Span, CorruptError> {
        let mut round = 0;
        loop {
            match self.claim_single() {
                Single::Won(pos) => return Ok(Span::new(pos, 1)),
                // Full: reported from the one stamp load and `head`,
                // without the full claim's second look at the same slot.
                Single::Wait { .. } if !self.held_by_consumer() => {
                    self.busy = false;
                    return Ok(Span::default());
                }
                // Another producer won: back off, then try again.
                Single::Raced if round < raced_rounds() => {
                    backoff(round);
                    round += 1;
                }
                Single::Wait { .. } | Single::Raced | Single::Other => break,
            }
        }
        let mut round = 0;
        loop {
            let claimed = Side::claim(self, 1)?;
            if claimed.len > 0 {
                return Ok(claimed);
            }
            // A consumer holds the slot at `tail` (it claimed the position
            // one lap behind and has not released it yet): wait for it a
            // bounded time before reporting `Busy`.
            let busy = self.held_by_consumer();
            if round >= peer_spin_rounds() || !busy {
                self.busy = busy;
                return Ok(claimed);
            }
            backoff(round);
            round += 1;
        }
    }

    #[inline]
    fn claim(&mut self, n: u64) -> Result<Span, CorruptError> {
        Claim::into_seam(ProducerCore::claim(self, n, false).map(|(pos, len)| Span::new(pos, len)))
    }

    #[inline]
    fn lend(&mut self, n: u64) -> Result<Span, CorruptError> {
        Claim::into_seam(ProducerCore::claim(self, n, true).map(|(pos, len)| Span::new(pos, len)))
    }

    /// Waits on the ring's space event (see `claim_until`).
    fn claim_one_until(&mut self, deadline: Option<Instant>) -> Result<Span, Waited> {
        let claim = |c: &mut Self| c.claim(1, false).map(|(pos, _)| pos);
        let sleep = |c: &Self| {
            c.peer
                .wait(c.strategy, deadline, || c.may_claim().then_some(()))
        };
        claim_until(self, deadline, claim, sleep)
    }

    /// Whether the ring is full and every consumer is gone (looked at as
    /// `Peer::gone_now` says; reaps dead consumers on the way, which may
    /// free slots).
    #[inline]
    fn peer_gone(&mut self) -> bool {
        self.peer.tick()
            && self.peer.gone_now(Role::Consumer)
            && self.peer.confirm_gone(!self.may_claim())
    }
}

impl ProducerSide for ProducerCore {
    #[inline]
    fn payload(&self, pos: u64) -> *mut u8 {
        self.slot(pos).payload
    }

    #[inline]
    fn publish(&mut self, claim: Span, written: u64) {
        if claim.len == 1 && written == 1 {
            self.publish_one(claim.pos);
        } else if claim.len > 0 {
            ProducerCore::publish(self, claim.pos, claim.len, written);
        }
    }

    fn free_slots(&mut self) -> Result<u64, CorruptError> {
        self.free_prefix()
    }

    /// Waits on the ring's space event (see `Peer::wait_count`).
    fn wait_free(&mut self, n: u64, deadline: Option<Instant>) -> Result<u64, Waited> {
        let want = n.clamp(1, self.capacity);
        self.peer
            .wait_count(self.strategy, want, deadline, || self.free_prefix())
    }

    /// As the last `claim_one` found it.
    fn busy(&self) -> bool {
        self.busy
    }
}

impl ProducerCore {
    /// Why a claim found no free slot: `true` (`PushError::Busy`) when
    /// fewer than `capacity` positions are unconsumed, so the consumers
    /// have claimed position `tail - capacity` and one of them has not yet
    /// released its slot (every producer waits for it: positions are taken
    /// in order); `false` (`Full`) when `capacity` positions are unconsumed
    /// (or the cursors are impossible, which the next claim reports).
    ///
    /// Producers otherwise never read `head`; this read classifies a failed
    /// push only. Acquire on both loads (pairs with the AcqRel CAS of the
    /// cursors). `head` is read first: a `head` older than the `tail` read
    /// after it can only make the ring look fuller than it is, which is a
    /// valid order for a call that raced with a pop.
    pub(crate) fn held_by_consumer(&self) -> bool {
        let h = self.place.header();
        let head = h.head.load(Ordering::Acquire);
        let tail = h.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head) < self.capacity
    }
}

impl ProducerCore {
    /// The claimable prefix from `tail` (see `claimable`).
    fn free_prefix(&self) -> Result<u64, CorruptError> {
        let stamps = self.stamps;
        claimable(
            &self.place,
            &self.ring,
            &self.place.header().tail,
            self.capacity,
            |pos, stamp| stamps.for_producer(pos, stamp),
        )
    }
}

/// The loom models' hook into this core, on the MPMC producer handle.
#[cfg(loom)]
impl<M: crate::handle::Message> crate::handle::Producer<super::Mpmc, M> {
    /// Makes the next claim stop right after its CAS of `tail`, before it
    /// stamps its first slot `CLAIMED`: with the handle then forgotten, the
    /// model of a producer that dies in that window.
    #[doc(hidden)]
    pub fn loom_stop_before_marking(&mut self) {
        self.side.stop_before_marking = true;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::mpmc::heal::PENDING;
    use crate::{Kind, RingBuilder};

    /// As the consumers' `a_lost_race_leaves_no_record_of_the_winners_message`
    /// (`consumer.rs`), for producers: a producer that loses the `tail` CAS
    /// and then finds the ring full must not leave a record naming the
    /// winner's position (a live record holds back the tombstoning of a
    /// dead winner's claim, `heal::tombstone`). The ring is kept one slot
    /// short of full, and two threads race for that slot: the winner
    /// publishes, then pops one message to open the slot again.
    #[test]
    fn a_lost_race_leaves_no_record_of_the_winners_claim() {
        use std::collections::HashSet;
        use std::sync::atomic::AtomicU64;
        use std::sync::Arc;
        const N: u64 = 20_000;
        let ring = RingBuilder::new(Kind::Mpmc)
            .capacity(4)
            .message::<u64>()
            .create_anonymous()
            .unwrap();
        crate::mpmc::Producer::<u64>::attach(&ring)
            .unwrap()
            .push_slice(&[0, 0, 0])
            .unwrap();
        // Until both threads have run side by side long enough: N pushes
        // and 10,000 calls that found the ring full (only a thread racing
        // the other one's push finds it full), or 50 N pushes at most.
        let pushed = Arc::new(AtomicU64::new(0));
        let fulls = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let mut tx = ProducerCore::attach(&ring).unwrap();
                let mut rx = crate::mpmc::Consumer::<u64>::attach(&ring).unwrap();
                let (seen_pushed, seen_fulls) = (Arc::clone(&pushed), Arc::clone(&fulls));
                let more = move || {
                    let n = seen_pushed.load(Ordering::Relaxed);
                    n < N || (seen_fulls.load(Ordering::Relaxed) < 10_000 && n < 50 * N)
                };
                let (pushed, fulls) = (Arc::clone(&pushed), Arc::clone(&fulls));
                std::thread::spawn(move || {
                    let (mut won, mut bad) = (HashSet::new(), HashSet::new());
                    while more() {
                        let span = Side::claim_one(&mut tx).unwrap();
                        if span.len == 1 {
                            won.insert(span.pos);
                            ProducerSide::publish(&mut tx, span, 1);
                            pushed.fetch_add(1, Ordering::Relaxed);
                            while rx.try_pop().is_err() {
                                std::hint::spin_loop();
                            }
                        } else {
                            fulls.fetch_add(1, Ordering::Relaxed);
                            let entry = tx.peer.entry();
                            let pos = entry.claim_pos.load(Ordering::Relaxed);
                            let len = entry.claim_len.load(Ordering::Relaxed) & !PENDING;
                            if len != 0 && !won.contains(&pos) {
                                bad.insert(pos);
                            }
                        }
                    }
                    bad.len()
                })
            })
            .collect();
        let bad: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(bad, 0, "positions recorded by a producer that lost them");
    }
}
