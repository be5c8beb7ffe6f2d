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
    assert!(shared.clean_up(index, entry));
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
