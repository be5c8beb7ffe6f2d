// mutation: spsc_stamp_relaxed stamped
// mutation: spsc_stamp_acquire_relaxed stamped
//! loom models of the stamped SPSC layout (`RingBuilder::stamped`), over the
//! real `ringway::spsc` code: a one-message pop learns of a message from the
//! slot's stamp alone, so the producer's Release stamp stores and the
//! consumer's Acquire load of the stamp are what order the payload (the
//! slot access witness in `loom.rs` turns a missing edge into a loom error).
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ringway-loom-tests --release --test stamped`
#![cfg(loom)]

use loom::thread;
use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, PopError, PushError, Ring, RingBuilder};

fn ring(capacity: u64) -> Ring {
    RingBuilder::new(Kind::Spsc)
        .stamped(true)
        .capacity(capacity)
        .message::<u64>()
        .create_heap()
}

fn push_spinning(tx: &mut Producer<u64>, mut v: u64) {
    loop {
        match tx.try_push(v) {
            Ok(()) => return,
            Err(PushError::Full(back)) => {
                v = back;
                thread::yield_now();
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Pops one message at a time (the stamp path: nothing cached), spinning.
fn pop_spinning(rx: &mut Consumer<u64>) -> u64 {
    loop {
        match rx.try_pop() {
            Ok(v) => return v,
            Err(PopError::Empty) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Three messages through two slots, one at a time: the consumer reads
/// each from its stamp (lap 0 and lap 1 of slot 0), the producer waits for
/// the consumer's release of slot 0 before reusing it.
#[test]
fn single_messages_across_a_wrap() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let producer = thread::spawn(move || {
            for i in 0..3u64 {
                push_spinning(&mut tx, 10 + i);
            }
        });
        for i in 0..3u64 {
            assert_eq!(pop_spinning(&mut rx), 10 + i);
        }
        producer.join().unwrap();
    });
}

/// A batch of two published at once (one tail store, two stamp stores), read one message at a time through the stamps.
#[test]
fn a_batch_read_one_stamp_at_a_time() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let producer = thread::spawn(move || {
            let mut chunk = tx.write_chunk(2).unwrap();
            assert_eq!(chunk.len(), 2);
            for (i, slot) in chunk.iter_mut().enumerate() {
                *slot = 20 + i as u64;
            }
            chunk.commit_all();
        });
        assert_eq!(pop_spinning(&mut rx), 20);
        assert_eq!(pop_spinning(&mut rx), 21);
        producer.join().unwrap();
    });
}

/// A producer that stops after writing a payload and before publishing it
/// (its chunk is forgotten: no tail store, no stamp): the consumer never
/// sees the message, by its stamp or by tail.
#[test]
fn a_producer_that_stops_before_its_stamp_publishes_nothing() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let producer = thread::spawn(move || {
            tx.try_push(30).unwrap();
            let mut chunk = tx.write_chunk(1).unwrap();
            if let Some(slot) = chunk.get_mut(0) {
                *slot = 31;
            }
            // Stops here: the write is never published.
            std::mem::forget(chunk);
            std::mem::forget(tx);
        });
        // Whenever the consumer looks, it sees at most the published one.
        match rx.try_pop() {
            Ok(v) => assert_eq!(v, 30),
            Err(PopError::Empty) => {}
            Err(e) => panic!("{e:?}"),
        }
        producer.join().unwrap();
        let rest: Vec<u64> = std::iter::from_fn(|| rx.try_pop().ok()).collect();
        assert!(rest.is_empty() || rest == [30], "{rest:?}");
        assert_eq!(rx.ready_slots(), Ok(0));
    });
}

/// A new producer re-stamps the messages still in the ring on attach,
/// racing a consumer that pops and frees them: a re-stamp that lands on a
/// freed slot must read as "not yet" for the slot's next position.
#[test]
fn a_new_producer_restamps_while_the_consumer_pops() {
    loom::model(|| {
        let ring = ring(2);
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        {
            let mut tx = Producer::<u64>::attach(&ring).unwrap();
            tx.try_push(40).unwrap();
        }
        let producer = {
            let ring = ring.clone();
            thread::spawn(move || {
                let mut tx = Producer::<u64>::attach(&ring).unwrap();
                push_spinning(&mut tx, 41);
                push_spinning(&mut tx, 42);
            })
        };
        for v in 40..43 {
            assert_eq!(pop_spinning(&mut rx), v);
        }
        producer.join().unwrap();
    });
}
