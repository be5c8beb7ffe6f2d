//! `ringway_consumer`: the popping side of a ring, for either kind.
//!
//! A consumer handle may move between threads but is used by one thread at a
//! time. Zero-copy reads (`ringway_consumer_read`, `ringway_consumer_release`)
//! store the pending `ReadChunk` in the handle, as the producer does with its
//! `WriteChunk` (see `producer.rs`).

use core::ptr::NonNull;

use ringway_core::{spsc, Kind};

use crate::boundary::{arg_bytes_mut, arg_mut, arg_out, arg_ref, boundary, call, Error};
use crate::chunk::ringway_chunk;
use crate::producer::pending_error;
use crate::result::ringway_result;
use crate::ring::ringway_ring;

/// The Rust handle behind a `ringway_consumer`.
#[derive(Debug)]
enum Side {
    Spsc(spsc::BytesConsumer),
}

/// A run of ready slots lent to C, borrowing the `Side`.
#[derive(Debug)]
enum Pending {
    Spsc(spsc::ReadChunk<'static, u8>),
}

impl Pending {
    fn len(&self) -> usize {
        match self {
            Pending::Spsc(c) => c.len(),
        }
    }
}

/// The consumer of a ring (opaque). SPSC rings have one; MPMC rings any number.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_consumer {
    /// Owned (from `Box::leak`); freed in `Drop` after `pending`.
    side: NonNull<Side>,
    /// The chunk lent to C, which mutably borrows `*side`.
    pending: Option<Pending>,
}

impl Drop for ringway_consumer {
    fn drop(&mut self) {
        // The chunk borrows `*side`: end it first (this releases nothing).
        self.pending = None;
        // SAFETY: `side` came from `Box::leak` and is freed only here; no
        // chunk borrows it any more.
        drop(unsafe { Box::from_raw(self.side.as_ptr()) });
    }
}

impl ringway_consumer {
    /// The Rust handle, unless a chunk is pending.
    fn side(&mut self) -> Result<&mut Side, Error> {
        if let Some(p) = &self.pending {
            return Err(pending_error(p.len()));
        }
        // SAFETY: `side` is owned by `self` and live; no chunk borrows it
        // (checked above), and the returned borrow is tied to `&mut self`.
        Ok(unsafe { self.side.as_mut() })
    }

    fn try_pop(&mut self, out: &mut [u8]) -> Result<(), Error> {
        match self.side()? {
            Side::Spsc(c) => c.try_pop(out).map_err(Error::from),
        }
    }

    fn read(&mut self, n: usize) -> Result<ringway_chunk, Error> {
        if n == 0 {
            return Err(Error::invalid("cannot read 0 slots"));
        }
        self.side()?;
        // SAFETY: no chunk borrows `*side` (checked by `side()` above), and the
        // 'static borrow made here lives only inside `self.pending`, which is
        // dropped before `*side` is freed and blocks every other use of
        // `*side` while it exists.
        let side: &'static mut Side = unsafe { &mut *self.side.as_ptr() };
        let pending = match side {
            Side::Spsc(c) => Pending::Spsc(c.read_chunk(n)?),
        };
        let chunk = match &pending {
            Pending::Spsc(c) => {
                let (a, b) = c.as_slices();
                ringway_chunk::new(
                    (a.as_ptr().cast_mut(), a.len()),
                    (b.as_ptr().cast_mut(), b.len()),
                    c.len(),
                )
            }
        };
        if chunk.slots == 0 {
            return Err(Error::fixed(
                ringway_result::RINGWAY_ERR_EMPTY,
                "ring is empty",
            ));
        }
        self.pending = Some(pending);
        Ok(chunk)
    }

    fn release(&mut self, slots: usize) -> Result<(), Error> {
        let pending = self.pending.take().ok_or(Error::fixed(
            ringway_result::RINGWAY_ERR_STATE,
            "no chunk is being read; call ringway_consumer_read first",
        ))?;
        let len = pending.len();
        if slots > len {
            self.pending = Some(pending);
            return Err(Error::invalid(format!(
                "cannot release {slots} slots of a chunk of {len}"
            )));
        }
        match pending {
            Pending::Spsc(c) => c.release(slots),
        }
        Ok(())
    }
}

