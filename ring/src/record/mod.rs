//! The record ring: variable-size records in a byte ring, written in place by
//! one or many producers and read in place by one consumer (Agrona's
//! `OneToOneRingBuffer` / `ManyToOneRingBuffer` shape, with a position stamp
//! in every record header).
//!
//! ```text
//!             head (consumer, private + shared)          tail (producers' claim cursor)
//!               v                                          v
//!  bytes:  ... | H payload.. | H payload..... | H (busy) .. | 0 0 0 0 0 0 ... | PAD ...  |
//!              ^ record = 16-byte header + payload, rounded up to 16         ^ padding to the end of the lap
//!
//!  record header (16 bytes, 16-aligned; position p = its byte position since creation)
//!  +0  stamp  u64   0 until committed, then  p | type  (type in the low 4 bits)
//!  +8  len    u32   payload bytes (padding: bytes to the end of the lap - 16)
//!  +12 crc    u32   CRC32C of position, length and payload (rings created
//!                   with `checksums(true)`), else 0
//!  +16 payload, len bytes, then zero up to the next multiple of 16
//! ```
//!
//! `capacity` counts bytes (a power of two, at least [`MIN_CAPACITY`]); a
//! position's byte index is `pos & (capacity - 1)`. Positions only grow, in
//! steps of 16, so every header lies whole inside the ring.
//!
//! | type | value | consumer |
//! |---|---|---|
//! | data | 1 | hands the payload out, then zeroes the record and frees it |
//! | padding | 2 | a record that did not fit before the end of the lap: skips to index 0 |
//! | tombstone | 3 | an aborted or healed claim: zeroes it and skips it |
//!
//! # Protocol
//!
//! 1. **Claim** (any producer): read `tail`; the record needs
//!    `size = round16(16 + len)` bytes. If fewer than `size` bytes are left
//!    before the end of the lap, the claim is the rest of the lap instead and
//!    becomes a padding record, published at once; the record is then
//!    claimed again at index 0. A claim fits when `tail + claim - head <=
//!    capacity` (with `head` read with Acquire); it is taken by one CAS of
//!    `tail`. A record can be as large as the whole ring: padding is its own
//!    claim, so the record waits only for the consumer to drain.
//! 2. **Fill** the payload in place ([`Reservation`]). The bytes are zero:
//!    the consumer zeroed them when it freed the previous lap.
//! 3. **Commit**: write `len`, then CAS the stamp from 0 to `p | DATA` with
//!    Release. **Abort** (or dropping the reservation): the same with
//!    `p | TOMBSTONE`. The CAS (not a store) is the fence against a late
//!    writer whose claim was healed: its commit fails.
//! 4. **Read** (the one consumer): load the stamp at `head` with Acquire; 0 is
//!    "nothing yet", `head | type` is a record, anything else is a
//!    [`CorruptError`](crate::CorruptError). The length is read once, and the
//!    record must end inside the lap; the payload is lent in place
//!    ([`Record`]).
//! 5. **Release**: zero the record's bytes (so the next lap starts from
//!    zero: a stale payload can never look like a committed stamp), then
//!    store `head` with Release and wake sleeping producers.
//!
//! | atomic | who writes | who reads | ordering | partner |
//! |---|---|---|---|---|
//! | record stamp | producer (commit/abort CAS), healer (CAS), consumer (zeroing) | consumer | Release CAS / Acquire load | each other: the payload and `len` are visible once the stamp is |
//! | `head` | consumer | producers | Release store / Acquire load | each other: the consumer's reads and zeroing of freed bytes happen before a producer writes them |
//! | `tail` | producers (CAS) | producers | Relaxed loads | none needed: it only hands out byte ranges; a producer's view of free space comes from `head` |
//! | `tail` CAS, when healing | producers | the consumer healing a dead producer's claim | AcqRel CAS / Acquire load | the claim record stored before the CAS is visible to the healer (`heal.rs`) |
//! | peer entry `claim_*` | the holder (producer: claim; consumer: bytes being freed) | the reaper | see `heal.rs` | |
//! | `data_event`, `space_event` | see `ringway_sync::Event` | | | |
//!
//! # Peers that die
//!
//! Producers and the consumer register in the peer table like every handle
//! (`peer`: an OFD-lock liveness token, an identity that survives pid reuse
//! and pid namespaces, waiter registrations that a reaper undoes). The
//! consumer role is taken over from a dead holder on attach.
//!
//! - A producer that dies between its claim and its commit leaves a stamp of
//!   0 at a position below `tail`. Each producer records its claim in its
//!   peer entry *before* its CAS, so there is no window without a record.
//!   The consumer buries such claims (a tombstone, by CAS of the stamp from
//!   0) when it finds nothing at its head: on the non-blocking calls at
//!   most every `peer::CHECK_INTERVAL`, between the slices of the blocking
//!   ones, or through [`Consumer::heal_dead_producers`]. Only the consumer
//!   buries (see `heal.rs` for why, and for the one case it cannot decide).
//! - A consumer that dies while it frees a record (zeroing it before moving
//!   `head`) would leave a zero stamp at `head` over a record already read;
//!   its entry says which bytes it was freeing, and the reaper finishes the
//!   job. A consumer killed before releasing gets its record again after a
//!   restart (at-least-once).
//! - [`PopError::PeerGone`](crate::PopError::PeerGone): the consumer learns
//!   when every producer is gone, the last one died and the ring is
//!   drained; [`PushError::PeerGone`](crate::PushError::PeerGone): a
//!   producer learns that the consumer died when the ring is full. Each
//!   death is reported once per handle, as in `peer`.

