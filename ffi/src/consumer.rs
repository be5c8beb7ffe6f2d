//! `ringway_consumer`: the popping side of a ring, for either kind.
//!
//! A consumer handle may move between threads but is used by one thread at a
//! time. Pops come in three forms: `try` (never waits), blocking and timed.
//! Zero-copy reads (`ringway_consumer_read`, `ringway_consumer_release`)
//! store the pending `ReadChunk` in the handle, as the producer does with its
//! `WriteChunk` (see `producer.rs`).

use core::ptr::NonNull;
use std::time::Duration;

use ringway_core::handle::{AnyConsumer, AnyReadChunk, Bytes};
use ringway_core::{with_any, PopError};

use crate::boundary::{arg_bytes_mut, arg_mut, arg_out, arg_ref, boundary, call};
use crate::chunk::ringway_chunk;
use crate::error::{nothing_read, pending_error, Error};
use crate::readiness::{readiness_error, Armable};
use crate::result::ringway_result;
use crate::ring::ringway_ring;

/// The Rust handle behind a `ringway_consumer`: any kind.
type Side = AnyConsumer<Bytes>;

/// A run of ready messages lent to C, borrowing the `Side`.
type Pending = AnyReadChunk<'static, Bytes>;

/// The consumer of a ring (opaque). SPSC rings have one; MPMC rings any number.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_consumer {
    /// Owned (from `Box::leak`); freed in `Drop` after `pending`.
    side: NonNull<Side>,
    /// The chunk lent to C, which mutably borrows `*side`.
    pending: Option<Pending>,
    /// The readiness fd, made by the first `readiness_fd` or `pop_or_arm`.
    armable: Option<Armable>,
}

