//! Linux backend: `futex(2)` on a word that may live in a `MAP_SHARED` mapping.
//!
//! The futex operations are used *without* `FUTEX_PRIVATE_FLAG`. A private futex
//! is keyed by (address space, virtual address), so a waker in another process,
//! or at another address of the same mapping, would never find the sleeper. A
//! shared futex is keyed by the mapped object and offset, which every process
//! that maps the ring sees alike. (It also works on private memory, a little more
//! slowly: the kernel then falls back to the address-space key.)
//!
//! Timed waits use `FUTEX_WAIT_BITSET` with `FUTEX_BITSET_MATCH_ANY`, which takes
//! an *absolute* `CLOCK_MONOTONIC` deadline: a wait that is interrupted and
//! retried does not stretch its deadline, and no relative timeout is recomputed
//! in the kernel. `std::time::Instant` is `CLOCK_MONOTONIC` on Linux, but its
//! internals are not public, so the absolute time is `clock_gettime(CLOCK_MONOTONIC)`
//! plus the time that remains until the caller's `Instant`.

use core::ptr;
use std::io;
use std::time::{Duration, Instant};

use crate::loom::{sleep, AtomicU32};
use crate::stats;
use crate::sys::Outcome;

/// How long to pause after an error the futex should never return (a seccomp
/// filter that denies it, a kernel without `FUTEX_WAIT_BITSET`), so that the
/// caller's re-check loop degrades into polling instead of a hot spin.
const ERROR_PAUSE: Duration = Duration::from_millis(1);

/// Sleeps while `*word == expected`, until woken or `deadline`.
///
/// Returns [`Outcome::Woken`] for a wake, a changed word (`EAGAIN`), a signal
/// (`EINTR`) or a spurious return; [`Outcome::TimedOut`] once `deadline` passed.
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> Outcome {
    let abs = match deadline {
        None => None,
        Some(deadline) => {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Outcome::TimedOut;
            }
            // `None` only if the deadline is centuries away: sleep untimed, which
            // is indistinguishable.
            monotonic_now().and_then(|now| add_duration(now, remaining))
        }
    };
    let timeout: *const libc::timespec = abs.as_ref().map_or(ptr::null(), ptr::from_ref);

    stats::count_wait();
    // SAFETY: `word.as_ptr()` points to a live, 4-byte-aligned u32 (AtomicU32 has
    // the size and alignment of u32) that stays borrowed for the whole call; the
    // kernel only reads it, atomically. `timeout` is null or points to `abs`, a
    // valid timespec alive across the call. uaddr2 is unused by FUTEX_WAIT_BITSET.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT_BITSET,
            expected,
            timeout,
            ptr::null::<u32>(),
            libc::FUTEX_BITSET_MATCH_ANY,
        )
    };
    if ret == 0 {
        return Outcome::Woken;
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ETIMEDOUT) => Outcome::TimedOut,
        // EAGAIN: *word != expected when the kernel compared; EINTR: a signal.
        Some(libc::EAGAIN | libc::EINTR) => Outcome::Woken,
        _ => {
            let pause = deadline.map_or(ERROR_PAUSE, |d| {
                ERROR_PAUSE.min(d.saturating_duration_since(Instant::now()))
            });
            sleep(pause);
            Outcome::Woken
        }
    }
}

/// Wakes every thread, in every process, sleeping on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    stats::count_wake();
    // SAFETY: `word.as_ptr()` points to a live, aligned u32 borrowed for the call;
    // FUTEX_WAKE does not dereference it (it is only the key) and ignores the
    // timeout, uaddr2 and val3 arguments.
    let _woken = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            ptr::null::<libc::timespec>(),
            ptr::null::<u32>(),
            0u32,
        )
    };
    // Nothing to do on error: FUTEX_WAKE fails only for a bad address or op.
}

/// `clock_gettime(CLOCK_MONOTONIC)`, or `None` if it fails (it cannot, for this clock).
fn monotonic_now() -> Option<libc::timespec> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `&mut now` is a valid, writable timespec for the duration of the call.
    let ret = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (ret == 0).then_some(now)
}

/// `ts + d`, normalised (`0 <= tv_nsec < 1e9`), or `None` if it overflows `time_t`.
#[allow(
    clippy::useless_conversion,
    reason = "time_t and c_long are i32 on 32-bit targets, i64 here"
)]
fn add_duration(ts: libc::timespec, d: Duration) -> Option<libc::timespec> {
    const NANOS_PER_SEC: i64 = 1_000_000_000;
    let mut sec = i64::from(ts.tv_sec).checked_add(i64::try_from(d.as_secs()).ok()?)?;
    let mut nsec = i64::from(ts.tv_nsec) + i64::from(d.subsec_nanos());
    if nsec >= NANOS_PER_SEC {
        nsec -= NANOS_PER_SEC;
        sec = sec.checked_add(1)?;
    }
    Some(libc::timespec {
        tv_sec: libc::time_t::try_from(sec).ok()?,
        tv_nsec: libc::c_long::try_from(nsec).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(tv_sec: libc::time_t, tv_nsec: libc::c_long) -> libc::timespec {
        libc::timespec { tv_sec, tv_nsec }
    }

    #[allow(
        clippy::useless_conversion,
        reason = "time_t and c_long are i32 on 32-bit targets, i64 here"
    )]
    fn parts(t: libc::timespec) -> (i64, i64) {
        (i64::from(t.tv_sec), i64::from(t.tv_nsec))
    }

    #[test]
    fn add_duration_carries_nanoseconds() {
        let sum = add_duration(ts(5, 999_999_999), Duration::new(1, 1)).map(parts);
        assert_eq!(sum, Some((7, 0)));
        let sum = add_duration(ts(5, 400_000_000), Duration::from_millis(100)).map(parts);
        assert_eq!(sum, Some((5, 500_000_000)));
    }

    #[test]
    fn add_duration_reports_overflow() {
        assert!(add_duration(ts(libc::time_t::MAX, 0), Duration::from_secs(1)).is_none());
        assert!(add_duration(ts(0, 0), Duration::MAX).is_none());
    }

    #[test]
    fn wait_on_a_different_value_returns_at_once() {
        let word = AtomicU32::new(7);
        assert_eq!(wait(&word, 8, None), Outcome::Woken);
    }

    #[test]
    fn wait_times_out_at_the_deadline() {
        let word = AtomicU32::new(7);
        let start = Instant::now();
        let deadline = start + Duration::from_millis(20);
        // Spurious returns are allowed; loop like a real caller.
        while wait(&word, 7, Some(deadline)) == Outcome::Woken {}
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn wait_with_a_past_deadline_does_not_sleep() {
        let word = AtomicU32::new(7);
        assert_eq!(wait(&word, 7, Some(Instant::now())), Outcome::TimedOut);
    }
}
