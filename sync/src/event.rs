//! The eventcount: block until a condition on shared memory holds, without a
//! syscall on either side while nobody sleeps.
//!
//! An [`Event`] is two 32-bit words in the ring's mapped header. The *condition*
//! itself lives elsewhere (a ring cursor, say): the publisher stores it with
//! Release and then calls [`Event::notify`]; a waiter passes a `ready` closure that
//! loads it with Acquire to [`Event::wait`].
//!
//! # Protocol
//!
//! | atomic | who writes | who reads | ordering | partner |
//! | --- | --- | --- | --- | --- |
//! | caller's condition | publisher, before `notify` | waiter, in `ready()` | caller's Release store / Acquire load | each other; the two fences below order it against `waiters` |
//! | `waiters` | parking waiter: saturating +1 on entry, saturating -1 on exit | `notify` | Relaxed RMWs and load | the `fence(SeqCst)` pair: the waiter's after its +1, the notifier's before its load |
//! | `seq` | `notify`, only when `waiters != 0`: `fetch_add(1)` | parking waiter (epoch); the kernel's compare in the futex wait | Release RMW / Acquire load | each other |
//!
//! The fences: `notify` runs `publish; fence(SeqCst); load waiters`, and a parking
//! waiter runs `waiters += 1; epoch = seq; fence(SeqCst); ready()`.
//!
//! # Why no wakeup is lost
//!
//! This is the store-buffering (Dekker) shape. Take a notifier N that published
//! and a waiter W that is about to sleep on `epoch`. The two `SeqCst` fences are
//! totally ordered:
//!
//! - If W's fence comes first, W's `waiters += 1` is visible to N's load after
//!   N's fence, so N takes the slow path: it bumps `seq` and wakes. W read `epoch`
//!   before its fence, so before the bump: either the kernel's compare sees the
//!   bumped `seq` and W does not sleep (`EAGAIN`), or W was queued before the bump
//!   and the wake after the bump finds it (the futex guarantees exactly this).
//!   If W's `epoch` load did read N's bump, it synchronises with it (Release RMW,
//!   Acquire load), so W's `ready()` sees the publication and W does not sleep.
//! - If N's fence comes first, W's `ready()` after W's fence sees the publication
//!   and W returns without sleeping. N may skip the wake: nobody needs it.
//!
//! A `SeqCst` read-modify-write is not a fence for the other, Relaxed, accesses, so
//! both sides use explicit fences, which loom checks (`tests/loom_event.rs`).
//!
//! # Shared memory is untrusted
//!
//! Both words may be written by any process that maps the ring; nothing read from
//! them is trusted beyond "a hint":
//!
//! - A peer that died while registered leaves `waiters` too high. That only costs
//!   every later `notify` one wake syscall with nobody to wake (about a
//!   microsecond); it never loses a wakeup. Registration saturates at `u32::MAX`
//!   and deregistration at 0, so a garbage count never wraps to 0 (which could
//!   lose wakeups) or from 0 to `u32::MAX`.
//! - `seq` is an opaque number compared for equality; it wraps. A waiter that
//!   read its epoch and then slept through exactly 2^32 notifies before entering
//!   the kernel would sleep until the next one or its deadline; that is not a
//!   practical concern.
//! - A peer that can write the mapping can always make a waiter wait (by zeroing
//!   `waiters`, or by never publishing); it cannot cause undefined behaviour or a
//!   panic here. Waiters that must not hang pass a deadline.

use core::fmt;
use std::time::Instant;

use crate::barrier;
use crate::loom::{expired, spin_loop, yield_now, AtomicU32, Ordering};
#[cfg(not(loom))]
use crate::sys;
use crate::sys::Outcome;

/// Spins of [`WaitStrategy::SpinThenPark`] in [`WaitStrategy::default`].
///
/// Each spin is one `ready()` check plus one spin-loop hint (`PAUSE` on x86, whose
/// cost varies by CPU from a few to ~140 cycles). On the development machine
/// (`examples/ping_pong.rs`) a spin costs ~28 ns, so 256 spins are ~7 µs: a
/// quarter of the ~25-35 µs that parking and being woken by another core costs
/// there. In a two-thread ping-pong with both cores otherwise idle, 256 spins
/// parked on ~0-3% of waits (round trip ~0.3-2.5 µs), 100 on ~10%, 30 on most,
/// and `Park` cost ~35-70 µs per round trip. When other work keeps the cores busy,
/// spinning wins less and a park costs less (~7 µs), so no budget is best there.
pub const DEFAULT_SPINS: u32 = 256;

/// How many spins pass between two looks at the clock in the spinning strategies
/// (`Instant::now` costs about as much as a few dozen spins).
const SPINS_PER_CLOCK_CHECK: u32 = 64;

