//! MPMC against skipped runs, held claims, a SKIP-writing peer and cursors
//! near 2^64: `try_pop` passes any number of skipped positions, `Busy` (not
//! `Empty`) says a claim holds the head, `Busy` (not `Full`) says a
//! consumer's claim holds the tail's slot, deadlines hold inside the claim
//! loop, and no cursor value panics.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TempPath;
use ringway::layout::LINE;
use ringway::mpmc::{Consumer, Producer};
use ringway::{spsc, Kind, PopError, PopTimeoutError, PushError, PushTimeoutError, RingBuilder};

fn ring(capacity: u64) -> ringway::Ring {
    RingBuilder::new(Kind::Mpmc)
        .capacity(capacity)
        .message::<u64>()
        .create_anonymous()
        .unwrap()
}

#[test]
fn a_consumer_claim_at_the_tail_is_busy_not_full() {
    let ring = ring(4);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut holder = Consumer::<u64>::attach(&ring).unwrap();
    let mut other = Consumer::<u64>::attach(&ring).unwrap();
    tx.push_slice(&[0, 1, 2, 3]).unwrap();
    // Four messages in four slots: full.
    assert_eq!(tx.try_push(9), Err(PushError::Full(9)));
    // A consumer claims position 0 and keeps it; another takes 1 and frees
    // its slot. Two messages are left, but the slot at the tail (position
    // 4 = slot 0) is still held by the first claim.
    let chunk = holder.read_chunk(1).unwrap();
    assert_eq!(other.try_pop(), Ok(1));
    assert_eq!(tx.try_push(9), Err(PushError::Busy(9)));
    assert!(tx
        .try_push(9)
        .unwrap_err()
        .to_string()
        .contains("still being read"));
    // Generous bound; the call must time out, not take slot 1 out of order.
    assert_eq!(
        tx.push_timeout(9, Duration::from_millis(20)),
        Err(PushTimeoutError::Timeout(9))
    );
    assert_eq!(chunk.get(0), Some(&0));
    chunk.release_all();
    assert_eq!(tx.try_push(9), Ok(()));
    assert_eq!(tx.try_push(10), Ok(()));
    assert_eq!(tx.try_push(11), Err(PushError::Full(11)));
}

#[test]
fn try_pop_passes_a_long_skipped_run() {
    let ring = ring(256);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    drop(tx.write_chunk(200).unwrap());
    tx.try_push(7).unwrap();
    assert_eq!(rx.try_pop(), Ok(7));
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // The same across the wrap, several times over.
    for round in 0..5u64 {
        drop(tx.write_chunk(250).unwrap());
        tx.try_push(round).unwrap();
        assert_eq!(rx.try_pop(), Ok(round), "round {round}");
    }
}

#[test]
fn a_held_claim_is_busy_not_empty() {
    let ring = ring(16);
    let mut holder = Producer::<u64>::attach(&ring).unwrap();
    let mut other = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    let chunk = holder.write_chunk(1).unwrap();
    other.try_push(5).unwrap();
    // A message is published behind the held claim: not empty.
    assert_eq!(rx.try_pop(), Err(PopError::Busy));
    assert!(rx
        .try_pop()
        .unwrap_err()
        .to_string()
        .contains("being written"));
    // Generous bound; the call must time out, not return the later message.
    assert_eq!(
        rx.pop_timeout(Duration::from_millis(20)),
        Err(PopTimeoutError::Timeout)
    );
    let mut chunk = chunk;
    *chunk.get_mut(0).unwrap() = 4;
    chunk.commit(1);
    assert_eq!(rx.try_pop(), Ok(4));
    assert_eq!(rx.try_pop(), Ok(5));
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
}

/// The deadline holds inside the claim loop: after a dropped 2^20 chunk
/// (2^20 skipped positions), and while a peer thread keeps publishing SKIP.
#[test]
fn pop_timeout_holds_its_deadline_over_skips() {
    let ring = ring(1 << 20);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    drop(tx.write_chunk(1 << 20).unwrap());
    let started = Instant::now();
    let r = rx.pop_timeout(Duration::from_millis(1));
    let took = started.elapsed();
    // All skipped: nothing to pop; either it passed them all (Timeout after
    // the deadline) or stopped at the deadline.
    assert_eq!(r, Err(PopTimeoutError::Timeout));
    // Generous (the machine is shared): the old loop took 18-23 ms in
    // release and 216 ms in debug on this ring.
    assert!(took < Duration::from_secs(2), "took {took:?}");

    // A peer that publishes SKIP for ever.
    let stop = Arc::new(AtomicBool::new(false));
    let skipper = {
        let ring = ring.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut tx = Producer::<u64>::attach(&ring).unwrap();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(chunk) = tx.write_chunk(64) {
                    drop(chunk);
                }
            }
        })
    };
    for _ in 0..20 {
        let started = Instant::now();
        let r = rx.pop_timeout(Duration::from_millis(5));
        assert!(matches!(r, Err(PopTimeoutError::Timeout)), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    stop.store(true, Ordering::Relaxed);
    skipper.join().unwrap();
}

fn poke_cursors(path: &TempPath, value: u64) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path.0)
        .unwrap();
    f.write_all_at(&value.to_ne_bytes(), LINE as u64).unwrap(); // tail
    f.write_all_at(&value.to_ne_bytes(), 2 * LINE as u64)
        .unwrap(); // head
}

/// `tail = head = u64::MAX - 1`: no panic (debug builds check overflow),
/// typed errors or ordinary results only.
#[test]
fn cursors_near_u64_max_do_not_panic() {
    let path = TempPath::new("spsc-max");
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(8)
        .message::<u64>()
        .create_file(&path.0)
        .unwrap();
    poke_cursors(&path, u64::MAX - 1);
    match spsc::Producer::<u64>::attach(&ring) {
        Err(ringway::HandleError::Corrupt(_)) => {}
        Ok(mut tx) => {
            for i in 0..20 {
                let _ = tx.try_push(i);
            }
        }
        Err(e) => panic!("{e:?}"),
    }
    match spsc::Consumer::<u64>::attach(&ring) {
        Err(ringway::HandleError::Corrupt(_)) => {}
        Ok(mut rx) => {
            for _ in 0..20 {
                let _ = rx.try_pop();
            }
        }
        Err(e) => panic!("{e:?}"),
    }

    let path = TempPath::new("mpmc-max");
    let ring = RingBuilder::new(Kind::Mpmc)
        .capacity(8)
        .message::<u64>()
        .create_file(&path.0)
        .unwrap();
    poke_cursors(&path, u64::MAX - 1);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    for i in 0..20 {
        let _ = tx.try_push(i);
        let _ = rx.try_pop();
        let _ = rx.pop_timeout(Duration::from_millis(1));
    }
}
