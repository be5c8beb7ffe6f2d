//! The push/pop fast path in one thread, without a second core: ns per
//! message for single and batched calls on SPSC and MPMC rings (and 8-byte
//! records on a record ring), the minimum
//! of many short runs (robust to a loaded machine, where cross-core
//! throughput figures are noise). For before/after comparisons of changes
//! to the fast path; it measures instruction-path cost, not transfer cost.
//!
//! `cargo run --release -p ringway --example fastpath`

#[cfg(not(loom))]
use std::hint::black_box;
#[cfg(not(loom))]
use std::time::Instant;

#[cfg(not(loom))]
use ringway::{mpmc, record, spsc, Kind, RingBuilder};

#[cfg(not(loom))]
const N: u64 = 1 << 16;
#[cfg(not(loom))]
const RUNS: usize = 41;
#[cfg(not(loom))]
const BATCH: usize = 64;

#[cfg(not(loom))]
fn best(mut run: impl FnMut() -> std::time::Duration) -> f64 {
    (0..RUNS)
        .map(|_| run().as_nanos() as f64 / N as f64)
        .fold(f64::INFINITY, f64::min)
}

#[cfg(not(loom))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spsc_ring = RingBuilder::new(Kind::Spsc)
        .capacity(1024)
        .message::<u64>()
        .create_anonymous()?;
    let mut tx = spsc::Producer::<u64>::attach(&spsc_ring)?;
    let mut rx = spsc::Consumer::<u64>::attach(&spsc_ring)?;
    let single = best(|| {
        let t = Instant::now();
        for i in 0..N {
            tx.try_push(black_box(i)).unwrap();
            black_box(rx.try_pop().unwrap());
        }
        t.elapsed()
    });
    let buf: Vec<u64> = (0..BATCH as u64).collect();
    let mut out = vec![0u64; BATCH];
    let batched = best(|| {
        let t = Instant::now();
        for _ in 0..N / BATCH as u64 {
            tx.push_slice(black_box(&buf)).unwrap();
            black_box(rx.pop_into(&mut out).unwrap());
        }
        t.elapsed()
    });
    let empty = best(|| {
        let t = Instant::now();
        for _ in 0..N {
            black_box(rx.try_pop().is_err());
        }
        t.elapsed()
    });
    drop((tx, rx));

    let mpmc_ring = RingBuilder::new(Kind::Mpmc)
        .capacity(1024)
        .message::<u64>()
        .create_anonymous()?;
    let mut tx = mpmc::Producer::<u64>::attach(&mpmc_ring)?;
    let mut rx = mpmc::Consumer::<u64>::attach(&mpmc_ring)?;
    let m_single = best(|| {
        let t = Instant::now();
        for i in 0..N {
            tx.try_push(black_box(i)).unwrap();
            black_box(rx.try_pop().unwrap());
        }
        t.elapsed()
    });
    let m_batched = best(|| {
        let t = Instant::now();
        for _ in 0..N / BATCH as u64 {
            tx.push_slice(black_box(&buf)).unwrap();
            black_box(rx.pop_into(&mut out).unwrap());
        }
        t.elapsed()
    });
    drop((tx, rx));

    let record_ring = RingBuilder::new(Kind::Record)
        .capacity(1 << 16)
        .create_anonymous()?;
    let mut tx = record::Producer::attach(&record_ring)?;
    let mut rx = record::Consumer::attach(&record_ring)?;
    let r_single = best(|| {
        let t = Instant::now();
        for i in 0..N {
            tx.try_push(black_box(&i.to_le_bytes())).unwrap();
            black_box(rx.try_read().unwrap().len());
        }
        t.elapsed()
    });
    // Byte slots: the pop copies the slot out (`copy.rs`), so its width
    // shows here.
    let mut bytes_rows = Vec::new();
    for slot in [64u32, 4096] {
        let ring = RingBuilder::new(Kind::Spsc)
            .capacity(64)
            .slot_size(slot)
            .create_anonymous()?;
        let mut tx = spsc::BytesProducer::attach(&ring)?;
        let mut rx = spsc::BytesConsumer::attach(&ring)?;
        let msg = vec![7u8; slot as usize];
        let mut got = vec![0u8; slot as usize];
        let ns = best(|| {
            let t = Instant::now();
            for _ in 0..N / 16 {
                tx.try_push(black_box(&msg[..])).unwrap();
                rx.try_pop(black_box(&mut got[..])).unwrap();
            }
            t.elapsed()
        }) * 16.0;
        bytes_rows.push((slot, ns));
    }
    println!("spsc single   push+pop {single:6.2} ns/msg");
    println!("spsc batched  push+pop {batched:6.2} ns/msg (64 per call)");
    println!("spsc empty    try_pop  {empty:6.2} ns/call");
    println!("mpmc single   push+pop {m_single:6.2} ns/msg");
    println!("mpmc batched  push+pop {m_batched:6.2} ns/msg (64 per call)");
    println!("record 8 B    push+read {r_single:6.2} ns/record");
    for (slot, ns) in bytes_rows {
        println!("spsc bytes    push+pop {ns:6.2} ns/msg ({slot} B slots)");
    }
    Ok(())
}

/// A loom build has no real mappings to measure.
#[cfg(loom)]
fn main() {}
