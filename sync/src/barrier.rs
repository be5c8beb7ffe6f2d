//! The two fences of the eventcount's store-buffering handshake, and the
//! [`Barrier`] mode that decides how they are paid: a property of the ring
//! (fixed when it is created, recorded in its header, checked on attach), so
//! every process that maps it agrees.
//!
//! The handshake needs a StoreLoad barrier on both sides: the notifier between
//! its publication and its load of `waiters`, the waiter between its
//! registration and its re-check. A `fence(SeqCst)` (`mfence`) on the notifier
//! side is paid on every push and pop, and it is expensive exactly when it
//! matters: it waits for the store of the cursor to leave the store buffer,
//! which needs the cursor's line back from the other core.
//!
//! # Modes
//!
//! | mode | notifier ([`light`]) | waiter, once per park ([`drain`]) | costs others |
//! |---|---|---|---|
//! | [`Barrier::Symmetric`] | `fence(SeqCst)` on every notify | `fence(SeqCst)` only | nothing |
//! | [`Barrier::Asymmetric`] | compiler fence only (if this process is registered) | `fence(SeqCst)` + one `membarrier(GLOBAL_EXPEDITED)` | an IPI to every CPU running a registered process, once per park |
//!
//! In asymmetric mode (Linux 4.16+), `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)`
//! lets the *waiter* pay for both sides: it runs a full barrier on every CPU
//! that is running a thread of a process registered with
//! `MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED` (a thread that is not running
//! has passed a context switch, itself a barrier). When it returns, every
//! registered notifier has either had its publication drained (so the waiter's
//! re-check sees it) or will load `waiters` after the waiter's registration
//! became visible (so it wakes). Folly's `asymmetricLightBarrier` /
//! `asymmetricHeavyBarrier` is the same pattern.
//!
//! One membarrier per park is enough, not one per loop iteration: the
//! registration stays in place for the whole park, so every notify whose load
//! of `waiters` comes after that first drain sees it and takes the slow path,
//! where the epoch and the futex compare (as in symmetric mode) lose nothing.
//! A peer that churns the event word therefore makes a parked waiter loop, but
//! not interrupt other CPUs again.
//!
//! # Pairings, and what each can cost
//!
//! | notifier | waiter | outcome |
//! |---|---|---|
//! | any, symmetric ring | any | fences on both sides: no wakeup lost |
//! | registered, asymmetric ring | membarrier succeeded | no wakeup lost |
//! | not registered (a forked child whose re-registration failed), asymmetric ring | any | falls back to `fence(SeqCst)`, which pairs with the waiter's own fence: no wakeup lost |
//! | registered, asymmetric ring | membarrier failed at run time (it cannot once the process registered; a seccomp filter installed later could make it) | the waiter sleeps in slices of [`SYMMETRIC_SLICE`] and re-checks: a wakeup is late by at most 10 ms |
//! | a build before this change (ABI 1) | — | refused at attach (ABI version) |
//!
//! A process that cannot register (kernels before 4.16, a seccomp filter,
//! other systems, or `RINGWAY_BARRIER=symmetric` in its environment) can
//! create only symmetric rings and is refused an asymmetric one at attach.
//!
//! Each process registers the first time it needs to; a `fork`ed child (a new
//! address space, not registered) re-registers through a `pthread_atfork`
//! handler that resets the process state.
//!
//! Under loom both barriers are `fence(SeqCst)` and the drain is a no-op: the
//! model checks the handshake with symmetric fences; the membarrier contract
//! stands in for the notifier's fence in real builds.

use core::fmt;
use std::time::{Duration, Instant};

#[cfg(not(loom))]
use crate::loom::untracked::{AtomicU8, Ordering as UntrackedOrdering};
use crate::loom::{fence, Ordering};

/// The longest a waiter sleeps before it re-checks on its own when its
/// membarrier failed (asymmetric mode, Linux): the bound on how late such a
/// wakeup can be.
pub const SYMMETRIC_SLICE: Duration = Duration::from_millis(10);