/// Takes a consumer handle of `ring`: the consumer role of an SPSC ring
/// (one at a time), or a new consumer of an MPMC ring.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_ROLE_TAKEN` (SPSC: another consumer holds the role),
/// `_CORRUPT`, `_UNSUPPORTED`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_create(
    ring: *const ringway_ring,
    out: *mut *mut ringway_consumer,
) -> ringway_result {
    call("ringway_consumer_create", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        let side = match ring.kind() {
            Kind::Spsc => Side::Spsc(spsc::BytesConsumer::attach(ring)?),
            Kind::Mpmc => {
                return Err(Error::fixed(
                    ringway_result::RINGWAY_ERR_UNSUPPORTED,
                    "MPMC consumers are not available in this build",
                ))
            }
        };
        let handle = ringway_consumer {
            side: NonNull::from(Box::leak(Box::new(side))),
            pending: None,
        };
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(Box::new(handle))) };
        Ok(())
    })
}

/// Frees a consumer handle, giving its role back. A chunk being read that
/// was not released stays in the ring. `NULL` is a no-op.
///
/// # Safety
/// `consumer` is NULL or a consumer handle not yet freed; it is not used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_free(consumer: *mut ringway_consumer) {
    boundary("ringway_consumer_free", || {
        if !consumer.is_null() {
            // SAFETY: a handle from `ringway_consumer_create`, freed once.
            drop(unsafe { Box::from_raw(consumer) });
        }
    })
}

/// Pops one message into `buf`, which must be exactly the ring's slot size,
/// without waiting. `buf` is written only on success.
///
/// # Errors
/// `RINGWAY_ERR_EMPTY` (no message: retry later), `_SIZE`, `_NULL`, `_STATE`
/// (a chunk is being read), `_CORRUPT`.
///
/// # Safety
/// `consumer` is a live consumer handle not used by another thread during
/// the call; `buf` is writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_try_pop(
    consumer: *mut ringway_consumer,
    buf: *mut core::ffi::c_void,
    len: usize,
) -> ringway_result {
    call("ringway_consumer_try_pop", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        // SAFETY: the caller's promise on `buf`.
        let buf = unsafe { arg_bytes_mut(buf, len, "buf") }?;
        consumer.try_pop(buf)
    })
}

/// Lends up to `max_slots` ready messages to read in place, described in
/// `*out` (possibly fewer than asked, at least one). They stay in the ring
/// until `ringway_consumer_release`.
///
/// # Errors
/// `RINGWAY_ERR_EMPTY` (no message), `_INVALID_ARGUMENT` (`max_slots` is 0),
/// `_STATE` (a chunk is already being read), `_NULL`, `_CORRUPT`.
///
/// # Safety
/// `consumer` is a live consumer handle not used by another thread during
/// the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_read(
    consumer: *mut ringway_consumer,
    max_slots: usize,
    out: *mut ringway_chunk,
) -> ringway_result {
    call("ringway_consumer_read", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        let out = arg_out(out, "out")?;
        let chunk = consumer.read(max_slots)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(chunk) };
        Ok(())
    })
}

/// Frees the first `slots` messages of the chunk being read for the
/// producers and ends the read (the rest stay in the ring, to be read again;
/// `slots` may be 0).
///
/// # Errors
/// `RINGWAY_ERR_STATE` (nothing being read), `_INVALID_ARGUMENT` (more
/// slots than lent; the chunk stays lent), `_NULL`.
///
/// # Safety
/// `consumer` is a live consumer handle not used by another thread during
/// the call.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_release(
    consumer: *mut ringway_consumer,
    slots: usize,
) -> ringway_result {
    call("ringway_consumer_release", || {
        // SAFETY: the caller's promise on `consumer`.
        unsafe { arg_mut(consumer, "consumer") }?.release(slots)
    })
}