/// A wait/notify point in shared memory: an eventcount over a futex word.
///
/// It lives in the ring's mapped header, which is ABI: `#[repr(C)]`, 8 bytes,
/// 4-byte aligned (pinned by `const` asserts), and **all-zero bytes are a
/// valid, empty `Event`**, so a zero-filled mapping needs no initialisation. Any
/// number of threads in any number of processes may wait on and notify the same
/// `Event`.
///
/// How it works: `notify` runs `fence(SeqCst)` and reads `waiters`, and only when
/// it is nonzero bumps `seq` and wakes the futex on it; a parking waiter registers
/// in `waiters`, reads `seq`, runs `fence(SeqCst)`, re-checks its condition, and
/// sleeps only while `seq` is unchanged. The protocol table and the proof that no
/// wakeup is lost head `src/event.rs`.
#[repr(C)]
pub struct Event {
    /// Bumped (wrapping) by every `notify` that finds a registered waiter; the word
    /// waiters sleep on. Opaque: only compared for equality.
    seq: AtomicU32,
    /// How many waiters are registered to park (a hint: saturating, and peers may
    /// have died while registered).
    waiters: AtomicU32,
    /// The emulated futex wait queue: under loom only, the real one is the kernel's.
    #[cfg(loom)]
    parker: crate::loom_futex::Parker,
}

#[cfg(not(loom))]
const _: () = {
    assert!(size_of::<Event>() == 8);
    assert!(align_of::<Event>() == 4);
    assert!(core::mem::offset_of!(Event, seq) == 0);
    assert!(core::mem::offset_of!(Event, waiters) == 4);
};

/// How [`Event::wait`] waits while `ready()` says no.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStrategy {
    /// Spin on `ready()` with a spin-loop hint. Never registers, never sleeps, never
    /// makes a syscall (so never needs a `notify`); burns a core. Checks the
    /// deadline every 64 spins.
    BusySpin,
    /// Call `ready()`, then yield the CPU to the OS scheduler, in a loop. Never
    /// registers and never needs a `notify`; each yield is a `sched_yield` syscall
    /// (not counted in [`stats()`](crate::stats())). Checks the deadline after every yield.
    Yield,
    /// Spin `spins` times as [`BusySpin`](Self::BusySpin) does, then park as
    /// [`Park`](Self::Park) does. The default, with
    /// [`DEFAULT_SPINS`]: a wait that ends within a few
    /// microseconds never sleeps, a longer one does not burn a core.
    SpinThenPark {
        /// How many `ready()` checks to spin through before parking.
        spins: u32,
    },
    /// Register as a waiter and sleep in the kernel until a `notify` (or the
    /// deadline). Costs the waiter a wait syscall and the notifier a wake syscall
    /// per sleep.
    Park,
}

impl Default for WaitStrategy {
    /// `SpinThenPark { spins: DEFAULT_SPINS }`.
    fn default() -> Self {
        WaitStrategy::SpinThenPark {
            spins: DEFAULT_SPINS,
        }
    }
}

/// [`Event::wait`] reached its deadline before `ready()` said yes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout;

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("timed out waiting for an event")
    }
}

impl std::error::Error for Timeout {}

/// What a spin phase ended with.
enum Spun<R> {
    /// `ready()` said yes.
    Ready(R),
    /// The deadline passed.
    Expired,
    /// The spin budget ran out.
    Exhausted,
}

impl Event {
    /// An empty event: no waiters, sequence 0. The same as all-zero bytes.
    #[cfg(not(loom))]
    #[must_use]
    pub const fn new() -> Self {
        Event {
            seq: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
        }
    }

    /// An empty event: no waiters, sequence 0 (loom build).
    #[cfg(loom)]
    #[must_use]
    pub fn new() -> Self {
        Event {
            seq: AtomicU32::new(0),
            waiters: AtomicU32::new(0),
            parker: crate::loom_futex::Parker::new(),
        }
    }

    /// Wakes every parked waiter, if any. Call it right after publishing (storing
    /// the condition with Release).
    ///
    /// The fast path, taken whenever nobody is parked, is a `fence(SeqCst)`, a load
    /// and a branch: no RMW on shared memory, no syscall. Only when a waiter is
    /// registered does it bump the sequence and make one wake syscall.
    #[inline]
    pub fn notify(&self) {
        // The notifier's half of the store-buffering pair; pairs with
        // `barrier::heavy` in `park`. Orders the caller's publication before the
        // load of `waiters` below: a `fence(SeqCst)`, or, where the waiter's
        // side can run a membarrier, only a compiler fence (`barrier.rs`).
        // (`ringway_mutation` removes it to prove loom notices.)
        #[cfg(not(ringway_mutation = "notify_without_fence"))]
        barrier::light();
        // Relaxed: ordered after the publication by the barrier above; pairs,
        // through it and the one in `park`, with the waiter's registration.
        if self.waiters.load(Ordering::Relaxed) != 0 {
            self.notify_slow();
        }
    }

