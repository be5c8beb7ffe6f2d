//! Waiting for an [`Event`] outside this crate's blocking loop: from an
//! io_uring `FUTEX_WAIT`, an async runtime's reactor, or C code polling a file
//! descriptor.
//!
//! An [`ExternalWaiter`] runs the eventcount's waiter half exactly as a parked
//! blocking waiter does (register in `waiters`, read the epoch `seq`,
//! `barrier::heavy`, re-check the condition), but instead of calling the futex
//! itself it hands back a [`SleepRequest`]: "sleep while the word at this
//! address equals `epoch`". Whoever submits that wait (the `ringway-async`
//! crate submits an io_uring `FUTEX_WAIT`, which the notifier's ordinary
//! `FUTEX_WAKE` completes) reports its completion with
//! [`ExternalWaiter::completed`]. Notifiers need no change: to them an
//! external waiter is one more registered waiter.
//!
//! # Protocol
//!
//! | step | what | why |
//! |---|---|---|
//! | 1 | `ready()` | the fast path: no registration, no barrier, no syscall |
//! | 2 | `waiters += 1` (saturating), once per arm/disarm cycle | from now on every `notify` bumps `seq` and wakes |
//! | 3 | `epoch = seq` (Acquire) | pairs with the Release bump in `notify_slow` |
//! | 4 | `barrier::heavy()` | the waiter's half of the store-buffering pair of `event.rs` |
//! | 5 | `ready()` again | a publication before the notifier's barrier is seen here |
//! | 6 | submit "wait while `seq == epoch`", unless one is already in flight | a publication after it bumps `seq` and wakes the wait |
//! | 7 | on completion: [`completed`](ExternalWaiter::completed), then arm again from 1 | wakes may be spurious; `ready` decides |
//! | - | [`disarm`](ExternalWaiter::disarm) once ready (arm does it) or when giving up | `waiters -= 1` (saturating): notifiers go back to the syscall-free path |
//!
//! Why a wait already in flight may be kept (step 6) when a later arm reads a
//! newer epoch: the in-flight wait was queued in the kernel only if `seq`
//! still held its (older) epoch then; so a `seq` that moved since was bumped
//! after the queueing, and every bump is followed by a wake of every waiter
//! queued on `seq`, which completes the old wait. And if `seq` has not moved,
//! the in-flight wait is exactly the one step 6 would submit. Either way the
//! argument of `event.rs` carries over unchanged; loom checks it
//! (`tests/loom_event.rs`, the `external_*` models, with a spurious re-arm while
//! a wait is in flight).
//!
//! What a dead notifier can cost: one that died between its bump and its wake
//! leaves the in-flight wait queued until the next notify. A waiter that must
//! not hang also keeps a deadline of its own (the async adapter's caller, a
//! timer in the C caller's poll loop).

use crate::barrier;
use crate::event::{deregister, register, Event};
use crate::loom::Ordering;

/// What [`ExternalWaiter::arm`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Armed<R> {
    /// The condition holds; the waiter is disarmed (deregistered).
    Ready(R),
    /// The condition does not hold; submit this wait, then call
    /// [`ExternalWaiter::completed`] when it completes and arm again.
    Sleep(SleepRequest),
    /// The condition does not hold and the wait submitted earlier is still in
    /// flight: nothing to submit, wait for its completion.
    InFlight,
}

/// "Sleep while the 32-bit word at [`word`](Self::word) equals
/// [`epoch`](Self::epoch)": a shared (not process-private) futex wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SleepRequest {
    word: *const u32,
    epoch: u32,
}

impl SleepRequest {
    /// The futex word's address, inside the event's mapping. Valid for as long
    /// as the mapping that holds the [`Event`] stays mapped.
    #[must_use]
    pub fn word(&self) -> *const u32 {
        self.word
    }

    /// The value to sleep on.
    #[must_use]
    pub fn epoch(&self) -> u32 {
        self.epoch
    }
}

/// One waiter's state for waiting on an [`Event`] from outside
/// [`Event::wait`]. Lives in the waiter's private memory, one per waiting
/// handle; see the module docs for the protocol.
///
/// It does not hold the event: every call takes it, and the caller passes the
/// same one each time. Dropping an armed waiter without
/// [`disarm`](Self::disarm) leaves the event's waiter count one too high,
/// which costs its notifiers a wake syscall per notify (never a lost wakeup);
/// owners disarm in their `Drop`.
#[derive(Debug, Default)]
pub struct ExternalWaiter {
    /// Registered in the event's `waiters`.
    registered: bool,
    /// A submitted wait has not completed yet.
    in_flight: bool,
}

impl ExternalWaiter {
    /// A waiter that is neither registered nor has a wait in flight.
    #[must_use]
    pub const fn new() -> Self {
        ExternalWaiter {
            registered: false,
            in_flight: false,
        }
    }

    /// Checks `ready()`, and when it says no, registers and prepares a sleep.
    ///
    /// `ready` is the condition, as for [`Event::wait`] (Acquire loads, cheap, no
    /// blocking); it may also *take* what it waits for (pop a message): it is
    /// called once, or twice when the first call says no, and a `Some` is
    /// always returned as [`Armed::Ready`].
    ///
    /// The fast path (condition holds) makes no syscall and touches no shared
    /// word. Otherwise it registers (once), reads the epoch and runs the
    /// waiter's barrier (a `membarrier` syscall where the process is in
    /// asymmetric mode, see [`asymmetric`](crate::asymmetric)), and re-checks.
    pub fn arm<R>(&mut self, event: &Event, mut ready: impl FnMut() -> Option<R>) -> Armed<R> {
        if let Some(r) = ready() {
            self.disarm(event);
            return Armed::Ready(r);
        }
        if !self.registered {
            register(&event.waiters);
            self.registered = true;
        }
        // Acquire: pairs with the Release bump in `Event::notify_slow`: an
        // epoch that includes a bump comes with the publication before it.
        let epoch = event.seq.load(Ordering::Acquire);
        // The waiter's half of the store-buffering pair; pairs with
        // `barrier::light` in `Event::notify`. (`ringway_mutation` removes it
        // to prove the loom models notice.)
        #[cfg(not(ringway_mutation = "park_without_fence"))]
        barrier::heavy();
        if let Some(r) = ready() {
            self.disarm(event);
            return Armed::Ready(r);
        }
        if self.in_flight {
            return Armed::InFlight;
        }
        self.in_flight = true;
        Armed::Sleep(SleepRequest {
            word: event.seq_ptr(),
            epoch,
        })
    }

    /// The wait submitted after the last [`Armed::Sleep`] completed (woken, the
    /// word differed, timed out, cancelled or failed): the next arm submits a new one.
    pub fn completed(&mut self) {
        self.in_flight = false;
    }

    /// Deregisters from `event`, if registered: its notifiers go back to
    /// the syscall-free path. A wait in flight stays in flight (until a wake,
    /// or until whoever submitted it cancels it); a later arm reuses it.
    pub fn disarm(&mut self, event: &Event) {
        if self.registered {
            deregister(&event.waiters);
            self.registered = false;
        }
    }

    /// Registered in an event's waiter count.
    #[must_use]
    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// A submitted wait has not been reported [`completed`](Self::completed).
    #[must_use]
    pub fn in_flight(&self) -> bool {
        self.in_flight
    }
}