impl Drop for ringway_consumer {
    fn drop(&mut self) {
        // The chunk borrows `*side`: end it first (SPSC: this releases
        // nothing; MPMC: frees the claim, whose messages were taken).
        self.pending = None;
        // Leave the notifiers' fast path to them: deregister if armed.
        if let Some(a) = &mut self.armable {
            a.readiness.disarm(a.ring.data_event());
        }
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

    /// The readiness state, made on first use.
    fn armable(&mut self) -> Result<&mut Armable, Error> {
        if self.armable.is_none() {
            // SAFETY: `side` is owned by `self` and live; the shared borrow
            // ends with this statement.
            let ring = with_any!(unsafe { self.side.as_ref() }, c => c.ring());
            self.armable = Some(Armable::new(ring)?);
        }
        Ok(self.armable.as_mut().expect("made above"))
    }

    /// Pops into `out`, or arms the readiness fd and says `EMPTY`.
    fn pop_or_arm(&mut self, out: &mut [u8]) -> Result<(), Error> {
        if let Some(p) = &self.pending {
            return Err(pending_error(p.len()));
        }
        self.armable()?;
        let Some(armable) = self.armable.as_mut() else {
            unreachable!("made above")
        };
        // Refuse a wrong size before arming: an error from the condition
        // would end (disarm) a wait the caller means to keep.
        let slot_size = armable.ring.slot_size();
        if out.len() != slot_size {
            return Err(Error::new(
                ringway_result::RINGWAY_ERR_SIZE,
                format!("{} bytes for slots of {slot_size}", out.len()),
            ));
        }
        // SAFETY: `side` is owned by `self` and live, no chunk borrows it
        // (checked above), and the borrow is disjoint from `armable`.
        let side = unsafe { self.side.as_mut() };
        let event = armable.ring.data_event();
        let mut take = || match side.try_pop(out) {
            Err(PopError::Empty | PopError::Busy) => None,
            other => Some(other),
        };
        match armable
            .readiness
            .arm(event, armable.ring.barrier(), &mut take)
        {
            Ok(Some(popped)) => popped.map_err(Error::from),
            Ok(None) => Err(Error::fixed(
                ringway_result::RINGWAY_ERR_EMPTY,
                "ring is empty; the readiness fd is armed: poll it for POLLIN, then call again",
            )),
            Err(e) => Err(readiness_error(e)),
        }
    }

    /// Pops, waiting at most `timeout` (forever when `None`).
    fn pop_wait(&mut self, out: &mut [u8], timeout: Option<Duration>) -> Result<(), Error> {
        let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
        Ok(self.side()?.pop_deadline(out, deadline)?)
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
        let chunk = side.read_chunk(n)?;
        let view = match chunk.slices() {
            Some((a, b)) => ringway_chunk::new(
                (a.as_ptr().cast_mut(), a.len()),
                (b.as_ptr().cast_mut(), b.len()),
                chunk.len(),
            ),
            None => ringway_chunk::scattered(chunk.len()),
        };
        if view.slots == 0 {
            // Dropping an MPMC claim of only skipped positions frees them.
            return Err(Error::fixed(
                ringway_result::RINGWAY_ERR_EMPTY,
                "ring is empty",
            ));
        }
        self.pending = Some(chunk);
        Ok(view)
    }

    /// Address of message `i` of the chunk being read.
    fn slot(&self, i: usize) -> Result<*const u8, Error> {
        let Some(chunk) = &self.pending else {
            return Err(nothing_read());
        };
        let ptr = chunk.get(i).map(|s| s.as_ptr());
        ptr.ok_or_else(|| Error::invalid(format!("slot {i} of a chunk of {}", chunk.len())))
    }

    fn release(&mut self, slots: usize) -> Result<(), Error> {
        let chunk = self.pending.take().ok_or_else(nothing_read)?;
        let len = chunk.len();
        let whole_only = !chunk.releases_part();
        if slots > len || (whole_only && slots != len) {
            self.pending = Some(chunk);
            return Err(Error::invalid(if whole_only {
                format!("an MPMC chunk is released whole: release {len}, not {slots}")
            } else {
                format!("cannot release {slots} slots of a chunk of {len}")
            }));
        }
        chunk.release(slots);
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
        let side = Side::attach(ring)?;
        let handle = ringway_consumer {
            side: NonNull::from(Box::leak(Box::new(side))),
            pending: None,
            armable: None,
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
/// `RINGWAY_ERR_EMPTY` (no message: retry later), `_BUSY` (MPMC: a
/// producer's claim holds the head; the ring is not empty, retry),
/// `_PEER_GONE` (drained, and every producer died), `_SIZE`, `_NULL`,
/// `_STATE` (a chunk is being read), `_CORRUPT`.
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
        Ok(consumer.side()?.try_pop(buf)?)
    })
}

/// Pops one message into `buf` (exactly the ring's slot size), waiting as
/// long as it takes for one (spinning briefly, then sleeping on the ring's
/// futex; a producer's push wakes it).
///
/// # Errors
/// `RINGWAY_ERR_SIZE`, `_NULL`, `_STATE` (a chunk is being read), `_CORRUPT`,
/// `_PEER_GONE` (drained, and every producer died).
///
/// # Safety
/// As `ringway_consumer_try_pop`.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_pop(
    consumer: *mut ringway_consumer,
    buf: *mut core::ffi::c_void,
    len: usize,
) -> ringway_result {
    call("ringway_consumer_pop", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        // SAFETY: the caller's promise on `buf`.
        let buf = unsafe { arg_bytes_mut(buf, len, "buf") }?;
        consumer.pop_wait(buf, None)
    })
}

