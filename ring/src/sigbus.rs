//! No SIGBUS from a truncation: a process-wide SIGBUS handler that recognises
//! faults inside ringway's own shm and file mappings.
//!
//! A peer (or anyone with write access to the object) that `ftruncate`s a
//! ring's shm object or file makes every access to the lost pages raise
//! SIGBUS in every process that has it mapped. When the first shm or file
//! ring is mapped, ringway installs a SIGBUS handler (`sigaction`,
//! `SA_SIGINFO | SA_ONSTACK`) that:
//!
//! 1. looks the faulting address (`si_addr`) up in a fixed table of ringway
//!    mappings (lock-free: a static array of atomics, no allocation, safe in
//!    a signal handler);
//! 2. if it is ours: maps private zero pages over the rest of that mapping
//!    from the faulting page on (`mmap(MAP_FIXED | MAP_PRIVATE |
//!    MAP_ANONYMOUS)`), marks the ring poisoned and returns, so the faulting
//!    instruction re-runs against a zero page;
//! 3. otherwise chains to the handler that was installed before (Rust's own
//!    stack-overflow handler, or the application's), or restores the default
//!    action so that the fault re-runs and kills the process as it would
//!    have without ringway.
//!
//! Every ring operation checks the poison flag (one load of a process-local
//! atomic that is written only by the handler) and returns a
//! [`CorruptError`](crate::CorruptError) from then on: the victim gets a
//! typed error on its next call and lives; what it read in between was
//! zero bytes (garbage messages, which shared memory may always hold).
//!
//! The same word counts the `fork`s the mapping went through (its low 31
//! bits, bumped in the child by `peer/fork.rs`'s handler, [`after_fork`]):
//! a handle copies the count when it attaches ([`Poison::forks`]) and
//! its check compares the whole word with that copy, so the one load
//! refuses both a truncated ring and a `fork`ed copy of the handle (the
//! forked error), at the cost the poison check alone had.
//!
//! | state | who writes | who reads | ordering |
//! |---|---|---|---|
//! | `Slot::end` (0 = free, `BUSY` = being set up) | `register` / `Guard::drop` | handler | Release store / Acquire load: the handler sees `start` written before `end` |
//! | `Slot::start` | `register` | handler | Relaxed, published by `end`'s Release |
//! | `Slot::state`: [`POISONED`] set by the handler; the fork count below it | handler; the `fork` child handler; `register` (0) | every ring operation | Relaxed: a flag, ordered with nothing (the zero pages are in place before the handler returns, whatever the flag says; the fork count is written in the child before any code of the child's runs) |
//!
//! Why this and not sealed memfds. The alternative evaluated was to serve
//! named rings as memfds sealed with `F_SEAL_SHRINK` and hand them over a
//! UNIX socket with `SCM_RIGHTS`: a sealed object cannot shrink, so it cannot
//! fault. It was not chosen because it covers only rings that go through a
//! broker: a file ring (a path on disk) and a POSIX shm name cannot be
//! sealed (Linux allows seals only on memfds), so anyone who can open them
//! for writing can still truncate them, and every named ring would need a
//! live broker process to be opened at all. The handler covers every region
//! kind a user can name. Anonymous rings are memfds and are sealed already
//! (`region.rs`), so they cannot fault.
//!
//! Limits: the table holds [`MAX_MAPPINGS`] mappings (a ring mapped beyond
//! that works, unprotected); an application that installs its own SIGBUS
//! handler after ringway's replaces it (call its predecessor from yours to
//! keep the protection); `mmap` is not on POSIX's list of async-signal-safe
//! functions but is a plain system call on Linux, which is the only platform
//! this module is built for (elsewhere a truncation still raises SIGBUS).

//! The atomics here are `std`'s, not the `loom.rs` facade's: they live in
//! statics read by a signal handler (they must be const-constructible), and
//! they are process-local state, not a protocol shared with peers.

#![cfg_attr(loom, allow(dead_code))]

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

/// Mappings the handler can protect at once.
pub(crate) const MAX_MAPPINGS: usize = 256;

const BUSY: usize = usize::MAX;

/// `Slot::state` bit: a truncation of the mapping was caught. The bits
/// below count the `fork`s the mapping went through (wrapping; a lineage
/// of 2^31 forks is not a case).
pub(crate) const POISONED: u32 = 1 << 31;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    state: AtomicU32,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE_SLOT: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    state: AtomicU32::new(0),
};

