//! ringway: lock-free shared-memory ring buffers.
//!
//! Processes on one machine exchange fixed-size messages through a ring laid
//! out in a memory-mapped region: a named POSIX shared-memory object, a file,
//! an anonymous mapping shared with threads and `fork`ed children, or memory
//! the caller provides.
//!
//! Guarantees:
//! - **Lock-free**: producers and consumers advance atomic cursors; no mutex
//!   is ever taken, and a stalled peer cannot block the other side beyond
//!   filling (or draining) the ring.
//! - **No system call on the fast path**: pushing and popping touch only the
//!   mapping. A side that waits (the blocking calls) sleeps on a futex in the
//!   mapping, and the other side makes a wake call only when someone sleeps.
//! - **No allocation after open**: handles are created once; pushes, pops and
//!   chunks allocate nothing.
//! - **One copy**: [`write_chunk`](spsc::Producer::write_chunk) hands out the
//!   ring's slots to fill in place and [`read_chunk`](spsc::Consumer::read_chunk)
//!   lends them to read in place.
//! - **Shared memory is untrusted**: a ring's header is copied and validated
//!   once on open ([`OpenError`] says which check failed), every index is
//!   masked, every peer cursor is bounds-checked ([`CorruptError`]), and typed
//!   rings carry only [`bytemuck::Pod`] types, valid for any bit pattern.
//!
//! ```
//! use ringway::{spsc, Kind, RingBuilder};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // An anonymous ring shared by two threads (a named one: `create_shm("/name")`
//! // here and `Ring::open_shm("/name")` in the other process).
//! let ring = RingBuilder::new(Kind::Spsc).capacity(1024).message::<u64>().create_anonymous()?;
//! let mut tx = spsc::Producer::<u64>::attach(&ring)?;
//! let mut rx = spsc::Consumer::<u64>::attach(&ring)?;
//!
//! let sender = std::thread::spawn(move || {
//!     for i in 0..10_000u64 {
//!         while tx.try_push(i).is_err() {
//!             std::hint::spin_loop();
//!         }
//!     }
//! });
//! let mut expected = 0;
//! while expected < 10_000 {
//!     if let Ok(v) = rx.try_pop() {
//!         assert_eq!(v, expected);
//!         expected += 1;
//!     }
//! }
//! sender.join().unwrap();
//! # Ok(()) }
//! ```
//!
//! Modules: [`layout`] (the mapped header), [`region`] (mapping shm, files and
//! anonymous memory), [`spsc`] (the single-producer single-consumer ring),
//! [`mpmc`] (any number of producers and consumers, batch claims).

#![deny(unsafe_op_in_unsafe_fn)]
// Under loom the mapped regions (and the attach path) are compiled but not
// used: models run the protocols over a heap header.
#![cfg_attr(loom, allow(unused_imports, dead_code))]

mod attach;
pub mod broadcast;
mod copy;
mod error;
pub mod handle;
pub mod layout;
mod loom;
pub mod mpmc;
pub mod peer;
mod place;
pub mod probe;
pub mod process;
pub mod record;
pub mod region;
mod ring;
mod sigbus;
pub mod spsc;

pub use attach::TypeFingerprint;
pub use bytemuck;
pub use error::{
    CorruptError, CreateError, HandleError, OpenError, PopError, PopTimeoutError, PushError,
    PushTimeoutError, Role,
};
pub use handle::{
    AnyConsumer, AnyKind, AnyProducer, AnyReceiver, AnySender, Bytes, Flavor, Message,
};
pub use layout::{Geometry, Identity, Kind, LayoutError};
pub use ring::{fingerprint, OpenOptions, Ring, RingBuilder, Snapshot};
pub use ringway_sync::{Barrier, WaitStrategy, BARRIER_ENV, DEFAULT_SPINS};

/// The README's examples compile (and so stay true).
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