//! # Durable file rings
//!
//! A file-backed record ring is a log that survives restarts: [`flush`]
//! makes what was committed durable, [`recover`] (at start-up) keeps the
//! longest valid prefix after a crash, and [`scan`] reports it without
//! writing (`ringway verify`). See `durable.rs`.
//!
//! A blocked call never waits past its deadline for a dead peer, and
//! learns of the death within `peer::LIVENESS_SLICE` plus a check.
//!
//! ```
//! use ringway::{record, Kind, RingBuilder};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ring = RingBuilder::new(Kind::Record).capacity(4096).create_anonymous()?;
//! let mut tx = record::Producer::attach(&ring)?;
//! let mut rx = record::Consumer::attach(&ring)?;
//! tx.try_push(b"hello")?;
//! let mut r = tx.try_reserve(3)?; // zero-copy: fill in place
//! r.copy_from_slice(b"abc");
//! r.commit()?;
//! assert_eq!(&*rx.try_read()?, b"hello"); // lent in place, freed on drop
//! assert_eq!(rx.try_pop_vec()?, b"abc");
//! # Ok(()) }
//! ```

mod consumer;
mod durable;
mod frame;
pub(crate) mod heal;
mod producer;

pub use consumer::{Consumer, Record};
pub use durable::{flush, recover, scan, Scan};
pub use producer::{Producer, Reservation};

use std::time::{Duration, Instant};

use crate::error::HandleError;
use crate::layout::Kind;
use crate::ring::Ring;

/// Bytes of the header in front of every record's payload.
pub const RECORD_HEADER: u64 = 16;

/// Alignment of every record (and so of every payload).
pub const RECORD_ALIGN: u64 = 16;

/// The slot size a record ring records in its identity: it is a byte ring.
pub const RECORD_SLOT_SIZE: u64 = 1;

/// Smallest capacity of a record ring, in bytes.
pub const MIN_CAPACITY: u64 = 64;

/// Stamp type: a record with a payload.
pub(crate) const DATA: u64 = 1;
/// Stamp type: skip to the end of the lap.
pub(crate) const PADDING: u64 = 2;
/// Stamp type: an aborted or healed claim, skipped.
pub(crate) const TOMBSTONE: u64 = 3;
/// The bits of a stamp that hold the type.
pub(crate) const TYPE_MASK: u64 = RECORD_ALIGN - 1;

/// Bytes a record of `len` payload bytes occupies: header plus payload,
/// rounded up to [`RECORD_ALIGN`]. `None` when that overflows.
pub fn record_size(len: usize) -> Option<u64> {
    (len as u64)
        .checked_add(RECORD_HEADER + RECORD_ALIGN - 1)
        .map(|n| n & !(RECORD_ALIGN - 1))
}

/// Largest payload a record ring of `capacity` bytes carries: one record
/// fills the ring.
pub fn max_record_len(capacity: u64) -> usize {
    usize::try_from(capacity - RECORD_HEADER).unwrap_or(usize::MAX)
}

/// The CRC32C a record at `pos` with `payload` carries in a ring created
/// with [`checksums`](crate::RingBuilder::checksums): over the position and
/// the length (as little-endian u64s), then the payload.
pub fn checksum(pos: u64, payload: &[u8]) -> u32 {
    let mut prefix = [0u8; 16];
    prefix[..8].copy_from_slice(&pos.to_le_bytes());
    prefix[8..].copy_from_slice(&(payload.len() as u64).to_le_bytes());
    crc32c::crc32c_append(crc32c::crc32c(&prefix), payload)
}

pub(crate) fn check_kind(ring: &Ring) -> Result<(), HandleError> {
    match ring.kind() {
        Kind::Record => Ok(()),
        found => Err(HandleError::WrongKind {
            found,
            expected: Kind::Record,
        }),
    }
}

pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

#[cfg(all(test, not(loom)))]
mod tests;
