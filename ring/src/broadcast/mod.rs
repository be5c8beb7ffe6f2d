//! The broadcast ring: one producer, any number of subscribers (each holds
//! an entry of the peer table, 62 handles in all), each with its own cursor; every subscriber sees
//! every record (Agrona's `BroadcastTransmitter`/`BroadcastReceiver`
//! shape). Two modes, chosen at creation ([`RingBuilder::gated`](crate::RingBuilder::gated)):
//!
//! - **lossy** (default): the producer never waits. A subscriber that was
//!   lapped notices it, counts the records it missed, and resumes at the
//!   oldest record still intact. It copies every record out and re-checks
//!   after the copy that the producer had not started overwriting it
//!   (seqlock-style), so it never returns a torn record.
//! - **gated**: the producer waits for the slowest live subscriber; a
//!   subscriber whose process has died is evicted (its peer entry reaped)
//!   within about 20 ms of waiting on it; one that drops its handle stops
//!   gating at once (its cursor goes to `u64::MAX`) and wakes the producer.
//!
//! ```text
//!  bytes (a byte ring like `record`, records 16-aligned, padding at the wrap):
//!    ... | H payload.. | H payload..... | PAD | H payload ... |
//!          ^ oldest (header `head`)              ^ tail (announced by the producer before it writes)
//!
//!  record header (16 bytes), then the payload, all accessed as atomic u64 words:
//!  +0  stamp  u64   p | type (1 data, 2 padding, 3 tombstone); p = the record's position
//!  +8  meta   u64   len (low 32 bits) | seq (high 32 bits: the producer's record count)
//! ```
//!
//! # Protocol
//!
//! Producer, for a record of `size` bytes at `tail` (padding first if it
//! does not fit before the end of the lap):
//! 1. gated only: wait until every live subscriber's cursor is at least
//!    `tail + size - capacity`;
//! 2. move `oldest` past every record the new bytes overwrite (reading its
//!    own earlier headers) and store it (Relaxed);
//! 3. **announce**: store `tail + size` into `tail` (Release), then
//!    `fence(Release)`;
//! 4. write the payload words and the meta word (Relaxed), then the stamp
//!    `p | DATA` (Release), and wake sleeping subscribers.
//!
//! Padding (and the tombstone a new producer writes over a dead one's
//! unfinished record) is stamped the same way and **wakes sleeping
//! subscribers too**: a parked subscriber's condition is "a stamp at my
//! position", and in gated mode the producer, right after padding, may
//! wait for that subscriber to step over it (the next record overwrites
//! the padding's bytes). A padding that did not notify left the two
//! waiting on each other (loom model `gated_padding_wakes_subscriber`).
//!
//! Subscriber at position `p`:
//! 1. load the stamp at `p` (Acquire); if it is `p | type`, read the meta
//!    word and copy the payload words out (Relaxed);
//! 2. **check**: `fence(Acquire)`, then load `tail` (Acquire). If
//!    `tail > p + capacity`, the producer has announced bytes that overlap
//!    the record: what was copied may be torn. Drop it, load `oldest`
//!    (which the producer stored before that announcement) and resume
//!    there; the next record's `seq` says how many were missed.
//! 3. otherwise the copy is whole: deliver it, move the cursor on and
//!    publish it in the subscriber's table entry (Release).
//!
//! Why the check is enough: if any word the subscriber copied was written
//! by the producer's writes after an announcement A, the producer's
//! `fence(Release)` and the subscriber's `fence(Acquire)` synchronise, so
//! the subscriber's `tail` load sees A or later, and A overlaps the record.
//!
//! | atomic | who writes | who reads | ordering | partner |
//! |---|---|---|---|---|
//! | record stamp | producer | subscribers | Release store / Acquire load | each other: the meta and payload words written before are visible |
//! | payload and meta words | producer | subscribers | Relaxed, inside the seqlock | the fence pair below |
//! | `tail` (announced end) | producer | subscribers | Release store + `fence(Release)` / `fence(Acquire)` + Acquire load | the lap check: see above |
//! | `head` (oldest intact record) | producer | subscribers on a lap, joiners | Relaxed store, ordered by the Release of `tail` / Acquire load | `tail` |
//! | peer entry `claim_pos` (a subscriber's cursor) | the subscriber | the gated producer | Release store / Acquire load | each other: the subscriber's copies happen before the producer overwrites |
//! | `data_event` / `space_event` | see `ringway_sync::Event` | | | |
//!
//! # Peers that die
//!
//! The producer and the subscribers register in the peer table (`peer`:
//! OFD-lock liveness, an identity that survives pid reuse and pid
//! namespaces, waiter registrations a reaper undoes).
//! - A dead producer's role is taken over by the next producer to attach,
//!   which buries a record the dead one announced but never stamped.
//! - A subscriber learns that the producer died
//!   ([`PopError::PeerGone`](crate::PopError::PeerGone), once, after what
//!   it wrote was read), within `peer::LIVENESS_SLICE` plus a check when
//!   parked.
//! - A gated producer that waits on a lagging subscriber checks the
//!   lagging subscribers' liveness every 20 ms and reaps the dead ones,
//!   which then no longer gate it. Subscribers are not the producer's
//!   peers in the `PeerGone` sense: it is never told they are gone.
//!
//! A record may be as large as the ring less one header. In lossy mode a
//! record larger than half the ring is likely to be lapped while a slow
//! subscriber copies it; that subscriber then misses it.
//!
//! ```
//! use ringway::{broadcast, Kind, RingBuilder};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ring = RingBuilder::new(Kind::Broadcast).capacity(4096).create_anonymous()?;
//! let mut tx = broadcast::Producer::attach(&ring)?;
//! let mut a = broadcast::Subscriber::attach(&ring, broadcast::Start::Next)?;
//! let mut b = broadcast::Subscriber::attach(&ring, broadcast::Start::Next)?;
//! tx.try_push(b"to everyone")?;
//! let mut buf = Vec::new();
//! a.try_pop_into(&mut buf)?;
//! assert_eq!(buf, b"to everyone");
//! b.try_pop_into(&mut buf)?;
//! assert_eq!(buf, b"to everyone");
//! # Ok(()) }
//! ```

mod producer;
mod subscriber;
mod words;

pub use producer::Producer;
pub use subscriber::{Received, Start, Subscriber};

use crate::error::HandleError;
use crate::layout::Kind;
use crate::ring::Ring;

pub(crate) fn check_kind(ring: &Ring) -> Result<(), HandleError> {
    match ring.kind() {
        Kind::Broadcast => Ok(()),
        found => Err(HandleError::WrongKind {
            found,
            expected: Kind::Broadcast,
        }),
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
