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
//! The same flags count the `fork`s the mapping went through, with a word
//! per fork generation ([`Flags`], moved on in the child by `peer/fork.rs`'s
//! handler through [`after_fork`]): a handle keeps its generation's word
//! ([`Check`]) and its check tests it for 0, so the one load refuses both a
//! truncated ring and a `fork`ed copy of the handle (the forked error), at
//! the cost the poison check alone had.
//!
//! | state | who writes | who reads | ordering |
//! |---|---|---|---|
//! | `Slot::end` (0 = free, `BUSY` = being set up) | `register` / `Guard::drop` | handler | Release store / Acquire load: the handler sees `start` written before `end` |
//! | `Slot::start` | `register` | handler | Relaxed, published by `end`'s Release |
//! | `Flags::state`: [`POISONED`] set by the handler; the fork count below it | handler; the `fork` child handler; `register` (0) | slow paths | Relaxed: a flag, ordered with nothing (the zero pages are in place before the handler returns, whatever the flag says; the fork count is written in the child before any code of the child's runs) |
//! | `Flags::fast[g]` (0: handles of generation `g` go on) | handler (all set); `fork` child handler (all set, the child's cleared); `register` | every ring operation | Relaxed: as `state` |
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

/// `Flags::state` bit: a truncation of the mapping was caught. The bits
/// below count the `fork`s the mapping went through (wrapping; a lineage
/// of 2^31 forks is not a case).
pub(crate) const POISONED: u32 = 1 << 31;

/// Fork generations with a word of their own in [`Flags::fast`]; handles of
/// a later generation share the last word, which is never 0 (their checks
/// all take the slow path: correct, slower, and only after this many
/// nested forks since the ring was mapped).
const GENS: usize = 8;

/// A `fast` word that is not 0: the generation's handles are `fork`ed
/// copies (or, the last word, of a generation past the others).
const STALE: u32 = 1;

/// A mapping's poison flag and fork count, and one word per fork
/// generation that is 0 while its handles may go on: the check on every
/// push and pop is one load of its handle's word and a test for 0, as the
/// poison flag alone was (comparing the count with the handle's own cost
/// MPMC single push+pop 5%: `peer/fork.rs`).
pub(crate) struct Flags {
    /// [`POISONED`] | the fork count.
    state: AtomicU32,
    /// Word `g` is 0 while handles attached at fork count `g` may go on:
    /// set by a truncation (all), by a `fork` (all, then the child's own
    /// generation cleared).
    fast: [AtomicU32; GENS],
}

#[allow(clippy::declare_interior_mutable_const)]
const FRESH_FLAGS: Flags = Flags {
    state: AtomicU32::new(0),
    fast: [
        AtomicU32::new(0),
        AtomicU32::new(STALE),
        AtomicU32::new(STALE),
        AtomicU32::new(STALE),
        AtomicU32::new(STALE),
        AtomicU32::new(STALE),
        AtomicU32::new(STALE),
        AtomicU32::new(STALE),
    ],
};

impl Flags {
    /// Back to a fresh mapping's state (in `register`).
    fn reset(&self) {
        // Relaxed: published by the Release store of the slot's `end`.
        self.state.store(0, Ordering::Relaxed);
        for (g, word) in self.fast.iter().enumerate() {
            word.store(if g == 0 { 0 } else { STALE }, Ordering::Relaxed);
        }
    }

    /// In the signal handler: every generation's check fails from now on.
    fn poison(&self) {
        // Relaxed: see the module table.
        self.state.fetch_or(POISONED, Ordering::Relaxed);
        for word in &self.fast {
            word.fetch_or(POISONED, Ordering::Relaxed);
        }
    }

    /// In a `fork` child: the count moves on, every handle of the parent
    /// fails its check, the child's own generation starts clear.
    fn forked(&self) {
        // Relaxed: the child's only thread, before any code of its own; a
        // load and a store, as no other thread exists to race with (a
        // truncation caught meanwhile leaves POISONED set in `state`,
        // which the slow path reads).
        let s = self.state.load(Ordering::Relaxed);
        let count = s.wrapping_add(1) & !POISONED;
        self.state.store((s & POISONED) | count, Ordering::Relaxed);
        for word in &self.fast {
            word.fetch_or(STALE, Ordering::Relaxed);
        }
        let g = count as usize;
        if g < GENS - 1 && s & POISONED == 0 {
            self.fast[g].store(0, Ordering::Relaxed);
        }
    }
}

static TABLE: [Slot; MAX_MAPPINGS] = [FREE_SLOT; MAX_MAPPINGS];

/// The flags of rings that are not protected (caller memory, anonymous,
/// a full table): never poisoned; they count forks as the slots do.
static NEVER: Flags = FRESH_FLAGS;

struct Slot {
    start: AtomicUsize,
    end: AtomicUsize,
    flags: Flags,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE_SLOT: Slot = Slot {
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    flags: FRESH_FLAGS,
};

/// A mapping's flags, as the `Ring` holds them.
#[derive(Clone, Copy)]
pub(crate) struct Poison(&'static Flags);

impl core::fmt::Debug for Poison {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Poison").finish_non_exhaustive()
    }
}

impl Poison {
    /// Whether the ring was poisoned.
    pub(crate) fn is_set(self) -> bool {
        // Relaxed: a flag set by the signal handler; nothing is published
        // with it (the zero pages are in place before the handler returns).
        self.0.state.load(Ordering::Relaxed) & POISONED != 0
    }

