//! Durable file-backed record rings: [`flush`], a read-only [`scan`], and
//! the [`recover`]y pass to run at open after a crash.
//!
//! ```text
//!   head            durable                 end of valid prefix     tail (claimed)
//!    v                 v                          v                   v
//!    | synced records  | records, maybe on disk   | torn / lost bytes  |
//! ```
//!
//! - [`flush`] finds the end of the committed prefix from `max(durable,
//!   head)`, writes the ring's data back to the file and waits
//!   (`msync(MS_SYNC)`), then stores that end into the header's `durable`
//!   word and syncs the header page after it. Records below `durable` are on
//!   disk when `flush` returns.
//! - [`scan`] walks the records from `head` and reports the longest valid
//!   prefix (stamp for its position, length inside the lap, CRC32C if the
//!   ring has checksums), without writing anything (`ringway verify`).
//! - [`recover`] (exclusive: no other process may use the ring) keeps that
//!   prefix, zeroes every other byte of the ring (so that the zero
//!   invariant of `record` holds again), sets `tail` and `durable` to its
//!   end, drops the claim records of the peer table and syncs, and
//!   reports what it dropped.
//!   Without checksums a record whose header page reached the disk but
//!   whose payload page did not is not detectable: create durable rings
//!   with [`checksums`](crate::RingBuilder::checksums).

use std::io;

use super::frame::{zero, Frame};
use super::{checksum, record_size, DATA, PADDING, TOMBSTONE, TYPE_MASK};
use crate::error::CorruptError;
use crate::layout::{Kind, FLAG_CRC32C, HEADER_SIZE};
use crate::loom::Ordering;
use crate::ring::Ring;

/// What [`scan`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scan {
    /// The consumer's cursor: where the scan started.
    pub head: u64,
    /// The header's durable cursor (clamped to at least `head`).
    pub durable: u64,
    /// The producers' claim cursor as recorded.
    pub tail: u64,
    /// End of the longest valid prefix of records from `head`.
    pub end: u64,
    /// Data records in the prefix.
    pub records: u64,
    /// Whether the prefix reaches `durable` (false: synced data was lost or
    /// damaged, e.g. by the disk).
    pub durable_intact: bool,
}

impl Scan {
    /// Bytes claimed (up to `tail`) beyond the valid prefix: what recovery drops.
    pub fn dropped(&self) -> u64 {
        self.tail.saturating_sub(self.end)
    }
}

fn check_kind(ring: &Ring) -> Result<(), CorruptError> {
    if ring.kind() != Kind::Record {
        return Err(CorruptError {
            what: "not a record ring",
            value: ring.kind() as u64,
        });
    }
    Ok(())
}

/// The size of the valid record at `pos`, and whether it is data; `None`
/// when the bytes there are not a committed record for `pos`.
fn valid_at(ring: &Ring, pos: u64, crc: bool) -> Option<(u64, bool)> {
    let shared = &ring.shared;
    let capacity = ring.capacity();
    let frame = Frame::of(shared, pos);
    // Acquire: pairs with the producers' Release CAS of the stamp.
    let stamp = frame.stamp.load(Ordering::Acquire);
    if stamp & !TYPE_MASK != pos {
        return None;
    }
    let room = capacity - frame.idx as u64;
    match stamp & TYPE_MASK {
        PADDING => Some((room, false)),
        kind @ (DATA | TOMBSTONE) => {
            let len = frame.len();
            let size = record_size(len as usize).filter(|&s| s <= room)?;
            if kind == DATA && crc {
                // SAFETY: the record ends inside the lap (checked above). A
                // producer may still be writing it only if the caller broke
                // the exclusive-use rule of `recover`; `scan` and `flush`
                // read only committed records, which nobody writes.
                let payload = unsafe { frame.payload_slice(len as usize) };
                if checksum(pos, payload) != frame.crc() {
                    return None;
                }
            }
            Some((size, kind == DATA))
        }
        _ => None,
    }
}

