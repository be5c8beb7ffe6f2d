//! Cross-thread wait/wake on Events living in a `MAP_SHARED` mapping, and deadlines.

#![cfg(not(loom))] // Real threads and syscalls: see loom_event.rs for the loom models.

mod common;

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{eventually, far_deadline, nonzero, promptly, SharedMap};
use ringway_sync::{Event, Timeout, WaitStrategy};

const ALL_STRATEGIES: [WaitStrategy; 5] = [
    WaitStrategy::BusySpin,
    WaitStrategy::Yield,
    WaitStrategy::SpinThenPark { spins: 100 },
    WaitStrategy::SpinThenPark { spins: 0 },
    WaitStrategy::Park,
];

#[test]
fn a_zero_filled_mapping_holds_an_empty_event() {
    let map = SharedMap::new(1);
    let event = map.event(0);
    assert_eq!(event.waiters(), 0);
    assert_eq!(format!("{event:?}"), "Event { seq: 0, waiters: 0 }");
    // Notifying an empty event is a no-op, and zero bytes stay zero.
    event.notify();
    assert_eq!(map.word32(0, 0).load(Ordering::Relaxed), 0);
    assert_eq!(map.word32(0, 4).load(Ordering::Relaxed), 0);
}

#[test]
fn new_and_default_are_all_zero_bytes() {
    let event = Event::default();
    assert_eq!(format!("{event:?}"), "Event { seq: 0, waiters: 0 }");
    assert_eq!(
        WaitStrategy::default(),
        WaitStrategy::SpinThenPark {
            spins: ringway_sync::DEFAULT_SPINS
        }
    );
}

#[test]
fn every_strategy_sees_a_publication_from_another_thread() {
    for strategy in ALL_STRATEGIES {
        let map = SharedMap::new(2);
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                promptly("waiter", || {
                    map.event(0)
                        .wait(strategy, far_deadline(), || nonzero(map.word64(1)))
                })
            });
            if matches!(
                strategy,
                WaitStrategy::Park | WaitStrategy::SpinThenPark { .. }
            ) {
                // Publish only once the waiter has registered to park, so the wake
                // path is what ends the wait.
                eventually("the waiter registers", || map.event(0).waiters() == 1);
                thread::sleep(Duration::from_millis(5));
            }
            // Release: pairs with the Acquire load in `nonzero`.
            map.word64(1).store(42, Ordering::Release);
            map.event(0).notify();
            assert_eq!(waiter.join().unwrap(), Ok(42), "{strategy:?}");
        });
        assert_eq!(
            map.event(0).waiters(),
            0,
            "{strategy:?} left a registration"
        );
    }
}

#[test]
fn one_notify_wakes_every_parked_waiter() {
    const WAITERS: u32 = 4;
    let map = SharedMap::new(2);
    thread::scope(|s| {
        let handles: Vec<_> = (0..WAITERS)
            .map(|_| {
                s.spawn(|| {
                    promptly("waiter", || {
                        map.event(0).wait(WaitStrategy::Park, far_deadline(), || {
                            nonzero(map.word64(1))
                        })
                    })
                })
            })
            .collect();
        eventually("all waiters register", || map.event(0).waiters() == WAITERS);
        map.word64(1).store(7, Ordering::Release);
        map.event(0).notify();
        for h in handles {
            assert_eq!(h.join().unwrap(), Ok(7));
        }
    });
    assert_eq!(map.event(0).waiters(), 0);
}

#[test]
fn a_notify_without_publication_does_not_end_the_wait() {
    let map = SharedMap::new(2);
    let calls = AtomicU32::new(0);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            promptly("waiter", || {
                map.event(0).wait(WaitStrategy::Park, far_deadline(), || {
                    calls.fetch_add(1, Ordering::Relaxed);
                    nonzero(map.word64(1))
                })
            })
        });
        eventually("the waiter registers", || map.event(0).waiters() == 1);
        // Spurious notifies: the waiter wakes, re-checks, and sleeps again.
        for _ in 0..3 {
            let before = calls.load(Ordering::Relaxed);
            map.event(0).notify();
            eventually("the waiter re-checks", || {
                calls.load(Ordering::Relaxed) > before
            });
        }
        assert!(!waiter.is_finished());
        map.word64(1).store(9, Ordering::Release);
        map.event(0).notify();
        assert_eq!(waiter.join().unwrap(), Ok(9));
    });
}

#[test]
fn a_condition_that_already_holds_wins_over_a_past_deadline() {
    let event = Event::new();
    for strategy in ALL_STRATEGIES {
        let past = Instant::now() - Duration::from_millis(1);
        assert_eq!(event.wait(strategy, Some(past), || Some(1)), Ok(1));
    }
    assert_eq!(event.waiters(), 0);
}

#[test]
fn every_strategy_honours_its_deadline() {
    const WAIT: Duration = Duration::from_millis(100);
    // Generous (never tighter than 2x + 50 ms): the machine is shared with builds.
    const LATEST: Duration = Duration::from_millis(500);
    let map = SharedMap::new(2);
    for strategy in ALL_STRATEGIES {
        let start = Instant::now();
        let got = map
            .event(0)
            .wait(strategy, Some(start + WAIT), || nonzero(map.word64(1)));
        let took = start.elapsed();
        assert_eq!(got, Err(Timeout), "{strategy:?}");
        assert!(took >= WAIT, "{strategy:?} gave up early, after {took:?}");
        assert!(took <= LATEST, "{strategy:?} overslept: {took:?}");
        assert_eq!(
            map.event(0).waiters(),
            0,
            "{strategy:?} left a registration"
        );
    }
}

#[test]
fn a_past_deadline_times_out_at_once() {
    let event = Event::new();
    for strategy in ALL_STRATEGIES {
        let start = Instant::now();
        let got = event.wait(strategy, Some(start), || None::<()>);
        assert_eq!(got, Err(Timeout), "{strategy:?}");
        assert!(start.elapsed() < Duration::from_secs(1), "{strategy:?}");
    }
}

#[test]
fn a_panicking_condition_deregisters_the_waiter() {
    let event = Event::new();
    let calls = AtomicU32::new(0);
    let got = panic::catch_unwind(AssertUnwindSafe(|| {
        event.wait(WaitStrategy::Park, None, || -> Option<()> {
            // First call: before registering; second: after registering.
            if calls.fetch_add(1, Ordering::Relaxed) == 1 {
                assert_eq!(event.waiters(), 1);
                panic!("condition panicked");
            }
            None
        })
    }));
    assert!(got.is_err());
    assert_eq!(event.waiters(), 0);
}

#[test]
fn auto_traits() {
    fn send_sync<T: Send + Sync + Unpin>() {}
    send_sync::<Event>();
    send_sync::<WaitStrategy>();
    send_sync::<Timeout>();
    send_sync::<ringway_sync::Stats>();
}

#[test]
fn timeout_is_an_error_type() {
    let err: Box<dyn std::error::Error + Send + Sync> = Box::new(Timeout);
    assert_eq!(err.to_string(), "timed out waiting for an event");
}