static TABLE: [Slot; MAX_MAPPINGS] = [FREE_SLOT; MAX_MAPPINGS];

/// The state of rings that are not protected (caller memory, anonymous,
/// a full table): never poisoned; it counts forks as the slots do.
static NEVER: AtomicU32 = AtomicU32::new(0);

/// A ring's poison flag and fork count, copied into each handle's core so
/// that the check on every operation is one load, with no pointer chase
/// through the `Ring`. The core keeps the fork count it attached at
/// ([`forks`](Self::forks)) next to it, in a `u32` of its own (inside the
/// `Poison`, it doubled the pointer's 8 bytes with padding on every handle).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Poison(&'static AtomicU32);

impl Poison {
    /// `Err` once the ring's memory was found truncated, or in a process
    /// `fork`ed since the handle that attached at `forks` (what
    /// [`forks`](Self::forks) said then) attached.
    #[inline(always)]
    pub(crate) fn check(self, forks: u32) -> Result<(), crate::CorruptError> {
        // Relaxed: a flag set by the signal handler; nothing is published
        // with it (the zero pages are in place before the handler returns).
        // The fork count: written by this process's only thread before it
        // ran any other code (`after_fork`).
        let state = self.0.load(Ordering::Relaxed);
        if state != forks {
            return Err(failed(state));
        }
        Ok(())
    }

    /// Whether the ring was poisoned.
    pub(crate) fn is_set(self) -> bool {
        // Relaxed: as in `check`.
        self.0.load(Ordering::Relaxed) & POISONED != 0
    }

    /// The forks the mapping went through (in this process's lineage):
    /// what a handle attaching now checks against.
    pub(crate) fn forks(self) -> u32 {
        // Relaxed: as in `check`.
        self.0.load(Ordering::Relaxed) & !POISONED
    }
}

/// The error of a failed check.
#[cold]
#[inline(never)]
fn failed(state: u32) -> crate::CorruptError {
    if state & POISONED != 0 {
        return truncated();
    }
    crate::CorruptError::forked()
}

/// Called by the `fork` child handler (`peer/fork.rs`), in the child:
/// bumps the fork count of every mapping (and of the unprotected rings'
/// word), so that every handle attached before the fork fails its check.
/// Only atomics: async-signal-safe.
pub(crate) fn after_fork() {
    let bump = |state: &AtomicU32| {
        // Relaxed: the child's only thread, before any code of its own; a
        // load and a store, as no other thread exists to race with.
        let s = state.load(Ordering::Relaxed);
        state.store(
            (s & POISONED) | (s.wrapping_add(1) & !POISONED),
            Ordering::Relaxed,
        );
    };
    TABLE.iter().for_each(|slot| bump(&slot.state));
    bump(&NEVER);
}

/// The error every operation of a poisoned ring returns.
#[cold]
#[inline(never)]
pub(crate) fn truncated() -> crate::CorruptError {
    crate::CorruptError {
        what: "the ring's memory was truncated by another process (SIGBUS caught; zero pages mapped over the lost range)",
        value: 0,
    }
}

/// A registered mapping; unregisters on drop (before the mapping goes).
#[derive(Debug)]
pub(crate) struct Guard {
    slot: Option<&'static Slot>,
}

impl core::fmt::Debug for Slot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Slot").finish_non_exhaustive()
    }
}

impl Guard {
    /// A guard that protects nothing.
    pub(crate) fn none() -> Guard {
        Guard { slot: None }
    }

    /// The poison flag of this mapping: set once a truncation was caught.
    pub(crate) fn flag(&self) -> Poison {
        Poison(self.slot.map_or(&NEVER, |s| &s.state))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            // Release: pairs with the Acquire in `register` of the next user
            // of this slot (nothing to publish but the free state).
            slot.end.store(0, Ordering::Release);
        }
    }
}

