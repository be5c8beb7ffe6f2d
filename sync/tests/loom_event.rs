//! Loom models of the Event protocol: the real `notify`/`wait` code, with the futex
//! emulated by a loom Mutex + Condvar (see `src/loom_futex.rs`).
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom
//!  cargo test -p ringway-sync --release --test loom_event`
//!
//! A lost wakeup leaves an untimed waiter blocked on the condvar forever, which loom
//! reports as a deadlock.

#![cfg(loom)]

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use ringway_sync::{Armed, Barrier, Event, ExternalWaiter, WaitStrategy};
use std::time::{Duration, Instant};

/// The shared state of a model: the Event and the "ring cursor" it guards.
struct Shared {
    event: Event,
    cursor: AtomicU32,
}

impl Shared {
    fn new() -> Arc<Self> {
        Arc::new(Shared {
            event: Event::new(),
            cursor: AtomicU32::new(0),
        })
    }

    /// The publisher: store with Release, then notify.
    fn publish(&self, value: u32) {
        // Release: pairs with the Acquire load in `at_least`.
        self.cursor.store(value, Ordering::Release);
        self.event.notify();
    }

    /// The condition: `Some(cursor)` once `cursor >= n`.
    fn at_least(&self, n: u32) -> impl FnMut() -> Option<u32> + '_ {
        move || {
            // Acquire: pairs with the Release store in `publish`.
            let c = self.cursor.load(Ordering::Acquire);
            (c >= n).then_some(c)
        }
    }
}

/// A waiter with `strategy` and a notifier that publishes once: the wait must end.
fn one_waiter_one_notifier(strategy: WaitStrategy) {
    loom::model(move || {
        let shared = Shared::new();
        let notifier = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || shared.publish(1))
        };
        assert_eq!(shared.event.wait(strategy, None, shared.at_least(1)), Ok(1));
        notifier.join().unwrap();
        assert_eq!(shared.event.waiters(), 0);
    });
}

#[test]
fn park_loses_no_wakeup() {
    one_waiter_one_notifier(WaitStrategy::Park);
}

#[test]
fn spin_then_park_loses_no_wakeup() {
    one_waiter_one_notifier(WaitStrategy::SpinThenPark { spins: 1 });
}

#[test]
fn two_waiters_are_both_woken() {
    loom::model(|| {
        let shared = Shared::new();
        let waiter = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                shared
                    .event
                    .wait(WaitStrategy::Park, None, shared.at_least(1))
            })
        };
        let notifier = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || shared.publish(1))
        };
        assert_eq!(
            shared
                .event
                .wait(WaitStrategy::Park, None, shared.at_least(1)),
            Ok(1)
        );
        assert_eq!(waiter.join().unwrap(), Ok(1));
        notifier.join().unwrap();
        assert_eq!(shared.event.waiters(), 0);
    });
}

#[test]
fn two_publications_in_a_row() {
    // The waiter needs the second publication; the first may wake it early.
    loom::model(|| {
        let shared = Shared::new();
        let notifier = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                shared.publish(1);
                shared.publish(2);
            })
        };
        assert_eq!(
            shared
                .event
                .wait(WaitStrategy::Park, None, shared.at_least(2)),
            Ok(2)
        );
        notifier.join().unwrap();
        assert_eq!(shared.event.waiters(), 0);
    });
}

#[test]
fn a_timed_wait_races_a_notify() {
    // Under loom a timed park may time out at any point where it would sleep; the
    // timeout must leave the Event consistent, and either outcome is correct.
    loom::model(|| {
        let shared = Shared::new();
        let notifier = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || shared.publish(1))
        };
        let deadline = Some(Instant::now() + Duration::from_secs(3600));
        let got = shared
            .event
            .wait(WaitStrategy::Park, deadline, shared.at_least(1));
        assert!(matches!(got, Ok(1) | Err(_)), "{got:?}");
        notifier.join().unwrap();
        // The registration was undone on either path...
        assert_eq!(shared.event.waiters(), 0);
        // ...and once the publication is in, a wait ends at once, timed or not.
        assert_eq!(
            shared
                .event
                .wait(WaitStrategy::Park, deadline, shared.at_least(1)),
            Ok(1)
        );
        assert_eq!(
            shared
                .event
                .wait(WaitStrategy::Park, None, shared.at_least(1)),
            Ok(1)
        );
    });
}

/// An external waiter (the async/readiness-fd path) as a loop: arm; on
/// `Sleep`, submit the wait; optionally arm once more while it is in flight
/// (a spurious poll); then block on the wait's completion (the fd becoming
/// readable) and report it. A lost wakeup blocks forever: a loom deadlock.
fn external_wait(shared: &Shared, want: u32, spurious_rearm: bool) -> u32 {
    let mut waiter = ExternalWaiter::new();
    let mut ticket = None;
    loop {
        match waiter.arm(&shared.event, Barrier::Symmetric, shared.at_least(want)) {
            Armed::Ready(v) => {
                assert!(!waiter.is_registered());
                return v;
            }
            Armed::Sleep(request) => ticket = Some(shared.event.loom_submit(request)),
            Armed::InFlight => {}
        }
        if spurious_rearm {
            match waiter.arm(&shared.event, Barrier::Symmetric, shared.at_least(want)) {
                Armed::Ready(v) => return v,
                Armed::InFlight => {}
                Armed::Sleep(_) => panic!("a second sleep while one is in flight"),
            }
        }
        shared
            .event
            .loom_complete(ticket.take().expect("a wait is in flight"));
        waiter.completed();
    }
}

fn external_waiter_one_notifier(want: u32, spurious_rearm: bool) {
    loom::model(move || {
        let shared = Shared::new();
        let notifier = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                for v in 1..=want {
                    shared.publish(v);
                }
            })
        };
        assert_eq!(external_wait(&shared, want, spurious_rearm), want);
        notifier.join().unwrap();
        assert_eq!(shared.event.waiters(), 0);
    });
}

#[test]
fn external_waiter_loses_no_wakeup() {
    external_waiter_one_notifier(1, false);
}

#[test]
fn external_waiter_two_publications() {
    external_waiter_one_notifier(2, false);
}

#[test]
fn external_waiter_rearmed_while_in_flight() {
    external_waiter_one_notifier(2, true);
}

/// A parked blocking waiter and an external waiter on the same event: one
/// notify wakes both.
#[test]
fn external_and_blocking_waiters_together() {
    loom::model(|| {
        let shared = Shared::new();
        let blocking = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                shared
                    .event
                    .wait(WaitStrategy::Park, None, shared.at_least(1))
            })
        };
        let notifier = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || shared.publish(1))
        };
        assert_eq!(external_wait(&shared, 1, false), 1);
        assert_eq!(blocking.join().unwrap(), Ok(1));
        notifier.join().unwrap();
        assert_eq!(shared.event.waiters(), 0);
    });
}
