//! `ringway_record_consumer`: reading a record ring (`RINGWAY_KIND_RECORD`),
//! and `ringway_record`, a record lent to C.
//!
//! | call | what |
//! |---|---|
//! | `_try_pop` / `_pop` / `_pop_timeout` | copy the next record out into a caller's buffer and free it (the safer default) |
//! | `_read` / `_read_timeout` | lend the next record in place (`ringway_record`) |
//! | `_release` | free the record lent by `_read` |
//! | `_heal_dead_producers` | bury the claims of producer processes that died between reserve and commit (the reading calls also do it on their own when they find nothing at the head) |
//!
//! The ring's bytes are shared: a producer of another process can write a
//! lent record's bytes while C reads them (only a faulty or hostile one
//! would), so a record lent by `_read` must be treated as untrusted input
//! that may change under the reader; `_pop` copies it out once, with its
//! length checked. The pending `Record` borrows the heap-allocated Rust
//! handle for `'static`, as in `consumer.rs`; while it is lent every other
//! call but `_release` is refused with `RINGWAY_ERR_STATE`.

use core::ptr::NonNull;

use ringway_core::record::{Consumer, Record};

use crate::boundary::{arg_bytes_mut, arg_mut, arg_out, arg_ref, boundary, call};
use crate::error::{buffer_too_small, no_record_read, record_pending, Error};
use crate::result::ringway_result;
use crate::ring::ringway_ring;
use crate::wait::{deadline_of, Wait};

/// Bytes of the header in front of every record in a record or broadcast
/// ring: the largest record is `capacity - RINGWAY_RECORD_HEADER` bytes.
pub const RINGWAY_RECORD_HEADER: u32 = 16;

const _: () = assert!(RINGWAY_RECORD_HEADER as u64 == ringway_core::record::RECORD_HEADER);

/// A record lent to C: reserved by `ringway_record_producer_reserve` (to
/// fill `len` bytes at `data`, which start zeroed) or lent by
/// `ringway_record_consumer_read` (to read them; do not write). Valid until
/// the matching `_commit` / `_abort` or `_release` (or the handle is
/// freed). `data` is 16-aligned.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ringway_record {
    /// The record's payload, in the ring.
    pub data: *mut u8,
    /// Bytes of the payload.
    pub len: usize,
    /// The record's byte position since the ring was created (a multiple
    /// of 16; increases from record to record).
    pub position: u64,
}

const _: () =
    assert!(core::mem::size_of::<ringway_record>() == 2 * core::mem::size_of::<usize>() + 8);
const _: () =
    assert!(core::mem::offset_of!(ringway_record, position) == 2 * core::mem::size_of::<usize>());

/// The one consumer of a record ring (opaque).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_record_consumer {
    /// Owned (from `Box::leak`); freed in `Drop` after `pending`.
    side: NonNull<Consumer>,
    /// The record lent to C, which mutably borrows `*side`.
    pending: Option<Record<'static>>,
}

impl Drop for ringway_record_consumer {
    fn drop(&mut self) {
        // A record lent and not released stays in the ring, as a chunk of
        // `ringway_consumer` does: forgetting the `Record` skips its release
        // (it owns no memory), and ends its borrow of `*side`.
        if let Some(r) = self.pending.take() {
            core::mem::forget(r);
        }
        // SAFETY: `side` came from `Box::leak` and is freed only here; no
        // record borrows it any more.
        drop(unsafe { Box::from_raw(self.side.as_ptr()) });
    }
}

impl ringway_record_consumer {
    /// The Rust handle, unless a record is lent.
    fn side(&mut self) -> Result<&mut Consumer, Error> {
        if self.pending.is_some() {
            return Err(record_pending("being read"));
        }
        // SAFETY: `side` is owned by `self` and live; no record borrows it
        // (checked above), and the returned borrow is tied to `&mut self`.
        Ok(unsafe { self.side.as_mut() })
    }

