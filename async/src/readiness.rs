//! A readiness file descriptor for one waiter on a ring's event: an io_uring
//! instance whose only request is a `FUTEX_WAIT` on the event's futex word.
//!
//! ```text
//!   arm(event, ready)            the kernel                      notifier (other process)
//!   -----------------            ----------                      ------------------------
//!   reap CQEs (no syscall)
//!   ready()? -> Ready            (fast path: nothing below)
//!   waiters += 1 (once)
//!   epoch = seq; fence
//!   ready()? -> Ready, waiters -= 1
//!   [once: drain (membarrier)]
//!   seq: epoch -> epoch|SLEEPING
//!   SQE FUTEX_WAIT(seq, epoch|1) --> io_uring_enter: compare seq,
//!       [+ LINK_TIMEOUT 10 ms        queue on the futex
//!        if the drain failed]                                    publish; barrier;
//!                                                                waiters != 0: new epoch,
//!                                                                flag was set:
//!                                 FUTEX_WAKE finds the request <-- FUTEX_WAKE
//!                                 CQE posted: fd readable
//!   poll/epoll says readable -> arm again
//! ```
//!
//! The protocol (registration, epoch, barrier, re-check) is
//! [`ringway_sync::ExternalWaiter`]'s, loom-checked there; this file only
//! submits its sleep requests and reports their completions.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use io_uring::{opcode, types, IoUring};
use ringway_sync::{Armed, Barrier, Event, ExternalWaiter, SleepRequest};

/// `user_data` of the futex wait.
const FUTEX_WAIT: u64 = 1;
/// `user_data` of the linked timeout (symmetric barrier mode only).
const SLICE_TIMEOUT: u64 = 2;
/// futex2 flag: a 32-bit futex word. Without `FUTEX2_PRIVATE` the wait is
/// shared, so the notifier's `FUTEX_WAKE` from another process finds it.
const FUTEX2_SIZE_U32: u32 = 0x02;
/// Any bit of the wake's bitset matches (`FUTEX_WAKE` uses all bits).
const FUTEX_BITSET_MATCH_ANY: u64 = 0xffff_ffff;

/// Submissions (`io_uring_enter` calls) this process made to arm readiness fds.
static ARM_SYSCALLS: AtomicU64 = AtomicU64::new(0);

/// `io_uring_enter` calls this process made to arm readiness fds (each one
/// queues one futex wait). Together with [`ringway_sync::stats`] (the
/// `membarrier` before each arm is its `barrier_syscalls`) it shows what
/// waiting cost; a wait whose condition already holds costs neither.
#[must_use]
pub fn arm_syscalls() -> u64 {
    // Relaxed: a statistic; no data is published through it.
    ARM_SYSCALLS.load(Ordering::Relaxed)
}

/// A pollable fd that becomes readable when the ring event it was last armed
/// on may have changed. One per waiting handle; `Send`, not `Sync`.
///
/// Use: call [`arm`](Self::arm) with the condition; when it returns `None`,
/// wait for [`fd`](Self::fd) to be readable (poll, epoll, a runtime's
/// reactor), then call `arm` again. Readability is level-triggered until the
/// next `arm` reaps the completion. Wakes may be spurious: the condition decides.
pub struct Readiness {
    uring: IoUring,
    waiter: ExternalWaiter,
    /// The timeout linked to each wait in symmetric barrier mode; the kernel
    /// reads it during `io_uring_enter`.
    slice: types::Timespec,
}

