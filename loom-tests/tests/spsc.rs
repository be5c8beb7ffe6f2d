//! loom models of the SPSC protocol, over the real `ringway::spsc` code.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ringway-loom-tests --release`
#![cfg(loom)]

use loom::thread;
use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, PopError, PushError, Ring, RingBuilder};

fn ring(capacity: u64) -> Ring {
    RingBuilder::new(Kind::Spsc)
        .capacity(capacity)
        .message::<u64>()
        .create_heap()
}

/// Three messages through two slots: the producer wraps and must wait for the
/// consumer's release of slot 0 before reusing it.
#[test]
fn push_pop_across_a_wrap() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let producer = thread::spawn(move || {
            for i in 0..3u64 {
                let mut v = i;
                loop {
                    match tx.try_push(v) {
                        Ok(()) => break,
                        Err(PushError::Full(back)) => {
                            v = back;
                            thread::yield_now();
                        }
                        Err(e) => panic!("{e:?}"),
                    }
                }
            }
        });
        for i in 0..3u64 {
            loop {
                match rx.try_pop() {
                    Ok(v) => {
                        assert_eq!(v, i);
                        break;
                    }
                    Err(PopError::Empty) => thread::yield_now(),
                    Err(e) => panic!("{e:?}"),
                }
            }
        }
        producer.join().unwrap();
    });
}

/// Zero-copy chunks: the producer writes two-slot chunks in place and commits
/// them, the consumer reads chunks in place and releases them one at a time.
#[test]
fn chunks_across_a_wrap() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let producer = thread::spawn(move || {
            let mut next = 0u64;
            while next < 3 {
                let mut chunk = tx.write_chunk(2).unwrap();
                if chunk.is_empty() {
                    thread::yield_now();
                    continue;
                }
                let (a, b) = chunk.as_mut_slices();
                for slot in a.iter_mut().chain(b.iter_mut()) {
                    *slot = next;
                    next += 1;
                }
                chunk.commit_all();
            }
        });
        let mut expected = 0u64;
        while expected < 3 {
            let chunk = rx.read_chunk(2).unwrap();
            if chunk.is_empty() {
                thread::yield_now();
                continue;
            }
            let (a, _) = chunk.as_slices();
            assert_eq!(a[0], expected);
            expected += 1;
            chunk.release(1);
        }
        producer.join().unwrap();
    });
}
