//! The Rust side of the C cross-process test (`ffi/c-tests/test_cross_process.c`):
//! a plain Rust program using the `ringway` crate (not the C ABI) on a named
//! ring of 8-byte slots that the C test created.
//!
//! ```text
//! ringway_peer consume spsc|mpmc NAME COUNT   # pops COUNT u64s, checks they are 0, 1, 2, ...
//! ringway_peer produce spsc|mpmc NAME COUNT   # pushes 0, 1, 2, ... COUNT-1
//! ```
//!
//! It uses the typed handles' timed calls, so it sleeps on the ring's futex
//! and the C side's pushes and pops wake it. Exit status 0 on success, 1 on a
//! wrong message or an error, 2 on bad usage or a failed open/attach, 3 when
//! the peer made no progress for 60 seconds.

use std::process::ExitCode;
use std::time::Duration;

use ringway_core::{mpmc, spsc, Kind, OpenOptions, PopTimeoutError, PushTimeoutError};

const STALL: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, kind, name, count] = &args[..] else {
        eprintln!("usage: ringway_peer consume|produce spsc|mpmc NAME COUNT");
        return ExitCode::from(2);
    };
    let Ok(count) = count.parse::<u64>() else {
        eprintln!("ringway_peer: COUNT must be a number, not {count:?}");
        return ExitCode::from(2);
    };
    let kind = match kind.as_str() {
        "spsc" => Kind::Spsc,
        "mpmc" => Kind::Mpmc,
        _ => {
            eprintln!("ringway_peer: kind must be spsc or mpmc, not {kind:?}");
            return ExitCode::from(2);
        }
    };
    let ring = match OpenOptions::new().kind(kind).open_shm(name) {
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

/// A typed consumer of either kind.
enum Rx {
    Spsc(spsc::Consumer<u64>),
    Mpmc(mpmc::Consumer<u64>),
}

/// A typed producer of either kind.
enum Tx {
    Spsc(spsc::Producer<u64>),
    Mpmc(mpmc::Producer<u64>),
}

fn consume(ring: &ringway_core::Ring, count: u64) -> Result<(), Failure> {
    let attach = |e: ringway_core::HandleError| (2, e.to_string());
    let mut rx = match ring.kind() {
        // A record ring is refused by the typed SPSC handle (WrongKind).
        Kind::Spsc | Kind::Record | Kind::Broadcast => {
            Rx::Spsc(spsc::Consumer::attach(ring).map_err(attach)?)
        }
        Kind::Mpmc => Rx::Mpmc(mpmc::Consumer::attach(ring).map_err(attach)?),
    };
    for expected in 0..count {
        let got = match &mut rx {
            Rx::Spsc(c) => c.pop_timeout(STALL),
            Rx::Mpmc(c) => c.pop_timeout(STALL),
        };
        match got {
            Ok(v) if v == expected => {}
            Ok(v) => return Err((1, format!("message {expected} is {v}"))),
            Err(PopTimeoutError::Timeout) => {
                return Err((3, format!("no message for {STALL:?} after {expected}")))
            }
            Err(e) => return Err((1, e.to_string())),
        }
    }
    Ok(())
}

fn produce(ring: &ringway_core::Ring, count: u64) -> Result<(), Failure> {
    let attach = |e: ringway_core::HandleError| (2, e.to_string());
    let mut tx = match ring.kind() {
        // A record ring is refused by the typed SPSC handle (WrongKind).
        Kind::Spsc | Kind::Record | Kind::Broadcast => {
            Tx::Spsc(spsc::Producer::attach(ring).map_err(attach)?)
        }
        Kind::Mpmc => Tx::Mpmc(mpmc::Producer::attach(ring).map_err(attach)?),
    };
    for next in 0..count {
        let pushed = match &mut tx {
            Tx::Spsc(p) => p.push_timeout(next, STALL),
            Tx::Mpmc(p) => p.push_timeout(next, STALL),
        };
        match pushed {
            Ok(()) => {}
            Err(PushTimeoutError::Timeout(_)) => {
                return Err((3, format!("no free slot for {STALL:?} after {next}")))
            }
            Err(e) => return Err((1, e.to_string())),
        }
    }
    Ok(())
}
