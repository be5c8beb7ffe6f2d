//! Record and broadcast peers that die: real child processes (this test
//! binary run again) SIGKILLed at a known point, and what the survivors see
//! afterwards, through the peer table (issue #11).
//!
//! The child does one thing (`rb_child`), then sleeps until it is killed;
//! the parent waits until the ring shows the child's state before it kills.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::{spawn_child, ShmName, CHILD_ENV};
use ringway::broadcast::{self, Start};
use ringway::peer::Liveness;
use ringway::record;
use ringway::{
    Kind, OpenOptions, PopError, PopTimeoutError, PushTimeoutError, Ring, RingBuilder, Role,
};

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);
/// The bound a survivor must see a death within, generous for a loaded
/// machine (the design bound is `peer::LIVENESS_SLICE`, 25 ms, plus a
/// check; the gated producer's is 20 ms plus a check).
const DETECT_BOUND: Duration = Duration::from_secs(2);

/// Kills (SIGKILL) and reaps the child on drop, also when a test fails.
struct Killed(Option<Child>);

impl Killed {
    fn kill(&mut self) -> Instant {
        let mut child = self.0.take().expect("child still running");
        child.kill().expect("SIGKILL the child");
        let at = Instant::now();
        child.wait().expect("reap the child");
        at
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn child(action: &str, name: &ShmName) -> Killed {
    Killed(Some(spawn_child(
        "rb_child",
        action,
        &[("RINGWAY_RB_RING", name.0.clone())],
    )))
}

/// Entry point of the child processes. Not a test on its own.
#[test]
#[ignore = "entry point of the child processes the other tests spawn"]
fn rb_child() {
    let action = std::env::var(CHILD_ENV).expect("run by a parent test");
    let name = std::env::var("RINGWAY_RB_RING").unwrap();
    let ring = OpenOptions::new()
        .open_shm(&name)
        .expect("child opens the ring");
    // Handles live until the process is killed.
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    match action.as_str() {
        "record-producer-claim" => {
            let mut tx = record::Producer::attach(&ring).unwrap();
            tx.try_push(b"before").unwrap();
            let mut r = tx.try_reserve(5).unwrap();
            r.copy_from_slice(b"never");
            // Claimed and never committed: neither is dropped.
            std::mem::forget(r);
            std::mem::forget(tx);
        }
        "record-producer-3" => {
            let mut tx = record::Producer::attach(&ring).unwrap();
            for i in 0..3u8 {
                tx.try_push(&[i; 3]).unwrap();
            }
            keep.push(Box::new(tx));
        }
        "record-consumer-1" => {
            let mut rx = record::Consumer::attach(&ring).unwrap();
            assert_eq!(rx.read_timeout(PATIENCE).unwrap().to_vec(), [0; 3]);
            keep.push(Box::new(rx));
        }
        "broadcast-subscriber" => {
            keep.push(Box::new(
                broadcast::Subscriber::attach(&ring, Start::Next).unwrap(),
            ));
        }
        "broadcast-producer-3" => {
            let mut tx = broadcast::Producer::attach(&ring).unwrap();
            for i in 0..3u8 {
                tx.try_push(&[i; 5]).unwrap();
            }
            keep.push(Box::new(tx));
        }
        other => panic!("unknown child action {other}"),
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn record_ring(name: &ShmName, capacity: u64) -> Ring {
    RingBuilder::new(Kind::Record)
        .capacity(capacity)
        .create_shm(&name.0)
        .unwrap()
}

fn broadcast_ring(name: &ShmName, capacity: u64, gated: bool) -> Ring {
    RingBuilder::new(Kind::Broadcast)
        .capacity(capacity)
        .gated(gated)
        .create_shm(&name.0)
        .unwrap()
}

/// Waits until `cond` holds of the ring (polling), or fails the test.
fn wait_until(ring: &Ring, what: &str, mut cond: impl FnMut(&Ring) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond(ring) {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Registered handles of `role` that are not this process's.
fn others(ring: &Ring, role: Role) -> usize {
    let me = std::process::id();
    ring.peers()
        .iter()
        .filter(|p| p.pid != me && p.role == Some(role))
        .count()
}

/// A record producer killed between claim and commit stalled the consumer
/// until someone called `heal_dead_producers`, which trusted pids. Now a
/// live producer's claim is waited for, and a dead one's is buried by the
/// consumer's own reading calls: the records behind it come through.
#[test]
fn a_record_producer_killed_mid_claim_is_buried_by_the_reader() {
    let name = ShmName::new("rb-rec-claim");
    let ring = record_ring(&name, 1024);
    let mut rx = record::Consumer::attach(&ring).unwrap();
    let mut killed = child("record-producer-claim", &name);
    wait_until(&ring, "the child's claim", |r| {
        r.peers().iter().any(|p| p.claim.1 != 0)
    });
    let mut tx = record::Producer::attach(&ring).unwrap();
    tx.try_push(b"after").unwrap();
    assert_eq!(rx.read_timeout(PATIENCE).unwrap().to_vec(), b"before");
    assert_eq!(
        rx.read_timeout(Duration::from_millis(100)).err(),
        Some(PopTimeoutError::Timeout),
        "a live producer's claim is waited for"
    );
    let killed_at = killed.kill();
    assert_eq!(rx.read_timeout(PATIENCE).unwrap().to_vec(), b"after");
    let healed = killed_at.elapsed();
    assert!(healed < DETECT_BOUND, "healed after {healed:?}");
    eprintln!("record consumer passed the dead producer's claim {healed:?} after the kill");
    assert_eq!(others(&ring, Role::Producer), 0, "the dead entry is reaped");
    assert_eq!(ring.snapshot().reaped, 1);
}

/// A record consumer learns when every producer is gone and it drained the
/// ring (once); a new producer makes the ring live again.
#[test]
fn a_record_consumer_learns_that_every_producer_died() {
    let name = ShmName::new("rb-rec-gone");
    let ring = record_ring(&name, 1024);
    let mut rx = record::Consumer::attach(&ring).unwrap();
    let mut killed = child("record-producer-3", &name);
    wait_until(&ring, "three records", |r| r.snapshot().tail == 3 * 32);
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        killed.kill()
    });
    for i in 0..3u8 {
        assert_eq!(
            rx.read_blocking().unwrap().to_vec(),
            [i; 3],
            "published first"
        );
    }
    assert_eq!(rx.read_blocking().err(), Some(PopTimeoutError::PeerGone));
    let seen = killer.join().unwrap().elapsed();
    assert!(seen < DETECT_BOUND, "death seen {seen:?} after the kill");
    eprintln!("parked record consumer saw PeerGone {seen:?} after SIGKILL");
    assert_eq!(rx.try_read().err(), Some(PopError::Empty), "reported once");
    let mut tx = record::Producer::attach(&ring).unwrap();
    tx.try_push(b"again").unwrap();
    assert_eq!(rx.try_read().unwrap().to_vec(), b"again");
}

/// A dead record consumer held its role (a pid CAS) for good unless its pid
/// looked dead; now a new consumer takes the role over and continues after
/// what the dead one released, and a producer blocked on the full ring
/// learns of the death.
#[test]
fn a_dead_record_consumer_is_taken_over() {
    let name = ShmName::new("rb-rec-cons");
    let ring = record_ring(&name, 128);
    let mut tx = record::Producer::attach(&ring).unwrap();
    for i in 0..4u8 {
        tx.try_push(&[i; 3]).unwrap(); // 32 bytes each: the ring is full
    }
    let mut killed = child("record-consumer-1", &name);
    wait_until(&ring, "the child's read", |r| r.snapshot().head == 32);
    tx.try_push(&[4; 3]).unwrap();
    assert!(matches!(
        record::Consumer::attach(&ring),
        Err(ringway::HandleError::RoleTaken { .. })
    ));
    let killed_at = killed.kill();
    assert_eq!(
        tx.push_timeout(&[5; 3], PATIENCE).err(),
        Some(PushTimeoutError::PeerGone(())),
        "the ring is full and its consumer died"
    );
    let seen = killed_at.elapsed();
    assert!(seen < DETECT_BOUND, "death seen {seen:?} after the kill");
    let mut rx = record::Consumer::attach(&ring).expect("takes the dead consumer's role");
    for i in 1..5u8 {
        assert_eq!(rx.try_read().unwrap().to_vec(), [i; 3]);
    }
    tx.try_push(&[5; 3]).unwrap();
    assert_eq!(rx.try_read().unwrap().to_vec(), [5; 3]);
}

/// A gated broadcast producer waiting on a subscriber that died evicts it
/// through the peer table (its liveness token) and goes on.
#[test]
fn a_dead_subscriber_stops_gating_the_producer() {
    let name = ShmName::new("rb-bc-sub");
    let ring = broadcast_ring(&name, 256, true);
    let mut tx = broadcast::Producer::attach(&ring).unwrap();
    let mut killed = child("broadcast-subscriber", &name);
    wait_until(&ring, "the subscriber", |r| others(r, Role::Consumer) == 1);
    let mut sent = 0;
    while tx.try_push(&[1; 16]).is_ok() {
        sent += 1;
        assert!(sent < 100, "the subscriber does not gate");
    }
    assert_eq!(
        tx.push_timeout(&[1; 16], Duration::from_millis(100)).err(),
        Some(PushTimeoutError::Timeout(())),
        "a live subscriber gates"
    );
    let killed_at = killed.kill();
    tx.push_timeout(&[2; 16], PATIENCE).unwrap();
    let evicted = killed_at.elapsed();
    assert!(evicted < DETECT_BOUND, "evicted after {evicted:?}");
    eprintln!("gated producer evicted the dead subscriber {evicted:?} after the kill");
    assert_eq!(others(&ring, Role::Consumer), 0, "its entry is reaped");
}

/// A broadcast subscriber learns that its producer died (after reading what
/// it wrote), and a new producer takes the role over and goes on.
#[test]
fn a_subscriber_learns_that_its_producer_died() {
    let name = ShmName::new("rb-bc-prod");
    let ring = broadcast_ring(&name, 1024, false);
    let mut sub = broadcast::Subscriber::attach(&ring, Start::Oldest).unwrap();
    let mut killed = child("broadcast-producer-3", &name);
    wait_until(&ring, "three records", |r| r.snapshot().tail == 3 * 32);
    assert!(matches!(
        broadcast::Producer::attach(&ring),
        Err(ringway::HandleError::RoleTaken { .. })
    ));
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        killed.kill()
    });
    let mut buf = Vec::new();
    for i in 0..3u8 {
        sub.pop_blocking_into(&mut buf).unwrap();
        assert_eq!(buf, [i; 5]);
    }
    assert_eq!(
        sub.pop_blocking_into(&mut buf).err(),
        Some(PopTimeoutError::PeerGone)
    );
    let seen = killer.join().unwrap().elapsed();
    assert!(seen < DETECT_BOUND, "death seen {seen:?} after the kill");
    eprintln!("parked subscriber saw PeerGone {seen:?} after SIGKILL");
    assert_eq!(sub.try_pop_into(&mut buf).err(), Some(PopError::Empty));
    let mut tx = broadcast::Producer::attach(&ring).expect("takes the dead producer's role");
    assert!(ring.peers().iter().all(|p| p.liveness == Liveness::Alive));
    tx.try_push(b"again").unwrap();
    let got = sub.try_pop_into(&mut buf).unwrap();
    assert_eq!((buf.as_slice(), got.missed), (&b"again"[..], 0));
}
