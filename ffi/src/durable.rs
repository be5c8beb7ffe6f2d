//! Durable file-backed record rings: `ringway_ring_flush`, the read-only
//! `ringway_ring_scan` and `ringway_ring_recover` (after a crash, before
//! anyone attaches), with their result `ringway_scan`.
//!
//! ```text
//!   head            durable                 end of valid prefix     tail (claimed)
//!    v                 v                          v                   v
//!    | synced records  | records, maybe on disk   | torn / lost bytes  |
//! ```

use ringway_core::{record, Kind, Ring};

use crate::boundary::{arg_out, arg_ref, call};
use crate::error::{durable_error, wrong_kind, Error};
use crate::result::ringway_result;
use crate::ring::ringway_ring;

/// What `ringway_ring_scan` or `ringway_ring_recover` found: positions are
/// bytes since the ring was created.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ringway_scan {
    /// The consumer's cursor: where the scan started.
    pub head: u64,
    /// The durable cursor (records below it were flushed), at least `head`.
    pub durable: u64,
    /// The producers' claim cursor as recorded.
    pub tail: u64,
    /// End of the longest valid prefix of records from `head`.
    pub end: u64,
    /// Data records in that prefix.
    pub records: u64,
    /// Bytes claimed beyond the prefix (`tail - end`, or 0): what recovery
    /// drops.
    pub dropped: u64,
    /// 1 when the prefix reaches `durable`; 0 when flushed data was lost or
    /// damaged (by the disk, say).
    pub durable_intact: u32,
    /// Always 0.
    pub reserved: u32,
}

const _: () = assert!(core::mem::size_of::<ringway_scan>() == 56);
const _: () = assert!(core::mem::align_of::<ringway_scan>() == 8);
const _: () = assert!(core::mem::offset_of!(ringway_scan, durable_intact) == 48);

impl From<record::Scan> for ringway_scan {
    fn from(s: record::Scan) -> ringway_scan {
        ringway_scan {
            head: s.head,
            durable: s.durable,
            tail: s.tail,
            end: s.end,
            records: s.records,
            dropped: s.dropped(),
            durable_intact: u32::from(s.durable_intact),
            reserved: 0,
        }
    }
}

fn record_ring(ring: &Ring) -> Result<&Ring, Error> {
    match ring.kind() {
        Kind::Record => Ok(ring),
        found => Err(wrong_kind(found, Kind::Record)),
    }
}

/// Makes every record committed so far durable: syncs the ring's data to
/// its file (`msync(MS_SYNC)`), then stores the end of the committed prefix
/// in the header's durable cursor and syncs the header; writes that
/// position to `*out`. On a ring that is not a file it only moves the
/// cursor. May run while producers and the consumer work.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_WRONG_KIND` (not a record ring), `_IO` (`msync`),
/// `_CORRUPT`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_flush(
    ring: *const ringway_ring,
    out: *mut u64,
) -> ringway_result {
    call("ringway_ring_flush", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = record_ring(&unsafe { arg_ref(ring, "ring") }?.ring)?;
        let out = arg_out(out, "out")?;
        let end = record::flush(ring).map_err(durable_error)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(end) };
        Ok(())
    })
}

/// Reports in `*out` the longest valid prefix of records from the
/// consumer's cursor (stamps, lengths, and checksums on rings created with
/// `RINGWAY_CREATE_CHECKSUMS`), writing nothing to the ring.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_WRONG_KIND`, `_CORRUPT` (an impossible cursor).
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_scan(
    ring: *const ringway_ring,
    out: *mut ringway_scan,
) -> ringway_result {
    call("ringway_ring_scan", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = record_ring(&unsafe { arg_ref(ring, "ring") }?.ring)?;
        let out = arg_out(out, "out")?;
        let found = record::scan(ring)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(found.into()) };
        Ok(())
    })
}

/// Repairs a record ring after a crash: keeps the longest valid prefix of
/// records from the consumer's cursor, drops everything after it, syncs,
/// and reports in `*out` what it found (`out->dropped` bytes are gone).
/// Exclusive: call it at start-up, before any producer or consumer of any
/// process attaches (it rewrites the producers' cursor and the bytes past
/// the prefix).
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_WRONG_KIND`, `_CORRUPT`, `_IO` (`msync`).
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_recover(
    ring: *const ringway_ring,
    out: *mut ringway_scan,
) -> ringway_result {
    call("ringway_ring_recover", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = record_ring(&unsafe { arg_ref(ring, "ring") }?.ring)?;
        let out = arg_out(out, "out")?;
        let found = record::recover(ring).map_err(durable_error)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(found.into()) };
        Ok(())
    })
}
