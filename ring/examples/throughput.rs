//! Two processes, one named ring: this process produces u64 sequence numbers
//! and a child process (this example run again) consumes and checks them.
//! Prints messages per second for single pushes and for batched chunks.
//!
//! ```text
//! cargo run --release -p ringway --example throughput [-- MESSAGES]
//! ```

#[cfg(not(loom))]
use std::process::Command;
#[cfg(not(loom))]
use std::time::{Duration, Instant};

#[cfg(not(loom))]
use ringway::spsc::{Consumer, Producer};
#[cfg(not(loom))]
use ringway::{Kind, OpenOptions, Ring, RingBuilder};

#[cfg(not(loom))]
const CAPACITY: u64 = 4096;
#[cfg(not(loom))]
const BATCH: usize = 256;

#[cfg(not(loom))]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("consume") {
        return consume(&args[2], args[3].parse()?);
    }
    let messages: u64 = match args.get(1) {
        Some(n) => n.parse()?,
        None => 20_000_000,
    };
    println!("ringway throughput: {messages} u64 messages from this process to a consumer process, ring of {CAPACITY} slots");
    for batched in [false, true] {
        let name = format!("/ringway-example-{}-{}", std::process::id(), batched as u8);
        let ring = RingBuilder::new(Kind::Spsc)
            .capacity(CAPACITY)
            .message::<u64>()
            .unlink_on_drop(true)
            .create_shm(&name)?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["consume", &name, &messages.to_string()])
            .spawn()?;
        let elapsed = produce(&ring, messages, batched)?;
        let status = child.wait()?;
        if !status.success() {
            return Err(format!("consumer process failed: {status}").into());
        }
        let rate = messages as f64 / elapsed.as_secs_f64();
        println!(
            "  {:<28} {:>8.1} M msg/s  ({:.3} s, every message checked in order by the consumer)",
            if batched {
                "batched (chunks of 256)"
            } else {
                "single push / single pop"
            },
            rate / 1e6,
            elapsed.as_secs_f64()
        );
    }
    Ok(())
}

/// Pushes `messages` sequence numbers; returns the time until the consumer
/// has taken the last one.
#[cfg(not(loom))]
fn produce(
    ring: &Ring,
    messages: u64,
    batched: bool,
) -> Result<Duration, Box<dyn std::error::Error>> {
    let mut tx = Producer::<u64>::attach(ring)?;
    // Wait for the consumer to attach so that process start-up is not timed.
    while ring.snapshot().consumer_owner == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let start = Instant::now();
    let mut next = 0u64;
    while next < messages {
        if batched {
            let mut chunk = tx.write_chunk(BATCH.min((messages - next) as usize))?;
            let n = chunk.len() as u64;
            let (a, b) = chunk.as_mut_slices();
            for (i, slot) in a.iter_mut().chain(b.iter_mut()).enumerate() {
                *slot = next + i as u64;
            }
            chunk.commit_all();
            next += n;
        } else if tx.try_push(next).is_ok() {
            next += 1;
        } else {
            std::hint::spin_loop();
        }
    }
    while ring.snapshot().head < messages {
        std::hint::spin_loop();
    }
    Ok(start.elapsed())
}

#[cfg(not(loom))]
fn consume(name: &str, messages: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ring = OpenOptions::new()
        .kind(Kind::Spsc)
        .message::<u64>()
        .open_shm(name)?;
    let mut rx = Consumer::<u64>::attach(&ring)?;
    let mut expected = 0u64;
    while expected < messages {
        let chunk = rx.read_chunk(BATCH)?;
        let (a, b) = chunk.as_slices();
        for &v in a.iter().chain(b) {
            if v != expected {
                return Err(format!("expected {expected}, got {v}").into());
            }
            expected += 1;
        }
        if chunk.is_empty() {
            std::hint::spin_loop();
        }
        chunk.release_all();
    }
    Ok(())
}

/// A loom build has no real mappings to measure.
#[cfg(loom)]
fn main() {}
