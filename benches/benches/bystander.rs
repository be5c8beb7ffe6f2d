//! What parked ringway waiters cost a bystander on another CPU, per barrier mode.
//!
//! An asymmetric ring's waiter makes one `membarrier(GLOBAL_EXPEDITED)` per
//! park, which interrupts every CPU currently running a thread of a process
//! registered for it (every process that uses an asymmetric ring). A symmetric
//! ring's waiter interrupts nobody. This bench measures the difference from the
//! victim's side:
//!
//! - the **bystander** (this binary re-executed, `RINGWAY_BYSTANDER` set) is
//!   pinned to one CPU and busy-loops reading the clock, recording the gap
//!   between consecutive reads: a gap is time the CPU was taken from it (an
//!   interrupt, an IPI, a preemption). It registers for `membarrier` first
//!   (as a ringway process would) unless told not to;
//! - the **parker** (the parent, pinned to another CPU) runs a waiter thread
//!   and a notifier thread over one `Event` in the chosen mode: the notifier
//!   publishes every `PERIOD` and the waiter parks for each publication with
//!   `WaitStrategy::Park`, so every message is one park and one sleep.
//!
//! Rows: no parker at all; symmetric parks; asymmetric parks with a registered
//! bystander; asymmetric parks with an unregistered bystander (not interrupted:
//! the IPIs go only to registered processes). Each row reports the bystander's
//! gap p99, p99.99 and max, how many gaps exceeded 1 µs per second and the
//! time they took (µs per second), and the parker's parks, sleeps and
//! membarriers.
//!
//! `cargo bench -p ringway-benches --bench bystander` runs 2 s per row; without
//! `--bench` (as `cargo test --benches` runs it) a 100 ms smoke run per row
//! checks that it works, and prints no claim. On a machine with fewer than two
//! CPUs it says so and measures nothing.

#![deny(unsafe_op_in_unsafe_fn)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringway_sync::{Barrier, Event, WaitStrategy};

/// Set in the re-executed bystander: `millis,cpu,register` (cpu -1: unpinned).
const BYSTANDER_ENV: &str = "RINGWAY_BYSTANDER";
/// Time between two publications of the notifier.
const PERIOD: Duration = Duration::from_micros(200);
/// Width of a histogram bucket of gaps (ns), and the number of buckets.
const BUCKET_NS: u64 = 20;
const BUCKETS: usize = 50_000; // up to 1 ms; longer gaps go to the last one
/// A gap longer than this is counted as an interruption (the loop itself
/// takes tens of nanoseconds; an IPI into a VM costs the victim a microsecond
/// or more).
const INTERRUPT_NS: u64 = 1_000;

fn main() {
    if let Ok(spec) = std::env::var(BYSTANDER_ENV) {
        bystander(&spec);
        return;
    }
    let full = std::env::args().any(|a| a == "--bench");
    let millis = if full { 2_000 } else { 100 };
    let cpus = allowed_cpus();
    if cpus.len() < 2 {
        println!("bystander: fewer than two CPUs allowed; nothing to measure");
        return;
    }
    let (parker_cpu, bystander_cpu) = (cpus[0], cpus[1]);
    pin_to(parker_cpu);
    let asymmetric = Barrier::Asymmetric.available();
    println!(
        "bystander on CPU {bystander_cpu}, parker on CPU {parker_cpu}, {millis} ms per row, \
         a park every {} µs; load {}",
        PERIOD.as_micros(),
        load_average()
    );
    println!(
        "  {:<42} {:>8} {:>9} {:>10} {:>10} {:>12} {:>7} {:>7} {:>7}",
        "row", "gap p99", "p99.99", "max", ">1µs /s", "stolen µs/s", "parks", "sleeps", "membar."
    );
    let mut rows = vec![
        ("no parker", None, true),
        ("symmetric parks", Some(Barrier::Symmetric), true),
    ];
    if asymmetric {
        rows.push((
            "asymmetric parks, registered bystander",
            Some(Barrier::Asymmetric),
            true,
        ));
        rows.push((
            "asymmetric parks, unregistered bystander",
            Some(Barrier::Asymmetric),
            false,
        ));
    } else {
        println!("  (membarrier unavailable: no asymmetric rows)");
    }
    for (label, mode, register) in rows {
        let mut child = Command::new(std::env::current_exe().expect("own path"))
            .env(
                BYSTANDER_ENV,
                format!("{millis},{bystander_cpu},{register}"),
            )
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the bystander");
        let mut out = BufReader::new(child.stdout.take().expect("bystander stdout"));
        let mut ready = String::new();
        out.read_line(&mut ready).expect("bystander starts");
        assert_eq!(ready.trim(), "go", "bystander said {ready:?}");
        let before = ringway_sync::stats();
        let parks = match mode {
            Some(mode) => park_for(mode, Duration::from_millis(millis)),
            None => {
                std::thread::sleep(Duration::from_millis(millis));
                0
            }
        };
        let used = ringway_sync::stats().since(before);
        let mut line = String::new();
        out.read_line(&mut line).expect("bystander result");
        let g: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().expect("a number"))
            .collect();
        assert_eq!(g.len(), 5, "bystander said {line:?}");
        let status = child.wait().expect("reap the bystander");
        assert!(status.success(), "bystander: {status}");
        println!(
            "  {:<42} {:>8} {:>9} {:>10} {:>10.0} {:>12.0} {:>7} {:>7} {:>7}",
            label,
            ns(g[0]),
            ns(g[1]),
            ns(g[2]),
            g[3],
            g[4] / 1e3,
            parks,
            used.wait_syscalls,
            used.barrier_syscalls
        );
        if mode == Some(Barrier::Asymmetric) {
            // One membarrier per park at most (issue #13).
            assert!(used.barrier_syscalls <= parks, "{used:?} for {parks} parks");
        }
    }
}

