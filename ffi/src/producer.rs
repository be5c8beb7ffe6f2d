//! `ringway_producer`: the pushing side of a ring, for either kind.
//!
//! A producer handle may move between threads but is used by one thread at a
//! time. Pushes come in three forms: `try` (never waits), blocking (waits for
//! a free slot, sleeping on the ring's futex after a short spin) and timed.
//!
//! Zero-copy writes: `ringway_producer_reserve` lends C a run of slots and
//! `ringway_producer_commit` publishes them. In Rust a `WriteChunk` borrows its
//! handle mutably, which C cannot express, so the handle stores the chunk
//! itself: the Rust handle lives in its own heap allocation owned through a
//! raw pointer, and the pending chunk borrows it for `'static`. While a chunk
//! is pending every other call on the handle is refused with
//! `RINGWAY_ERR_STATE` (so the borrow is never aliased), and the handle drops
//! the chunk before the Rust handle it borrows.

use core::ptr::NonNull;
use std::time::Duration;

use ringway_core::handle::{AnyProducer, AnyWriteChunk, Bytes};
use ringway_core::{with_any, PushError};

use crate::boundary::{arg_bytes, arg_mut, arg_out, arg_ref, boundary, call};
use crate::chunk::ringway_chunk;
use crate::error::{no_reservation, pending_error, Error};
use crate::readiness::{readiness_error, Armable};
use crate::result::ringway_result;
use crate::ring::ringway_ring;

/// The Rust handle behind a `ringway_producer`: any kind.
type Side = AnyProducer<Bytes>;

/// A reservation lent to C, borrowing the `Side`, and how C sees it.
type Pending = (AnyWriteChunk<'static, Bytes>, ringway_chunk);

/// The producer of a ring (opaque). SPSC rings have one; MPMC rings any number.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_producer {
    /// Owned (from `Box::leak`); freed in `Drop` after `pending`.
    side: NonNull<Side>,
    /// The chunk lent to C, which mutably borrows `*side`.
    pending: Option<Pending>,
    /// The readiness fd, made by the first `readiness_fd` or `push_or_arm`.
    armable: Option<Armable>,
}

impl Drop for ringway_producer {
    fn drop(&mut self) {
        // The chunk borrows `*side`: end it first (this commits nothing).
        self.pending = None;
        // Leave the notifiers' fast path to them: deregister if armed.
        if let Some(a) = &mut self.armable {
            a.readiness.disarm(a.ring.space_event());
        }
        // SAFETY: `side` came from `Box::leak` and is freed only here; no
        // chunk borrows it any more.
        drop(unsafe { Box::from_raw(self.side.as_ptr()) });
    }
}

impl ringway_producer {
    /// The Rust handle, unless a chunk is pending.
    fn side(&mut self) -> Result<&mut Side, Error> {
        if let Some((c, _)) = &self.pending {
            return Err(pending_error(c.len()));
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
            let ring = with_any!(unsafe { self.side.as_ref() }, p => p.ring());
            self.armable = Some(Armable::new(ring)?);
        }
        Ok(self.armable.as_mut().expect("made above"))
    }

    /// Pushes `message`, or arms the readiness fd and says `FULL`.
    fn push_or_arm(&mut self, message: &[u8]) -> Result<(), Error> {
        if let Some((c, _)) = &self.pending {
            return Err(pending_error(c.len()));
        }
        self.armable()?;
        let Some(armable) = self.armable.as_mut() else {
            unreachable!("made above")
        };
        // Refuse a wrong size before arming: an error from the condition
        // would end (disarm) a wait the caller means to keep.
        let slot_size = armable.ring.slot_size();
        if message.len() != slot_size {
            return Err(Error::new(
                ringway_result::RINGWAY_ERR_SIZE,
                format!("{} bytes for slots of {slot_size}", message.len()),
            ));
        }
        // SAFETY: `side` is owned by `self` and live, no chunk borrows it
        // (checked above), and the borrow is disjoint from `armable`.
        let side = unsafe { self.side.as_mut() };
        let event = armable.ring.space_event();
        let mut give = || match side.try_push(message) {
            Err(PushError::Full(_) | PushError::Busy(_)) => None,
            other => Some(other),
        };
        match armable
            .readiness
            .arm(event, armable.ring.barrier(), &mut give)
        {
            Ok(Some(pushed)) => pushed.map_err(Error::from),
            Ok(None) => Err(Error::fixed(
                ringway_result::RINGWAY_ERR_FULL,
                "ring is full; the readiness fd is armed: poll it for POLLIN, then call again",
            )),
            Err(e) => Err(readiness_error(e)),
        }
    }