    /// The forks the mapping went through (in this process's lineage):
    /// what a handle attaching now keeps, and its [`Check`].
    pub(crate) fn forks(self) -> u32 {
        // Relaxed: as in `is_set`; the count is written by this process's
        // only thread before it ran any other code (`after_fork`).
        self.0.state.load(Ordering::Relaxed) & !POISONED
    }

    /// The word a handle attached at fork count `forks` checks.
    pub(crate) fn check_for(self, forks: u32) -> Check {
        Check(&self.0.fast[(forks as usize).min(GENS - 1)])
    }

    /// The full check of a handle attached at `forks`: truncated, or a
    /// `fork`ed copy, or fine (a generation past the words of its own).
    #[cold]
    #[inline(never)]
    pub(crate) fn check_slow(self, forks: u32) -> Result<(), crate::CorruptError> {
        // Relaxed: as in `forks`.
        let state = self.0.state.load(Ordering::Relaxed);
        if state & POISONED != 0 {
            return Err(truncated());
        }
        if state != forks {
            return Err(crate::CorruptError::forked());
        }
        Ok(())
    }
}

/// A handle's word of its mapping's [`Flags::fast`], copied into its core
/// so that the check on every operation is one load and a test, with no
/// pointer chase through the `Ring`. The core keeps the fork count it
/// attached at next to it, for the slow path.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Check(&'static AtomicU32);

impl Check {
    /// `Err` once the ring's memory was found truncated, or in a process
    /// `fork`ed since the handle (of `ring`, attached at `forks`) attached.
    /// `ring` is only read on the slow path.
    #[inline(always)]
    pub(crate) fn check(
        self,
        ring: &crate::ring::Ring,
        forks: u32,
    ) -> Result<(), crate::CorruptError> {
        // Relaxed: see `Flags`: a flag, ordered with nothing.
        if self.0.load(Ordering::Relaxed) != 0 {
            return ring.poison().check_slow(forks);
        }
        Ok(())
    }

    /// Whether the word is 0 (the handle may go on; otherwise ask
    /// [`check`](Self::check)).
    #[inline(always)]
    pub(crate) fn is_clear(self) -> bool {
        // Relaxed: as in `check`.
        self.0.load(Ordering::Relaxed) == 0
    }
}

/// Called by the `fork` child handler (`peer/fork.rs`), in the child:
/// bumps the fork count of every mapping (and of the unprotected rings'
/// flags), so that every handle attached before the fork fails its check.
/// Only atomics: async-signal-safe.
pub(crate) fn after_fork() {
    TABLE.iter().for_each(|slot| slot.flags.forked());
    NEVER.forked();
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
        Poison(self.slot.map_or(&NEVER, |s| &s.flags))
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
                slot.flags.reset();
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
    use super::{Ordering, BUSY, TABLE};
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
            slot.flags.poison();
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

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// What the checks of handles attached at each fork count say, after
    /// `forks` forks (and a truncation when `poisoned`), by the fast word
    /// and the slow path together.
    fn verdicts(flags: &'static Flags, upto: u32) -> Vec<Result<(), &'static str>> {
        let poison = Poison(flags);
        (0..=upto)
            .map(|attached| {
                let word = poison.check_for(attached);
                if word.is_clear() {
                    return Ok(());
                }
                poison.check_slow(attached).map_err(|e| {
                    if e.is_forked() {
                        "forked"
                    } else {
                        "truncated"
                    }
                })
            })
            .collect()
    }

    #[test]
    fn each_fork_refuses_the_older_generations_and_clears_its_own() {
        let flags: &'static Flags = Box::leak(Box::new(FRESH_FLAGS));
        let poison = Poison(flags);
        assert_eq!(poison.forks(), 0);
        assert!(poison.check_for(0).is_clear());
        // Past the words of their own (GENS - 1 and on), handles share the
        // last word, which is never clear: the slow path says fine for the
        // current generation, forked for the older ones.
        for forks in 1..=(GENS as u32 + 3) {
            flags.forked();
            assert_eq!(poison.forks(), forks);
            let v = verdicts(flags, forks);
            for (attached, verdict) in v.iter().enumerate() {
                let want = if attached as u32 == forks {
                    Ok(())
                } else {
                    Err("forked")
                };
                assert_eq!(
                    *verdict, want,
                    "after {forks} forks, attached at {attached}"
                );
            }
            let fast = (forks as usize) < GENS - 1;
            assert_eq!(
                poison.check_for(forks).is_clear(),
                fast,
                "after {forks} forks"
            );
        }
    }

    #[test]
    fn a_truncation_fails_every_generation_and_outlives_forks() {
        let flags: &'static Flags = Box::leak(Box::new(FRESH_FLAGS));
        let poison = Poison(flags);
        flags.forked();
        flags.poison();
        assert!(poison.is_set());
        assert_eq!(poison.forks(), 1);
        assert_eq!(verdicts(flags, 1), [Err("truncated"), Err("truncated")]);
        flags.forked();
        assert!(poison.is_set());
        assert_eq!(poison.forks(), 2);
        assert!(!poison.check_for(2).is_clear());
        assert_eq!(verdicts(flags, 2), [Err("truncated"); 3]);
        flags.reset();
        assert!(!poison.is_set() && poison.forks() == 0 && poison.check_for(0).is_clear());
    }
}
