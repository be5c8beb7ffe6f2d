// mutation: record_commit_relaxed record
// mutation: record_read_stamp_relaxed record
// mutation: record_release_relaxed record
// mutation: record_read_head_relaxed record
//! loom models of the record ring, over the real `ringway::record` code:
//! claims by CAS on `tail`, padding at the wrap, commit by the stamp's
//! Release CAS, the consumer's zeroing and release of `head`, and the
//! blocking read.
//!
//! The ring is 64 bytes (the minimum); records are 32 or 48 bytes with their
//! header, so that a padding record and a second lap happen within two or
//! three records. Each model checks every record's bytes and each
//! producer's order. The `// mutation:` lines above name the orderings of
//! `ring/src/record/` that `scripts/loom-mutations.sh` weakens; the models
//! must then fail.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ringway-loom-tests --release --test record`
#![cfg(loom)]

use loom::thread;
use ringway::record::{Consumer, Producer};
use ringway::{Kind, PopError, PushError, Ring, RingBuilder, WaitStrategy};

fn ring() -> Ring {
    RingBuilder::new(Kind::Record).capacity(64).create_heap()
}

/// Pushes `record`, yielding while the ring is full.
fn push(tx: &mut Producer, record: &[u8]) {
    loop {
        match tx.try_push(record) {
            Ok(()) => return,
            Err(PushError::Full(())) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Reads one record, yielding while there is none.
fn pop(rx: &mut Consumer) -> Vec<u8> {
    loop {
        match rx.try_pop_vec() {
            Ok(v) => return v,
            Err(PopError::Empty) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// One producer, one consumer: a 48-byte record, then a 32-byte one that
/// does not fit in the 16 bytes left, so the producer publishes padding and
/// waits for the first record's release to write at index 0 of lap 2.
#[test]
fn padding_at_the_wrap_and_reuse_of_freed_bytes() {
    loom::model(|| {
        let ring = ring();
        let mut tx = Producer::attach(&ring).unwrap();
        let mut rx = Consumer::attach(&ring).unwrap();
        let producer = thread::spawn(move || {
            push(&mut tx, &[1; 20]);
            push(&mut tx, &[2; 9]);
        });
        assert_eq!(pop(&mut rx), vec![1; 20]);
        assert_eq!(pop(&mut rx), vec![2; 9]);
        assert_eq!(rx.position(), 64 + 32);
        producer.join().unwrap();
    });
}

/// Two producers claim concurrently (CAS on tail); the second record of
/// producer `a` reuses bytes the consumer freed. The consumer and `a` park
/// in the blocking calls; `b` is the single spinner (loom's scheduler is
/// not fair to two: see `mpmc.rs`).
#[test]
fn two_producers_one_consumer() {
    loom::model(|| {
        let ring = ring();
        let mut a = Producer::attach(&ring).unwrap();
        let mut b = Producer::attach(&ring).unwrap();
        let mut rx = Consumer::attach(&ring).unwrap();
        rx.set_wait_strategy(WaitStrategy::Park);
        a.set_wait_strategy(WaitStrategy::Park);
        let pa = thread::spawn(move || {
            a.push_blocking(&[10; 4]).unwrap();
            a.push_blocking(&[11; 4]).unwrap();
        });
        let pb = thread::spawn(move || push(&mut b, &[20; 12]));
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(rx.read_blocking().unwrap().to_vec());
        }
        let from_a: Vec<_> = got.iter().filter(|r| r[0] / 10 == 1).cloned().collect();
        assert_eq!(from_a, vec![vec![10; 4], vec![11; 4]], "producer a's order");
        assert!(got.contains(&vec![20; 12]));
        pa.join().unwrap();
        pb.join().unwrap();
    });
}
