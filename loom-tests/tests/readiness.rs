//! loom models of the readiness-fd path over the real SPSC ring code: a
//! consumer that waits like `ringway-async` does (`ExternalWaiter` on the
//! ring's data event, `try_pop` as the condition, the io_uring futex wait
//! emulated by `Event::loom_submit` / `loom_complete`), and the producer's
//! unchanged push and notify.
#![cfg(loom)]

use loom::thread;
use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, Ring, RingBuilder};
use ringway_sync::{Armed, ExternalWaiter};

fn ring(capacity: u64) -> Ring {
    RingBuilder::new(Kind::Spsc)
        .capacity(capacity)
        .message::<u64>()
        .create_heap()
}

/// Pops one message the readiness way: arm with `try_pop`; on `Sleep`,
/// queue the wait and block until it completes (the fd turning readable).
/// A lost wakeup blocks forever: a loom deadlock.
fn pop_via_readiness(rx: &mut Consumer<u64>, waiter: &mut ExternalWaiter) -> u64 {
    let ring = rx.ring().clone();
    let event = ring.data_event();
    loop {
        match waiter.arm(event, ring.barrier(), || rx.try_pop().ok()) {
            Armed::Ready(v) => return v,
            Armed::Sleep(request) => {
                let ticket = event.loom_submit(request);
                event.loom_complete(ticket);
                waiter.completed();
            }
            Armed::InFlight => unreachable!("each wait completes before the next arm"),
        }
    }
}

/// The consumer waits for two messages through the readiness path while
/// the producer pushes them: both arrive, in order, and the waiter count is
/// back to zero.
#[test]
fn readiness_consumer_is_woken() {
    loom::model(|| {
        let ring = ring(2);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let consumer = thread::spawn(move || {
            let mut waiter = ExternalWaiter::new();
            assert_eq!(pop_via_readiness(&mut rx, &mut waiter), 1);
            assert_eq!(pop_via_readiness(&mut rx, &mut waiter), 2);
            assert!(!waiter.is_registered());
        });
        tx.try_push(1).unwrap();
        tx.try_push(2).unwrap();
        consumer.join().unwrap();
        assert_eq!(ring.snapshot().data_waiters, 0);
    });
}
