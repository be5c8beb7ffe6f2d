//! Await a ringway ring.
//!
//! - [`Readiness`]: a file descriptor per waiting handle that becomes
//!   readable when the ring may have changed (a consumer waits on the ring's
//!   data event, a producer on its space event), for poll/epoll loops and C.
//! - With the `tokio` feature: `AsyncConsumer` / `AsyncProducer`, whose
//!   `pop().await` / `push(v).await` are cancellation-safe, with futures
//!   `Stream` and `Sink` impls.
//!
//! **Zero syscalls while busy.** A pop that finds a message, or a push that
//! finds a slot, makes no system call and touches no shared word besides the
//! ring's own; the notifier's side is the ring's unchanged `notify`, which
//! makes no syscall while no waiter is registered. Only a handle that finds
//! its ring empty (full) registers as a waiter, exactly as a blocking waiter
//! does (the eventcount's handshake, [`ringway_sync::ExternalWaiter`],
//! loom-checked), and queues one futex wait.
//!
//! # Why io_uring `FUTEX_WAIT`
//!
//! The issue named three ways to give an event loop a pollable fd for a
//! ring; a fourth (the notifier writes an eventfd) is the usual one. Measured
//! with `examples/wake_latency.rs` (two threads ping-ponging over two rings,
//! no spinning, so every round trip is two wake-ups; 20 000 round trips;
//! Linux 6.18 on the shared 2-vCPU development machine at load average ~14,
//! three runs, medians):
//!
//! | waiter | notifier changes? | median round trip | vs blocking futex |
//! |---|---|---:|---:|
//! | blocking `pop` (`WaitStrategy::Park`): futex wait | - | 6.5-6.7 µs | 1.00x |
//! | **io_uring `FUTEX_WAIT`, `poll(2)` on the ring fd** | no | 9.0-9.3 µs | 1.35-1.39x |
//! | helper thread per process in `futex_waitv`, writes an eventfd | no | 21-39 µs (p99 1-4 ms) | 3.2-5.9x |
//! | eventfd written by the notifier | yes: it must know each waiter's fd | 5.4-5.5 µs | 0.81-0.85x |
//! | tokio `AsyncConsumer::pop().await` (io_uring, through epoll) | no | 9.6-9.8 µs | 1.44-1.49x |
//! | tokio `UnixStream`, 8 bytes each way | (a socket) | 14.2-14.3 µs | 2.1-2.2x |
//!
//! Chosen: **io_uring `FUTEX_WAIT`**. The waiter registers in the ring's
//! eventcount exactly as a blocking waiter does and queues a futex wait on the
//! same word; the notifier's existing `FUTEX_WAKE` completes it. So the
//! notify path, the mapped layout and every peer (Rust, C, old builds) stay as
//! they are, a busy ring makes no syscall on either side, and no thread is
//! added. The helper thread costs an extra thread hop on every wake (and its
//! p99 is the scheduler's); the eventfd is the fastest wake but needs every
//! notifier to hold every waiter's fd (a `SCM_RIGHTS` handover at attach, a
//! table in shared memory of whom to signal, a `write` per waiter on the
//! notify slow path), which changes the shared protocol and adds a failure
//! mode per peer, for a gain that matters only when the waiter sleeps anyway.
//! The cost of the choice against a blocking wait is one more syscall per
//! sleep (`io_uring_enter` to queue the wait, next to `poll`/`epoll_wait`):
//! about 1.4x the blocking wake-up here, above the 1.2x the issue hoped for.
//!
//! # Requirements
//!
//! Linux 6.7 or later (io_uring `FUTEX_WAIT`), io_uring not disabled
//! (`kernel.io_uring_disabled`, seccomp). [`Readiness::new`] says so with an
//! error otherwise; the blocking calls of `ringway` keep working everywhere.

mod endpoint;
mod readiness;
#[cfg(feature = "tokio")]
mod tokio;

pub use endpoint::{Receiver, Sender};
pub use readiness::{arm_syscalls, Readiness};
#[cfg(feature = "tokio")]
pub use tokio::{AsyncConsumer, AsyncProducer, Error};