/// Registers `[start, start + len)` as a ringway mapping, installing the
/// handler on first use.
pub(crate) fn register(start: *mut u8, len: usize) -> Guard {
    #[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
    {
        if len == 0 || !imp::install() {
            return Guard::none();
        }
        let start = start as usize;
        let Some(end) = start.checked_add(len) else {
            return Guard::none();
        };
        for slot in &TABLE {
            // Acquire: pairs with the Release free in `Guard::drop`.
            if slot
                .end
                .compare_exchange(0, BUSY, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                slot.start.store(start, Ordering::Relaxed);
                slot.state.store(0, Ordering::Relaxed);
                // Release: publishes `start` and the cleared flag; pairs with
                // the Acquire load of `end` in the handler.
                slot.end.store(end, Ordering::Release);
                return Guard { slot: Some(slot) };
            }
        }
        Guard::none()
    }
    #[cfg(not(all(not(loom), any(target_os = "linux", target_os = "android"))))]
    {
        let _ = (start, len);
        Guard::none()
    }
}

#[cfg(all(not(loom), any(target_os = "linux", target_os = "android")))]
mod imp {
    use super::{Ordering, BUSY, POISONED, TABLE};
    use core::cell::UnsafeCell;
    use core::mem::MaybeUninit;
    use std::sync::Once;

    /// The action that was installed before ours, written once by
    /// `sigaction` inside `INSTALL` before our handler can run.
    struct Previous(UnsafeCell<MaybeUninit<libc::sigaction>>);
    // SAFETY: written once, inside `INSTALL.call_once` (by the kernel, as
    // sigaction's out-parameter) before the handler that reads it exists;
    // read-only afterwards.
    unsafe impl Sync for Previous {}

    static PREVIOUS: Previous = Previous(UnsafeCell::new(MaybeUninit::uninit()));
    static INSTALL: Once = Once::new();
    static INSTALLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    static PAGE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(4096);

    /// Installs the handler once; whether it is in place.
    pub(super) fn install() -> bool {
        INSTALL.call_once(|| {
            // SAFETY: sysconf only reads its argument.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            // SAFETY: all-zero is a valid sigaction (empty mask, no flags).
            let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
            action.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: `action` is initialised; PREVIOUS is written only here,
            // once, and is a valid out-parameter for a sigaction.
            let rc = unsafe {
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(libc::SIGBUS, &action, (*PREVIOUS.0.get()).as_mut_ptr())
            };
            INSTALLED.store(rc == 0, Ordering::Release);
        });
        // Acquire: pairs with the Release above (and `call_once` orders it anyway).
        INSTALLED.load(Ordering::Acquire)
    }

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        for slot in &TABLE {
            // Acquire: pairs with the Release store of `end` in `register`.
            let end = slot.end.load(Ordering::Acquire);
            if end == 0 || end == BUSY {
                continue;
            }
            let start = slot.start.load(Ordering::Relaxed);
            if addr < start || addr >= end {
                continue;
            }
            let page = addr & !(PAGE.load(Ordering::Relaxed) - 1);
            // SAFETY: [page, end) lies inside a mapping of ours that stays
            // registered (and so mapped) while a ring uses it; replacing it
            // with private zero pages changes what the ring reads, never
            // the validity of its pointers.
            let p = unsafe {
                libc::mmap(
                    page as *mut libc::c_void,
                    end - page,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                break; // cannot repair: let the fault take its course
            }
            slot.state.fetch_or(POISONED, Ordering::Relaxed);
            return;
        }
        chain(sig, info, ctx);
    }

    /// Passes a fault that is not ours to the previous handler, or restores
    /// the default action so that the re-run fault ends the process.
    fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: written before our handler was installed (see `Previous`).
        let prev = unsafe { (*PREVIOUS.0.get()).assume_init_ref() };
        let handler = prev.sa_sigaction;
        if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
            // SAFETY: all-zero is a valid sigaction; SIG_DFL is 0.
            let mut dfl: libc::sigaction = unsafe { core::mem::zeroed() };
            dfl.sa_sigaction = libc::SIG_DFL;
            // SAFETY: sigaction is async-signal-safe; `dfl` is valid.
            unsafe { libc::sigaction(libc::SIGBUS, &dfl, core::ptr::null_mut()) };
            return;
        }
        if prev.sa_flags & libc::SA_SIGINFO != 0 {
            // SAFETY: the previous action was installed with SA_SIGINFO, so
            // its handler has this signature.
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                unsafe { core::mem::transmute(handler) };
            f(sig, info, ctx);
        } else {
            // SAFETY: a plain handler takes the signal number only.
            let f: extern "C" fn(libc::c_int) = unsafe { core::mem::transmute(handler) };
            f(sig);
        }
    }
}
