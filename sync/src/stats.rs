//! Process-global counters of the syscalls this crate makes to sleep and to wake.
//!
//! They are bumped only on the slow paths, right before the syscall, with a
//! `Relaxed` `fetch_add`: the fast paths ([`Event::notify`](crate::Event::notify)
//! with nobody registered, a spin that finds its condition) never touch them. Tests
//! and benchmarks read them to prove claims such as "no wake syscall while nobody
//! sleeps".

use crate::loom::untracked::{AtomicU64, Ordering};

/// Wait syscalls (futex wait, `__ulock_wait`, or one sleep of the fallback).
static WAIT_SYSCALLS: AtomicU64 = AtomicU64::new(0);
/// Wake syscalls (futex wake, `__ulock_wake`).
static WAKE_SYSCALLS: AtomicU64 = AtomicU64::new(0);
static BARRIER_SYSCALLS: AtomicU64 = AtomicU64::new(0);

/// A snapshot of this process's syscall counters, as returned by [`stats`].
///
/// The counters are per process (a forked child starts from its parent's values)
/// and count every thread. Subtract two snapshots, or use [`Stats::since`], to
/// measure a stretch of code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Syscalls made to sleep: `FUTEX_WAIT_BITSET` on Linux, `__ulock_wait` on
    /// macOS, one bounded sleep of the polling fallback elsewhere. Each `EINTR`
    /// or spurious return that leads to another sleep counts again.
    pub wait_syscalls: u64,
    /// Syscalls made to wake sleepers: `FUTEX_WAKE` on Linux, `__ulock_wake` on
    /// macOS. Always 0 on the polling fallback, which has nothing to wake.
    pub wake_syscalls: u64,
    /// `membarrier` calls a waiter made before sleeping (asymmetric mode,
    /// see [`asymmetric`](crate::asymmetric)); never made by a notifier.
    pub barrier_syscalls: u64,
}

impl Stats {
    /// The counts accumulated between `earlier` and `self` (saturating at 0).
    #[must_use]
    pub fn since(self, earlier: Stats) -> Stats {
        Stats {
            wait_syscalls: self.wait_syscalls.saturating_sub(earlier.wait_syscalls),
            wake_syscalls: self.wake_syscalls.saturating_sub(earlier.wake_syscalls),
            barrier_syscalls: self
                .barrier_syscalls
                .saturating_sub(earlier.barrier_syscalls),
        }
    }
}

/// Reads this process's syscall counters.
///
/// The two fields are read separately (`Relaxed`), so a snapshot taken while other
/// threads wait or wake is not an atomic pair; it is exact when they are quiet.
#[must_use]
pub fn stats() -> Stats {
    Stats {
        // Relaxed: a statistic; no data is published through it.
        wait_syscalls: WAIT_SYSCALLS.load(Ordering::Relaxed),
        // Relaxed: as above.
        wake_syscalls: WAKE_SYSCALLS.load(Ordering::Relaxed),
        // Relaxed: as above.
        barrier_syscalls: BARRIER_SYSCALLS.load(Ordering::Relaxed),
    }
}

/// Counts one wait syscall. Call right before making it.
#[inline]
pub(crate) fn count_wait() {
    // Relaxed: a statistic; no data is published through it.
    WAIT_SYSCALLS.fetch_add(1, Ordering::Relaxed);
}

/// Counts one wake syscall. Call right before making it. (The polling fallback
/// has no wake syscall, hence the `cfg`.)
#[cfg(any(loom, target_os = "linux", target_os = "macos"))]
#[inline]
pub(crate) fn count_wake() {
    // Relaxed: a statistic; no data is published through it.
    WAKE_SYSCALLS.fetch_add(1, Ordering::Relaxed);
}

#[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
#[inline]
pub(crate) fn count_barrier() {
    // Relaxed: a statistic; no data is published through it.
    BARRIER_SYSCALLS.fetch_add(1, Ordering::Relaxed);
}
