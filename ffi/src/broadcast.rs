//! `ringway_broadcast_producer` and `ringway_broadcast_subscriber`: one
//! producer, any number of subscribers, each with its own cursor
//! (`RINGWAY_KIND_BROADCAST`).
//!
//! | call | what |
//! |---|---|
//! | `ringway_broadcast_producer_try_push` / `_push` / `_push_timeout` | send one record to every subscriber (lossy rings never wait; gated rings wait for the slowest live subscriber) |
//! | `ringway_broadcast_subscriber_create` | subscribe from a `ringway_start` position |
//! | `ringway_broadcast_subscriber_try_pop` / `_pop` / `_pop_timeout` | copy the next record out, with how many were missed just before it (`ringway_received`) |
//! | `ringway_broadcast_subscriber_missed` | records missed to laps since subscribing |
//!
//! A subscriber always copies (a lossy producer may overwrite a record
//! while it is read; the copy is checked after it is made). The copy goes
//! into the handle's own buffer first and then into the caller's: a record
//! longer than the caller's buffer is kept in the handle and delivered by
//! the next pop with a buffer large enough.

use ringway_core::broadcast::{Producer, Received, Start, Subscriber};

use crate::boundary::{arg_bytes, arg_bytes_mut, arg_mut, arg_out, arg_ref, boundary, call};
use crate::error::{buffer_too_small, record_push, record_push_wait, Error};
use crate::result::ringway_result;
use crate::ring::ringway_ring;
use crate::wait::{deadline_of, Wait};

/// Where a new subscriber starts (`ringway_broadcast_subscriber_create`).
#[allow(non_camel_case_types)]
pub type ringway_start = u32;

/// At the oldest record still in the ring.
pub const RINGWAY_START_OLDEST: ringway_start = 0;
/// With the newest record already written (as `RINGWAY_START_BACK` with 1).
pub const RINGWAY_START_NEWEST: ringway_start = 1;
/// With the last `back` records already written (fewer if the ring holds
/// fewer).
pub const RINGWAY_START_BACK: ringway_start = 2;
/// With the next record written after subscribing.
pub const RINGWAY_START_NEXT: ringway_start = 3;

/// What a subscriber's pop received.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ringway_received {
    /// Bytes of the record (now in the caller's buffer).
    pub len: usize,
    /// Records this subscriber missed just before this one because the
    /// producer lapped it (lossy rings; always 0 on gated rings).
    pub missed: u64,
    /// The producer's sequence number of the record (its low 32 bits).
    pub seq: u32,
    /// Always 0.
    pub reserved: u32,
}

const _: () = assert!(core::mem::size_of::<ringway_received>() == 24);
const _: () = assert!(core::mem::align_of::<ringway_received>() == 8);
const _: () = assert!(core::mem::offset_of!(ringway_received, seq) == 16);

/// The producer of a broadcast ring (opaque; one at a time).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_broadcast_producer {
    side: Producer,
}

/// A subscriber of a broadcast ring (opaque; up to 32 at a time).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_broadcast_subscriber {
    side: Subscriber,
    /// Where each record is copied first.
    buf: Vec<u8>,
    /// A record received into `buf` that did not fit the caller's buffer.
    kept: Option<Received>,
}

impl ringway_broadcast_subscriber {
    fn pop(&mut self, out: &mut [u8], wait: Wait) -> Result<ringway_received, Error> {
        let got = match self.kept.take() {
            Some(got) => got,
            None => match wait {
                Wait::No => self.side.try_pop_into(&mut self.buf)?,
                Wait::Until(None) => self.side.pop_blocking_into(&mut self.buf)?,
                Wait::Until(Some(d)) => self.side.pop_deadline_into(&mut self.buf, d)?,
            },
        };
        let Some(dst) = out.get_mut(..got.len) else {
            self.kept = Some(got);
            return Err(buffer_too_small(got.len, out.len()));
        };
        dst.copy_from_slice(&self.buf[..got.len]);
        Ok(ringway_received {
            len: got.len,
            missed: got.missed,
            seq: got.seq,
            reserved: 0,
        })
    }
}

fn start_of(start: ringway_start, back: u64) -> Result<Start, Error> {
    Ok(match start {
        RINGWAY_START_OLDEST => Start::Oldest,
        RINGWAY_START_NEWEST => Start::Newest,
        RINGWAY_START_BACK => Start::Back(usize::try_from(back).unwrap_or(usize::MAX)),
        RINGWAY_START_NEXT => Start::Next,
        other => {
            return Err(Error::invalid(format!(
            "start {other} is none of RINGWAY_START_OLDEST (0), _NEWEST (1), _BACK (2), _NEXT (3)"
        )))
        }
    })
}