impl Readiness {
    /// A new io_uring instance with room for one wait and its timeout.
    ///
    /// # Errors
    /// The `io_uring_setup` error (`ENOSYS`, `EPERM` under a seccomp filter or
    /// `kernel.io_uring_disabled`); [`io::ErrorKind::Unsupported`] when the
    /// kernel has no `IORING_OP_FUTEX_WAIT` (before Linux 6.7).
    pub fn new() -> io::Result<Readiness> {
        let uring = IoUring::builder().setup_clamp().build(4)?;
        let mut probe = io_uring::Probe::new();
        uring.submitter().register_probe(&mut probe)?;
        if !probe.is_supported(opcode::FutexWait::CODE)
            || !probe.is_supported(opcode::LinkTimeout::CODE)
        {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel's io_uring has no FUTEX_WAIT (Linux 6.7 or later is needed)",
            ));
        }
        let slice = ringway_sync::SYMMETRIC_SLICE;
        Ok(Readiness {
            uring,
            waiter: ExternalWaiter::new(),
            slice: types::Timespec::new()
                .sec(slice.as_secs())
                .nsec(slice.subsec_nanos()),
        })
    }

    /// The fd to poll for `POLLIN`. Owned by this `Readiness`.
    #[must_use]
    pub fn fd(&self) -> RawFd {
        self.uring.as_raw_fd()
    }

    /// Returns `Some(r)` when `ready()` does; otherwise makes sure a wait is
    /// queued that makes [`fd`](Self::fd) readable on the event's next
    /// notify, and returns `None`.
    ///
    /// `event` must be the same event on every call until `ready` says yes or
    /// [`disarm`](Self::disarm) is called, and `barrier` its ring's barrier
    /// mode (`Ring::barrier`). `ready` may take what it waits for (see
    /// [`ExternalWaiter::arm`]).
    ///
    /// # Errors
    /// The `io_uring_enter` error of a submission; the waiter is disarmed
    /// then, so a caller that gives up leaves the notifiers on the fast path.
    pub fn arm<R>(
        &mut self,
        event: &Event,
        barrier: Barrier,
        ready: impl FnMut() -> Option<R>,
    ) -> io::Result<Option<R>> {
        self.reap();
        match self.waiter.arm(event, barrier, ready) {
            Armed::Ready(r) => Ok(Some(r)),
            Armed::InFlight => Ok(None),
            Armed::Sleep(request) => match self.submit(request) {
                Ok(()) => Ok(None),
                Err(e) => {
                    self.waiter.completed();
                    self.waiter.disarm(event);
                    Err(e)
                }
            },
        }
    }

    /// Deregisters from `event` (its notifiers stop making wake syscalls for
    /// us). A queued wait stays queued and is reused by the next `arm`.
    pub fn disarm(&mut self, event: &Event) {
        self.waiter.disarm(event);
    }

    /// Registered as a waiter on the event last armed.
    #[must_use]
    pub fn is_armed(&self) -> bool {
        self.waiter.is_registered()
    }

    /// A completion is waiting to be reaped by the next [`arm`](Self::arm)
    /// (the fd is readable). No syscall.
    pub fn has_completion(&mut self) -> bool {
        !self.uring.completion().is_empty()
    }

    /// Takes every completion off the queue (no syscall: the completion queue
    /// is shared memory with the kernel), which also makes the fd unreadable.
    fn reap(&mut self) {
        let mut done = false;
        for cqe in self.uring.completion() {
            if cqe.user_data() == FUTEX_WAIT {
                // Whatever the result (0: woken; EAGAIN: the word had moved;
                // ECANCELED: the slice timeout fired), the next arm re-checks.
                done = true;
            }
        }
        if done {
            self.waiter.completed();
        }
    }

    /// Queues "wait while `*word == epoch`" and, when the request is sliced
    /// (this process could not drain the ring's light notifiers), a timeout
    /// that cancels it after [`ringway_sync::SYMMETRIC_SLICE`].
    fn submit(&mut self, request: SleepRequest) -> io::Result<()> {
        let symmetric = request.sliced();
        let mut wait = opcode::FutexWait::new(
            request.word(),
            u64::from(request.epoch()),
            FUTEX_BITSET_MATCH_ANY,
            FUTEX2_SIZE_U32,
        )
        .build()
        .user_data(FUTEX_WAIT);
        if symmetric {
            wait = wait.flags(io_uring::squeue::Flags::IO_LINK);
        }
        let timeout = opcode::LinkTimeout::new(&self.slice)
            .build()
            .user_data(SLICE_TIMEOUT);
        let mut sq = self.uring.submission();
        // SAFETY: the futex wait reads the word at `request.word()`, inside
        // the event's mapping, during the submission below (the compare) and
        // afterwards only as a key for the kernel's futex hash: the kernel
        // never writes it, and a mapping unmapped while the wait is queued
        // only leaves a wait that never completes (it is cancelled when this
        // io_uring is closed). The timeout points to `self.slice`, which the
        // kernel copies during the submission below, while `self` is borrowed.
        // The queue has room for 4 entries and holds none: every arm submits
        // what it pushed before returning, and at most one wait is queued.
        let pushed = unsafe {
            if symmetric {
                sq.push_multiple(&[wait, timeout]).is_ok()
            } else {
                sq.push(&wait).is_ok()
            }
        };
        drop(sq);
        if !pushed {
            return Err(io::Error::other("io_uring submission queue full"));
        }
        // Relaxed: a statistic.
        ARM_SYSCALLS.fetch_add(1, Ordering::Relaxed);
        self.uring.submit()?;
        Ok(())
    }
}

impl core::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Readiness")
            .field("fd", &self.fd())
            .field("waiter", &self.waiter)
            .finish_non_exhaustive()
    }
}

impl AsRawFd for Readiness {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}
