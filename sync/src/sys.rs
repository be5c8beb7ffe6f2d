//! Picks the platform's wait/wake-on-a-shared-word primitive.
//!
//! Every backend offers the same two operations on an `AtomicU32` that may live in
//! a `MAP_SHARED` mapping used by several processes:
//!
//! - `wait(word, expected, deadline) -> Outcome`: if `*word == expected`, sleep
//!   until woken, until `deadline`, or spuriously; otherwise return at once. The
//!   compare and the going to sleep are atomic with respect to `wake_all`.
//! - `wake_all(word)`: wake every thread, in any process, sleeping on `word`.
//!
//! | backend | where | shared between processes by |
//! | --- | --- | --- |
//! | `futex` | Linux | `FUTEX_WAIT_BITSET`/`FUTEX_WAKE` without `FUTEX_PRIVATE_FLAG` |
//! | `macos` | macOS | `__ulock_wait`/`__ulock_wake` with `UL_COMPARE_AND_WAIT_SHARED` |
//! | `fallback` | other targets | polling the word with bounded backoff sleeps (50 µs to 1 ms) |
//! | `loom_futex` | `cfg(loom)` | not shared: a loom `Mutex` + `Condvar` inside the `Event` |
//!
//! Under loom the primitive needs per-`Event` state, so [`crate::Event`] calls the
//! loom backend through its own fields; the protocol code around it is the same.

/// Why a wait returned. Callers re-check their condition either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Woken, the word already differed, interrupted by a signal, or spurious.
    Woken,
    /// The deadline passed.
    TimedOut,
}

#[cfg(all(not(loom), target_os = "linux"))]
pub(crate) use crate::futex::{wait, wake_all};

#[cfg(all(not(loom), target_os = "macos"))]
pub(crate) use crate::macos::{wait, wake_all};

#[cfg(all(not(loom), not(any(target_os = "linux", target_os = "macos"))))]
pub(crate) use crate::fallback::{wait, wake_all};
