//! Wait and wake across processes: a forked child and its parent share an Event in
//! a `MAP_SHARED | MAP_ANONYMOUS` mapping. A process-private futex would fail these
//! (the waiter would sleep until its deadline).
//!
//! The child runs only simple code after `fork` (atomics, the futex, the clock; no
//! allocation, no panics) and leaves with `libc::_exit`, reporting through its exit
//! status.

#![cfg(not(loom))] // Real threads and syscalls: see loom_event.rs for the loom models.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{eventually, far_deadline, nonzero, promptly, SharedMap, FAR};
use ringway_sync::{stats, WaitStrategy};

/// Child exit codes.
const OK: i32 = 0;
const TIMED_OUT: i32 = 1;
const WRONG_VALUE: i32 = 2;
const TOO_SLOW: i32 = 3;

/// A forked child, killed and reaped on drop unless `wait` reaped it.
struct Child {
    pid: libc::pid_t,
    reaped: bool,
}

impl Child {
    /// Forks; the child runs `body` and `_exit`s with its result.
    fn fork(body: impl FnOnce() -> i32) -> Child {
        // SAFETY: the child only runs `body`, which the callers keep to atomics,
        // futex syscalls and the monotonic clock (async-signal-safe in practice),
        // then `_exit`s without running destructors or atexit handlers.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let code = body();
            // SAFETY: ends the child at once; nothing of the parent's state is
            // flushed or dropped twice.
            unsafe { libc::_exit(code) };
        }
        Child { pid, reaped: false }
    }

    /// Waits for the child to exit and returns its exit code; panics if it was
    /// killed by a signal.
    fn wait(mut self) -> i32 {
        let mut status = 0;
        // SAFETY: `pid` is our own unreaped child; `status` is a valid out-pointer.
        let ret = unsafe { libc::waitpid(self.pid, &mut status, 0) };
        assert_eq!(
            ret,
            self.pid,
            "waitpid failed: {}",
            std::io::Error::last_os_error()
        );
        self.reaped = true;
        assert!(
            libc::WIFEXITED(status),
            "child did not exit normally: status {status:#x}"
        );
        libc::WEXITSTATUS(status)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            // SAFETY: `pid` is our own unreaped child, so the pid cannot have been
            // reused; a null status pointer is allowed.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                libc::waitpid(self.pid, std::ptr::null_mut(), 0);
            }
        }
    }
}

/// The child's side of a one-shot wait: `OK` iff it saw `expect` before 10 s.
fn wait_for(map: &SharedMap, strategy: WaitStrategy, expect: u64) -> i32 {
    let start = Instant::now();
    match map
        .event(0)
        .wait(strategy, far_deadline(), || nonzero(map.word64(1)))
    {
        // Like `common::promptly`: a lost wake would end only at the deadline.
        Ok(_) if start.elapsed() > FAR / 2 => TOO_SLOW,
        Ok(v) if v == expect => OK,
        Ok(_) => WRONG_VALUE,
        Err(_) => TIMED_OUT,
    }
}

#[test]
fn a_parked_child_is_woken_by_its_parent() {
    for strategy in [WaitStrategy::Park, WaitStrategy::default()] {
        let map = SharedMap::new(2);
        let child = Child::fork(|| wait_for(&map, strategy, 42));
        // Publish only once the child has registered, and give it time to enter
        // the futex, so it is the cross-process wake that ends its wait.
        eventually("the child registers", || map.event(0).waiters() == 1);
        thread::sleep(Duration::from_millis(20));
        let before = stats();
        map.word64(1).store(42, Ordering::Release);
        map.event(0).notify();
        assert!(
            stats().since(before).wake_syscalls >= 1
                || cfg!(not(any(target_os = "linux", target_os = "macos"))),
            "notify with a registered waiter made no wake syscall"
        );
        assert_eq!(
            child.wait(),
            OK,
            "{strategy:?}: the child was not woken by notify"
        );
        assert_eq!(map.event(0).waiters(), 0);
    }
}

#[test]
fn a_parked_parent_is_woken_by_its_child() {
    let map = SharedMap::new(2);
    let child = Child::fork(|| {
        // Wait (without allocating) until the parent has registered.
        while map.event(0).waiters() == 0 {
            std::hint::spin_loop();
        }
        // SAFETY: a plain syscall with no pointers.
        unsafe { libc::usleep(20_000) };
        map.word64(1).store(7, Ordering::Release);
        map.event(0).notify();
        OK
    });
    let got = promptly("the parent", || {
        map.event(0).wait(WaitStrategy::Park, far_deadline(), || {
            nonzero(map.word64(1))
        })
    });
    assert_eq!(got, Ok(7));
    assert_eq!(child.wait(), OK);
}

/// `Some(())` once `word >= n`.
fn at_least(word: &AtomicU64, n: u64) -> impl FnMut() -> Option<()> + '_ {
    // Acquire: pairs with the other side's Release store.
    move || (word.load(Ordering::Acquire) >= n).then_some(())
}

#[test]
fn cross_process_ping_pong() {
    const ROUNDS: u64 = 2_000;
    // Slots: 0 ping event, 1 ping word, 2 pong event, 3 pong word.
    let map = SharedMap::new(4);
    let child = Child::fork(|| {
        for i in 1..=ROUNDS {
            if map
                .event(0)
                .wait(
                    WaitStrategy::default(),
                    far_deadline(),
                    at_least(map.word64(1), i),
                )
                .is_err()
            {
                return TIMED_OUT;
            }
            map.word64(3).store(i, Ordering::Release);
            map.event(2).notify();
        }
        OK
    });
    let start = Instant::now();
    for i in 1..=ROUNDS {
        map.word64(1).store(i, Ordering::Release);
        map.event(0).notify();
        let got = map.event(2).wait(
            WaitStrategy::default(),
            far_deadline(),
            at_least(map.word64(3), i),
        );
        assert_eq!(got, Ok(()), "round {i}");
    }
    let took = start.elapsed();
    assert_eq!(child.wait(), OK);
    println!(
        "cross-process ping-pong: {ROUNDS} round trips, {:.2} µs each (SpinThenPark default)",
        took.as_secs_f64() * 1e6 / ROUNDS as f64
    );
}
