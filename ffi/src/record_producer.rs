//! `ringway_record_producer`: writing variable-size records into a record
//! ring (`RINGWAY_KIND_RECORD`), from any number of producers.
//!
//! | call | what |
//! |---|---|
//! | `_try_push` / `_push` / `_push_timeout` | copy one record in (never wait / wait / wait at most `timeout_ns`) |
//! | `_reserve` / `_reserve_timeout` | claim room for `len` bytes and lend it to C to fill in place (`ringway_record`) |
//! | `_commit` | publish the reserved record |
//! | `_abort` | give the reservation up: the consumer skips it (a tombstone) |
//!
//! As with `ringway_producer` (see `producer.rs`), the Rust handle lives in
//! its own heap allocation owned through a raw pointer and the pending
//! `Reservation` borrows it for `'static`; while a record is reserved every
//! other call but `_commit` and `_abort` is refused with `RINGWAY_ERR_STATE`
//! (so the borrow is never aliased), and the handle drops the reservation
//! (a tombstone) before the Rust handle it borrows.

use core::ptr::NonNull;
use ringway_core::record::{Producer, Reservation};

use crate::boundary::{arg_bytes, arg_mut, arg_out, arg_ref, boundary, call};
use crate::error::{no_record_reserved, record_pending, record_push, record_push_wait, Error};
use crate::record_consumer::ringway_record;
use crate::result::ringway_result;
use crate::ring::ringway_ring;
use crate::wait::{deadline_of, Wait};

/// A producer of a record ring (opaque). Any number may write one ring, from
/// any processes (up to the ring's 32-entry producer table).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_record_producer {
    /// Owned (from `Box::leak`); freed in `Drop` after `pending`.
    side: NonNull<Producer>,
    /// The record lent to C, which mutably borrows `*side`.
    pending: Option<Reservation<'static>>,
}

impl Drop for ringway_record_producer {
    fn drop(&mut self) {
        // The reservation borrows `*side`: end it first (a tombstone).
        self.pending = None;
        // SAFETY: `side` came from `Box::leak` and is freed only here; no
        // reservation borrows it any more.
        drop(unsafe { Box::from_raw(self.side.as_ptr()) });
    }
}

impl ringway_record_producer {
    /// The Rust handle, unless a record is reserved.
    fn side(&mut self) -> Result<&mut Producer, Error> {
        if self.pending.is_some() {
            return Err(record_pending("reserved"));
        }
        // SAFETY: `side` is owned by `self` and live; no reservation borrows
        // it (checked above), and the returned borrow is tied to `&mut self`.
        Ok(unsafe { self.side.as_mut() })
    }

    fn push(&mut self, record: &[u8], wait: Wait) -> Result<(), Error> {
        let side = self.side()?;
        match wait {
            Wait::No => side.try_push(record).map_err(record_push),
            Wait::Until(None) => side.push_blocking(record).map_err(record_push_wait),
            Wait::Until(Some(d)) => side.push_deadline(record, d).map_err(record_push_wait),
        }
    }

    fn reserve(&mut self, len: usize, wait: Wait) -> Result<ringway_record, Error> {
        self.side()?;
        // SAFETY: no reservation borrows `*side` (checked by `side()` above),
        // and the 'static borrow made here lives only inside `self.pending`,
        // which is dropped before `*side` is freed and blocks every other use
        // of `*side` while it exists.
        let side: &'static mut Producer = unsafe { &mut *self.side.as_ptr() };
        let mut r = match wait {
            Wait::No => side.try_reserve(len).map_err(record_push)?,
            Wait::Until(None) => side.reserve_blocking(len).map_err(record_push_wait)?,
            Wait::Until(Some(d)) => side.reserve_deadline(len, d).map_err(record_push_wait)?,
        };
        let view = ringway_record {
            data: r.as_mut_ptr(),
            len: r.len(),
            position: r.position(),
        };
        self.pending = Some(r);
        Ok(view)
    }

    fn commit(&mut self) -> Result<(), Error> {
        let r = self.pending.take().ok_or_else(no_record_reserved)?;
        Ok(r.commit()?)
    }

    fn abort(&mut self) -> Result<(), Error> {
        self.pending.take().ok_or_else(no_record_reserved)?.abort();
        Ok(())
    }
}

/// Attaches a new producer to a record ring.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_WRONG_KIND` (not a record ring),
/// `_TOO_MANY_PRODUCERS` (the ring's peer table is full: 62 handles).
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_producer_create(
    ring: *const ringway_ring,
    out: *mut *mut ringway_record_producer,
) -> ringway_result {
    call("ringway_record_producer_create", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        let side = Producer::attach(ring)?;
        let handle = ringway_record_producer {
            side: NonNull::from(Box::leak(Box::new(side))),
            pending: None,
        };
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(Box::new(handle))) };
        Ok(())
    })
}

/// Frees a record producer handle. A reserved record that was not committed
/// is aborted (the consumer skips it). `NULL` is a no-op.
///
/// # Safety
/// `producer` is NULL or a record producer handle not yet freed; it is not
/// used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_producer_free(producer: *mut ringway_record_producer) {
    boundary("ringway_record_producer_free", || {
        if !producer.is_null() {
            // SAFETY: a handle from `ringway_record_producer_create`, freed once.
            drop(unsafe { Box::from_raw(producer) });
        }
    })
}

