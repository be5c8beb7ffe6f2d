//! The Rust side of the C cross-process test (`ffi/c-tests/test_cross_process.c`):
//! a plain Rust program using the `ringway` crate (not the C ABI) on a named
//! SPSC ring of 8-byte slots that the C test created.
//!
//! ```text
//! ringway_peer consume NAME COUNT   # pops COUNT u64s, checks they are 0, 1, 2, ...
//! ringway_peer produce NAME COUNT   # pushes 0, 1, 2, ... COUNT-1
//! ```
//!
//! Exit status 0 on success, 1 on a wrong message, 2 on bad usage or a
//! failed open/attach, 3 when the peer made no progress for 60 seconds.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use ringway_core::{spsc, Kind, OpenOptions};

const STALL: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(name), Some(count)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: ringway_peer consume|produce NAME COUNT");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("ringway_peer: COUNT must be a number, not {count:?}");
        return ExitCode::from(2);
    };
    let ring = match OpenOptions::new().kind(Kind::Spsc).open_shm(name) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ringway_peer: open {name}: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match mode.as_str() {
        "consume" => consume(&ring, count),
        "produce" => produce(&ring, count),
        _ => {
            eprintln!("ringway_peer: mode must be consume or produce, not {mode:?}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => {
            eprintln!("ringway_peer {mode}: {message}");
            ExitCode::from(code)
        }
    }
}

type Failure = (u8, String);

fn consume(ring: &ringway_core::Ring, count: u64) -> Result<(), Failure> {
    let mut rx = spsc::Consumer::<u64>::attach(ring).map_err(|e| (2, e.to_string()))?;
    let mut expected = 0u64;
    let mut last_progress = Instant::now();
    while expected < count {
        match rx.try_pop() {
            Ok(v) if v == expected => {
                expected += 1;
                last_progress = Instant::now();
            }
            Ok(v) => return Err((1, format!("message {expected} is {v}"))),
            Err(ringway_core::PopError::Empty) => idle(last_progress, expected)?,
            Err(e) => return Err((1, e.to_string())),
        }
    }
    Ok(())
}

fn produce(ring: &ringway_core::Ring, count: u64) -> Result<(), Failure> {
    let mut tx = spsc::Producer::<u64>::attach(ring).map_err(|e| (2, e.to_string()))?;
    let mut next = 0u64;
    let mut last_progress = Instant::now();
    while next < count {
        match tx.try_push(next) {
            Ok(()) => {
                next += 1;
                last_progress = Instant::now();
            }
            Err(ringway_core::PushError::Full(_)) => idle(last_progress, next)?,
            Err(e) => return Err((1, e.to_string())),
        }
    }
    Ok(())
}

/// Yields the CPU while the ring is full or empty; gives up after `STALL`.
fn idle(last_progress: Instant, done: u64) -> Result<(), Failure> {
    if last_progress.elapsed() > STALL {
        return Err((
            3,
            format!("no progress for {STALL:?} after {done} messages"),
        ));
    }
    std::thread::yield_now();
    Ok(())
}