    /// `notify` with a waiter registered: bump the epoch, then wake.
    #[cold]
    #[inline(never)]
    fn notify_slow(&self) {
        // Release: pairs with the Acquire epoch load in `park`; a waiter that reads
        // this bump as its epoch also sees the publication before it. Wrapping.
        self.seq.fetch_add(1, Ordering::Release);
        self.futex_wake();
    }

    /// Blocks until `ready()` returns `Some(r)`, and returns `Ok(r)`; or until
    /// `deadline` passes, and returns `Err(Timeout)`. `None` waits forever.
    ///
    /// `ready` is the condition: it should load the shared state with Acquire
    /// (pairing with the publisher's Release store), be cheap, and not block. It is
    /// called first of all (so a condition that already holds returns `Ok` even
    /// with a past deadline), then on every spin of the strategy, then, when
    /// parking, after registering as a waiter and before every sleep, and once more
    /// after a timed-out sleep. Wakes may be spurious; `ready` decides.
    ///
    /// Parking (strategies [`Park`](WaitStrategy::Park) and, after its spins,
    /// [`SpinThenPark`](WaitStrategy::SpinThenPark)) relies on the publisher
    /// calling [`notify`](Self::notify) after every publication this waiter may be
    /// waiting for. [`BusySpin`](WaitStrategy::BusySpin) and
    /// [`Yield`](WaitStrategy::Yield) never register and never need it.
    ///
    /// # Errors
    ///
    /// [`Timeout`] when `deadline` passes first. Deadlines are honoured to within
    /// the OS's timer slack (tens of microseconds on Linux) plus one `ready()` call.
    ///
    /// # Panics
    ///
    /// Only if `ready` panics; the waiter registration is undone first.
    pub fn wait<R>(
        &self,
        strategy: WaitStrategy,
        deadline: Option<Instant>,
        ready: impl FnMut() -> Option<R>,
    ) -> Result<R, Timeout> {
        self.wait_noting(strategy, deadline, |_| {}, ready)
    }

    /// [`wait`](Self::wait), telling `note` when this waiter is registered in
    /// the event: `note(true)` right before it registers to park, `note(false)`
    /// right after it deregisters (also when `ready` panics).
    ///
    /// A caller that records the registration somewhere a survivor can read
    /// (a ring records it in its peer entry) lets the survivor undo it with
    /// [`forget_waiter`](Self::forget_waiter) when this process dies while
    /// parked, so that notifies go back to making no syscall.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    pub fn wait_noting<R>(
        &self,
        strategy: WaitStrategy,
        deadline: Option<Instant>,
        mut note: impl FnMut(bool),
        mut ready: impl FnMut() -> Option<R>,
    ) -> Result<R, Timeout> {
        if let Some(r) = ready() {
            return Ok(r);
        }
        let spun = match strategy {
            WaitStrategy::BusySpin => {
                spin(None, SPINS_PER_CLOCK_CHECK, spin_loop, deadline, &mut ready)
            }
            WaitStrategy::Yield => spin(None, 1, yield_now, deadline, &mut ready),
            WaitStrategy::SpinThenPark { spins } => spin(
                Some(spins),
                SPINS_PER_CLOCK_CHECK,
                spin_loop,
                deadline,
                &mut ready,
            ),
            WaitStrategy::Park => Spun::Exhausted,
        };
        match spun {
            Spun::Ready(r) => Ok(r),
            Spun::Expired => Err(Timeout),
            Spun::Exhausted => {
                note(true);
                let _noted = Noted(&mut note);
                self.park(deadline, &mut ready)
            }
        }
    }

    /// Undoes the registration of a waiter that died while parked (saturating
    /// at 0). Call it only for a registration recorded through
    /// [`wait_noting`](Self::wait_noting) whose process is known to be dead.
    ///
    /// A death between `note(true)` and the registration makes this undo a
    /// registration that was never made, which can take away a live waiter's:
    /// that waiter then sleeps until its deadline instead of being woken, so
    /// callers that use this bound their sleeps (a ring's waits are sliced).
    pub fn forget_waiter(&self) {
        // Relaxed: the count is a hint (see `Registration::drop`).
        let _ = self
            .waiters
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// How many waiters are registered to park, as last written by any process.
    ///
    /// For inspection tools only: the value is peer-written, so untrusted, and may
    /// include waiters of processes that died while registered.
    #[must_use]
    pub fn waiters(&self) -> u32 {
        // Relaxed: informational; no decision that needs ordering is made on it.
        self.waiters.load(Ordering::Relaxed)
    }

    /// The parking phase of `wait`: register, then re-check and sleep in a loop.
    fn park<R>(
        &self,
        deadline: Option<Instant>,
        ready: &mut impl FnMut() -> Option<R>,
    ) -> Result<R, Timeout> {
        let _registration = Registration::new(&self.waiters);
        loop {
            // Acquire: pairs with the Release bump in `notify_slow`: an epoch that
            // already includes a bump comes with the publication made before it.
            let epoch = self.seq.load(Ordering::Acquire);
            // The waiter's half of the store-buffering pair; pairs with
            // `barrier::light` in `notify`. Orders the registration (and the
            // epoch load) before the re-check of the condition, and in
            // asymmetric mode drains every notifier's publication
            // (`barrier.rs`). (`ringway_mutation` removes it to prove loom notices.)
            #[cfg(not(ringway_mutation = "park_without_fence"))]
            barrier::heavy();
            if let Some(r) = ready() {
                return Ok(r);
            }
            if deadline.is_some_and(expired) {
                return Err(Timeout);
            }
            let sleep_deadline = barrier::sleep_until(deadline);
            match self.futex_wait(epoch, sleep_deadline) {
                // A notify, a changed epoch, a signal or a spurious wake: re-check.
                Outcome::Woken => {}
                // The end of a symmetric slice (`barrier::sleep_until`), not
                // the caller's deadline: re-check.
                Outcome::TimedOut if sleep_deadline != deadline => {}
                // One last look: the condition may have come with the deadline.
                Outcome::TimedOut => return ready().ok_or(Timeout),
            }
        }
    }

    /// Sleeps while `seq == epoch`: the kernel's futex (or the platform's twin).
    #[cfg(not(loom))]
    fn futex_wait(&self, epoch: u32, deadline: Option<Instant>) -> Outcome {
        sys::wait(&self.seq, epoch, deadline)
    }

    /// Sleeps while `seq == epoch`: the loom model of the futex.
    #[cfg(loom)]
    fn futex_wait(&self, epoch: u32, deadline: Option<Instant>) -> Outcome {
        self.parker.wait(&self.seq, epoch, deadline)
    }

    /// Wakes every sleeper on `seq`.
    #[cfg(not(loom))]
    fn futex_wake(&self) {
        sys::wake_all(&self.seq);
    }

    /// Wakes every sleeper on `seq`: the loom model of the futex.
    #[cfg(loom)]
    fn futex_wake(&self) {
        self.parker.wake_all();
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            // Relaxed: informational snapshot.
            .field("seq", &self.seq.load(Ordering::Relaxed))
            .field("waiters", &self.waiters())
            .finish()
    }
}