    /// The next record, waiting as `wait` says.
    fn next(side: &mut Consumer, wait: Wait) -> Result<Record<'_>, Error> {
        Ok(match wait {
            Wait::No => side.try_read()?,
            Wait::Until(None) => side.read_blocking()?,
            Wait::Until(Some(d)) => side.read_deadline(d)?,
        })
    }

    /// Copies the next record into `buf` and frees it; returns its length.
    fn pop(&mut self, buf: &mut [u8], wait: Wait) -> Result<usize, Error> {
        let r = Self::next(self.side()?, wait)?;
        let n = r.len();
        let Some(dst) = buf.get_mut(..n) else {
            // Leave it in the ring (see `Drop`), to be read with a larger buffer.
            core::mem::forget(r);
            return Err(buffer_too_small(n, buf.len()));
        };
        dst.copy_from_slice(&r);
        r.release();
        Ok(n)
    }

    fn read(&mut self, wait: Wait) -> Result<ringway_record, Error> {
        self.side()?;
        // SAFETY: no record borrows `*side` (checked by `side()` above), and
        // the 'static borrow made here lives only inside `self.pending`,
        // which is ended before `*side` is freed and blocks every other use
        // of `*side` while it exists.
        let side: &'static mut Consumer = unsafe { &mut *self.side.as_ptr() };
        let r = Self::next(side, wait)?;
        let view = ringway_record {
            data: r.as_ptr().cast_mut(),
            len: r.len(),
            position: r.position(),
        };
        self.pending = Some(r);
        Ok(view)
    }
}

/// Takes the consumer role of a record ring; it continues from the ring's
/// consumer cursor.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_WRONG_KIND` (not a record ring), `_ROLE_TAKEN`
/// (another consumer holds the role), `_CORRUPT`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_consumer_create(
    ring: *const ringway_ring,
    out: *mut *mut ringway_record_consumer,
) -> ringway_result {
    call("ringway_record_consumer_create", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        let side = Consumer::attach(ring)?;
        let handle = ringway_record_consumer {
            side: NonNull::from(Box::leak(Box::new(side))),
            pending: None,
        };
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(Box::new(handle))) };
        Ok(())
    })
}

/// Frees a record consumer handle, giving its role back. A record lent by
/// `_read` and not released stays in the ring. `NULL` is a no-op.
///
/// # Safety
/// `consumer` is NULL or a record consumer handle not yet freed; it is not
/// used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_consumer_free(consumer: *mut ringway_record_consumer) {
    boundary("ringway_record_consumer_free", || {
        if !consumer.is_null() {
            // SAFETY: a handle from `ringway_record_consumer_create`, freed once.
            drop(unsafe { Box::from_raw(consumer) });
        }
    })
}

/// Copies the next record into `buf` (`cap` bytes) and frees it, without
/// waiting; writes its length to `*out_len`. A record longer than `cap`
/// stays unread (`RINGWAY_ERR_SIZE`; the message gives its length).
///
/// # Errors
/// `RINGWAY_ERR_EMPTY` (no record: retry later), `_PEER_GONE` (drained,
/// and every producer died; reported once), `_SIZE`, `_NULL`, `_STATE`
/// (a record is lent), `_CORRUPT` (a stamp, length or checksum no honest
/// producer writes).
///
/// # Safety
/// `consumer` is a live record consumer handle not used by another thread
/// during the call; `buf` is writable for `cap` bytes; `out_len` is
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_consumer_try_pop(
    consumer: *mut ringway_record_consumer,
    buf: *mut core::ffi::c_void,
    cap: usize,
    out_len: *mut usize,
) -> ringway_result {
    // SAFETY: forwarded from the caller.
    unsafe {
        pop(
            "ringway_record_consumer_try_pop",
            consumer,
            buf,
            cap,
            out_len,
            Wait::No,
        )
    }
}

/// As `ringway_record_consumer_try_pop`, waiting as long as it takes for a
/// record.
///
/// # Errors
/// `RINGWAY_ERR_PEER_GONE` (drained, and every producer died), `_SIZE`,
/// `_NULL`, `_STATE`, `_CORRUPT`.
///
/// # Safety
/// As `ringway_record_consumer_try_pop`.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_consumer_pop(
    consumer: *mut ringway_record_consumer,
    buf: *mut core::ffi::c_void,
    cap: usize,
    out_len: *mut usize,
) -> ringway_result {
    let wait = Wait::Until(None);
    // SAFETY: forwarded from the caller.
    unsafe {
        pop(
            "ringway_record_consumer_pop",
            consumer,
            buf,
            cap,
            out_len,
            wait,
        )
    }
}