/// Walks the valid prefix from `from`, at most up to `limit`.
fn walk(ring: &Ring, from: u64, limit: u64, crc: bool) -> (u64, u64) {
    let (mut pos, mut records) = (from, 0);
    while pos < limit {
        match valid_at(ring, pos, crc) {
            Some((size, data)) if pos + size <= limit => {
                pos += size;
                records += u64::from(data);
            }
            _ => break,
        }
    }
    (pos, records)
}

fn cursors(ring: &Ring) -> Result<(u64, u64, u64), CorruptError> {
    let h = ring.shared.header();
    // Acquire: pairs with the consumer's Release store of head.
    let head = h.head.load(Ordering::Acquire);
    // Relaxed: informational bounds, validated below.
    let tail = h.tail.load(Ordering::Relaxed);
    let durable = h.durable.load(Ordering::Relaxed).max(head);
    if head % 16 != 0 {
        return Err(CorruptError {
            what: "record ring head is not a multiple of 16",
            value: head,
        });
    }
    Ok((head, durable, tail))
}

/// Reports the longest valid prefix of records from `head`, writing nothing.
///
/// # Errors
/// [`CorruptError`] for a ring of another kind or an impossible `head`.
pub fn scan(ring: &Ring) -> Result<Scan, CorruptError> {
    check_kind(ring)?;
    let crc = ring.identity().flags & FLAG_CRC32C != 0;
    let (head, durable, tail) = cursors(ring)?;
    let (end, records) = walk(ring, head, head + ring.capacity(), crc);
    Ok(Scan {
        head,
        durable,
        tail,
        end,
        records,
        durable_intact: end >= durable.min(head + ring.capacity()),
    })
}

/// Makes every record committed so far durable: syncs the ring's data to
/// its file, then records the end of the committed prefix in the header's
/// `durable` word and syncs the header. Returns that position. For a ring
/// that is not a file mapping it only moves `durable`.
///
/// # Errors
/// An `io::Error` from `msync`; `InvalidData` for a ring of another kind.
pub fn flush(ring: &Ring) -> io::Result<u64> {
    check_kind(ring).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let (head, durable, _) =
        cursors(ring).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    // Records below `durable` were committed before; only the checks of the
    // walk (no CRC: committed records are whole in memory) are needed.
    let (end, _) = walk(ring, durable, head + ring.capacity(), false);
    let shared = &ring.shared;
    shared.sync(shared.data_offset(), shared.data_len())?;
    // Relaxed: the sync above is the ordering that matters (the data is on
    // disk before the cursor is written); fetch_max keeps it monotonic
    // between flushers.
    shared.header().durable.fetch_max(end, Ordering::Relaxed);
    shared.sync(0, HEADER_SIZE)?;
    Ok(end)
}

/// Repairs a record ring after a crash: keeps the longest valid prefix of
/// records from `head`, drops everything after it, and syncs. Returns what
/// the scan found (its [`dropped`](Scan::dropped) bytes are gone).
///
/// # Exclusive
/// No other process may use the ring while this runs (call it at start-up,
/// before any producer or consumer attaches): it rewrites `tail` and the
/// bytes past the prefix.
///
/// # Errors
/// `InvalidData` for what [`scan`] refuses; an `io::Error` from `msync`.
pub fn recover(ring: &Ring) -> io::Result<Scan> {
    let found = scan(ring).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let shared = &ring.shared;
    let capacity = ring.capacity();
    // Zero every byte outside [head, end): a lost page may hold anything.
    let mut pos = found.end;
    let stop = found.head + capacity;
    while pos < stop {
        let room = capacity - (pos & (capacity - 1));
        let n = room.min(stop - pos);
        zero(shared, pos, n);
        pos += n;
    }
    let h = shared.header();
    // Relaxed: exclusive use; the sync below orders nothing in memory.
    h.tail.store(found.end, Ordering::Relaxed);
    h.durable.store(found.end, Ordering::Relaxed);
    // Claims and releases recorded by dead holders refer to the bytes we
    // just rewrote: drop them (their entries are reaped as usual).
    for entry in &shared.peers().entries {
        entry.claim_len.store(0, Ordering::Relaxed);
    }
    shared.sync(shared.data_offset(), shared.data_len())?;
    shared.sync(0, HEADER_SIZE)?;
    Ok(found)
}
