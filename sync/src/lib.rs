//! Wait and wake on a 32-bit word in shared memory, and the eventcount ringway's
//! rings block on.
//!
//! An [`Event`] is 8 bytes that live inside a `MAP_SHARED` mapping (the ring's
//! header); any thread of any process that maps it can [`wait`](Event::wait) on it
//! and [`notify`](Event::notify) it.
//!
//! # Guarantees
//!
//! - **No syscall on the fast path.** `notify` with nobody parked is a fence (a
//!   compiler fence only, in a [`Barrier::Asymmetric`] handshake), a load and a
//!   branch, and with a waiter registered it calls the kernel only if the
//!   waiter announced that it sleeps; a wait whose condition holds, or comes true while it spins,
//!   makes no syscall either. [`stats()`] counts the syscalls that do happen, so tests
//!   and benchmarks can check this.
//! - **No lost wakeups**, by the eventcount protocol documented on [`Event`], checked with
//!   loom (`tests/loom_event.rs`).
//! - **Cross-process.** The wait uses a *shared* futex on Linux (no
//!   `FUTEX_PRIVATE_FLAG`) and `UL_COMPARE_AND_WAIT_SHARED` on macOS; elsewhere a
//!   bounded-backoff poll (at most 1 ms of wake latency).
//! - **No allocation, no locks, no panics** on any path (the `ready` closure
//!   aside); values peers wrote into shared memory are hints, never trusted.
//! - All-zero bytes are a valid `Event`, and its layout is pinned:
//!   `#[repr(C)]`, 8 bytes, 4-byte aligned.
//!
//! # Example
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use ringway_sync::{Event, WaitStrategy};
//!
//! // In a ring, both live in the mapped header; here, on the heap.
//! let shared = Arc::new((Event::new(), AtomicU64::new(0)));
//!
//! let publisher = {
//!     let shared = Arc::clone(&shared);
//!     std::thread::spawn(move || {
//!         shared.1.store(42, Ordering::Release); // publish...
//!         shared.0.notify(); // ...then notify
//!     })
//! };
//!
//! let deadline = Instant::now() + Duration::from_secs(10);
//! let got = shared.0.wait(WaitStrategy::default(), Some(deadline), || {
//!     match shared.1.load(Ordering::Acquire) {
//!         0 => None,
//!         v => Some(v),
//!     }
//! });
//! assert_eq!(got, Ok(42));
//! publisher.join().unwrap();
//! ```
//!
//! # Platforms
//!
//! Linux (futex), macOS (`__ulock_*`), and a polling fallback for everything else.
//! Build with `RUSTFLAGS="--cfg loom"` to run the protocol under the loom model
//! checker; there the futex is emulated with a loom `Mutex` + `Condvar`.

#![deny(unsafe_op_in_unsafe_fn)]

mod barrier;
mod event;
mod loom;
mod stats;
mod sys;

#[cfg(all(not(loom), target_os = "linux"))]
mod futex;

#[cfg(all(not(loom), target_os = "macos"))]
mod macos;

#[cfg(all(not(loom), not(any(target_os = "linux", target_os = "macos"))))]
mod fallback;

#[cfg(loom)]
mod loom_futex;

pub use barrier::{asymmetric, Barrier, BARRIER_ENV, SYMMETRIC_SLICE};
pub use event::{Event, Timeout, WaitStrategy, DEFAULT_SPINS};
pub use stats::{stats, Stats};
