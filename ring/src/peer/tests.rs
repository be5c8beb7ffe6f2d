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