/// Runs a waiter and a notifier over one Event in `mode` for `length`;
/// returns how many parking waits the waiter made (one per publication, and
/// the last one for the stop).
fn park_for(mode: Barrier, length: Duration) -> u64 {
    let shared = Arc::new((Event::new(), AtomicU64::new(0), AtomicBool::new(false)));
    let waiter = {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            let (event, data, stop) = (&shared.0, &shared.1, &shared.2);
            let mut seen = 0;
            loop {
                let got = event.wait_in(mode, WaitStrategy::Park, None, || {
                    // Acquire: pairs with the notifier's Release stores.
                    let now = data.load(Ordering::Acquire);
                    (now > seen || stop.load(Ordering::Acquire)).then_some(now)
                });
                match got {
                    Ok(now) if now > seen => seen = now,
                    _ => return seen,
                }
            }
        })
    };
    let end = Instant::now() + length;
    let mut sent = 0u64;
    while Instant::now() < end {
        std::thread::sleep(PERIOD);
        sent += 1;
        // Release: pairs with the waiter's Acquire load.
        shared.1.store(sent, Ordering::Release);
        shared.0.notify_in(mode);
    }
    // Release: as above.
    shared.2.store(true, Ordering::Release);
    shared.0.notify_in(mode);
    let seen = waiter.join().expect("waiter");
    assert_eq!(seen, sent, "the waiter missed publications");
    sent + 1
}

/// The bystander: busy-loops for `millis`, recording the gaps between two
/// clock reads; prints `go`, then `p99 p99.99 max interruptions_per_s
/// stolen_ns_per_s` (ns; stolen: the sum of the gaps over `INTERRUPT_NS`).
fn bystander(spec: &str) {
    // Die with the parent, so a killed bench leaves no stray busy loop.
    // SAFETY: PR_SET_PDEATHSIG with a valid signal number; no memory involved.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let f: Vec<&str> = spec.split(',').collect();
    let millis: u64 = f[0].parse().expect("millis");
    let cpu: i64 = f[1].parse().expect("cpu");
    if let Ok(cpu) = usize::try_from(cpu) {
        pin_to(cpu);
    }
    if f[2] == "true" {
        // A ringway process: registered for membarrier, as on first use.
        let _ = ringway_sync::asymmetric();
    }
    let mut hist = vec![0u64; BUCKETS];
    let mut max = 0u64;
    let mut interruptions = 0u64;
    let mut stolen = 0u64;
    println!("go");
    let start = Instant::now();
    let end = start + Duration::from_millis(millis);
    let mut prev = start;
    loop {
        let now = Instant::now();
        let gap = now.duration_since(prev).as_nanos() as u64;
        prev = now;
        hist[((gap / BUCKET_NS) as usize).min(BUCKETS - 1)] += 1;
        max = max.max(gap);
        if gap > INTERRUPT_NS {
            interruptions += 1;
            stolen += gap;
        }
        if now >= end {
            break;
        }
    }
    let total: u64 = hist.iter().sum();
    let quantile = |p: f64| {
        let want = (total as f64 * p).ceil() as u64;
        let mut seen = 0;
        for (i, &n) in hist.iter().enumerate() {
            seen += n;
            if seen >= want {
                return (i as u64 + 1) * BUCKET_NS;
            }
        }
        max
    };
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} {} {} {} {}",
        quantile(0.99),
        quantile(0.9999),
        max,
        interruptions as f64 / secs,
        stolen as f64 / secs
    );
}

fn ns(v: f64) -> String {
    if v >= 1e4 {
        format!("{:.1} µs", v / 1e3)
    } else if v >= 1e3 {
        format!("{:.2} µs", v / 1e3)
    } else {
        format!("{v:.0} ns")
    }
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity
    // writes at most size_of::<cpu_set_t>() bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// Pins the calling thread (and the threads it spawns later) to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: as in `allowed_cpus`; CPU_SET writes inside the set.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    assert_eq!(rc, 0, "sched_setaffinity({cpu})");
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}