/// Pops one message into `buf`, waiting at most `timeout_ns` nanoseconds for
/// one.
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`, `_SIZE`, `_NULL`, `_STATE`, `_CORRUPT`,
/// `_PEER_GONE` (drained, and every producer died).
///
/// # Safety
/// As `ringway_consumer_try_pop`.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_pop_timeout(
    consumer: *mut ringway_consumer,
    buf: *mut core::ffi::c_void,
    len: usize,
    timeout_ns: u64,
) -> ringway_result {
    call("ringway_consumer_pop_timeout", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        // SAFETY: the caller's promise on `buf`.
        let buf = unsafe { arg_bytes_mut(buf, len, "buf") }?;
        consumer.pop_wait(buf, Some(Duration::from_nanos(timeout_ns)))
    })
}

/// Lends up to `max_slots` ready messages to read in place, described in
/// `*out` (possibly fewer than asked, at least one). On an SPSC ring they
/// stay in the ring until `ringway_consumer_release` and `*out` holds their
/// spans. On an MPMC ring they are taken from the ring for this consumer,
/// are not contiguous (`out->first` is NULL: reach each with
/// `ringway_consumer_slot`), and are released whole.
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

/// The address of message `index` (from 0) of the chunk being read, to read
/// its `slot_size` bytes in place; works for both ring kinds. The bytes are
/// in shared memory: a peer that does not follow the protocol may change
/// them while you read, so copy a message (`memcpy`, or
/// `ringway_consumer_try_pop`) before validating what you parse from it.
///
/// # Errors
/// `RINGWAY_ERR_STATE` (nothing being read), `_INVALID_ARGUMENT` (`index`
/// is not below the chunk's `slots`), `_NULL`.
///
/// # Safety
/// `consumer` is a live consumer handle not used by another thread during
/// the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_slot(
    consumer: *mut ringway_consumer,
    index: usize,
    out: *mut *const u8,
) -> ringway_result {
    call("ringway_consumer_slot", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        let out = arg_out(out, "out")?;
        let slot = consumer.slot(index)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(slot) };
        Ok(())
    })
}

/// Frees the first `slots` messages of the chunk being read for the
/// producers and ends the read. On an SPSC ring the rest stay in the ring,
/// to be read again (`slots` may be 0); an MPMC chunk is released whole
/// (`slots` must equal its `slots`).
///
/// # Errors
/// `RINGWAY_ERR_STATE` (nothing being read), `_INVALID_ARGUMENT` (more
/// slots than lent, or part of an MPMC chunk; the chunk stays lent), `_NULL`.
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

/// The consumer's readiness fd: readable (`POLLIN`) once a producer may have
/// published since `ringway_consumer_pop_or_arm` last returned
/// `RINGWAY_ERR_EMPTY`. Owned by the consumer (closed by
/// `ringway_consumer_free`; do not close it). Made on first use: an io_uring
/// instance (Linux 6.7 or later) whose futex wait the producers' ordinary
/// wake completes, so a busy ring costs no syscall on either side.
///
/// # Errors
/// `RINGWAY_ERR_UNSUPPORTED` (no io_uring `FUTEX_WAIT` on this kernel, or
/// io_uring disabled), `_IO`, `_NULL`.
///
/// # Safety
/// `consumer` is a live consumer handle not used by another thread during
/// the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_readiness_fd(
    consumer: *mut ringway_consumer,
    out: *mut core::ffi::c_int,
) -> ringway_result {
    call("ringway_consumer_readiness_fd", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        let out = arg_out(out, "out")?;
        let fd = consumer.armable()?.readiness.fd();
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(fd) };
        Ok(())
    })
}

/// Pops one message into `buf` (exactly the ring's slot size) if one is
/// ready; otherwise arms the readiness fd and returns `RINGWAY_ERR_EMPTY`:
/// poll the fd (`ringway_consumer_readiness_fd`) for `POLLIN`, then call
/// again. Wakes may be spurious (`EMPTY` again: poll again). A pop that
/// finds a message makes no syscall; only arming does.
///
/// # Errors
/// `RINGWAY_ERR_EMPTY` (armed), `_SIZE`, `_NULL`, `_STATE` (a chunk is being
/// read), `_CORRUPT`, `_UNSUPPORTED`, `_IO`.
///
/// # Safety
/// As `ringway_consumer_try_pop`.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_pop_or_arm(
    consumer: *mut ringway_consumer,
    buf: *mut core::ffi::c_void,
    len: usize,
) -> ringway_result {
    call("ringway_consumer_pop_or_arm", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        // SAFETY: the caller's promise on `buf`.
        let buf = unsafe { arg_bytes_mut(buf, len, "buf") }?;
        consumer.pop_or_arm(buf)
    })
}

/// Stops waiting: deregisters the consumer from the ring's waiters, so that
/// producers stop making a wake syscall per push for it. A successful
/// `ringway_consumer_pop_or_arm` and `ringway_consumer_free` do this
/// already; call it when giving up on a wait. No-op when not armed.
///
/// # Errors
/// `RINGWAY_ERR_NULL`.
///
/// # Safety
/// `consumer` is a live consumer handle not used by another thread during
/// the call.
#[no_mangle]
pub unsafe extern "C" fn ringway_consumer_disarm(
    consumer: *mut ringway_consumer,
) -> ringway_result {
    call("ringway_consumer_disarm", || {
        // SAFETY: the caller's promise on `consumer`.
        let consumer = unsafe { arg_mut(consumer, "consumer") }?;
        if let Some(a) = &mut consumer.armable {
            a.readiness.disarm(a.ring.data_event());
        }
        Ok(())
    })
}
