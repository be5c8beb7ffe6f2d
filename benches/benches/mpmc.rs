//! MPMC throughput: ringway's MPMC ring against crossbeam's `ArrayQueue`
//! (the same algorithm, on the heap, one CAS per message), in the same run.
//!
//! Each measurement moves `MESSAGES` u64s from P producer threads to C
//! consumer threads through a 1024-slot queue: 1P1C and 2P2C, with single
//! pushes and pops, and (ringway only: `ArrayQueue` has no batch API) with
//! `push_slice`/`pop_into` of `BATCH`. A side that finds the queue full or
//! empty yields its thread, the same for every contender. Every workload is
//! first run once with checks (no loss, no duplicate, per-producer order in
//! each consumer) before anything is timed.
//!
//! 2P2C runs four threads; on a machine with fewer cores than that the
//! threads are time-sliced, and the figures measure scheduling as much as
//! the queue. Compare ratios within one run, not absolute numbers across
//! machines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use crossbeam_queue::ArrayQueue;
use ringway::mpmc::{Consumer, Producer};
use ringway::{Kind, PopError, PushError, Ring, RingBuilder};

const CAPACITY: usize = 1024;
const MESSAGES: u64 = 200_000;
const BATCH: usize = 32;

/// One queue under test: how a producer thread sends its messages and a
/// consumer thread takes its share.
trait Queue: Sync {
    /// Sends `producer << 32 | 0..count` in order.
    fn produce(&self, producer: u64, count: u64);
    /// Receives until `taken` reaches `total`; returns what it received,
    /// if `keep`, else an empty vector.
    fn consume(&self, taken: &AtomicU64, total: u64, keep: bool) -> Vec<u64>;
}

struct Ringway {
    ring: Ring,
    batched: bool,
}

impl Ringway {
    fn new(batched: bool) -> Ringway {
        let ring = RingBuilder::new(Kind::Mpmc)
            .capacity(CAPACITY as u64)
            .message::<u64>()
            .create_anonymous()
            .expect("anonymous MPMC ring");
        Ringway { ring, batched }
    }
}

impl Queue for Ringway {
    fn produce(&self, producer: u64, count: u64) {
        let mut tx = Producer::<u64>::attach(&self.ring).expect("producer");
        if self.batched {
            let mut batch = [0u64; BATCH];
            let mut seq = 0;
            while seq < count {
                let k = BATCH.min((count - seq) as usize);
                for (i, slot) in batch[..k].iter_mut().enumerate() {
                    *slot = producer << 32 | (seq + i as u64);
                }
                let mut sent = 0;
                while sent < k {
                    let n = tx.push_slice(&batch[sent..k]).expect("not corrupt");
                    if n == 0 {
                        std::thread::yield_now();
                    }
                    sent += n;
                }
                seq += k as u64;
            }
        } else {
            for seq in 0..count {
                let mut v = producer << 32 | seq;
                loop {
                    match tx.try_push(v) {
                        Ok(()) => break,
                        Err(PushError::Full(back) | PushError::Busy(back)) => {
                            v = back;
                            std::thread::yield_now();
                        }
                        Err(e) => panic!("{e}"),
                    }
                }
            }
        }
    }

    fn consume(&self, taken: &AtomicU64, total: u64, keep: bool) -> Vec<u64> {
        let mut rx = Consumer::<u64>::attach(&self.ring).expect("consumer");
        let mut got = Vec::new();
        let mut buf = [0u64; BATCH];
        while taken.load(Ordering::Relaxed) < total {
            let n = if self.batched {
                let n = rx.pop_into(&mut buf).expect("not corrupt");
                if keep {
                    got.extend_from_slice(&buf[..n]);
                }
                n
            } else {
                match rx.try_pop() {
                    Ok(v) => {
                        if keep {
                            got.push(v);
                        }
                        1
                    }
                    Err(PopError::Empty | PopError::Busy) => 0,
                    Err(e) => panic!("{e}"),
                }
            };
            if n == 0 {
                std::thread::yield_now();
            } else {
                taken.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
        got
    }
}

struct Crossbeam(ArrayQueue<u64>);

impl Queue for Crossbeam {
    fn produce(&self, producer: u64, count: u64) {
        for seq in 0..count {
            let mut v = producer << 32 | seq;
            while let Err(back) = self.0.push(v) {
                v = back;
                std::thread::yield_now();
            }
        }
    }

    fn consume(&self, taken: &AtomicU64, total: u64, keep: bool) -> Vec<u64> {
        let mut got = Vec::new();
        while taken.load(Ordering::Relaxed) < total {
            match self.0.pop() {
                Some(v) => {
                    if keep {
                        got.push(v);
                    }
                    taken.fetch_add(1, Ordering::Relaxed);
                }
                None => std::thread::yield_now(),
            }
        }
        got
    }
}

/// Moves `MESSAGES` from `producers` to `consumers` threads; returns the
/// time from the start signal to the last thread's end, and what each
/// consumer received (when `keep`).
fn run(q: &dyn Queue, producers: u64, consumers: usize, keep: bool) -> (Duration, Vec<Vec<u64>>) {
    let per_producer = MESSAGES / producers;
    let total = per_producer * producers;
    let taken = AtomicU64::new(0);
    let start = Barrier::new(producers as usize + consumers + 1);
    std::thread::scope(|s| {
        let cs: Vec<_> = (0..consumers)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    q.consume(&taken, total, keep)
                })
            })
            .collect();
        for p in 0..producers {
            let start = &start;
            s.spawn(move || {
                start.wait();
                q.produce(p, per_producer);
            });
        }
        start.wait();
        let t0 = Instant::now();
        let got = cs
            .into_iter()
            .map(|c| c.join().expect("consumer"))
            .collect();
        (t0.elapsed(), got)
    })
}

/// Runs the workload once and checks it: no loss, no duplicate, each
/// producer's messages in order within each consumer.
fn check(name: &str, q: &dyn Queue, producers: u64, consumers: usize) {
    let per_producer = MESSAGES / producers;
    let (_, got) = run(q, producers, consumers, true);
    let mut seen = vec![false; (per_producer * producers) as usize];
    for list in &got {
        let mut next = vec![0u64; producers as usize];
        for &v in list {
            let (p, s) = (v >> 32, v & 0xffff_ffff);
            assert!(p < producers && s < per_producer, "{name}: garbage {v:#x}");
            assert!(s >= next[p as usize], "{name}: producer {p} out of order");
            next[p as usize] = s + 1;
            let i = (p * per_producer + s) as usize;
            assert!(!seen[i], "{name}: duplicate {p}/{s}");
            seen[i] = true;
        }
    }
    assert!(seen.iter().all(|s| *s), "{name}: lost messages");
}

fn bench(c: &mut Criterion) {
    for (producers, consumers) in [(1u64, 1usize), (2, 2)] {
        let contenders: Vec<(&str, Box<dyn Queue>)> = vec![
            (
                "crossbeam_ArrayQueue",
                Box::new(Crossbeam(ArrayQueue::new(CAPACITY))),
            ),
            ("ringway_single", Box::new(Ringway::new(false))),
            ("ringway_batch32", Box::new(Ringway::new(true))),
        ];
        let topology = format!("{producers}P{consumers}C");
        for (name, q) in &contenders {
            check(
                &format!("{name} {topology}"),
                q.as_ref(),
                producers,
                consumers,
            );
        }
        let mut group = c.benchmark_group(format!("mpmc_{topology}"));
        group
            .throughput(Throughput::Elements(MESSAGES))
            .sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));
        for (name, q) in &contenders {
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| run(q.as_ref(), producers, consumers, false).0)
                        .sum()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
