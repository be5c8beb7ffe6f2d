//! The consuming side of an MPMC ring.

use std::time::Instant;

use ringway_sync::WaitStrategy;

use super::held::Held;
use super::stamp::{Seen, Stamps, READY, SKIP};
use super::{
    backoff, check_kind, claim_until, claimable, peer_spin_rounds, raced_rounds, Claim, Single,
    Slot, MAX_ATTEMPTS, SKIP_BATCH,
};
use crate::error::PopError;
use crate::error::Role;
use crate::error::Waited;
use crate::error::{CorruptError, HandleError};
use crate::handle::side::{ConsumerSide, Side, Span};
use crate::loom::{ordering, spin_loop, Ordering};
use crate::peer::Peer;
use crate::place::Place;
use crate::ring::Ring;

/// A consumer's private state: as the producer's (`ProducerCore`).
#[derive(Debug)]
#[allow(unreachable_pub)] // named by the sealed `Flavor` only
pub struct ConsumerCore {
    place: Place,
    /// The lap arithmetic of the ring's stamps.
    stamps: Stamps,
    held: Held,
    capacity: u64,
    ring: Ring,
    strategy: WaitStrategy,
    /// Why the last `claim_one` that got nothing did: a producer's claim
    /// holds `head` (`Busy`), or the ring is empty. Read by the handle
    /// right after (`ConsumerSide::empty_reason`), so it does not read the
    /// slot again.
    busy: bool,
    /// Our entry in the peer table (`held` records the claim in flight in it).
    pub(crate) peer: Peer,
}

