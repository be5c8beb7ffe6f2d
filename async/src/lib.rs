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
//! DESIGN_TABLE
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
