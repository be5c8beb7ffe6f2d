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
//! | 2 | `waiters += 1` (saturating), once per arm/disarm cycle | from now on every `notify` moves `seq` to a new epoch |
//! | 3 | `epoch = seq` (Acquire) | pairs with the Release RMW in `notify_slow` |
//! | 4 | `barrier::waiter_fence()` | the waiter's half of the store-buffering pair of `event.rs` |
//! | 5 | `ready()` again | a publication before the notifier's barrier is seen here |
//! | 6 | once per registration: `barrier::drain(ring's mode)`, then back to 3 | in an asymmetric ring, the `membarrier` that drains light notifiers |
//! | 7 | unless a wait is in flight: CAS `epoch` -> `epoch \| SLEEPING` (a failed CAS goes back to 3) | announces the sleep, so the next notify makes the wake syscall |
//! | 8 | submit "wait while `seq == epoch \| SLEEPING`" (sliced by [`SYMMETRIC_SLICE`](crate::SYMMETRIC_SLICE) when the drain failed) | a notify moves `seq` on and wakes it |
//! | 9 | on completion: [`completed`](ExternalWaiter::completed), then arm again from 1 | wakes may be spurious; `ready` decides |
//! | - | [`disarm`](ExternalWaiter::disarm) once ready (arm does it) or when giving up | `waiters -= 1` (saturating): notifiers go back to the syscall-free path |
//!
//! These are the steps of `Event::park`, in the same order, with the sleep
//! handed out instead of made.
//!
//! Why a wait already in flight may be kept (step 7) when a later arm reads a
//! newer epoch: the in-flight wait was queued in the kernel only if `seq`
//! still held its flagged value then; so a `seq` that moved since was moved
//! by a notify that found the flag set (or by the fallback bump, which
//! always wakes), and that notify wakes every waiter queued on `seq`, which
//! completes the old wait. And if `seq` has not moved, the in-flight wait is
//! exactly the one step 8 would submit. Either way the
//! argument of `event.rs` carries over unchanged; loom checks it
//! (`tests/loom_event.rs`, the `external_*` models, with a spurious re-arm while
//! a wait is in flight).
//!
//! What a dead notifier can cost: one that died between its bump and its wake
//! leaves the in-flight wait queued until the next notify. A waiter that must
//! not hang also keeps a deadline of its own (the async adapter's caller, a
//! timer in the C caller's poll loop).

use crate::barrier::{self, Barrier, Drained};
use crate::event::{deregister, register, Event, SLEEPING};
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
    sliced: bool,
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

    /// The sleep must end after [`SYMMETRIC_SLICE`](crate::SYMMETRIC_SLICE)
    /// at the latest (this process could not drain the ring's light
    /// notifiers), after which the waiter arms again.
    #[must_use]
    pub fn sliced(&self) -> bool {
        self.sliced
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
    /// This registration's drain (step 6), once made.
    drained: Option<Drained>,
}

impl ExternalWaiter {
    /// A waiter that is neither registered nor has a wait in flight.
    #[must_use]
    pub const fn new() -> Self {
        ExternalWaiter {
            registered: false,
            in_flight: false,
            drained: None,
        }
    }

    /// Checks `ready()`, and when it says no, registers and prepares a sleep.
    ///
    /// `barrier` is the ring's barrier mode (every waiter and notifier of an
    /// event shares it). `ready` is the condition, as for [`Event::wait`]
    /// (Acquire loads, cheap, no blocking); it may also *take* what it waits
    /// for (pop a message): a `Some` is always returned as [`Armed::Ready`].
    ///
    /// The fast path (condition holds) makes no syscall and touches no shared
    /// word. Otherwise it registers (once), reads the epoch, runs the waiter's
    /// fence and re-checks; the first time per registration it also drains
    /// (a `membarrier` syscall in an asymmetric ring) and re-checks again.
    pub fn arm<R>(
        &mut self,
        event: &Event,
        barrier: Barrier,
        mut ready: impl FnMut() -> Option<R>,
    ) -> Armed<R> {
        if let Some(r) = ready() {
            self.disarm(event);
            return Armed::Ready(r);
        }
        if !self.registered {
            register(&event.waiters);
            self.registered = true;
            self.drained = None;
        }
        loop {
            // Acquire: pairs with the Release RMW in `Event::notify_slow`: an
            // epoch that includes a notify comes with the publication before it.
            let epoch = event.seq.load(Ordering::Acquire);
            // The waiter's half of the store-buffering pair; pairs with
            // `barrier::light` in `Event::notify_in`. (`ringway_mutation`
            // removes it to prove the loom models notice.)
            #[cfg(not(ringway_mutation = "park_without_fence"))]
            barrier::waiter_fence();
            if let Some(r) = ready() {
                self.disarm(event);
                return Armed::Ready(r);
            }
            let Some(drained) = self.drained else {
                // About to sleep for the first time in this registration:
                // drain light notifiers once, then re-check from a fresh epoch.
                self.drained = Some(barrier::drain(barrier));
                continue;
            };
            if self.in_flight {
                return Armed::InFlight;
            }
            // Announce the sleep on this epoch, as `Event::park` does; a
            // failed CAS means a notify moved `seq` on: re-check.
            #[cfg(not(ringway_mutation = "sleep_without_flag"))]
            let sleep_on = if epoch & SLEEPING != 0 {
                epoch
            } else {
                // Relaxed: only the modification order of `seq` matters
                // (`event.rs`); the re-check after a failure reloads with Acquire.
                match event.seq.compare_exchange(
                    epoch,
                    epoch | SLEEPING,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => epoch | SLEEPING,
                    Err(_) => continue,
                }
            };
            #[cfg(ringway_mutation = "sleep_without_flag")]
            let sleep_on = epoch;
            self.in_flight = true;
            return Armed::Sleep(SleepRequest {
                word: event.seq_ptr(),
                epoch: sleep_on,
                sliced: drained == Drained::No,
            });
        }
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