/// Takes the producer role of a broadcast ring. It continues after the
/// last record written; a record a dead producer left half-written is
/// skipped.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_WRONG_KIND` (not a broadcast ring), `_ROLE_TAKEN`
/// (another producer holds the role), `_CORRUPT`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_producer_create(
    ring: *const ringway_ring,
    out: *mut *mut ringway_broadcast_producer,
) -> ringway_result {
    call("ringway_broadcast_producer_create", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        let side = Producer::attach(ring)?;
        let handle = Box::new(ringway_broadcast_producer { side });
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(handle)) };
        Ok(())
    })
}

/// Frees a broadcast producer handle, giving its role back. `NULL` is a
/// no-op.
///
/// # Safety
/// `producer` is NULL or a broadcast producer handle not yet freed; it is
/// not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_producer_free(
    producer: *mut ringway_broadcast_producer,
) {
    boundary("ringway_broadcast_producer_free", || {
        if !producer.is_null() {
            // SAFETY: a handle from `ringway_broadcast_producer_create`, freed once.
            drop(unsafe { Box::from_raw(producer) });
        }
    })
}

/// The body of the three pushes.
///
/// # Safety
/// As `ringway_broadcast_producer_try_push`.
unsafe fn push(
    function: &'static str,
    producer: *mut ringway_broadcast_producer,
    record: *const core::ffi::c_void,
    len: usize,
    wait: Wait,
) -> ringway_result {
    call(function, || {
        // SAFETY: the caller's promise on `producer`.
        let side = &mut unsafe { arg_mut(producer, "producer") }?.side;
        // SAFETY: the caller's promise on `record`.
        let record = unsafe { arg_bytes(record, len, "record") }?;
        match wait {
            Wait::No => side.try_push(record).map_err(record_push),
            Wait::Until(None) => side.push_blocking(record).map_err(record_push_wait),
            Wait::Until(Some(d)) => side.push_deadline(record, d).map_err(record_push_wait),
        }
    })
}

/// Sends `len` bytes at `record` to every subscriber as one record, without
/// waiting. A lossy ring never refuses for lack of room (it laps slow
/// subscribers); a gated ring does while the slowest live subscriber has
/// not read far enough.
///
/// # Errors
/// `RINGWAY_ERR_FULL` (gated), `_SIZE` (longer than `capacity -
/// RINGWAY_RECORD_HEADER`), `_NULL`, `_CORRUPT`.
///
/// # Safety
/// `producer` is a live broadcast producer handle not used by another
/// thread during the call; `record` is readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_producer_try_push(
    producer: *mut ringway_broadcast_producer,
    record: *const core::ffi::c_void,
    len: usize,
) -> ringway_result {
    let f = "ringway_broadcast_producer_try_push";
    // SAFETY: forwarded from the caller.
    unsafe { push(f, producer, record, len, Wait::No) }
}

/// As `ringway_broadcast_producer_try_push`, waiting (gated rings) as long
/// as it takes; a dead subscriber is evicted within about 20 ms.
///
/// # Errors
/// `RINGWAY_ERR_SIZE`, `_NULL`, `_CORRUPT`.
///
/// # Safety
/// As `ringway_broadcast_producer_try_push`.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_producer_push(
    producer: *mut ringway_broadcast_producer,
    record: *const core::ffi::c_void,
    len: usize,
) -> ringway_result {
    let f = "ringway_broadcast_producer_push";
    // SAFETY: forwarded from the caller.
    unsafe { push(f, producer, record, len, Wait::Until(None)) }
}

/// As `ringway_broadcast_producer_try_push`, waiting (gated rings) at most
/// `timeout_ns` nanoseconds for room.
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`, `_SIZE`, `_NULL`, `_CORRUPT`.
///
/// # Safety
/// As `ringway_broadcast_producer_try_push`.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_producer_push_timeout(
    producer: *mut ringway_broadcast_producer,
    record: *const core::ffi::c_void,
    len: usize,
    timeout_ns: u64,
) -> ringway_result {
    let f = "ringway_broadcast_producer_push_timeout";
    let wait = Wait::Until(deadline_of(timeout_ns));
    // SAFETY: forwarded from the caller.
    unsafe { push(f, producer, record, len, wait) }
}

/// Subscribes to a broadcast ring, starting at `start` (`back`: how many
/// records back for `RINGWAY_START_BACK`, ignored otherwise). On a gated
/// ring the producer waits for this subscriber from now on.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_INVALID_ARGUMENT` (unknown `start`), `_WRONG_KIND`
/// (not a broadcast ring), `_TOO_MANY_PRODUCERS` (the ring's peer table is
/// full: 62 handles), `_CORRUPT`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_subscriber_create(
    ring: *const ringway_ring,
    start: ringway_start,
    back: u64,
    out: *mut *mut ringway_broadcast_subscriber,
) -> ringway_result {
    call("ringway_broadcast_subscriber_create", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        let side = Subscriber::attach(ring, start_of(start, back)?)?;
        let handle = Box::new(ringway_broadcast_subscriber {
            side,
            buf: Vec::new(),
            kept: None,
        });
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(handle)) };
        Ok(())
    })
}

