//! loom models of the SPSC blocking calls: the ring's real wait and notify
//! code over the eventcount (whose futex is emulated under loom).
#![cfg(loom)]

use std::time::Duration;

use loom::thread;
use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, PopTimeoutError, PushTimeoutError, Ring, RingBuilder, WaitStrategy};

fn ring(capacity: u64) -> Ring {
    RingBuilder::new(Kind::Spsc)
        .capacity(capacity)
        .message::<u64>()
        .create_heap()
}

/// A consumer that parks for data is always woken by the producer's push:
/// no interleaving loses the wakeup (the model would deadlock).
#[test]
fn parked_consumer_is_woken() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        rx.set_wait_strategy(WaitStrategy::Park);
        let consumer = thread::spawn(move || {
            assert_eq!(rx.pop_blocking(), Ok(1));
            assert_eq!(rx.pop_blocking(), Ok(2));
        });
        tx.try_push(1).unwrap();
        tx.try_push(2).unwrap();
        consumer.join().unwrap();
    });
}

/// A producer that parks for space is always woken by the consumer's pop.
#[test]
fn parked_producer_is_woken() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        tx.set_wait_strategy(WaitStrategy::Park);
        tx.try_push(0).unwrap();
        tx.try_push(1).unwrap();
        let producer = thread::spawn(move || {
            tx.push_blocking(2).unwrap();
        });
        assert_eq!(rx.try_pop(), Ok(0));
        producer.join().unwrap();
        assert_eq!(rx.try_pop(), Ok(1));
        assert_eq!(rx.try_pop(), Ok(2));
    });
}

/// A timed wait racing a push: under loom the deadline may fire at any
/// point; the consumer either gets the message or times out, and in the
/// second case the message is still there afterwards (nothing lost, the
/// waiter count back to zero).
#[test]
fn timed_pop_racing_a_push() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        rx.set_wait_strategy(WaitStrategy::Park);
        let producer = thread::spawn(move || {
            tx.try_push(7).unwrap();
        });
        let got = rx.pop_timeout(Duration::from_millis(1));
        producer.join().unwrap();
        match got {
            Ok(v) => assert_eq!(v, 7),
            Err(PopTimeoutError::Timeout) => assert_eq!(rx.try_pop(), Ok(7)),
            Err(e) => panic!("{e:?}"),
        }
        assert_eq!(ring.snapshot().data_waiters, 0);
    });
}

/// A timed push racing a pop, the other direction.
#[test]
fn timed_push_racing_a_pop() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        tx.set_wait_strategy(WaitStrategy::Park);
        tx.try_push(0).unwrap();
        tx.try_push(1).unwrap();
        let consumer = thread::spawn(move || {
            assert_eq!(rx.try_pop(), Ok(0));
            rx
        });
        let pushed = tx.push_timeout(2, Duration::from_millis(1));
        let mut rx = consumer.join().unwrap();
        assert_eq!(rx.try_pop(), Ok(1));
        match pushed {
            Ok(()) => assert_eq!(rx.try_pop(), Ok(2)),
            Err(PushTimeoutError::Timeout(v)) => assert_eq!(v, 2),
            Err(e) => panic!("{e:?}"),
        }
        assert_eq!(ring.snapshot().space_waiters, 0);
    });
}