impl ConsumerCore {
    /// The stamp and payload of the slot of `pos`.
    #[inline]
    pub(crate) fn slot(&self, pos: u64) -> Slot<'_> {
        Slot::at(&self.place, &self.ring, pos)
    }

    /// Claims up to `want` positions from `head` with one CAS: the prefix of
    /// positions whose stamps say ready (or skipped) for their lap. The
    /// argument is the producer's (`ProducerCore::claim`) with "ready" for
    /// "free": only the CAS that moves `head` across `p` takes `p`.
    ///
    /// With `until_message`, the scan stops after the first position that
    /// holds a message: the claim is a run of skipped positions, then at
    /// most one message (at `pos + len - 1`). `claim_message` uses it to pass
    /// over skipped positions in batches, one CAS per batch.
    ///
    /// A claim that got nothing leaves no pending record behind (see `heal`:
    /// a live pending record holds back the healing of the positions it
    /// names).
    #[inline]
    pub(crate) fn claim(&mut self, want: u64, until_message: bool) -> Result<Span, Claim> {
        let claimed = self.claim_inner(want, until_message);
        // A `fork`ed copy (refused by the poison check, before it claimed
        // anything) leaves the record alone: it is the parent's entry.
        if claimed.is_err() && !matches!(&claimed, Err(Claim::Corrupt(e)) if e.is_forked()) {
            self.held.settled();
        }
        claimed
    }

    /// The common case of `claim_message`, inline: the slot at `head` holds
    /// a message of its lap and the CAS wins. `Wait` when the stamp says
    /// empty or busy here; `Raced` when another consumer got there first;
    /// `Other` for anything else (skipped positions, an impossible stamp, a
    /// poisoned ring, a set fork-generation word), which the caller hands to
    /// `claim_message`. The atomics and orderings are
    /// those of `claim_inner`, with `n = 1`; the record is a one-position
    /// one (`Held::one`), stored only once the stamp said ready.
    #[inline(always)]
    pub(crate) fn claim_single(&mut self) -> Single {
        if !self.place.poison.is_clear() {
            return Single::Other;
        }
        let header = self.place.header();
        // Acquire: as in `claim_inner`.
        let head = header
            .head
            .load(ordering!(Acquire, "mpmc_read_head_relaxed"));
        let slot = Slot::at(&self.place, &self.ring, head);
        // Acquire: as in `claim_inner` (pairs with the producer's Release
        // store in `ProducerCore::publish`: the payload is visible).
        let stamp = slot
            .stamp
            .load(ordering!(Acquire, "mpmc_read_ready_relaxed"));
        if stamp != self.stamps.at(head, READY) {
            let stamps = self.stamps;
            return match stamps.for_consumer(head, stamp) {
                Seen::Wait => Single::Wait {
                    busy: stamps.busy(head, stamp),
                },
                Seen::Ahead => Single::Raced,
                Seen::Claimable | Seen::Corrupt => Single::Other,
            };
        }
        let idx = slot.idx;
        self.held.one(head);
        // AcqRel / Acquire: as in `claim_inner`. On failure the position
        // is another handle's: the record is settled before we return,
        // so that it never names a claim we lost (a live record holds
        // back the healing of what it names, `heal`; the winner may die
        // holding it while we find nothing more to claim).
        if self
            .place
            .header()
            .head
            .compare_exchange(
                head,
                head.wrapping_add(1),
                ordering!(AcqRel, "mpmc_head_cas_relaxed"),
                Ordering::Acquire,
            )
            .is_err()
        {
            self.held.settled();
            return Single::Raced;
        }
        self.ring.shared.access.read(idx);
        Single::Won(head)
    }

    fn claim_inner(&mut self, want: u64, until_message: bool) -> Result<Span, Claim> {
        let want = want.min(self.capacity);
        self.place
            .poison
            .check(&self.ring, self.place.forks)
            .map_err(Claim::Corrupt)?;
        if want == 0 {
            return Err(Claim::Unavailable);
        }
        // A copy the scan can keep in registers (as the producer's).
        let place = self.place;
        let stamps = self.stamps;
        let header = place.header();
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
                stamp = place
                    .stamp(&self.ring, pos)
                    .load(ordering!(Acquire, "mpmc_read_ready_relaxed"));
                // `READY` and `SKIP` of this lap are exactly
                // `Seen::Claimable`; only another stamp needs the
                // classification.
                if stamp == stamps.at(pos, READY) {
                    n += 1;
                    if until_message {
                        break;
                    }
                } else if stamp == stamps.at(pos, SKIP) {
                    n += 1;
                    skips += 1;
                } else {
                    seen = stamps.for_consumer(pos, stamp);
                    break;
                }
            }
            if n > 0 {
                self.held.pending(head, n);
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
                        return Ok(Span {
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
                        return Err(Claim::Corrupt(self.ring.corrupt(
                            "slot stamp is impossible for the consumer cursor",
                            stamp,
                        )))
                    }
                    Seen::Ahead => {
                        // Acquire: as the first load.
                        let now = header.head.load(Ordering::Acquire);
                        if now == head {
                            // The stamp was stored after a claim past `head`
                            // (Release, read with Acquire above).
                            return Err(Claim::Corrupt(
                                self.ring
                                    .corrupt("slot stamp is ahead of the consumer cursor", stamp),
                            ));
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
        let place = self.place;
        let stamps = self.stamps;
        for i in 0..len {
            let p = pos.wrapping_add(i);
            // Release: our reads of the payload happen before the next
            // producer's writes; pairs with the Acquire stamp load in
            // `ProducerCore::claim`.
            place.stamp(&self.ring, p).store(
                stamps.released(p),
                ordering!(Release, "mpmc_release_relaxed"),
            );
        }
        self.held.settled();
        self.place
            .header()
            .space_event
            .notify_in(self.place.barrier);
    }

    /// `release(pos, 1)` of a one-position claim: its stamp, then the wake.
    /// The record is left in place (`Held::one`: the stamp now says the
    /// position is done).
    #[inline(always)]
    fn release_one(&mut self, pos: u64) {
        // Release: as in `release`.
        self.slot(pos).stamp.store(
            self.stamps.released(pos),
            ordering!(Release, "mpmc_release_relaxed"),
        );
        self.place
            .header()
            .space_event
            .notify_in(self.place.barrier);
    }

    /// Frees the skipped positions `pos..pos + skips` in front of a claimed
    /// message (at `pos + skips`), then wakes sleeping producers. Unlike
    /// `release`, the claim record is not settled but narrowed to the
    /// message: a consumer killed before it releases the message leaves a
    /// record of it, and the reaper frees it (`heal::free_claimed`). A
    /// reaper that read the wider record meanwhile finds the skipped
    /// positions freed already (their stamps are of a later lap), so its
    /// stamp CAS leaves them alone.
    fn release_skipped(&mut self, pos: u64, skips: u64) {
        for i in 0..skips {
            let p = pos.wrapping_add(i);
            // Release: as in `release`.
            self.slot(p).stamp.store(
                self.stamps.released(p),
                ordering!(Release, "mpmc_release_relaxed"),
            );
        }
        self.held.pending(pos.wrapping_add(skips), 1);
        self.place
            .header()
            .space_event
            .notify_in(self.place.barrier);
    }

    /// Claims the next message, passing over skipped positions: its position.
    ///
    /// Skipped positions are claimed and freed in batches of at most
    /// [`SKIP_BATCH`] with one CAS each, so a long run of them (a dropped
    /// `write_chunk(200)` on a 256-slot ring) costs a few CAS, not one
    /// attempt each. At most `capacity` skipped positions are passed in one
    /// call (a peer publishing SKIP for ever cannot hold a `try_pop`), and
    /// with a deadline, it is looked at between batches.
    fn claim_message(&mut self, deadline: Option<Instant>) -> Result<u64, Claim> {
        let mut budget = self.capacity;
        while budget > 0 {
            let claimed = self.claim(budget.min(SKIP_BATCH), true)?;
            budget -= claimed.len.min(budget);
            if claimed.skips < claimed.len {
                // The last position holds the message; the ones before are
                // skipped: free them, keeping the message recorded.
                let message = claimed.pos.wrapping_add(claimed.skips);
                if claimed.skips > 0 {
                    self.release_skipped(claimed.pos, claimed.skips);
                }
                return Ok(message);
            }
            self.release(claimed.pos, claimed.len);
            if deadline.is_some_and(|d| Instant::now() >= d) {
                break;
            }
        }
        Err(Claim::Unavailable)
    }

    /// Why a claim found nothing: `Busy` when a producer has claimed the
    /// position at the consumer cursor and not published it yet (later
    /// messages may be ready behind it, and every consumer waits for that
    /// one), `Empty` otherwise.
    ///
    /// Told by the stamp at `head` alone (`CLAIMED` of its lap, stored by
    /// the producer right after its claim): consumers never read `tail`, so
    /// an empty ring that consumers poll leaves `tail`'s line to the
    /// producers. A claim whose producer has won its CAS but not yet stored
    /// `CLAIMED` (a few instructions; or that died there, until it is
    /// healed) reads as `Empty`: the push is not done, and the consumer
    /// calls again. Acquire on both loads: as in `claim_inner`.
    pub(crate) fn why_unavailable(&self) -> PopError {
        let head = self.place.header().head.load(Ordering::Acquire);
        let stamp = self.slot(head).stamp.load(Ordering::Acquire);
        if self.stamps.busy(head, stamp) {
            PopError::Busy
        } else {
            PopError::Empty
        }
    }

    /// Whether a pop could go ahead now: the slot at `head` is ready, or the
    /// ring is in a state `claim` reports. The condition of the blocking calls.
    fn may_claim(&self) -> bool {
        // Acquire: as in `claim`.
        let head = self.place.header().head.load(Ordering::Acquire);
        // Acquire: as in `claim`.
        let stamp = self.slot(head).stamp.load(Ordering::Acquire);
        self.stamps.for_consumer(head, stamp) != Seen::Wait
    }
}

/// The seam of the handle layer, implemented by the core itself.
impl Side for ConsumerCore {
    fn attach(ring: &Ring) -> Result<Self, HandleError> {
        check_kind(ring)?;
        let peer = Peer::register(ring, Role::Consumer)?;
        Ok(ConsumerCore {
            place: Place::new(ring),
            stamps: Stamps::new(ring.capacity()),
            held: Held::new(&peer),
            capacity: ring.capacity(),
            ring: ring.clone(),
            strategy: WaitStrategy::default(),
            busy: false,
            peer,
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
                // Empty: reported from the one stamp load, without the full
                // claim's second look at the same slot.
                Single::Wait { busy: false } => {
                    self.busy = false;
                    return Ok(Span::default());
                }
                // Another consumer won: back off, then try again.
                Single::Raced if round < raced_rounds() => {
                    backoff(round);
                    round += 1;
                }
                Single::Wait { busy: true } | Single::Raced | Single::Other => break,
            }
        }
        let mut round = 0;
        loop {
            match self.claim_message(None) {
                Ok(pos) => return Ok(Span::new(pos, 1)),
                Err(Claim::Corrupt(e)) => return Err(e),
                Err(Claim::Unavailable) => {}
            }
            // A producer holds the position at `head` (claimed with a write
            // chunk, not yet published): wait for it a bounded time before
            // reporting `Busy`.
            let busy = matches!(self.why_unavailable(), PopError::Busy);
            if round >= peer_spin_rounds() || !busy {
                self.busy = busy;
                return Ok(Span::default());
            }
            backoff(round);
            round += 1;
        }
    }

    fn claim(&mut self, n: u64) -> Result<Span, CorruptError> {
        Claim::into_seam(ConsumerCore::claim(self, n, false))
    }

    /// Waits on the ring's data event (see `claim_until`); between two
    /// looks at the deadline it passes at most one batch of [`SKIP_BATCH`]
    /// skipped positions.
    fn claim_one_until(&mut self, deadline: Option<Instant>) -> Result<Span, Waited> {
        let claim = |c: &mut Self| c.claim_message(deadline);
        let sleep = |c: &Self| {
            c.peer
                .wait(c.strategy, deadline, || c.may_claim().then_some(()))
        };
        claim_until(self, deadline, claim, sleep)
    }

    /// Whether the ring is drained and every producer is gone (looked at as
    /// `Peer::gone_now` says; reaps dead producers on the way, which may
    /// tombstone the positions we wait at).
    #[inline]
    fn peer_gone(&mut self) -> bool {
        self.peer.tick()
            && self.peer.gone_now(Role::Producer)
            && self.peer.confirm_gone(!self.may_claim())
    }
}

impl ConsumerSide for ConsumerCore {
    const PARTIAL_RELEASE: bool = false;

    #[inline]
    fn shown(&self, claim: Span, i: u64) -> Option<*const u8> {
        if i >= claim.len {
            return None;
        }
        let pos = claim.pos.wrapping_add(i);
        let slot = self.slot(pos);
        // Relaxed: we hold the claim, so no honest peer writes this stamp
        // until we release it, and `claim` loaded it with Acquire already. A
        // scribbled value only decides whether we show these (in-bounds,
        // Pod) bytes.
        if claim.skips > 0 && slot.stamp.load(Ordering::Relaxed) == self.stamps.at(pos, SKIP) {
            return None;
        }
        Some(slot.payload.cast_const())
    }

    /// As the last `claim_one` found it.
    fn empty_reason(&self) -> PopError {
        if self.busy {
            PopError::Busy
        } else {
            PopError::Empty
        }
    }

    /// Frees every claimed position, whatever `read` says: the claim took
    /// its messages from the ring.
    #[inline]
    fn release(&mut self, claim: Span, _read: u64) {
        if claim.len == 1 {
            self.release_one(claim.pos);
        } else if claim.len > 0 {
            ConsumerCore::release(self, claim.pos, claim.len);
        }
    }

    fn ready_slots(&mut self) -> Result<u64, CorruptError> {
        self.ready_prefix()
    }

    /// Waits on the ring's data event (see `Peer::wait_count`).
    fn wait_ready(&mut self, n: u64, deadline: Option<Instant>) -> Result<u64, Waited> {
        let want = n.clamp(1, self.capacity);
        self.peer
            .wait_count(self.strategy, want, deadline, || self.ready_prefix())
    }
}

impl ConsumerCore {
    /// `peer_gone` without the clock and the tick (see
    /// `Consumer::loom_peer_gone`).
    #[cfg(loom)]
    pub(crate) fn loom_producers_gone(&mut self) -> bool {
        self.peer.gone(Role::Producer) && self.peer.confirm_gone(!self.may_claim())
    }
}

impl ConsumerCore {
    /// The claimable prefix from `head` (see `claimable`).
    fn ready_prefix(&self) -> Result<u64, CorruptError> {
        let stamps = self.stamps;
        claimable(
            &self.place,
            &self.ring,
            &self.place.header().head,
            self.capacity,
            |pos, stamp| stamps.for_consumer(pos, stamp),
        )
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::mpmc::heal::PENDING;
    use crate::mpmc::stamp::Stamps;
    use crate::{Kind, RingBuilder};

    /// The record a consumer holds while it owns a message it has not
    /// released yet: `(pos, len)` without the pending bit.
    fn record(rx: &ConsumerCore) -> (u64, u64) {
        let entry = rx.peer.entry();
        (
            entry.claim_pos.load(Ordering::Relaxed),
            entry.claim_len.load(Ordering::Relaxed) & !PENDING,
        )
    }

    /// Between claiming a message and releasing it, a consumer's record
    /// names the message, whether the claim went the inline way or passed
    /// over skipped positions first: a consumer killed there is healed
    /// (`heal::free_claimed` frees the slot and counts the message lost).
    /// Before this was fixed, `claim_message` settled the record (length 0)
    /// before returning, and such a death left the slot held for ever.
    /// After the release the one-position record stays (`held`: never
    /// settled), and the released stamp says it holds nothing.
    #[test]
    fn a_claimed_message_stays_recorded_until_released() {
        let ring = RingBuilder::new(Kind::Mpmc)
            .capacity(8)
            .message::<u64>()
            .create_anonymous()
            .unwrap();
        let mut tx = crate::mpmc::Producer::<u64>::attach(&ring).unwrap();
        let mut rx = ConsumerCore::attach(&ring).unwrap();
        let stamps = Stamps::new(8);

        // Inline path: the message at head.
        tx.try_push(10).unwrap();
        let Single::Won(pos) = rx.claim_single() else {
            panic!("no message at head");
        };
        assert_eq!((pos, record(&rx)), (0, (0, 1)));
        let shown = |rx: &ConsumerCore| {
            let (pos, len) = record(rx);
            crate::mpmc::heal::in_flight(&rx.ring.shared, false, pos, len)
        };
        assert_eq!(shown(&rx), (0, 1));
        ConsumerSide::release(&mut rx, Span::new(pos, 1), 1);
        assert_eq!(record(&rx), (pos, 1), "left in place");
        assert_eq!(
            rx.slot(pos).stamp.load(Ordering::Relaxed),
            stamps.released(pos)
        );
        assert_eq!(shown(&rx), (pos, 0), "shown as no claim");

        // Three skipped positions (a dropped chunk), then a message: the
        // slow path frees the skipped ones and keeps the message recorded.
        tx.write_chunk(3).unwrap().commit(0);
        tx.try_push(11).unwrap();
        assert_eq!(
            rx.claim_single(),
            Single::Other,
            "skipped: the full claim's job"
        );
        let pos = rx.claim_message(None).unwrap();
        assert_eq!((pos, record(&rx)), (4, (4, 1)));
        for q in 1..4 {
            let stamp = rx.slot(q).stamp.load(Ordering::Relaxed);
            assert_eq!(stamp, stamps.released(q), "skipped position {q} freed");
        }
        ConsumerSide::release(&mut rx, Span::new(pos, 1), 1);
        assert_eq!(shown(&rx), (pos, 0));
        // A batch claim is settled after its release.
        tx.push_slice(&[1, 2, 3]).unwrap();
        let claim = ConsumerCore::claim(&mut rx, 3, false).unwrap();
        assert_eq!(record(&rx), (claim.pos, 3));
        ConsumerSide::release(&mut rx, claim, 3);
        assert_eq!(record(&rx).1, 0);
    }

    /// A consumer that loses the `head` CAS for a message to another one,
    /// then finds nothing at the next position, must not leave a record
    /// naming the winner's message: a live handle's record holds back the
    /// healing of the positions it names (`heal::free_claimed`), so if the
    /// winner then died holding it, the slot would stay held (and the ring
    /// stalled) until the loser's next claim. Two threads pass one message
    /// back and forth: the one that takes it pushes the next, and both race
    /// for that. After every call that got nothing, each checks that its
    /// record is settled or names a position it won itself.
    #[test]
    fn a_lost_race_leaves_no_record_of_the_winners_message() {
        use std::collections::HashSet;
        use std::sync::atomic::AtomicU64;
        use std::sync::Arc;
        const N: u64 = 20_000;
        let ring = RingBuilder::new(Kind::Mpmc)
            .capacity(8)
            .message::<u64>()
            .create_anonymous()
            .unwrap();
        let taken = Arc::new(AtomicU64::new(0));
        let mut first = crate::mpmc::Producer::<u64>::attach(&ring).unwrap();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let mut rx = ConsumerCore::attach(&ring).unwrap();
                let mut tx = crate::mpmc::Producer::<u64>::attach(&ring).unwrap();
                let taken = Arc::clone(&taken);
                std::thread::spawn(move || {
                    let (mut won, mut bad) = (HashSet::new(), HashSet::new());
                    while taken.load(Ordering::Relaxed) < N {
                        let span = Side::claim_one(&mut rx).unwrap();
                        if span.len == 1 {
                            won.insert(span.pos);
                            ConsumerSide::release(&mut rx, span, 1);
                            if taken.fetch_add(1, Ordering::Relaxed) + 1 < N {
                                tx.try_push(span.pos + 1).unwrap();
                            }
                        } else {
                            let (pos, len) = record(&rx);
                            if len != 0 && !won.contains(&pos) {
                                bad.insert(pos);
                            }
                        }
                    }
                    bad.len()
                })
            })
            .collect();
        first.try_push(0).unwrap();
        let bad: usize = threads.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(bad, 0, "positions recorded by a consumer that lost them");
    }
}
