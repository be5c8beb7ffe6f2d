//! Measures a two-thread ping-pong through two Events for each wait strategy, and
//! the cost of one spin, to choose `DEFAULT_SPINS`.
//!
//! `cargo run -p ringway-sync --release --example ping_pong [ROUNDS]`
//!
//! Figures depend on the machine and on what else runs on it; compare strategies
//! within one run.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use ringway_sync::{stats, Event, WaitStrategy};

/// `Some(())` once `word >= n`.
fn at_least(word: &AtomicU64, n: u64) -> impl FnMut() -> Option<()> + '_ {
    // Acquire: pairs with the other thread's Release store.
    move || (word.load(Ordering::Acquire) >= n).then_some(())
}

/// One side's Event and counter, on its own cache-line pair.
#[repr(align(128))]
#[derive(Default)]
struct Side {
    event: Event,
    count: AtomicU64,
}

fn ping_pong(strategy: WaitStrategy, rounds: u64) {
    let (ping, pong) = (Side::default(), Side::default());
    let deadline = Some(Instant::now() + Duration::from_secs(60));
    let before = stats();
    let start = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            for i in 1..=rounds {
                ping.event
                    .wait(strategy, deadline, at_least(&ping.count, i))
                    .expect("ponger timed out");
                // Release: publishes round i to the pinger's Acquire load.
                pong.count.store(i, Ordering::Release);
                pong.event.notify();
            }
        });
        for i in 1..=rounds {
            // Release: publishes round i to the ponger's Acquire load.
            ping.count.store(i, Ordering::Release);
            ping.event.notify();
            pong.event
                .wait(strategy, deadline, at_least(&pong.count, i))
                .expect("pinger timed out");
        }
    });
    let micros = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    let used = stats().since(before);
    println!(
        "{:<34} {micros:>8.2} µs/round trip   {:>6.3} wait + {:>6.3} wake syscalls/round trip",
        format!("{strategy:?}"),
        used.wait_syscalls as f64 / rounds as f64,
        used.wake_syscalls as f64 / rounds as f64,
    );
}

fn spin_cost() {
    const SPINS: u64 = 10_000_000;
    let event = Event::new();
    let mut calls = 0;
    let start = Instant::now();
    let _ = event.wait(WaitStrategy::BusySpin, None, || {
        calls += 1;
        (calls >= SPINS).then_some(())
    });
    let ns = start.elapsed().as_secs_f64() * 1e9 / SPINS as f64;
    println!(
        "one spin (spin-loop hint + ready()): {ns:.1} ns; 1,000 spins = {:.1} µs",
        ns
    );
}

fn main() {
    let rounds = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    spin_cost();
    let strategies = [
        WaitStrategy::BusySpin,
        WaitStrategy::Yield,
        WaitStrategy::SpinThenPark { spins: 10_000 },
        WaitStrategy::SpinThenPark { spins: 2_000 },
        WaitStrategy::SpinThenPark { spins: 500 },
        WaitStrategy::SpinThenPark { spins: 250 },
        WaitStrategy::SpinThenPark { spins: 100 },
        WaitStrategy::SpinThenPark { spins: 30 },
        WaitStrategy::SpinThenPark { spins: 0 },
        WaitStrategy::Park,
        WaitStrategy::default(),
    ];
    for strategy in strategies {
        ping_pong(strategy, rounds);
    }
}
