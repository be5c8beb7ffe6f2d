//! The two fences of the eventcount's store-buffering handshake, made
//! asymmetric where the kernel allows it.
//!
//! The handshake needs a StoreLoad barrier on both sides: the notifier between
//! its publication and its load of `waiters`, the waiter between its
//! registration and its re-check. A `fence(SeqCst)` (`mfence`) on the notifier
//! side is paid on every push and pop, and it is expensive exactly when it
//! matters: it waits for the store of the cursor to leave the store buffer,
//! which needs the cursor's line back from the other core.
//!
//! On Linux, `membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED)` lets the *waiter*
//! pay for both: it runs a full barrier on every CPU that is running a thread
//! of a process registered with `MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED`
//! (and a thread that is not running has passed a context switch, itself a
//! barrier). So in *asymmetric* mode:
//!
//! | side | barrier | cost |
//! |---|---|---|
//! | notifier ([`light`]) | compiler fence only | nothing at run time |
//! | waiter ([`heavy`]), only when it is about to sleep | `fence(SeqCst)` + `membarrier` | one syscall and IPIs, next to the futex wait it precedes |
//!
//! Why it is enough (the store-buffering argument of `event.rs`): when the
//! waiter's `membarrier` returns, every registered notifier thread has run a
//! full barrier after the waiter's registration became visible. A notifier
//! whose load of `waiters` ran before that barrier had its publication, which
//! comes before the load in program order, drained by the same barrier, so the
//! waiter's re-check sees it; a notifier whose load ran after it sees the
//! registration and wakes. This is the asymmetric Dekker pattern (folly's
//! `asymmetricLightBarrier`/`asymmetricHeavyBarrier`).
//!
//! Each process registers the first time it needs a barrier; a `fork`ed child
//! (a new address space, not registered) re-registers, through a
//! `pthread_atfork` handler that resets the mode. If registration fails
//! (kernels before 4.16, a seccomp filter, other systems) the process stays
//! *symmetric*: `fence(SeqCst)` on both sides, as before. A symmetric waiter
//! cannot make an asymmetric notifier in another process drain its store
//! buffer, so on Linux it sleeps in slices of [`SYMMETRIC_SLICE`] and
//! re-checks: a mixed pair stays correct, at worst that much later.
//!
//! Under loom both barriers are `fence(SeqCst)`: the model checks the
//! handshake with symmetric fences, the membarrier contract stands in for the
//! notifier's fence in real builds.

use std::time::{Duration, Instant};

#[cfg(not(loom))]
use crate::loom::untracked::{AtomicU8, Ordering as UntrackedOrdering};
use crate::loom::{fence, Ordering};

/// How long a symmetric waiter sleeps before it re-checks on its own (Linux).
pub const SYMMETRIC_SLICE: Duration = Duration::from_millis(10);

#[cfg(not(loom))]
const UNKNOWN: u8 = 0;
#[cfg(not(loom))]
const ASYMMETRIC: u8 = 1;
#[cfg(not(loom))]
const SYMMETRIC: u8 = 2;

/// This process's mode; reset to UNKNOWN in a forked child.
#[cfg(not(loom))]
static MODE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// This process's mode, registering on first use.
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
    // SAFETY: membarrier takes integer arguments and touches no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_membarrier, REGISTER_GLOBAL_EXPEDITED, 0, 0) };
    let mode = if rc == 0 { ASYMMETRIC } else { SYMMETRIC };
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
pub(crate) fn light() {
    #[cfg(not(loom))]
    if mode() == ASYMMETRIC {
        // The waiter's membarrier does the hardware part (module docs); the
        // compiler must still keep the publication before the load.
        core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
        return;
    }
    // SeqCst fence: the notifier's half of the symmetric store-buffering
    // pair; pairs with the fence in `heavy`.
    fence(Ordering::SeqCst);
}

/// The waiter's barrier, between its registration and its re-check.
pub(crate) fn heavy() {
    // SeqCst fence: the waiter's half of the store-buffering pair; pairs with
    // the fence in `light` (symmetric mode) and orders this thread's own
    // registration before the membarrier below (asymmetric mode).
    fence(Ordering::SeqCst);
    #[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
    if mode() == ASYMMETRIC {
        const GLOBAL_EXPEDITED: libc::c_long = 1 << 1;
        crate::stats::count_barrier();
        // SAFETY: membarrier takes integer arguments and touches no memory of ours.
        let rc = unsafe { libc::syscall(libc::SYS_membarrier, GLOBAL_EXPEDITED, 0, 0) };
        // It cannot fail once registered; if it ever does, notifiers in this
        // process may be light, so fall back to sliced sleeps from now on.
        if rc != 0 {
            // Release: as in `register`.
            MODE.store(SYMMETRIC, UntrackedOrdering::Release);
        }
    }
}

/// The deadline a sleeping waiter passes to the kernel: its own, or, when
/// this process is symmetric on Linux (peers may be asymmetric notifiers that
/// it cannot drain), the end of the next [`SYMMETRIC_SLICE`].
pub(crate) fn sleep_until(deadline: Option<Instant>) -> Option<Instant> {
    #[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
    if mode() == SYMMETRIC {
        let slice = Instant::now() + SYMMETRIC_SLICE;
        return Some(deadline.map_or(slice, |d| d.min(slice)));
    }
    deadline
}

/// Whether notifies in this process are free of hardware fences.
pub fn asymmetric() -> bool {
    #[cfg(not(loom))]
    return mode() == ASYMMETRIC;
    #[cfg(loom)]
    false
}