    /// Pushes, waiting at most `timeout` (forever when `None`).
    fn push_wait(&mut self, message: &[u8], timeout: Option<Duration>) -> Result<(), Error> {
        let deadline = timeout.and_then(|t| std::time::Instant::now().checked_add(t));
        Ok(self.side()?.push_deadline(message, deadline)?)
    }

    fn reserve(&mut self, n: usize) -> Result<ringway_chunk, Error> {
        if n == 0 {
            return Err(Error::invalid("cannot reserve 0 slots"));
        }
        self.side()?;
        // SAFETY: no chunk borrows `*side` (checked by `side()` above), and the
        // 'static borrow made here lives only inside `self.pending`, which is
        // dropped before `*side` is freed and blocks every other use of
        // `*side` while it exists.
        let side: &'static mut Side = unsafe { &mut *self.side.as_ptr() };
        let mut chunk = side.write_chunk(n)?;
        let slots = chunk.len();
        let view = match chunk.slices_mut() {
            Some((a, b)) => {
                ringway_chunk::new((a.as_mut_ptr(), a.len()), (b.as_mut_ptr(), b.len()), slots)
            }
            None => ringway_chunk::scattered(slots),
        };
        if slots == 0 {
            return Err(Error::fixed(
                ringway_result::RINGWAY_ERR_FULL,
                "ring is full",
            ));
        }
        self.pending = Some((chunk, view));
        Ok(view)
    }

    /// Address of slot `i` of the reserved chunk.
    fn slot(&mut self, i: usize) -> Result<*mut u8, Error> {
        let Some((chunk, _)) = &mut self.pending else {
            return Err(no_reservation());
        };
        let len = chunk.len();
        let ptr = chunk.get_mut(i).map(|s| s.as_mut_ptr());
        ptr.ok_or_else(|| Error::invalid(format!("slot {i} of a chunk of {len}")))
    }

    fn commit(&mut self, slots: usize) -> Result<(), Error> {
        let (chunk, view) = self.pending.take().ok_or_else(no_reservation)?;
        let len = chunk.len();
        if slots > len {
            self.pending = Some((chunk, view));
            return Err(Error::invalid(format!(
                "cannot commit {slots} slots of a chunk of {len}"
            )));
        }
        chunk.commit(slots);
        Ok(())
    }
}

/// Takes a producer handle of `ring`: the producer role of an SPSC ring
/// (one at a time), or a new producer of an MPMC ring.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_ROLE_TAKEN` (SPSC: another producer holds the role),
/// `_TOO_MANY_PRODUCERS` (MPMC), `_CORRUPT`, `_UNSUPPORTED`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_create(
    ring: *const ringway_ring,
    out: *mut *mut ringway_producer,
) -> ringway_result {
    call("ringway_producer_create", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        let side = Side::attach(ring)?;
        let handle = ringway_producer {
            side: NonNull::from(Box::leak(Box::new(side))),
            pending: None,
            armable: None,
        };
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(Box::new(handle))) };
        Ok(())
    })
}

/// Frees a producer handle, giving its role back. A reserved chunk that was
/// not committed is dropped (nothing of it is published). `NULL` is a no-op.
///
/// # Safety
/// `producer` is NULL or a producer handle not yet freed; it is not used
/// afterwards.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_free(producer: *mut ringway_producer) {
    boundary("ringway_producer_free", || {
        if !producer.is_null() {
            // SAFETY: a handle from `ringway_producer_create`, freed once.
            drop(unsafe { Box::from_raw(producer) });
        }
    })
}

