//! Unit tests of the reaping protocol that need the entry's internals.

use super::*;
use crate::layout::Kind;
use crate::ring::RingBuilder;

/// Regression (the torture test's intermittent 30 s MPMC consumer stall):
/// a reaper holds a dead entry's byte with its own exclusive lock while it
/// cleans up, and counts the death before it frees the entry. A consumer
/// that looked in that window saw the byte locked, took the entry for a live
/// producer, and acknowledged the new death count as "old news": once every
/// producer was gone it never got `PeerGone` and waited out its deadline.
/// The reaper now marks the entry `REAPING` first; the death must be
/// reported exactly once, whether the consumer looks during or after the
/// reaping.
#[test]
fn a_death_counted_under_a_reapers_lock_is_still_reported() {
    let name = format!("/ringway-unit-reaping-{}", std::process::id());
    let ring = RingBuilder::new(Kind::Mpmc)
        .capacity(8)
        .message::<u64>()
        .create_shm(&name)
        .unwrap();
    // The mapping and its description stay; only the name goes.
    Ring::remove_shm(&name).unwrap();
    let shared = &ring.shared;
    let consumer = Peer::register(&ring, Role::Consumer).unwrap();
    // A producer "dies": its description closes (the kernel drops the
    // lock), its pid stays in the entry.
    let mut producer = Peer::register(&ring, Role::Producer).unwrap();
    let index = producer.index;
    drop(producer.lock.take());
    core::mem::forget(producer);
    assert_eq!(shared.liveness(index), Liveness::Dead);

    // A reaper with a description of its own takes the byte and cleans up,
    // but has not freed the entry yet.
    let offset = PeerTable::lock_offset(index);
    let reaper = token::reopen(shared.region_file().unwrap()).unwrap();
    assert!(token::try_lock(&reaper, offset).unwrap());
    let entry = &shared.peers().entries[index];
    let deaths = shared.deaths(Role::Producer);
    assert!(shared.clean_up(index, entry, None));
    assert_eq!(shared.deaths(Role::Producer), deaths + 1);
    assert_ne!(
        shared.liveness(index),
        Liveness::Alive,
        "a reaper's lock is taken for a live holder"
    );
    let during = consumer.gone(Role::Producer);

    // The reaper finishes as `Shared::reap` does.
    let pid = entry.pid.load(Ordering::Acquire);
    entry
        .pid
        .compare_exchange(pid, 0, Ordering::Release, Ordering::Relaxed)
        .unwrap();
    entry.info.fetch_and(!REAPING, Ordering::Release);
    token::unlock(&reaper, offset);
    let after = consumer.gone(Role::Producer);
    assert!(
        during || after,
        "the last producer's death was never reported"
    );
    assert!(!(during && after), "the death was reported twice");
}

/// Regression (the same 30 s stall, its second cause): a consumer's reaping
/// of the last producer tombstones that producer's claim, which makes the
/// ring look non-empty just as the death is reported. The blocking pop took
/// the report, went to claim the skipped position, found nothing, and never
/// heard of the death again. Now the report is taken back
/// (`Peer::unreport`) and the pop ends with `PeerGone`, not a timeout.
#[test]
fn a_death_whose_reaping_tombstones_a_claim_is_still_reported() {
    let name = format!("/ringway-unit-unreport-{}", std::process::id());
    let ring = RingBuilder::new(Kind::Mpmc)
        .capacity(8)
        .message::<u64>()
        .create_shm(&name)
        .unwrap();
    Ring::remove_shm(&name).unwrap();
    let mut rx = crate::mpmc::Consumer::<u64>::attach(&ring).unwrap();
    // A producer claims position 0 (record, then the cursor CAS) and dies
    // before publishing it.
    let mut producer = Peer::register(&ring, Role::Producer).unwrap();
    producer.pending(0, 1);
    ring.shared
        .header()
        .tail
        .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
        .unwrap();
    drop(producer.lock.take());
    core::mem::forget(producer);
    // Generous: the report comes within a liveness slice or two.
    assert_eq!(
        rx.pop_timeout(std::time::Duration::from_secs(10)),
        Err(crate::PopTimeoutError::PeerGone)
    );
    assert_eq!(ring.snapshot().reaped, 1);
}

/// An MPMC ring in a shm object whose name is already gone (the mapping and
/// its description stay), so that handles hold OFD tokens and a death can
/// be staged in-process.
fn mpmc_shm(what: &str) -> Ring {
    let name = format!("/ringway-unit-{what}-{}", std::process::id());
    let ring = RingBuilder::new(Kind::Mpmc)
        .capacity(8)
        .message::<u64>()
        .create_shm(&name)
        .unwrap();
    Ring::remove_shm(&name).unwrap();
    ring
}

/// A handle's process "dies": its description closes (the kernel drops the
/// lock), its entry stays as it was.
fn die(mut peer: Peer) {
    drop(peer.lock.take());
    core::mem::forget(peer);
}