/// Writes `len` bytes at `record` as one record (`len` may be 0), without
/// waiting.
///
/// # Errors
/// `RINGWAY_ERR_FULL` (no room now: retry later), `_PEER_GONE` (full, and
/// the consumer died; reported once), `_SIZE` (longer than
/// `capacity - RINGWAY_RECORD_HEADER`), `_NULL`, `_STATE` (a record is
/// reserved), `_CORRUPT`.
///
/// # Safety
/// `producer` is a live record producer handle not used by another thread
/// during the call; `record` is readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_producer_try_push(
    producer: *mut ringway_record_producer,
    record: *const core::ffi::c_void,
    len: usize,
) -> ringway_result {
    call("ringway_record_producer_try_push", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        // SAFETY: the caller's promise on `record`.
        let record = unsafe { arg_bytes(record, len, "record") }?;
        producer.push(record, Wait::No)
    })
}

/// Writes one record, waiting as long as it takes for room (spinning
/// briefly, then sleeping on the ring's futex; the consumer's release wakes
/// it).
///
/// # Errors
/// `RINGWAY_ERR_PEER_GONE` (the consumer died), `_SIZE`, `_NULL`, `_STATE`, `_CORRUPT`.
///
/// # Safety
/// As `ringway_record_producer_try_push`.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_producer_push(
    producer: *mut ringway_record_producer,
    record: *const core::ffi::c_void,
    len: usize,
) -> ringway_result {
    call("ringway_record_producer_push", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        // SAFETY: the caller's promise on `record`.
        let record = unsafe { arg_bytes(record, len, "record") }?;
        producer.push(record, Wait::Until(None))
    })
}

/// Writes one record, waiting at most `timeout_ns` nanoseconds for room.
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`, `_PEER_GONE`, `_SIZE`, `_NULL`, `_STATE`, `_CORRUPT`.
///
/// # Safety
/// As `ringway_record_producer_try_push`.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_producer_push_timeout(
    producer: *mut ringway_record_producer,
    record: *const core::ffi::c_void,
    len: usize,
    timeout_ns: u64,
) -> ringway_result {
    call("ringway_record_producer_push_timeout", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        // SAFETY: the caller's promise on `record`.
        let record = unsafe { arg_bytes(record, len, "record") }?;
        producer.push(record, Wait::Until(deadline_of(timeout_ns)))
    })
}

/// Claims room for a record of `len` bytes, without waiting, and lends it
/// in `*out` (`out->data`: `len` zeroed bytes to fill in place;
/// `out->position`: the record's byte position). Nothing is visible to the
/// consumer until `ringway_record_producer_commit`; then the bytes are no
/// longer the caller's.
///
/// # Errors
/// `RINGWAY_ERR_FULL`, `_PEER_GONE`, `_SIZE`, `_STATE` (a record is already reserved),
/// `_NULL`, `_CORRUPT`.
///
/// # Safety
/// `producer` is a live record producer handle not used by another thread
/// during the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_producer_reserve(
    producer: *mut ringway_record_producer,
    len: usize,
    out: *mut ringway_record,
) -> ringway_result {
    call("ringway_record_producer_reserve", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        let out = arg_out(out, "out")?;
        let view = producer.reserve(len, Wait::No)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(view) };
        Ok(())
    })
}

/// As `ringway_record_producer_reserve`, waiting at most `timeout_ns`
/// nanoseconds for room.
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`, `_PEER_GONE`, `_SIZE`, `_STATE`, `_NULL`, `_CORRUPT`.
///
/// # Safety
/// As `ringway_record_producer_reserve`.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_producer_reserve_timeout(
    producer: *mut ringway_record_producer,
    len: usize,
    timeout_ns: u64,
    out: *mut ringway_record,
) -> ringway_result {
    call("ringway_record_producer_reserve_timeout", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        let out = arg_out(out, "out")?;
        let view = producer.reserve(len, Wait::Until(deadline_of(timeout_ns)))?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(view) };
        Ok(())
    })
}

/// Publishes the reserved record and ends the reservation.
///
/// # Errors
/// `RINGWAY_ERR_STATE` (nothing reserved), `_CORRUPT` (the consumer took
/// this process for dead and buried the claim: the record is not
/// delivered), `_NULL`.
///
/// # Safety
/// `producer` is a live record producer handle not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_producer_commit(
    producer: *mut ringway_record_producer,
) -> ringway_result {
    call("ringway_record_producer_commit", || {
        // SAFETY: the caller's promise on `producer`.
        unsafe { arg_mut(producer, "producer") }?.commit()
    })
}

/// Gives the reserved record up: it becomes a tombstone the consumer skips.
///
/// # Errors
/// `RINGWAY_ERR_STATE` (nothing reserved), `_NULL`.
///
/// # Safety
/// `producer` is a live record producer handle not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_producer_abort(
    producer: *mut ringway_record_producer,
) -> ringway_result {
    call("ringway_record_producer_abort", || {
        // SAFETY: the caller's promise on `producer`.
        unsafe { arg_mut(producer, "producer") }?.abort()
    })
}
