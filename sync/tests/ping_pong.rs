//! Two threads bounce a counter 10,000 times through two Events in a shared
//! mapping. Checks that no round trip is lost; prints the time per round trip
//! (run with `--nocapture`; figures only, never asserted).

#![cfg(not(loom))] // Real threads and syscalls: see loom_event.rs for the loom models.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Instant;

use common::{far_deadline, SharedMap};
use ringway_sync::{stats, WaitStrategy};

const ROUNDS: u64 = 10_000;

/// `Some(())` once `word >= n`.
fn at_least(word: &AtomicU64, n: u64) -> impl FnMut() -> Option<()> + '_ {
    // Acquire: pairs with the other thread's Release store.
    move || (word.load(Ordering::Acquire) >= n).then_some(())
}

/// Runs the ping-pong and returns the mean round trip in microseconds.
fn ping_pong(strategy: WaitStrategy) -> f64 {
    // Slots: 0 ping event, 1 ping word, 2 pong event, 3 pong word.
    let map = SharedMap::new(4);
    let (ping_event, ping) = (map.event(0), map.word64(1));
    let (pong_event, pong) = (map.event(2), map.word64(3));
    let before = stats();
    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            for i in 1..=ROUNDS {
                assert_eq!(
                    ping_event.wait(strategy, far_deadline(), at_least(ping, i)),
                    Ok(())
                );
                // Release: publishes round i to the pinger's Acquire load.
                pong.store(i, Ordering::Release);
                pong_event.notify();
            }
        });
        for i in 1..=ROUNDS {
            ping.store(i, Ordering::Release);
            ping_event.notify();
            assert_eq!(
                pong_event.wait(strategy, far_deadline(), at_least(pong, i)),
                Ok(()),
                "round {i}"
            );
        }
    });
    let micros = start.elapsed().as_secs_f64() * 1e6 / ROUNDS as f64;
    let used = stats().since(before);
    println!(
        "{strategy:?}: {micros:.2} µs per round trip; {} wait / {} wake syscalls for {ROUNDS} round trips",
        used.wait_syscalls, used.wake_syscalls
    );
    assert_eq!(ping_event.waiters() + pong_event.waiters(), 0);
    micros
}

#[test]
fn ping_pong_spin_then_park() {
    ping_pong(WaitStrategy::default());
}

#[test]
fn ping_pong_park() {
    ping_pong(WaitStrategy::Park);
}