/// As `ringway_record_consumer_try_pop`, waiting at most `timeout_ns`
/// nanoseconds for a record.
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`, `_PEER_GONE`, `_SIZE`, `_NULL`, `_STATE`,
/// `_CORRUPT`.
///
/// # Safety
/// As `ringway_record_consumer_try_pop`.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_consumer_pop_timeout(
    consumer: *mut ringway_record_consumer,
    buf: *mut core::ffi::c_void,
    cap: usize,
    timeout_ns: u64,
    out_len: *mut usize,
) -> ringway_result {
    let wait = Wait::Until(deadline_of(timeout_ns));
    // SAFETY: forwarded from the caller.
    unsafe {
        pop(
            "ringway_record_consumer_pop_timeout",
            consumer,
            buf,
            cap,
            out_len,
            wait,
        )
    }
}

/// The body of the three pops.
///
/// # Safety
/// As `ringway_record_consumer_try_pop`.
unsafe fn pop(
    function: &'static str,
    consumer: *mut ringway_record_consumer,
    buf: *mut core::ffi::c_void,
    cap: usize,
    out_len: *mut usize,
    wait: Wait,
) -> ringway_result {
    call(function, || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        // SAFETY: the caller's promise on `buf`.
        let buf = unsafe { arg_bytes_mut(buf, cap, "buf") }?;
        let out_len = arg_out(out_len, "out_len")?;
        let n = consumer.pop(buf, wait)?;
        // SAFETY: `out_len` is non-null and writable.
        unsafe { out_len.write(n) };
        Ok(())
    })
}

/// Lends the next record in place, without waiting, in `*out`, until
/// `ringway_record_consumer_release`. The bytes are in shared memory: a
/// faulty or hostile producer process could change them while they are
/// read (prefer `_pop`, which copies them out once).
///
/// # Errors
/// `RINGWAY_ERR_EMPTY`, `_PEER_GONE` (drained, and every producer died),
/// `_STATE` (a record is already lent), `_NULL`, `_CORRUPT`.
///
/// # Safety
/// `consumer` is a live record consumer handle not used by another thread
/// during the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_consumer_read(
    consumer: *mut ringway_record_consumer,
    out: *mut ringway_record,
) -> ringway_result {
    call("ringway_record_consumer_read", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        let out = arg_out(out, "out")?;
        let view = consumer.read(Wait::No)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(view) };
        Ok(())
    })
}

/// As `ringway_record_consumer_read`, waiting at most `timeout_ns`
/// nanoseconds for a record.
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`, `_PEER_GONE`, `_STATE`, `_NULL`, `_CORRUPT`.
///
/// # Safety
/// As `ringway_record_consumer_read`.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_consumer_read_timeout(
    consumer: *mut ringway_record_consumer,
    timeout_ns: u64,
    out: *mut ringway_record,
) -> ringway_result {
    call("ringway_record_consumer_read_timeout", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        let out = arg_out(out, "out")?;
        let view = consumer.read(Wait::Until(deadline_of(timeout_ns)))?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(view) };
        Ok(())
    })
}

/// Frees the record lent by `ringway_record_consumer_read` for the
/// producers.
///
/// # Errors
/// `RINGWAY_ERR_STATE` (nothing lent), `_NULL`.
///
/// # Safety
/// `consumer` is a live record consumer handle not used by another thread
/// during the call.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_consumer_release(
    consumer: *mut ringway_record_consumer,
) -> ringway_result {
    call("ringway_record_consumer_release", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        consumer
            .pending
            .take()
            .ok_or_else(no_record_read)?
            .release();
        Ok(())
    })
}

/// Turns the claims in flight of producer processes that no longer exist
/// into tombstones, so that reading goes on past them, and frees their
/// producer-table entries; writes how many claims it buried to `*out`. A
/// record such a producer committed before it died is delivered. Not done
/// automatically: call it when a read times out with producers known dead.
///
/// # Errors
/// `RINGWAY_ERR_STATE` (a record is lent), `_NULL`, `_CORRUPT`.
///
/// # Safety
/// `consumer` is a live record consumer handle not used by another thread
/// during the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_record_consumer_heal_dead_producers(
    consumer: *mut ringway_record_consumer,
    out: *mut u32,
) -> ringway_result {
    call("ringway_record_consumer_heal_dead_producers", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        let out = arg_out(out, "out")?;
        let healed = consumer.side()?.heal_dead_producers()?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(u32::try_from(healed).unwrap_or(u32::MAX)) };
        Ok(())
    })
}
