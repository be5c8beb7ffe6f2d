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
//! | `seq` bits 1.. (epoch) | `notify`, only when `waiters != 0`: CAS to `(seq \| 1) + 1`, a new epoch with the flag clear | parking waiter (epoch); the kernel's compare in the futex wait | Release RMW / Acquire load | each other |
//! | `seq` bit 0 (`SLEEPING`) | parking waiter, right before its futex wait: CAS `epoch` -> `epoch \| 1` | `notify`'s RMW: wake syscall only if it was set | Relaxed CAS / the RMW above | the modification order of `seq` alone |
//!
//! The fences: `notify` runs `publish; fence(SeqCst); load waiters`, and a parking
//! waiter runs `waiters += 1; epoch = seq; fence(SeqCst); ready()`. How each
//! fence is paid depends on the ring's [`Barrier`] mode (`barrier.rs`).
//!
//! # Wakes about equal to sleeps
//!
//! A registered waiter usually finds its data on the re-check and never
//! sleeps; a notifier that called the kernel whenever `waiters != 0` would
//! make a wake syscall for nobody. So a waiter announces the sleep itself: it
//! sets the `SLEEPING` bit of `seq` (on the epoch it read) right before the
//! futex wait, and `notify` moves `seq` to a new epoch with the bit clear and
//! calls the kernel only when the bit was set. Every wake syscall thus answers
//! one announced sleep (which the kernel may still refuse with `EAGAIN` if
//! the epoch moved in between, still counted as a wait).
//!
//! Why the flag loses nothing: the waiter's CAS from `epoch` and the
//! notifier's RMW are ordered in the modification order of `seq`. If the CAS
//! comes first, the notifier's RMW reads the bit and wakes (the futex then
//! either finds the waiter queued or its compare sees the new epoch). If the
//! RMW comes first, the CAS fails (`seq` is no longer `epoch`), and the waiter
//! goes round again: its next Acquire epoch load synchronises with the
//! notifier's Release RMW, so its re-check sees the publication.
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
//!   every later `notify` one RMW on `seq` (and, if it died asleep, one wake
//!   syscall with nobody to wake, once); it never loses a wakeup. A flag left
//!   set by a waiter that timed out costs the next notify one wake syscall.
//!   Registration saturates at `u32::MAX` and deregistration at 0, so a garbage count never wraps to 0 (which could
//!   lose wakeups) or from 0 to `u32::MAX`.
//! - `seq` is an opaque number compared for equality; it wraps. A waiter that
//!   read its epoch and then slept through exactly 2^32 notifies before entering
//!   the kernel would sleep until the next one or its deadline; that is not a
//!   practical concern. A peer that rewrites `seq` without pause makes the
//!   notifier's CAS fail; after [`NOTIFY_CAS_TRIES`] failures it bumps the
//!   epoch with a plain `fetch_add` and wakes regardless, so a notify is
//!   wait-free.
//! - A peer that can write the mapping can always make a waiter wait (by zeroing
//!   `waiters`, or by never publishing); it cannot cause undefined behaviour or a
//!   panic here. Waiters that must not hang pass a deadline.

use core::fmt;
use std::time::Instant;

use crate::barrier::{self, Barrier, Drained};
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

/// Bit 0 of `seq`: a waiter announced that it is about to sleep on this epoch.
pub(crate) const SLEEPING: u32 = 1;

/// How many times `notify` tries to move `seq` to a new epoch with a CAS
/// before it gives up on the flag and bumps and wakes unconditionally.
const NOTIFY_CAS_TRIES: u32 = 4;

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
/// it is nonzero moves `seq` to a new epoch, and wakes the futex on it only if a
/// waiter flagged that it sleeps; a parking waiter registers in `waiters`, reads
/// `seq`, runs `fence(SeqCst)`, re-checks its condition, flags `seq` and sleeps
/// only while `seq` is unchanged. The protocol table and the proof that no
/// wakeup is lost head `src/event.rs`.
#[repr(C)]
pub struct Event {
    /// Moved to a new epoch (wrapping, bit 0 clear) by every `notify` that finds
    /// a registered waiter; bit 0 ([`SLEEPING`]) is set by a waiter about to
    /// sleep. The word waiters sleep on. Otherwise opaque.
    pub(crate) seq: AtomicU32,
    /// How many waiters are registered to park (a hint: saturating, and peers may
    /// have died while registered).
    pub(crate) waiters: AtomicU32,
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

