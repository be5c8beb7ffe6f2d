//! What a liveness check costs: the OFD-lock test the peer registry makes
//! (one `fcntl(F_OFD_GETLK)`), against the pid + start-time check it
//! replaces (`kill(pid, 0)` plus a read of `/proc/PID/stat`), and the clock
//! read that rate-limits the checks of the non-blocking calls.
//!
//! `cargo run --release -p ringway --example liveness_cost`

#[cfg(not(loom))]
use std::time::Instant;

#[cfg(not(loom))]
use ringway::{spsc, Kind, RingBuilder};

#[cfg(not(loom))]
fn per_call(n: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

#[cfg(not(loom))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(64)
        .message::<u64>()
        .create_anonymous()?;
    let _tx = spsc::Producer::<u64>::attach(&ring)?;
    let index = ring.peers()[0].index;
    let n = 200_000;
    let ofd = per_call(n, || {
        std::hint::black_box(ring.peer_liveness(index));
    });
    let pid = std::process::id();
    let start = ringway::process::current_start_time();
    let by_pid = per_call(n / 10, || {
        std::hint::black_box(ringway::process::is_alive(pid, Some(start)));
    });
    let clock = per_call(n, || {
        std::hint::black_box(Instant::now());
    });
    println!("liveness check, OFD lock test:      {ofd:8.0} ns");
    println!("liveness check, pid + /proc stat:   {by_pid:8.0} ns");
    println!("clock read (rate limit of try_*):   {clock:8.0} ns");
    Ok(())
}

/// A loom build has no real mappings to measure.
#[cfg(loom)]
fn main() {}
