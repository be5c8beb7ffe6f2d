//! While no side sleeps, nothing enters the kernel: the notify on every push
//! and pop is a fence, a load and a branch. Its own test binary, because the
//! syscall counters are process-wide and other tests do sleep.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, RingBuilder, WaitStrategy};

#[test]
fn steady_flow_without_sleepers_makes_no_wait_or_wake_calls() {
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(256)
        .message::<u64>()
        .create_anonymous()
        .unwrap();
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    // Blocking calls with a strategy that never parks: both sides wait for
    // each other all the time, yet never sleep.
    tx.set_wait_strategy(WaitStrategy::BusySpin);
    rx.set_wait_strategy(WaitStrategy::BusySpin);
    const N: u64 = 200_000;
    let before = ringway_sync::stats();
    let producer = std::thread::spawn(move || {
        for i in 0..N {
            tx.push_blocking(i).unwrap();
        }
    });
    for i in 0..N {
        assert_eq!(rx.pop_blocking().unwrap(), i);
    }
    producer.join().unwrap();
    let used = ringway_sync::stats().since(before);
    assert_eq!(used.wake_syscalls, 0, "{used:?}");
    assert_eq!(used.wait_syscalls, 0, "{used:?}");
    assert_eq!(ring.snapshot().data_waiters, 0);
    assert_eq!(ring.snapshot().space_waiters, 0);
}