/// The name of the environment variable that, set to `symmetric`, keeps this
/// process from registering for asymmetric barriers (as if the kernel lacked
/// `membarrier`): it then creates symmetric rings and is refused asymmetric ones.
pub const BARRIER_ENV: &str = "RINGWAY_BARRIER";

/// How the two sides of a ring's wait/notify handshake pay for its barrier.
///
/// A property of the ring: chosen at creation, stored in the mapped header as
/// [`as_raw`](Self::as_raw), and the same for every process. See the module
/// docs of `barrier.rs` (repeated in the README) for when to choose which.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Barrier {
    /// `fence(SeqCst)` on both sides: every notify pays a full fence (tens of
    /// nanoseconds when the cursor's line is contended), parking costs nobody
    /// else anything. Choose it for isolated cores and latency-critical
    /// neighbours, or where `membarrier` is unavailable.
    Symmetric = 1,
    /// Notifies pay no hardware fence; a waiter that is about to sleep pays
    /// one `membarrier`, which interrupts every CPU running a registered
    /// process (about 20 µs here). Choose it when notifies are frequent and
    /// sleeps rare.
    Asymmetric = 2,
}

impl Barrier {
    /// The value stored in a ring's header.
    #[must_use]
    pub fn as_raw(self) -> u32 {
        self as u32
    }

    /// The mode stored as `raw`, if it is one.
    #[must_use]
    pub fn from_raw(raw: u32) -> Option<Barrier> {
        match raw {
            1 => Some(Barrier::Symmetric),
            2 => Some(Barrier::Asymmetric),
            _ => None,
        }
    }

    /// Lower-case name (`"symmetric"`, `"asymmetric"`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Barrier::Symmetric => "symmetric",
            Barrier::Asymmetric => "asymmetric",
        }
    }

    /// The best mode this process can honour: asymmetric where it can
    /// register for `membarrier`, symmetric otherwise.
    #[must_use]
    pub fn best_available() -> Barrier {
        if asymmetric() {
            Barrier::Asymmetric
        } else {
            Barrier::Symmetric
        }
    }

    /// Whether this process can take part in a ring of this mode (always for
    /// symmetric; for asymmetric, when it is registered for `membarrier`).
    #[must_use]
    pub fn available(self) -> bool {
        match self {
            Barrier::Symmetric => true,
            Barrier::Asymmetric => asymmetric(),
        }
    }
}

impl fmt::Display for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(not(loom))]
const UNKNOWN: u8 = 0;
#[cfg(not(loom))]
const ASYMMETRIC: u8 = 1;
#[cfg(not(loom))]
const SYMMETRIC: u8 = 2;

/// This process's registration state; reset to UNKNOWN in a forked child.
#[cfg(not(loom))]
static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// This process's registration state, registering on first use.
#[cfg(not(loom))]
#[inline]
fn mode() -> u8 {
    // Acquire: pairs with the Release store in `register`: a thread that sees
    // ASYMMETRIC sees a process whose registration syscall has returned.
    match MODE.load(UntrackedOrdering::Acquire) {
        UNKNOWN => register(),
        mode => mode,
    }
}

/// Whether the environment asks this process to stay symmetric.
#[cfg(not(loom))]
fn forced_symmetric() -> bool {
    std::env::var_os(BARRIER_ENV).is_some_and(|v| v == "symmetric")
}

#[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
#[cold]
#[inline(never)]
fn register() -> u8 {
    use std::sync::Once;
    static ATFORK: Once = Once::new();
    extern "C" fn reset_in_child() {
        // Relaxed: the child is single-threaded when this runs.
        MODE.store(UNKNOWN, UntrackedOrdering::Relaxed);
    }
    ATFORK.call_once(|| {
        // SAFETY: registers a plain `extern "C"` function with no captured
        // state; it only stores to an atomic, which is async-signal-safe.
        unsafe { libc::pthread_atfork(None, None, Some(reset_in_child)) };
    });
    if cfg!(miri) {
        // Miri cannot run membarrier: the symmetric fences, which it checks.
        // Release: pairs with the Acquire load in `mode`.
        MODE.store(SYMMETRIC, UntrackedOrdering::Release);
        return SYMMETRIC;
    }
    const REGISTER_GLOBAL_EXPEDITED: libc::c_long = 1 << 2;
    let mode = if forced_symmetric() {
        SYMMETRIC
    } else {
        // SAFETY: membarrier takes integer arguments and touches no memory of ours.
        let rc = unsafe { libc::syscall(libc::SYS_membarrier, REGISTER_GLOBAL_EXPEDITED, 0, 0) };
        if rc == 0 {
            ASYMMETRIC
        } else {
            SYMMETRIC
        }
    };
    // Release: pairs with the Acquire load in `mode`.
    MODE.store(mode, UntrackedOrdering::Release);
    mode
}