/// A producer killed between the CAS of a one-message push (the inline
/// claim, whose record is its position alone) and its publish is healed:
/// the position is tombstoned and the messages behind it come through,
/// while a live producer's one-position record (left in place after its
/// own pushes) names other positions.
#[test]
fn a_producer_dead_inside_a_single_push_is_healed() {
    let ring = mpmc_shm("single-push");
    let mut rx = crate::mpmc::Consumer::<u64>::attach(&ring).unwrap();
    let mut live = crate::mpmc::Producer::<u64>::attach(&ring).unwrap();
    let mut dead = crate::mpmc::Producer::<u64>::attach(&ring).unwrap();
    live.try_push(10).unwrap();
    assert_eq!(dead.side.claim_single(), crate::mpmc::Single::Won(1));
    let index = dead.side.peer.index;
    let ProducerDies(peer) = ProducerDies::from(dead);
    die(peer);
    assert_eq!(ring.shared.liveness(index), Liveness::Dead);
    live.try_push(11).unwrap();
    assert_eq!(rx.try_pop(), Ok(10));
    assert_eq!(ring.reap_dead(), 1);
    assert_eq!(rx.try_pop(), Ok(11), "position 1 was tombstoned");
    assert_eq!(ring.lost(), 0);
}

/// A consumer killed between the CAS of a one-message pop and its release
/// is healed: its slot is freed and its message counted as lost.
#[test]
fn a_consumer_dead_inside_a_single_pop_is_healed() {
    let ring = mpmc_shm("single-pop");
    let mut tx = crate::mpmc::Producer::<u64>::attach(&ring).unwrap();
    let mut live = crate::mpmc::Consumer::<u64>::attach(&ring).unwrap();
    let mut dead = crate::mpmc::Consumer::<u64>::attach(&ring).unwrap();
    for v in 0..8 {
        tx.try_push(v).unwrap();
    }
    assert_eq!(live.try_pop(), Ok(0));
    assert_eq!(dead.side.claim_single(), crate::mpmc::Single::Won(1));
    let ConsumerDies(peer) = ConsumerDies::from(dead);
    die(peer);
    // Full: position 8 waits for the dead consumer's slot (1)... after 0's.
    tx.try_push(8).unwrap();
    assert!(tx.try_push(9).is_err());
    assert_eq!(ring.reap_dead(), 1);
    assert_eq!(ring.lost(), 1);
    tx.try_push(9).unwrap();
    let rest: Vec<u64> = core::iter::from_fn(|| live.try_pop().ok()).collect();
    assert_eq!(rest, [2, 3, 4, 5, 6, 7, 8, 9]);
}

/// One-position records are never settled, so a handle that pushed or
/// popped once and then died leaves a record of a position that is done:
/// reaping it heals nothing (no tombstone over a published message, nothing
/// counted lost). And a dead producer whose record names a position it lost
/// to a live producer (which published it and went idle, its own record
/// still naming it) is reaped at once: the reaper looks at the stamp first,
/// so the live record does not hold the reaping back.
#[test]
fn stale_one_position_records_heal_nothing_and_block_nothing() {
    let ring = mpmc_shm("stale-records");
    let mut rx = crate::mpmc::Consumer::<u64>::attach(&ring).unwrap();
    let mut live = crate::mpmc::Producer::<u64>::attach(&ring).unwrap();
    // (Every handle attaches before any dies: a registration reaps the
    // dead entries it passes.)
    let loser = Peer::register(&ring, Role::Producer).unwrap();
    let mut idle = crate::mpmc::Producer::<u64>::attach(&ring).unwrap();
    let mut idle_rx = crate::mpmc::Consumer::<u64>::attach(&ring).unwrap();

    // A producer records position 0, loses the CAS to `live`, and dies.
    loser.pending(0, 1);
    live.try_push(10).unwrap();
    die(loser);
    // A producer and a consumer push and pop once each, then die idle.
    idle.try_push(11).unwrap();
    let ProducerDies(peer) = ProducerDies::from(idle);
    die(peer);
    assert_eq!(idle_rx.try_pop(), Ok(10));
    let ConsumerDies(peer) = ConsumerDies::from(idle_rx);
    die(peer);

    assert_eq!(ring.reap_dead(), 3);
    assert_eq!(ring.lost(), 0);
    assert_eq!(
        rx.try_pop(),
        Ok(11),
        "a published message was not tombstoned"
    );
    live.try_push(12).unwrap();
    assert_eq!(rx.try_pop(), Ok(12));
}

/// The peer entry of an MPMC producer handle, taken out of it (the handle
/// forgotten, as a killed process leaves it).
struct ProducerDies(Peer);

impl From<crate::mpmc::Producer<u64>> for ProducerDies {
    fn from(handle: crate::mpmc::Producer<u64>) -> Self {
        let handle = core::mem::ManuallyDrop::new(handle);
        // SAFETY: `handle` is never used or dropped again; the peer is moved
        // out once (its other fields leak, as in a dead process).
        ProducerDies(unsafe { core::ptr::read(&handle.side.peer) })
    }
}

/// As [`ProducerDies`], for a consumer.
struct ConsumerDies(Peer);

impl From<crate::mpmc::Consumer<u64>> for ConsumerDies {
    fn from(handle: crate::mpmc::Consumer<u64>) -> Self {
        let handle = core::mem::ManuallyDrop::new(handle);
        // SAFETY: as in `ProducerDies`.
        ConsumerDies(unsafe { core::ptr::read(&handle.side.peer) })
    }
}
