//! What a parked waiter costs while its peer lives: a consumer blocked in
//! `pop_timeout` on an empty SPSC ring whose producer is attached and idle
//! wakes once per `peer::LIVENESS_SLICE` to look at the producer's
//! liveness. Prints the waiting thread's CPU time per second of waiting
//! (`CLOCK_THREAD_CPUTIME_ID`) and its voluntary context switches (one per
//! sleep), for an shm ring (OFD token) of the default barrier.
//!
//! `cargo run --release -p ringway --example parked_cost [seconds]`

#[cfg(not(loom))]
use std::time::{Duration, Instant};

#[cfg(not(loom))]
use ringway::{spsc, Kind, PopTimeoutError, RingBuilder};

#[cfg(not(loom))]
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is ours and writable; clock_gettime only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Voluntary context switches of this thread so far.
#[cfg(not(loom))]
fn switches() -> u64 {
    let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(not(loom))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let name = format!("/ringway-parked-cost-{}", std::process::id());
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(64)
        .message::<u64>()
        .create_shm(&name)?;
    let _ = ringway::Ring::remove_shm(&name);
    let _tx = spsc::Producer::<u64>::attach(&ring)?;
    let mut rx = spsc::Consumer::<u64>::attach(&ring)?;
    let wait = Duration::from_secs(secs);
    let (cpu0, sw0, t0) = (thread_cpu(), switches(), Instant::now());
    let got = rx.pop_timeout(wait);
    let (cpu1, sw1, t1) = (thread_cpu(), switches(), Instant::now());
    assert_eq!(got, Err(PopTimeoutError::Timeout), "nothing was pushed");
    let elapsed = (t1 - t0).as_secs_f64();
    let cpu = (cpu1 - cpu0).as_secs_f64();
    let sleeps = sw1 - sw0;
    println!(
        "parked {elapsed:.2} s with a live idle peer (slice {:?}): {:.1} us CPU per second ({:.4}% of a core), {:.1} sleeps per second, {:.1} us CPU per sleep",
        ringway::peer::LIVENESS_SLICE,
        cpu / elapsed * 1e6,
        cpu / elapsed * 100.0,
        sleeps as f64 / elapsed,
        cpu / (sleeps.max(1) as f64) * 1e6,
    );
    Ok(())
}

/// A loom build has no real mappings to measure.
#[cfg(loom)]
fn main() {}
