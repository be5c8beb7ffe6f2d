//! Syscall accounting: no wake syscall while nobody sleeps.
//!
//! The counters are process-global, so this binary holds a single test that runs
//! its steps in order, with no other test running beside it.

#![cfg(not(loom))] // Real threads and syscalls: see loom_event.rs for the loom models.

mod common;

use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use common::{eventually, far_deadline, nonzero, promptly, SharedMap};
use ringway_sync::{stats, Barrier, Stats, WaitStrategy};

/// Does this platform wake sleepers with a syscall (not the polling fallback)?
const HAS_WAKE_SYSCALL: bool = cfg!(any(target_os = "linux", target_os = "macos"));

#[test]
fn syscalls_happen_only_when_someone_sleeps() {
    let map = SharedMap::new(8);
    let event = map.event(0);
    let data = map.word64(1);

    // 1. Notify with nobody registered: the fast path, no syscall at all.
    let before = stats();
    for _ in 0..100_000 {
        event.notify();
    }
    assert_eq!(
        stats().since(before),
        Stats::default(),
        "notify with no waiters made a syscall"
    );

    // 2. Waits that never register make no syscall, nor does the notify that ends them.
    for strategy in [
        WaitStrategy::BusySpin,
        WaitStrategy::Yield,
        WaitStrategy::SpinThenPark { spins: u32::MAX },
    ] {
        data.store(0, Ordering::Relaxed);
        let before = stats();
        thread::scope(|s| {
            s.spawn(|| {
                thread::sleep(Duration::from_millis(2));
                data.store(5, Ordering::Release);
                event.notify();
            });
            assert_eq!(
                event.wait(strategy, far_deadline(), || nonzero(data)),
                Ok(5)
            );
        });
        assert_eq!(
            stats().since(before),
            Stats::default(),
            "{strategy:?} made a syscall"
        );
    }

    // 3. A parked waiter: it sleeps (wait syscall) and the notify wakes it.
    data.store(0, Ordering::Relaxed);
    let before = stats();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            promptly("waiter", || {
                event.wait(WaitStrategy::Park, far_deadline(), || nonzero(data))
            })
        });
        eventually("the waiter registers", || event.waiters() == 1);
        eventually("the waiter sleeps", || {
            stats().since(before).wait_syscalls >= 1
        });
        data.store(6, Ordering::Release);
        event.notify();
        assert_eq!(waiter.join().unwrap(), Ok(6));
    });
    let used = stats().since(before);
    assert!(used.wait_syscalls >= 1, "{used:?}");
    if HAS_WAKE_SYSCALL {
        assert_eq!(used.wake_syscalls, 1, "one notify, one wake: {used:?}");
    }

    // 4. Once the waiter has left, notify is free again.
    let before = stats();
    for _ in 0..1_000 {
        event.notify();
    }
    assert_eq!(stats().since(before), Stats::default());

    // 5. A peer that died while registered (its count left behind in shared
    //    memory) costs each notify an RMW on the epoch but no wake syscall; one
    //    that died asleep (its flag left behind) costs one wake, once.
    map.word32(0, 4).store(1, Ordering::Relaxed);
    let before = stats();
    for _ in 0..10 {
        event.notify();
    }
    assert_eq!(stats().since(before), Stats::default());
    let seq = map.word32(0, 0);
    seq.fetch_or(1, Ordering::Relaxed);
    let before = stats();
    for _ in 0..10 {
        event.notify();
    }
    if HAS_WAKE_SYSCALL {
        assert_eq!(stats().since(before).wake_syscalls, 1);
    }
    assert_eq!(event.waiters(), 1);
    map.word32(0, 4).store(0, Ordering::Relaxed);

    // 6. A steady flow with a waiter that parks after a short spin: every wake
    //    syscall answers an announced sleep, so wakes never outnumber waits.
    steady_flow_wakes_at_most_sleeps(&map);

    // 7. A peer that churns the event word while a waiter is parked in an
    //    asymmetric handshake: the waiter loops, but makes one membarrier.
    one_membarrier_per_park_under_churn(&map);
}

fn steady_flow_wakes_at_most_sleeps(map: &SharedMap) {
    let (ping, pong) = (map.event(2), map.event(3));
    let (to_b, to_a) = (map.word64(4), map.word64(5));
    const ROUNDS: u64 = 2_000;
    let strategy = WaitStrategy::SpinThenPark { spins: 4 };
    let before = stats();
    thread::scope(|s| {
        s.spawn(|| {
            for i in 1..=ROUNDS {
                let got = ping.wait(strategy, far_deadline(), || {
                    // Acquire: pairs with the Release store below.
                    (to_b.load(Ordering::Acquire) >= i).then_some(())
                });
                assert_eq!(got, Ok(()));
                // Release: pairs with the Acquire load in the other thread.
                to_a.store(i, Ordering::Release);
                pong.notify();
            }
        });
        for i in 1..=ROUNDS {
            // Release: pairs with the Acquire load in the other thread.
            to_b.store(i, Ordering::Release);
            ping.notify();
            let got = pong.wait(strategy, far_deadline(), || {
                // Acquire: pairs with the Release store above.
                (to_a.load(Ordering::Acquire) >= i).then_some(())
            });
            assert_eq!(got, Ok(()));
        }
    });
    let used = stats().since(before);
    eprintln!("steady flow, {ROUNDS} round trips: {used:?}");
    // Each wake clears one flag a waiter set right before its wait syscall.
    assert!(used.wake_syscalls <= used.wait_syscalls, "{used:?}");
}

fn one_membarrier_per_park_under_churn(map: &SharedMap) {
    if !Barrier::Asymmetric.available() {
        eprintln!("membarrier unavailable: step 7 skipped");
        return;
    }
    let event = map.event(6);
    let data = map.word64(7);
    let before = stats();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            promptly("waiter", || {
                event.wait_in(
                    Barrier::Asymmetric,
                    WaitStrategy::Park,
                    far_deadline(),
                    || nonzero(data),
                )
            })
        });
        eventually("the waiter sleeps", || {
            stats().since(before).wait_syscalls >= 1
        });
        // Churn: notifies with nothing published, each waking the sleeper.
        let mut woken = 0;
        while woken < 20 {
            let seen = stats().since(before).wait_syscalls;
            event.notify_in(Barrier::Asymmetric);
            eventually("the waiter sleeps again", || {
                stats().since(before).wait_syscalls > seen
            });
            woken += 1;
        }
        data.store(7, Ordering::Release);
        event.notify_in(Barrier::Asymmetric);
        assert_eq!(waiter.join().unwrap(), Ok(7));
    });
    let used = stats().since(before);
    assert!(used.wait_syscalls > 20, "{used:?}");
    assert_eq!(used.barrier_syscalls, 1, "{used:?}");
}
