//! Request/response between processes over ringway rings.
//!
//! ```text
//!   client A ──┐  request ring "/svc" (MPMC, 256-byte frames)   ┌──────────┐
//!   client B ──┼─────────────────────────────────────────────► │  server  │
//!   client C ──┘                                               └────┬─────┘
//!      ▲   response ring "/svc.c<pid>.<tag>" (SPSC), one per client │
//!      └────────────────────────────────────────────────────────────┘
//! ```
//!
//! | what | who creates | who removes | who writes | who reads |
//! |---|---|---|---|---|
//! | request ring `NAME` (MPMC) | the server ([`Server::create`]) | the server's drop | every client | the server |
//! | response ring `NAME.c<pid>.<tag>` (SPSC) | the client ([`Client::connect`]) | the client's drop; the server, once the client died | the server | that client |
//!
//! **Calls.** A client sends a [`Frame`] with a fresh correlation id (its
//! pid, tag and start time say where to answer) and an absolute
//! `CLOCK_MONOTONIC` deadline; the server answers into that client's ring with
//! the same id. A client has one call in flight; a response whose id is not
//! the current call's is a late answer to a call that timed out and is
//! discarded. Payloads are bytes ([`Client::call_bytes`]) or `Pod` values
//! ([`Client::call`]), at most [`MAX_PAYLOAD`] bytes.
//!
//! **Waiting.** A call spins briefly on its response ring, then arms its
//! readiness fd (`ringway-async`: an io_uring futex wait on the ring's
//! eventcount, so the server's push wakes it and a busy exchange makes no
//! syscall) and `ppoll`s it together with the server's pidfd.
//!
//! **Deaths.** The server's death makes every waiting call return
//! [`RpcError::ServerGone`] as soon as the kernel reports the exit on the
//! pidfd (no timer; `tests/cross_process.rs` checks it is under 100 ms). A
//! client's death: the server skips nothing it has queued, but its answers
//! to a dead client are dropped ([`Delivery::ClientGone`]), and every
//! [`SWEEP_EVERY`] it forgets dead clients and removes their response rings.
//! Requests whose caller's deadline has passed are not served.
//!
//! **Liveness.** [`ProcessWatch`] (a pidfd checked against the process start
//! time) is the small interface this crate needs; the shared peer-liveness
//! registry was not on `main` when this was written, and is the one type
//! to switch when it lands.
//!
//! With the `tokio` feature, `AsyncClient` makes calls and `AsyncServer`
//! takes requests as futures.

mod client;
mod error;
mod frame;
mod liveness;
mod server;
#[cfg(feature = "tokio")]
mod tokio;

pub use client::{Client, RESPONSE_CAPACITY};
pub use error::RpcError;
pub use frame::{Frame, FRAME_TYPE_NAME, MAX_PAYLOAD, STATUS_ERROR, STATUS_OK};
pub use liveness::ProcessWatch;
pub use server::{Delivery, Request, Server, SWEEP_EVERY};
#[cfg(feature = "tokio")]
pub use tokio::{AsyncClient, AsyncServer};
