// mutation: broadcast_commit_relaxed broadcast
// mutation: broadcast_read_stamp_relaxed broadcast
// mutation: broadcast_announce_no_fence broadcast
// mutation: broadcast_check_no_fence broadcast
// mutation: broadcast_padding_no_notify broadcast
//! loom models of the broadcast ring, over the real `ringway::broadcast`
//! code: the lossy lap check (a subscriber never delivers a torn record and
//! counts what it missed) and the gated producer (it never overwrites what
//! a subscriber has not read).
//!
//! The ring is 64 bytes; each record is 16 payload bytes (two words) plus
//! its header, 32 bytes, so the third record overwrites the first. Every
//! payload word of record `s` holds `s + 1` in each byte, so a copy with
//! words of two records is seen. The `// mutation:` lines above name the
//! orderings and fences of `ring/src/broadcast/` that
//! `scripts/loom-mutations.sh` weakens; the models must then fail.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ringway-loom-tests --release --test broadcast`
#![cfg(loom)]

use loom::thread;
use ringway::broadcast::{Producer, Start, Subscriber};
use ringway::{Kind, PopError, PushError, RingBuilder, WaitStrategy};

fn record(seq: u32) -> [u8; 16] {
    [seq as u8 + 1; 16]
}

/// Lossy: the producer writes three records without waiting while the
/// subscriber reads; every record it returns is whole and in order, and
/// received plus missed is three once it has the last one.
#[test]
fn lossy_lap_check() {
    loom::model(|| {
        let ring = RingBuilder::new(Kind::Broadcast).capacity(64).create_heap();
        let mut tx = Producer::attach(&ring).unwrap();
        let mut sub = Subscriber::attach(&ring, Start::Oldest).unwrap();
        let producer = thread::spawn(move || {
            for seq in 0..3 {
                tx.try_push(&record(seq)).unwrap();
            }
        });
        let mut buf = Vec::new();
        let mut received = 0u64;
        let mut last = None;
        loop {
            match sub.try_pop_into(&mut buf) {
                Ok(r) => {
                    assert_eq!(buf, record(r.seq), "record {} is torn", r.seq);
                    assert!(last.is_none_or(|l| r.seq > l));
                    last = Some(r.seq);
                    received += 1;
                    if r.seq == 2 {
                        break;
                    }
                }
                Err(PopError::Empty) => thread::yield_now(),
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(received + sub.missed(), 3);
        producer.join().unwrap();
    });
}

/// Gated: the producer waits for the subscriber (it spins on `try_push`;
/// the subscriber parks), so the subscriber gets all three records, whole,
/// and misses none.
#[test]
fn gated_producer_waits() {
    loom::model(|| {
        let ring = RingBuilder::new(Kind::Broadcast)
            .capacity(64)
            .gated(true)
            .create_heap();
        let mut tx = Producer::attach(&ring).unwrap();
        let mut sub = Subscriber::attach(&ring, Start::Oldest).unwrap();
        sub.set_wait_strategy(WaitStrategy::Park);
        let producer = thread::spawn(move || {
            for seq in 0..3 {
                loop {
                    match tx.try_push(&record(seq)) {
                        Ok(()) => break,
                        Err(PushError::Full(())) => thread::yield_now(),
                        Err(e) => panic!("{e:?}"),
                    }
                }
            }
        });
        let mut buf = Vec::new();
        for seq in 0..3 {
            let r = sub.pop_blocking_into(&mut buf).unwrap();
            assert_eq!((r.seq, r.missed), (seq, 0));
            assert_eq!(buf, record(seq));
        }
        producer.join().unwrap();
    });
}

/// Gated, padding: the subscriber has read the first record and parks at
/// byte 32; the producer's second record (48 bytes) does not fit in the 32
/// left of the lap, so it writes padding there, and the record after it
/// overwrites the padding's bytes: the producer (spinning on `try_push`)
/// waits for the subscriber to step over the padding. The padding's stamp
/// must wake the subscriber (without that notify, the
/// `broadcast_padding_no_notify` mutation, the subscriber sleeps for good
/// and the producer spins until loom gives up).
#[test]
fn gated_padding_wakes_subscriber() {
    loom::model(|| {
        let ring = RingBuilder::new(Kind::Broadcast)
            .capacity(64)
            .gated(true)
            .create_heap();
        let mut tx = Producer::attach(&ring).unwrap();
        let mut sub = Subscriber::attach(&ring, Start::Oldest).unwrap();
        sub.set_wait_strategy(WaitStrategy::Park);
        tx.try_push(&record(0)).unwrap();
        let producer = thread::spawn(move || loop {
            match tx.try_push(&[9; 32]) {
                Ok(()) => break,
                Err(PushError::Full(())) => thread::yield_now(),
                Err(e) => panic!("{e:?}"),
            }
        });
        let mut buf = Vec::new();
        let r = sub.pop_blocking_into(&mut buf).unwrap();
        assert_eq!((r.seq, r.missed), (0, 0));
        assert_eq!(buf, record(0));
        let r = sub.pop_blocking_into(&mut buf).unwrap();
        assert_eq!((r.seq, r.missed), (1, 0));
        assert_eq!(buf, [9; 32]);
        producer.join().unwrap();
    });
}
