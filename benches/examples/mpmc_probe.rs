//! MPMC probe: ringway's MPMC ring against crossbeam's `ArrayQueue` with the
//! workload of `benches/mpmc.rs` (P producer and P consumer threads, 1024
//! slots, yield when full or empty), printing what criterion does not: the
//! process CPU time per message (less sensitive to other load than wall
//! time) and how many calls found the ring full, empty or busy. With `st`,
//! one thread pushes and pops 512 at a time (best of 15 rounds; run it under
//! `valgrind --tool=callgrind` for instruction counts).
//!
//! With `stb`, the same with `push_slice` / `pop_into` of 32.
//!
//! `cargo run --release -p ringway-benches --example mpmc_probe -- rw|aq|st|stb [P]`
use crossbeam_queue::ArrayQueue;
use ringway::mpmc::{Consumer, Producer};
use ringway::{Kind, PopError, PushError, RingBuilder};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::Instant;

const MESSAGES: u64 = 4_000_000;
fn main() {
    let which = std::env::args().nth(1).unwrap_or("rw".into());
    if which == "st" {
        single_thread();
        return;
    }
    if which == "stb" {
        single_thread_batched();
        return;
    }
    let np: u64 = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(2);
    let ring = RingBuilder::new(Kind::Mpmc)
        .capacity(1024)
        .message::<u64>()
        .create_anonymous()
        .unwrap();
    let aq = ArrayQueue::<u64>::new(1024);
    let taken = AtomicU64::new(0);
    let full = AtomicU64::new(0);
    let empty = AtomicU64::new(0);
    let busy = AtomicU64::new(0);
    let per = MESSAGES / np;
    let total = per * np;
    let start = Barrier::new(2 * np as usize + 1);
    let cpu0 = cpu_ns();
    let t = std::thread::scope(|s| {
        for p in 0..np {
            let (ring, aq, start, full, which) = (&ring, &aq, &start, &full, &which);
            s.spawn(move || {
                let mut tx = Producer::<u64>::attach(ring).unwrap();
                start.wait();
                for i in 0..per {
                    let v = p << 32 | i;
                    if which == "rw" {
                        while let Err(e) = tx.try_push(v) {
                            // Busy (a consumer mid-release holds the slot)
                            // is counted with Full, as the bench treats it.
                            assert!(matches!(e, PushError::Full(_) | PushError::Busy(_)));
                            full.fetch_add(1, Ordering::Relaxed);
                            std::thread::yield_now();
                        }
                    } else {
                        while aq.push(v).is_err() {
                            full.fetch_add(1, Ordering::Relaxed);
                            std::thread::yield_now();
                        }
                    }
                }
            });
        }
        for _ in 0..np {
            let (ring, aq, start, taken, empty, busy, which) =
                (&ring, &aq, &start, &taken, &empty, &busy, &which);
            s.spawn(move || {
                let mut rx = Consumer::<u64>::attach(ring).unwrap();
                start.wait();
                while taken.load(Ordering::Relaxed) < total {
                    let got = if which == "rw" {
                        match rx.try_pop() {
                            Ok(_) => true,
                            Err(PopError::Empty) => {
                                empty.fetch_add(1, Ordering::Relaxed);
                                false
                            }
                            Err(PopError::Busy) => {
                                busy.fetch_add(1, Ordering::Relaxed);
                                false
                            }
                            Err(e) => panic!("{e}"),
                        }
                    } else if aq.pop().is_some() {
                        true
                    } else {
                        empty.fetch_add(1, Ordering::Relaxed);
                        false
                    };
                    if got {
                        taken.fetch_add(1, Ordering::Relaxed);
                    } else {
                        std::thread::yield_now();
                    }
                }
            });
        }
        start.wait();
        Instant::now()
    });
    let el = t.elapsed();
    let cpu1 = cpu_ns();
    println!(
        "{which} {np}P{np}C: {:.1} M/s  cpu {:.1} ns/msg  full {} empty {} busy {}",
        total as f64 / el.as_secs_f64() / 1e6,
        (cpu1 - cpu0) as f64 / total as f64,
        full.load(Ordering::Relaxed),
        empty.load(Ordering::Relaxed),
        busy.load(Ordering::Relaxed)
    );
}
/// One thread: push 512, pop 512, repeated; prints the best round per pair.
fn single_thread() {
    let ring = RingBuilder::new(Kind::Mpmc)
        .capacity(1024)
        .message::<u64>()
        .create_anonymous()
        .unwrap();
    let aq = ArrayQueue::<u64>::new(1024);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    let (mut best_rw, mut best_aq) = (f64::MAX, f64::MAX);
    for _ in 0..15 {
        let t = Instant::now();
        let mut sum = 0u64;
        for _ in 0..2_000u64 {
            for i in 0..512u64 {
                tx.try_push(i).unwrap();
            }
            for _ in 0..512u64 {
                sum = sum.wrapping_add(rx.try_pop().unwrap());
            }
        }
        let rw = t.elapsed().as_nanos() as f64 / 1_024_000.0;
        let t = Instant::now();
        for _ in 0..2_000u64 {
            for i in 0..512u64 {
                aq.push(i).unwrap();
            }
            for _ in 0..512u64 {
                sum = sum.wrapping_add(aq.pop().unwrap());
            }
        }
        let a = t.elapsed().as_nanos() as f64 / 1_024_000.0;
        best_rw = best_rw.min(rw);
        best_aq = best_aq.min(a);
        assert!(sum > 0);
    }
    println!(
        "single thread push+pop, best of 15: ringway {best_rw:.2} ns, ArrayQueue {best_aq:.2} ns"
    );
}

/// One thread: `push_slice` and `pop_into` of 32, 16 times each per round
/// (512 messages), repeated; prints the best round per message, against
/// ArrayQueue's one-at-a-time push and pop.
fn single_thread_batched() {
    let ring = RingBuilder::new(Kind::Mpmc)
        .capacity(1024)
        .message::<u64>()
        .create_anonymous()
        .unwrap();
    let aq = ArrayQueue::<u64>::new(1024);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    let batch: Vec<u64> = (0..32).collect();
    let mut out = [0u64; 32];
    let (mut best_rw, mut best_aq) = (f64::MAX, f64::MAX);
    for _ in 0..15 {
        let t = Instant::now();
        let mut sum = 0u64;
        for _ in 0..2_000u64 {
            for _ in 0..16 {
                assert_eq!(tx.push_slice(&batch).unwrap(), 32);
            }
            for _ in 0..16 {
                assert_eq!(rx.pop_into(&mut out).unwrap(), 32);
                sum = sum.wrapping_add(out[31]);
            }
        }
        let rw = t.elapsed().as_nanos() as f64 / 1_024_000.0;
        let t = Instant::now();
        for _ in 0..2_000u64 {
            for i in 0..512u64 {
                aq.push(i).unwrap();
            }
            for _ in 0..512u64 {
                sum = sum.wrapping_add(aq.pop().unwrap());
            }
        }
        let a = t.elapsed().as_nanos() as f64 / 1_024_000.0;
        best_rw = best_rw.min(rw);
        best_aq = best_aq.min(a);
        assert!(sum > 0);
    }
    println!(
        "single thread batch-32 push+pop, best of 15, per message: ringway {best_rw:.2} ns, ArrayQueue (one at a time) {best_aq:.2} ns"
    );
}

/// User + system CPU time of the process so far, in ns.
fn cpu_ns() -> u64 {
    // SAFETY: `rusage` is plain data, valid all-zero.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
