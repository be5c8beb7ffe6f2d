//! Fallback backend for targets without a cross-process wait-on-address call this
//! crate knows (anything but Linux and macOS): poll the word with bounded backoff.
//!
//! A waiter sleeps 50 µs, then doubles up to 1 ms, re-reading the word between
//! sleeps; `wake_all` has nothing to do. A wake is therefore seen within about
//! 1 ms, and a parked waiter costs one short sleep per millisecond. That is
//! correct for any memory the word lives in, just slower than a real futex.
//! (Windows' `WaitOnAddress` is process-private, so it would not do.)

use std::time::{Duration, Instant};

use crate::loom::{sleep, AtomicU32, Ordering};
use crate::stats;
use crate::sys::Outcome;

/// First sleep of a wait.
const MIN_PAUSE: Duration = Duration::from_micros(50);
/// Longest sleep between two looks at the word: bounds the wake latency.
const MAX_PAUSE: Duration = Duration::from_millis(1);

/// Sleeps while `*word == expected`, until the word changes or `deadline`.
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> Outcome {
    let mut pause = MIN_PAUSE;
    loop {
        // Relaxed: a change only ends the sleep; `Event::park` re-reads the word
        // with Acquire before it relies on anything.
        if word.load(Ordering::Relaxed) != expected {
            return Outcome::Woken;
        }
        let this_pause = match deadline {
            None => pause,
            Some(deadline) => {
                let remaining = deadline.saturating_duration_since(Instant::now());
                if remaining.is_zero() {
                    return Outcome::TimedOut;
                }
                pause.min(remaining)
            }
        };
        stats::count_wait();
        sleep(this_pause);
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Nothing to do: sleepers poll the word.
pub(crate) fn wake_all(_word: &AtomicU32) {}
