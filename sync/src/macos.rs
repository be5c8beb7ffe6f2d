//! macOS backend: `__ulock_wait`/`__ulock_wake` with `UL_COMPARE_AND_WAIT_SHARED`.
//!
//! These are the kernel calls under libc++'s `std::atomic::wait` and
//! `os_unfair_lock`; they are not in a public header, so this module declares
//! them. The `_SHARED` operation keys the wait queue by the mapped object, not by
//! the address space, so a waker in another process finds the sleeper (the
//! process-private `UL_COMPARE_AND_WAIT`, like `WaitOnAddress` on Windows, would
//! not). The timeout is relative, in microseconds, with 0 meaning "forever": a long
//! deadline is clamped and the caller's re-check loop waits again.

use core::ffi::c_void;
use std::time::{Duration, Instant};

use crate::loom::{sleep, AtomicU32};
use crate::stats;
use crate::sys::Outcome;

/// `UL_COMPARE_AND_WAIT_SHARED` from xnu's `sys/ulock.h`: compare a 32-bit word,
/// wait queue keyed across processes.
const UL_COMPARE_AND_WAIT_SHARED: u32 = 3;
/// `ULF_WAKE_ALL`: wake every waiter, not one.
const ULF_WAKE_ALL: u32 = 0x0000_0100;
/// `ULF_NO_ERRNO`: return `-errno` instead of setting `errno`.
const ULF_NO_ERRNO: u32 = 0x0100_0000;

/// How long to pause after an error `__ulock_wait` should never return, so that
/// the caller's re-check loop degrades into polling instead of a hot spin.
const ERROR_PAUSE: Duration = Duration::from_millis(1);

extern "C" {
    /// Sleeps while `*addr == value` (compared as the operation's width), for at
    /// most `timeout_us` microseconds (0: no limit).
    fn __ulock_wait(operation: u32, addr: *mut c_void, value: u64, timeout_us: u32) -> i32;
    /// Wakes one (or with `ULF_WAKE_ALL` every) thread sleeping on `addr`.
    fn __ulock_wake(operation: u32, addr: *mut c_void, wake_value: u64) -> i32;
}

/// Sleeps while `*word == expected`, until woken or `deadline`.
pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> Outcome {
    let timeout_us = match deadline {
        None => 0,
        Some(deadline) => {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Outcome::TimedOut;
            }
            // Round up, so a wait never ends before its deadline, and never pass
            // 0 (which means "forever"); clamp to u32, the caller waits again.
            let us = remaining.as_nanos().div_ceil(1_000).max(1);
            u32::try_from(us).unwrap_or(u32::MAX)
        }
    };

    stats::count_wait();
    // SAFETY: `word.as_ptr()` points to a live, 4-byte-aligned u32 borrowed for the
    // whole call; the kernel only reads it, atomically, as the compare operand.
    let ret = unsafe {
        __ulock_wait(
            UL_COMPARE_AND_WAIT_SHARED | ULF_NO_ERRNO,
            word.as_ptr().cast::<c_void>(),
            u64::from(expected),
            timeout_us,
        )
    };
    if ret >= 0 {
        return Outcome::Woken;
    }
    match -ret {
        libc::ETIMEDOUT => match deadline {
            Some(deadline) if Instant::now() >= deadline => Outcome::TimedOut,
            // The clamped timeout ran out before the deadline: wait again.
            _ => Outcome::Woken,
        },
        libc::EINTR => Outcome::Woken,
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
    loop {
        stats::count_wake();
        // SAFETY: `word.as_ptr()` points to a live, aligned u32 borrowed for the
        // call; `__ulock_wake` uses the address only as the wait-queue key.
        let ret = unsafe {
            __ulock_wake(
                UL_COMPARE_AND_WAIT_SHARED | ULF_WAKE_ALL | ULF_NO_ERRNO,
                word.as_ptr().cast::<c_void>(),
                0,
            )
        };
        // -ENOENT: nobody was waiting. Retry only an interrupted call.
        if ret != -libc::EINTR {
            return;
        }
    }
}