    /// Wakes every parked waiter, if any, in a [`Barrier::Symmetric`] handshake.
    /// Call it right after publishing (storing the condition with Release).
    ///
    /// The fast path, taken whenever nobody is registered, is a `fence(SeqCst)`,
    /// a load and a branch: no RMW on shared memory, no syscall. With a waiter
    /// registered it moves `seq` on with one RMW, and makes one wake syscall only
    /// if a waiter announced that it sleeps.
    #[inline]
    pub fn notify(&self) {
        self.notify_in(Barrier::Symmetric);
    }

    /// [`notify`](Self::notify) in a handshake of the given mode: the ring's
    /// own [`Barrier`], which every waiter and notifier of the `Event` must
    /// share. In [`Barrier::Asymmetric`] the fast path has no hardware fence.
    #[inline]
    pub fn notify_in(&self, barrier: Barrier) {
        // The notifier's half of the store-buffering pair; pairs with
        // `barrier::waiter_fence` (and `barrier::drain`) in `park`. Orders the
        // caller's publication before the load of `waiters` below: a
        // `fence(SeqCst)`, or, in an asymmetric ring, only a compiler fence
        // (`barrier.rs`). (`ringway_mutation` removes it to prove loom notices.)
        #[cfg(not(ringway_mutation = "notify_without_fence"))]
        barrier::light(barrier);
        #[cfg(ringway_mutation = "notify_without_fence")]
        let _ = barrier;
        // Relaxed: ordered after the publication by the barrier above; pairs,
        // through it and the one in `park`, with the waiter's registration.
        if self.waiters.load(Ordering::Relaxed) != 0 {
            self.notify_slow();
        }
    }

    /// `notify` with a waiter registered: move to a new epoch, clearing the
    /// sleeping flag, and wake only if it was set.
    #[cold]
    #[inline(never)]
    fn notify_slow(&self) {
        // Relaxed: a first guess for the CAS below, which rereads on failure.
        let mut seen = self.seq.load(Ordering::Relaxed);
        for _ in 0..NOTIFY_CAS_TRIES {
            // New epoch: +1 from a flagged (odd) value, +2 from a clear one;
            // either way bit 0 ends clear. Wrapping.
            let next = (seen | SLEEPING).wrapping_add(1);
            // Release: pairs with the Acquire epoch load in `park`; a waiter
            // that reads this epoch also sees the publication before it.
            // Relaxed on failure: we only retry with the fresh value.
            match self
                .seq
                .compare_exchange_weak(seen, next, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => {
                    if seen & SLEEPING == 0 {
                        // Nobody announced a sleep on `seen`: a waiter that
                        // still wants to sleep must first CAS from an epoch,
                        // which now fails or reads `next` (see module docs).
                        return;
                    }
                    self.futex_wake();
                    return;
                }
                Err(now) => seen = now,
            }
        }
        // A peer rewrites `seq` without pause: bump and wake regardless.
        // Release: as the CAS above.
        self.seq.fetch_add(2, Ordering::Release);
        self.futex_wake();
    }