/// Spins on `ready()`, calling `relax` between checks, for at most `budget` checks
/// (`None`: no limit), looking at the clock every `clock_every` checks.
fn spin<R>(
    budget: Option<u32>,
    clock_every: u32,
    relax: fn(),
    deadline: Option<Instant>,
    ready: &mut impl FnMut() -> Option<R>,
) -> Spun<R> {
    let mut spins: u32 = 0;
    loop {
        if budget.is_some_and(|budget| spins >= budget) {
            return Spun::Exhausted;
        }
        relax();
        spins = spins.wrapping_add(1);
        if let Some(r) = ready() {
            return Spun::Ready(r);
        }
        if spins % clock_every == 0 && deadline.is_some_and(expired) {
            return Spun::Expired;
        }
    }
}

/// Calls the caller's `note(false)` on drop, after the registration is undone.
struct Noted<'a, F: FnMut(bool)>(&'a mut F);

impl<F: FnMut(bool)> Drop for Noted<'_, F> {
    fn drop(&mut self) {
        (self.0)(false);
    }
}

/// A waiter's registration in `Event::waiters`, undone on drop (also when `ready`
/// panics).
struct Registration<'a> {
    waiters: &'a AtomicU32,
}

impl<'a> Registration<'a> {
    /// Registers: saturating `+= 1`, so a garbage count near `u32::MAX` stays
    /// nonzero instead of wrapping to "nobody waits".
    fn new(waiters: &'a AtomicU32) -> Self {
        // Relaxed: ordered before the waiter's re-check by the fence(SeqCst) in
        // `park`; pairs, through it and the fence in `notify`, with the notifier's
        // load of `waiters`. The closure always returns Some, so this cannot fail.
        let _ = waiters.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
            Some(n.saturating_add(1))
        });
        Registration { waiters }
    }
}

impl Drop for Registration<'_> {
    /// Deregisters: saturating `-= 1`, so a count a peer zeroed does not wrap to
    /// `u32::MAX` (which would cost every later notify a wake syscall).
    fn drop(&mut self) {
        // Relaxed: the count is a hint; a notifier that still sees this waiter makes
        // one wake syscall too many, nothing worse. Err means it was already 0.
        let _ = self
            .waiters
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }
}