/// Pushes one message of exactly the ring's slot size, without waiting.
///
/// # Errors
/// `RINGWAY_ERR_FULL` (no free slot: retry later), `_BUSY` (MPMC: the slot
/// at the tail is still held by a consumer's claim; the ring is not full,
/// retry), `_PEER_GONE` (every consumer died), `_SIZE`, `_NULL`, `_STATE` (a
/// chunk is reserved), `_CORRUPT`.
///
/// # Safety
/// `producer` is a live producer handle not used by another thread during
/// the call; `message` is readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_try_push(
    producer: *mut ringway_producer,
    message: *const core::ffi::c_void,
    len: usize,
) -> ringway_result {
    call("ringway_producer_try_push", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        // SAFETY: the caller's promise on `message`.
        let message = unsafe { arg_bytes(message, len, "message") }?;
        Ok(producer.side()?.try_push(message)?)
    })
}

/// Pushes one message of exactly the ring's slot size, waiting as long as it
/// takes for a free slot (spinning briefly, then sleeping on the ring's
/// futex; a consumer's pop wakes it).
///
/// # Errors
/// `RINGWAY_ERR_SIZE`, `_NULL`, `_STATE` (a chunk is reserved), `_CORRUPT`,
/// `_PEER_GONE` (every consumer died).
///
/// # Safety
/// As `ringway_producer_try_push`.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_push(
    producer: *mut ringway_producer,
    message: *const core::ffi::c_void,
    len: usize,
) -> ringway_result {
    call("ringway_producer_push", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        // SAFETY: the caller's promise on `message`.
        let message = unsafe { arg_bytes(message, len, "message") }?;
        producer.push_wait(message, None)
    })
}

