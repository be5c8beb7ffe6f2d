//! Test helpers: an anonymous `MAP_SHARED` mapping holding Events and data words,
//! as a ring's header would.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::{Duration, Instant};

use ringway_sync::Event;

/// Bytes between two slots of the mapping (one cache-line pair, like the ring).
pub(crate) const SLOT: usize = 128;

/// An anonymous shared mapping, zero-filled by the kernel, unmapped on drop.
/// Shared with a child across `fork`, and across threads by reference.
pub(crate) struct SharedMap {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain memory that outlives every borrow handed out
// (borrows are tied to `&self`); it is only ever accessed through atomics.
unsafe impl Send for SharedMap {}
// SAFETY: as above; every view handed out is an atomic type, safe to share.
unsafe impl Sync for SharedMap {}

impl SharedMap {
    /// Maps `slots` slots of `SLOT` bytes, shared and anonymous.
    pub(crate) fn new(slots: usize) -> Self {
        let len = slots * SLOT;
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let addr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(
            addr,
            libc::MAP_FAILED,
            "mmap failed: {}",
            std::io::Error::last_os_error()
        );
        let base = NonNull::new(addr.cast::<u8>()).expect("mmap returned null");
        SharedMap { base, len }
    }

    fn slot_ptr(&self, slot: usize) -> *mut u8 {
        assert!(
            (slot + 1) * SLOT <= self.len,
            "slot {slot} out of the mapping"
        );
        // SAFETY: in bounds, checked above.
        unsafe { self.base.as_ptr().add(slot * SLOT) }
    }

    /// The Event at the start of `slot` (zero bytes are a valid Event).
    pub(crate) fn event(&self, slot: usize) -> &Event {
        // SAFETY: the slot is 128-byte aligned (page-aligned base), in bounds, and
        // only accessed atomically; all-zero bytes are a valid Event, and Event is
        // made of atomics, so other threads and processes may change it under us.
        unsafe { &*self.slot_ptr(slot).cast::<Event>() }
    }

    /// A u64 data word at the start of `slot` (the "ring cursor").
    pub(crate) fn word64(&self, slot: usize) -> &AtomicU64 {
        // SAFETY: aligned, in bounds, only accessed atomically; zero is valid.
        unsafe { &*self.slot_ptr(slot).cast::<AtomicU64>() }
    }

    /// A u32 view of the word at byte `offset` of `slot`: lets a test play a peer
    /// process that writes an Event's words directly.
    pub(crate) fn word32(&self, slot: usize, offset: usize) -> &AtomicU32 {
        assert!(offset % 4 == 0 && offset + 4 <= SLOT);
        // SAFETY: 4-byte aligned, in bounds, only accessed atomically (with
        // same-size atomics, also through the Event view); zero is valid.
        unsafe { &*self.slot_ptr(slot).add(offset).cast::<AtomicU32>() }
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned; no borrow outlives self.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// Polls `cond` every 100 µs for up to 10 s; panics with `what` if it never holds.
pub(crate) fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let give_up = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < give_up, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// A generous deadline for waits that should end by a wake.
pub(crate) fn far_deadline() -> Option<Instant> {
    Some(Instant::now() + FAR)
}

/// How far `far_deadline` is.
pub(crate) const FAR: Duration = Duration::from_secs(10);

/// Runs a wait that should end by a wake, and panics unless it ended well before
/// `far_deadline`: a lost wake would otherwise go unnoticed, because the last
/// re-check after the timeout still finds the value.
pub(crate) fn promptly<R>(what: &str, wait: impl FnOnce() -> R) -> R {
    let start = Instant::now();
    let r = wait();
    let took = start.elapsed();
    assert!(took < FAR / 2, "{what}: not woken, the wait took {took:?}");
    r
}

/// `Some(v)` once the word is nonzero.
pub(crate) fn nonzero(word: &AtomicU64) -> Option<u64> {
    // Acquire: pairs with the test publisher's Release store.
    match word.load(std::sync::atomic::Ordering::Acquire) {
        0 => None,
        v => Some(v),
    }
}