#[cfg(all(not(loom), not(any(target_os = "linux", target_os = "android"))))]
#[cold]
#[inline(never)]
fn register() -> u8 {
    // Release: pairs with the Acquire load in `mode`.
    MODE.store(SYMMETRIC, UntrackedOrdering::Release);
    SYMMETRIC
}

/// The notifier's barrier, between its publication and its load of `waiters`.
#[inline]
pub(crate) fn light(barrier: Barrier) {
    #[cfg(not(loom))]
    if barrier == Barrier::Asymmetric && mode() == ASYMMETRIC {
        // The waiter's membarrier does the hardware part (module docs); the
        // compiler must still keep the publication before the load.
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        return;
    }
    #[cfg(loom)]
    let _ = barrier;
    // SeqCst fence: the notifier's half of the symmetric store-buffering
    // pair; pairs with the fence in `waiter_fence`. Also taken in an
    // asymmetric ring by a process that is not registered (module docs).
    fence(Ordering::SeqCst);
}

/// The waiter's fence, between its registration (and epoch load) and its
/// re-check; run on every iteration of the park loop.
#[inline]
pub(crate) fn waiter_fence() {
    // SeqCst fence: the waiter's half of the store-buffering pair; pairs with
    // the fence in `light` (symmetric mode, or an unregistered notifier) and
    // orders this thread's registration before the membarrier of `drain`.
    fence(Ordering::SeqCst);
}

/// What [`drain`] achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Drained {
    /// Every notifier is accounted for: sleep until woken.
    Yes,
    /// The membarrier failed: light notifiers may be undrained; sleep in
    /// [`SYMMETRIC_SLICE`]s.
    No,
}

/// The waiter's heavy half, once per park, after a `waiter_fence` and a
/// failed re-check: in an asymmetric ring, one `membarrier` that drains every
/// registered notifier's store buffer.
pub(crate) fn drain(barrier: Barrier) -> Drained {
    #[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
    if barrier == Barrier::Asymmetric {
        const GLOBAL_EXPEDITED: libc::c_long = 1 << 1;
        crate::stats::count_barrier();
        // SAFETY: membarrier takes integer arguments and touches no memory of ours.
        let rc = unsafe { libc::syscall(libc::SYS_membarrier, GLOBAL_EXPEDITED, 0, 0) };
        return if rc == 0 { Drained::Yes } else { Drained::No };
    }
    #[cfg(all(not(loom), not(any(target_os = "linux", target_os = "android"))))]
    if barrier == Barrier::Asymmetric {
        // No process here registers, so no notifier is light.
        return Drained::Yes;
    }
    let _ = barrier;
    Drained::Yes
}

/// The deadline a sleeping waiter passes to the kernel: its own, or, when its
/// drain failed, the end of the next [`SYMMETRIC_SLICE`].
pub(crate) fn sleep_until(drained: Drained, deadline: Option<Instant>) -> Option<Instant> {
    #[cfg(not(loom))]
    if drained == Drained::No {
        let slice = Instant::now() + SYMMETRIC_SLICE;
        return Some(deadline.map_or(slice, |d| d.min(slice)));
    }
    #[cfg(loom)]
    let _ = drained;
    deadline
}

/// Whether this process is registered for asymmetric barriers (registering
/// on the first call): its notifies in an asymmetric ring are free of
/// hardware fences, and it may create and attach asymmetric rings.
pub fn asymmetric() -> bool {
    #[cfg(not(loom))]
    return mode() == ASYMMETRIC;
    #[cfg(loom)]
    false
}