/// Frees a subscriber handle (a gated producer stops waiting for it).
/// `NULL` is a no-op.
///
/// # Safety
/// `subscriber` is NULL or a subscriber handle not yet freed; it is not
/// used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_subscriber_free(
    subscriber: *mut ringway_broadcast_subscriber,
) {
    boundary("ringway_broadcast_subscriber_free", || {
        if !subscriber.is_null() {
            // SAFETY: a handle from `ringway_broadcast_subscriber_create`, freed once.
            drop(unsafe { Box::from_raw(subscriber) });
        }
    })
}

/// The body of the three pops.
///
/// # Safety
/// As `ringway_broadcast_subscriber_try_pop`.
unsafe fn pop(
    function: &'static str,
    subscriber: *mut ringway_broadcast_subscriber,
    buf: *mut core::ffi::c_void,
    cap: usize,
    out: *mut ringway_received,
    wait: Wait,
) -> ringway_result {
    call(function, || {
        // SAFETY: the caller's promise on `subscriber`.
        let subscriber = unsafe { arg_mut(subscriber, "subscriber") }?;
        // SAFETY: the caller's promise on `buf`.
        let buf = unsafe { arg_bytes_mut(buf, cap, "buf") }?;
        let out = arg_out(out, "out")?;
        let got = subscriber.pop(buf, wait)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(got) };
        Ok(())
    })
}

/// Copies the next record into `buf` (`cap` bytes), without waiting, and
/// describes it in `*out` (its length, and how many records were missed
/// just before it). A record longer than `cap` is kept for the next pop
/// (`RINGWAY_ERR_SIZE`; the message gives its length). A record is never
/// torn: one the producer overwrote while it was copied is dropped and
/// counted as missed.
///
/// # Errors
/// `RINGWAY_ERR_EMPTY` (no new record), `_PEER_GONE` (no new record, and
/// the producer died; reported once), `_SIZE`, `_NULL`, `_CORRUPT`.
///
/// # Safety
/// `subscriber` is a live subscriber handle not used by another thread
/// during the call; `buf` is writable for `cap` bytes; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_subscriber_try_pop(
    subscriber: *mut ringway_broadcast_subscriber,
    buf: *mut core::ffi::c_void,
    cap: usize,
    out: *mut ringway_received,
) -> ringway_result {
    let f = "ringway_broadcast_subscriber_try_pop";
    // SAFETY: forwarded from the caller.
    unsafe { pop(f, subscriber, buf, cap, out, Wait::No) }
}

/// As `ringway_broadcast_subscriber_try_pop`, waiting as long as it takes.
///
/// # Errors
/// `RINGWAY_ERR_PEER_GONE` (the producer died), `_SIZE`, `_NULL`, `_CORRUPT`.
///
/// # Safety
/// As `ringway_broadcast_subscriber_try_pop`.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_subscriber_pop(
    subscriber: *mut ringway_broadcast_subscriber,
    buf: *mut core::ffi::c_void,
    cap: usize,
    out: *mut ringway_received,
) -> ringway_result {
    let f = "ringway_broadcast_subscriber_pop";
    // SAFETY: forwarded from the caller.
    unsafe { pop(f, subscriber, buf, cap, out, Wait::Until(None)) }
}

/// As `ringway_broadcast_subscriber_try_pop`, waiting at most `timeout_ns`
/// nanoseconds for a record.
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`, `_PEER_GONE`, `_SIZE`, `_NULL`, `_CORRUPT`.
///
/// # Safety
/// As `ringway_broadcast_subscriber_try_pop`.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_subscriber_pop_timeout(
    subscriber: *mut ringway_broadcast_subscriber,
    buf: *mut core::ffi::c_void,
    cap: usize,
    timeout_ns: u64,
    out: *mut ringway_received,
) -> ringway_result {
    let f = "ringway_broadcast_subscriber_pop_timeout";
    let wait = Wait::Until(deadline_of(timeout_ns));
    // SAFETY: forwarded from the caller.
    unsafe { pop(f, subscriber, buf, cap, out, wait) }
}

/// Writes to `*out` how many records this subscriber has missed to laps
/// since it subscribed (the sum of every `ringway_received.missed`).
///
/// # Errors
/// `RINGWAY_ERR_NULL`.
///
/// # Safety
/// `subscriber` is a live subscriber handle not used by another thread
/// during the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_broadcast_subscriber_missed(
    subscriber: *mut ringway_broadcast_subscriber,
    out: *mut u64,
) -> ringway_result {
    call("ringway_broadcast_subscriber_missed", || {
        // SAFETY: the caller's promise on `subscriber`.
        let subscriber = unsafe { arg_mut(subscriber, "subscriber") }?;
        let out = arg_out(out, "out")?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(subscriber.side.missed()) };
        Ok(())
    })
}