    /// Blocks until `ready()` returns `Some(r)`, and returns `Ok(r)`; or until
    /// `deadline` passes, and returns `Err(Timeout)`. `None` waits forever.
    /// The handshake is [`Barrier::Symmetric`]; see [`wait_in`](Self::wait_in).
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
        self.wait_in(Barrier::Symmetric, strategy, deadline, ready)
    }

    /// [`wait`](Self::wait) in a handshake of the given mode: the ring's own
    /// [`Barrier`], shared by every waiter and notifier of the `Event`. In
    /// [`Barrier::Asymmetric`] a park that does not find its condition on the
    /// first re-check makes one `membarrier` syscall (at most one per call).
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    pub fn wait_in<R>(
        &self,
        barrier: Barrier,
        strategy: WaitStrategy,
        deadline: Option<Instant>,
        ready: impl FnMut() -> Option<R>,
    ) -> Result<R, Timeout> {
        self.wait_noting(barrier, strategy, deadline, |_| {}, ready)
    }

    /// [`wait_in`](Self::wait_in), telling `note` when this waiter is
    /// registered in the event: `note(true)` right before it registers to
    /// park, `note(false)` right after it deregisters (also when `ready`
    /// panics).
    ///
    /// A caller that records the registration somewhere a survivor can read
    /// (a ring records it in its peer entry) lets the survivor undo it with
    /// [`forget_waiter`](Self::forget_waiter) when this process dies while
    /// parked, so that notifies go back to their fast path.
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
        barrier: Barrier,
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
                self.park(barrier, deadline, &mut ready)
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
        barrier: Barrier,
        deadline: Option<Instant>,
        ready: &mut impl FnMut() -> Option<R>,
    ) -> Result<R, Timeout> {
        let _registration = Registration::new(&self.waiters);
        // Whether this park has run its (one) heavy drain yet, and how it went.
        let mut drained: Option<Drained> = None;
        loop {
            // Acquire: pairs with the Release epoch RMW in `notify_slow`: an
            // epoch that already includes a notify comes with the publication
            // made before it.
            let epoch = self.seq.load(Ordering::Acquire);
            // The waiter's half of the store-buffering pair; pairs with
            // `barrier::light` in `notify_in`. Orders the registration (and the
            // epoch load) before the re-check of the condition.
            // (`ringway_mutation` removes it to prove loom notices.)
            #[cfg(not(ringway_mutation = "park_without_fence"))]
            barrier::waiter_fence();
            if let Some(r) = ready() {
                return Ok(r);
            }
            let Some(drained) = drained else {
                // About to sleep for the first time in this park: in an
                // asymmetric ring, drain every light notifier once (at most
                // one membarrier per park, however often a peer makes this
                // loop go round), then re-check from a fresh epoch.
                drained = Some(barrier::drain(barrier));
                continue;
            };
            if deadline.is_some_and(expired) {
                return Err(Timeout);
            }
            // Announce the sleep on this epoch (unless another waiter has), so
            // that the next notify makes the wake syscall. A failed CAS means
            // a notify moved `seq` on (or another waiter flagged it first):
            // re-check instead of sleeping.
            #[cfg(not(ringway_mutation = "sleep_without_flag"))]
            let sleep_on = if epoch & SLEEPING != 0 {
                epoch
            } else {
                // Relaxed: only the modification order of `seq` matters here
                // (module docs); the re-check after a failure reloads `seq`
                // with Acquire.
                match self.seq.compare_exchange(
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
            let sleep_deadline = barrier::sleep_until(drained, deadline);
            match self.futex_wait(sleep_on, sleep_deadline) {
                // A notify, a changed epoch, a signal or a spurious wake: re-check.
                Outcome::Woken => {}
                // The end of a slice (`barrier::sleep_until`), not the
                // caller's deadline: re-check.
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

    /// The address of the futex word (`seq`), for an [`ExternalWaiter`](crate::ExternalWaiter)'s
    /// sleep request. `AtomicU32` has the size, alignment and bit validity of `u32`.
    pub(crate) fn seq_ptr(&self) -> *const u32 {
        core::ptr::from_ref(&self.seq).cast::<u32>()
    }

    /// Loom only: submits `request` as an io_uring `FUTEX_WAIT` would (the
    /// compare now, the completion later); see [`Event::loom_complete`].
    #[cfg(loom)]
    pub fn loom_submit(&self, request: crate::SleepRequest) -> crate::loom_futex::Ticket {
        self.parker.submit(&self.seq, request.epoch())
    }

    /// Loom only: blocks until the wait `loom_submit` queued has completed.
    #[cfg(loom)]
    pub fn loom_complete(&self, ticket: crate::loom_futex::Ticket) {
        self.parker.complete(ticket);
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
    fn new(waiters: &'a AtomicU32) -> Self {
        register(waiters);
        Registration { waiters }
    }
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        deregister(self.waiters);
    }
}

/// Registers a waiter: saturating `+= 1`, so a garbage count near `u32::MAX`
/// stays nonzero instead of wrapping to "nobody waits".
pub(crate) fn register(waiters: &AtomicU32) {
    // Relaxed: ordered before the waiter's re-check by the fence(SeqCst) in
    // `park` (or `ExternalWaiter::arm`); pairs, through it and the fence in
    // `notify`, with the notifier's load of `waiters`. The closure always
    // returns Some, so this cannot fail.
    let _ = waiters.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
        Some(n.saturating_add(1))
    });
}

/// Deregisters a waiter: saturating `-= 1`, so a count a peer zeroed does not
/// wrap to `u32::MAX` (which would cost every later notify a wake syscall).
pub(crate) fn deregister(waiters: &AtomicU32) {
    // Relaxed: the count is a hint; a notifier that still sees this waiter makes
    // one wake syscall too many, nothing worse. Err means it was already 0.
    let _ = waiters.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
}
