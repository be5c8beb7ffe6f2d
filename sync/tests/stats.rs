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
use ringway_sync::{stats, Stats, WaitStrategy};

/// Does this platform wake sleepers with a syscall (not the polling fallback)?
const HAS_WAKE_SYSCALL: bool = cfg!(any(target_os = "linux", target_os = "macos"));

#[test]
fn syscalls_happen_only_when_someone_sleeps() {
    let map = SharedMap::new(2);
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
    //    memory) costs each notify one wake syscall, and nothing worse.
    map.word32(0, 4).store(1, Ordering::Relaxed);
    let before = stats();
    for _ in 0..10 {
        event.notify();
    }
    if HAS_WAKE_SYSCALL {
        assert_eq!(stats().since(before).wake_syscalls, 10);
    }
    assert_eq!(event.waiters(), 1);
}