/// Pushes one message, waiting at most `timeout_ns` nanoseconds for a free
/// slot (0: do not wait, like `ringway_producer_try_push` but reporting
/// `RINGWAY_ERR_TIMEOUT`).
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`, `_SIZE`, `_NULL`, `_STATE`, `_CORRUPT`,
/// `_PEER_GONE` (every consumer died).
///
/// # Safety
/// As `ringway_producer_try_push`.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_push_timeout(
    producer: *mut ringway_producer,
    message: *const core::ffi::c_void,
    len: usize,
    timeout_ns: u64,
) -> ringway_result {
    call("ringway_producer_push_timeout", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        // SAFETY: the caller's promise on `message`.
        let message = unsafe { arg_bytes(message, len, "message") }?;
        producer.push_wait(message, Some(Duration::from_nanos(timeout_ns)))
    })
}

/// Reserves up to `max_slots` free slots to write in place and describes
/// them in `*out` (possibly fewer than asked, at least one). Nothing is
/// visible to consumers until `ringway_producer_commit`. On an SPSC ring the
/// slots are contiguous and `*out` holds their spans; on an MPMC ring they
/// are not (`out->first` is NULL): reach each with `ringway_producer_slot`.
///
/// # Errors
/// `RINGWAY_ERR_FULL` (no free slot), `_INVALID_ARGUMENT` (`max_slots` is
/// 0), `_STATE` (a chunk is already reserved), `_NULL`, `_CORRUPT`.
///
/// # Safety
/// `producer` is a live producer handle not used by another thread during
/// the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_reserve(
    producer: *mut ringway_producer,
    max_slots: usize,
    out: *mut ringway_chunk,
) -> ringway_result {
    call("ringway_producer_reserve", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        let out = arg_out(out, "out")?;
        let chunk = producer.reserve(max_slots)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(chunk) };
        Ok(())
    })
}

/// The address of slot `index` (from 0) of the reserved chunk, to write its
/// `slot_size` bytes in place; works for both ring kinds.
///
/// # Errors
/// `RINGWAY_ERR_STATE` (nothing reserved), `_INVALID_ARGUMENT` (`index` is
/// not below the chunk's `slots`), `_NULL`.
///
/// # Safety
/// `producer` is a live producer handle not used by another thread during
/// the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_slot(
    producer: *mut ringway_producer,
    index: usize,
    out: *mut *mut u8,
) -> ringway_result {
    call("ringway_producer_slot", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        let out = arg_out(out, "out")?;
        let slot = producer.slot(index)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(slot) };
        Ok(())
    })
}

/// Publishes the first `slots` slots of the reserved chunk, in order, and
/// ends the reservation (the rest of the chunk is given back unwritten: on
/// an MPMC ring consumers pass over them; `slots` may be 0).
///
/// # Errors
/// `RINGWAY_ERR_STATE` (nothing reserved), `_INVALID_ARGUMENT` (more slots
/// than reserved; the chunk stays reserved), `_NULL`.
///
/// # Safety
/// `producer` is a live producer handle not used by another thread during
/// the call.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_commit(
    producer: *mut ringway_producer,
    slots: usize,
) -> ringway_result {
    call("ringway_producer_commit", || {
        // SAFETY: the caller's promise on `producer`.
        unsafe { arg_mut(producer, "producer") }?.commit(slots)
    })
}

/// The producer's readiness fd: readable (`POLLIN`) once a consumer may have
/// freed a slot since `ringway_producer_push_or_arm` last returned
/// `RINGWAY_ERR_FULL`. Owned by the producer (closed by
/// `ringway_producer_free`; do not close it). Made on first use, as
/// `ringway_consumer_readiness_fd`.
///
/// # Errors
/// `RINGWAY_ERR_UNSUPPORTED` (no io_uring `FUTEX_WAIT` on this kernel, or
/// io_uring disabled), `_IO`, `_NULL`.
///
/// # Safety
/// `producer` is a live producer handle not used by another thread during
/// the call; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_readiness_fd(
    producer: *mut ringway_producer,
    out: *mut core::ffi::c_int,
) -> ringway_result {
    call("ringway_producer_readiness_fd", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        let out = arg_out(out, "out")?;
        let fd = producer.armable()?.readiness.fd();
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(fd) };
        Ok(())
    })
}

/// Pushes `message` (exactly the ring's slot size) if a slot is free;
/// otherwise arms the readiness fd and returns `RINGWAY_ERR_FULL`: poll the
/// fd for `POLLIN`, then call again. A push that finds a slot makes no
/// syscall; only arming does.
///
/// # Errors
/// `RINGWAY_ERR_FULL` (armed), `_SIZE`, `_NULL`, `_STATE` (a chunk is being
/// written), `_CORRUPT`, `_UNSUPPORTED`, `_IO`.
///
/// # Safety
/// `producer` is a live producer handle not used by another thread during
/// the call; `message` is readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_push_or_arm(
    producer: *mut ringway_producer,
    message: *const core::ffi::c_void,
    len: usize,
) -> ringway_result {
    call("ringway_producer_push_or_arm", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        // SAFETY: the caller's promise on `message`.
        let message = unsafe { arg_bytes(message, len, "message") }?;
        producer.push_or_arm(message)
    })
}

/// Stops waiting for space: deregisters the producer from the ring's
/// waiters. A successful `ringway_producer_push_or_arm` and
/// `ringway_producer_free` do this already. No-op when not armed.
///
/// # Errors
/// `RINGWAY_ERR_NULL`.
///
/// # Safety
/// `producer` is a live producer handle not used by another thread during
/// the call.
#[no_mangle]
pub unsafe extern "C" fn ringway_producer_disarm(
    producer: *mut ringway_producer,
) -> ringway_result {
    call("ringway_producer_disarm", || {
        // SAFETY: the caller's promise on `producer`.
        let producer = unsafe { arg_mut(producer, "producer") }?;
        if let Some(a) = &mut producer.armable {
            a.readiness.disarm(a.ring.space_event());
        }
        Ok(())
    })
}
