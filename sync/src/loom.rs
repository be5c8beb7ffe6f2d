//! The concurrency facade: the only module that names atomics, fences, threads,
//! spin hints and locks.
//!
//! Under `cfg(loom)` everything here is loom's model type, so `cargo test` with
//! `RUSTFLAGS="--cfg loom"` checks the real protocol code in [`crate::event`]
//! against every interleaving loom explores. Otherwise these are the `core`/`std`
//! items, and the facade costs nothing. (The pattern is tokio's `loom` module.)

#[cfg(loom)]
pub(crate) use ::loom::{
    hint::spin_loop,
    sync::atomic::{fence, AtomicU32, Ordering},
    sync::{Condvar, Mutex},
    thread::yield_now,
};

#[cfg(not(loom))]
pub(crate) use core::{
    hint::spin_loop,
    sync::atomic::{fence, AtomicU32, Ordering},
};
#[cfg(not(loom))]
pub(crate) use std::thread::yield_now;

/// Sleeping for a fixed time: the polling fallback's wait, and the backends' brief
/// pause after an unexpected error. Loom has no clock, so it exists only outside loom.
#[cfg(not(loom))]
pub(crate) use std::thread::sleep;

/// Atomics that loom must *not* model: the process-global syscall counters in
/// `stats.rs`. They are statistics, never part of a synchronisation protocol
/// (every access is `Relaxed`), and a loom atomic cannot live in a `static`.
pub(crate) mod untracked {
    #[cfg(not(loom))]
    pub(crate) use core::sync::atomic::AtomicU8;
    pub(crate) use core::sync::atomic::{AtomicU64, Ordering};
}

/// Has `deadline` passed?
///
/// Loom has no clock, and a model that branched on the real one would not replay
/// deterministically. Under loom time never passes here; a deadline is modelled
/// only by the timed park, which may always time out (see `crate::loom_futex`).
#[cfg(not(loom))]
#[inline]
pub(crate) fn expired(deadline: std::time::Instant) -> bool {
    std::time::Instant::now() >= deadline
}

/// Has `deadline` passed? Under loom: never (see the non-loom twin).
#[cfg(loom)]
#[inline]
pub(crate) fn expired(_deadline: std::time::Instant) -> bool {
    false
}
