//! ringway-bridge: carry the messages of a ringway ring over Zenoh.
//!
//! ```text
//!  host A                                              host B
//!  producer ─▶ ring ─▶ [out] ══ Zenoh key ringway/<ring> ══▶ [in] ─▶ ring ─▶ consumer
//! ```
//!
//! - [`out`] drains a local ring (SPSC or MPMC) and publishes each message
//!   on a Zenoh key, reliably and blocking rather than dropping.
//! - [`inbound`] (the `in` command) subscribes to the key and writes each
//!   message into a local ring, blocking the sender while the ring is full.
//! - [`wire`] is the frame: a 24-byte header with a source id and sequence
//!   number per message, so the receiver ([`seq`]) detects and reports gaps
//!   and drops resent duplicates.
//! - [`acks`] carries `in`'s acknowledgements back, so an SPSC `out`
//!   releases a message only once it is in the remote ring.
//! - [`ring_end`] is the only place that knows the ring kinds.
//! - [`zconf`] opens a Zenoh peer with explicit endpoints and no scouting.
//!
//! The core crates never depend on this one; it is its own Cargo workspace
//! so that building the core does not build Zenoh.

use std::fmt;

pub mod acks;
pub mod inbound;
pub mod out;
pub mod ring_end;
pub mod seq;
pub mod wire;
pub mod zconf;

/// Why a bridge stopped.
#[derive(Debug)]
pub enum Error {
    /// The local ring could not be used (the core crate's message).
    Ring(String),
    /// Zenoh failed.
    Zenoh(String),
}

impl Error {
    /// Wraps a Zenoh error.
    pub fn zenoh(e: impl fmt::Display) -> Error {
        Error::Zenoh(e.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Ring(e) => write!(f, "ring: {e}"),
            Error::Zenoh(e) => write!(f, "zenoh: {e}"),
        }
    }
}

impl std::error::Error for Error {}
