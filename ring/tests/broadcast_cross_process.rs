//! Broadcast rings across processes: one producer (this process) and three
//! subscriber processes. Gated: every subscriber gets every record, in
//! order. Lossy: every subscriber checks every record it gets is whole and
//! in order, and that what it got plus what it was told it missed is
//! everything; the slow one is lapped (it starts reading only after the
//! producer has written two rings' worth) and reports how many it missed.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::time::Duration;

use common::{reap, spawn_child, ShmName, TempPath, CHILD_ENV};
use ringway::broadcast::{Producer, Start, Subscriber};
use ringway::{Kind, OpenOptions, Ring, RingBuilder};

const CAPACITY: u64 = 4096;
/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(120);

/// Record `seq`: a length that varies with it, every byte derived from it.
fn record(seq: u32) -> Vec<u8> {
    let len = 1 + (seq as usize * 53) % 500;
    (0..len).map(|i| (seq as usize * 7 + i) as u8).collect()
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap()
}

/// The subscriber children: `fast` or `slow`; writes "received missed" to
/// the file `OUT`.
#[test]
#[ignore = "child process of the tests in this file"]
fn broadcast_child() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    let ring = OpenOptions::new()
        .kind(Kind::Broadcast)
        .wait_for_creator(Duration::from_secs(10))
        .open_shm(&var("RING"))
        .unwrap();
    let total: u32 = var("COUNT").parse().unwrap();
    let mut sub = Subscriber::attach(&ring, Start::Oldest).unwrap();
    // Attached: the producer may start. (Registered is not enough: a lossy
    // producer that starts while `attach` still walks to the oldest record
    // laps the walk, which then starts at a later record, and the records
    // before it were never this subscriber's to miss.)
    std::fs::write(var("OUT"), "attached").unwrap();
    if role == "slow" && ring.identity().flags & ringway::layout::FLAG_GATED == 0 {
        // Lossy: be lapped for sure; wait until two rings' worth are written.
        let start = std::time::Instant::now();
        while ring.snapshot().tail < 2 * CAPACITY {
            assert!(start.elapsed() < PATIENCE, "the producer stalled");
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let mut buf = Vec::new();
    let mut received = 0u64;
    let mut last: Option<u32> = None;
    loop {
        let r = sub.pop_timeout_into(&mut buf, PATIENCE).unwrap();
        assert!(buf == record(r.seq), "record {} is torn or wrong", r.seq);
        if let Some(l) = last {
            assert!(r.seq > l, "record {} after {l}", r.seq);
        }
        last = Some(r.seq);
        received += 1;
        if role == "slow" && received % 8 == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        if r.seq == total - 1 {
            break;
        }
    }
    assert_eq!(received + sub.missed(), u64::from(total));
    std::fs::write(var("OUT"), format!("{received} {}", sub.missed())).unwrap();
}

/// Kills and reaps children still running when a test fails.
struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn run(gated: bool, total: u32, roles: [&str; 3]) -> Vec<(u64, u64)> {
    let name = ShmName::new(if gated { "bc-gated" } else { "bc-lossy" });
    let ring: Ring = RingBuilder::new(Kind::Broadcast)
        .capacity(CAPACITY)
        .gated(gated)
        .create_shm(&name.0)
        .unwrap();
    let mut tx = Producer::attach(&ring).unwrap();
    let outs: Vec<TempPath> = (0..3).map(|_| TempPath::new("bc-out")).collect();
    let mut children = Children(Vec::new());
    children.0 = roles
        .iter()
        .zip(&outs)
        .map(|(role, out)| {
            spawn_child(
                "broadcast_child",
                role,
                &[
                    ("RING", name.0.clone()),
                    ("COUNT", total.to_string()),
                    ("OUT", out.0.to_str().unwrap().to_string()),
                ],
            )
        })
        .collect();
    // Start once all three have attached (so that gated mode holds for
    // them from the first record, and a lossy subscriber's count starts
    // at record 0): each writes its `OUT` file then.
    let start = std::time::Instant::now();
    while subscribers(&ring) < 3 || !outs.iter().all(|o| o.0.exists()) {
        assert!(start.elapsed() < PATIENCE, "subscribers did not attach");
        std::thread::sleep(Duration::from_millis(1));
    }
    for seq in 0..total {
        tx.push_timeout(&record(seq), PATIENCE).unwrap();
    }
    for c in children.0.drain(..) {
        reap(c, "subscriber");
    }
    outs.iter()
        .map(|o| {
            let text = std::fs::read_to_string(&o.0).unwrap();
            let mut it = text.split(' ').map(|n| n.parse::<u64>().unwrap());
            (it.next().unwrap(), it.next().unwrap())
        })
        .collect()
}

#[test]
fn gated_three_subscriber_processes_get_everything_in_order() {
    let total = 30_000;
    let results = run(true, total, ["fast", "fast", "slow"]);
    for (received, missed) in results {
        assert_eq!((received, missed), (u64::from(total), 0));
    }
}

#[test]
fn lossy_slow_subscriber_process_counts_what_it_missed() {
    let total = 30_000;
    let results = run(false, total, ["fast", "fast", "slow"]);
    for &(received, missed) in &results {
        assert_eq!(received + missed, u64::from(total));
    }
    let (received, missed) = results[2];
    assert!(missed > 0, "the slow subscriber was lapped");
    eprintln!("lossy: (received, missed) per subscriber: {results:?}");
    assert!(received > 0);
}

/// Subscribers registered in the ring's peer table.
fn subscribers(ring: &ringway::Ring) -> usize {
    ring.peers()
        .iter()
        .filter(|p| p.role == Some(ringway::Role::Consumer))
        .count()
}
