//! Loom backend: a futex emulated with a loom `Mutex` + `Condvar` per `Event`.
//!
//! Loom atomics cannot be handed to the kernel, so under `cfg(loom)` each `Event`
//! carries a [`Parker`] and calls it where the real build calls `sys::wait` and
//! `sys::wake_all`. The mutex plays the futex hash-bucket lock: the compare and the
//! going to sleep happen under it, and `wake_all` takes it before notifying, so a
//! waiter either sees the bumped word or is already queued when the wake comes.
//!
//! Loom has no clock. A timed wait therefore never blocks: when the word still
//! equals `expected` it reports `TimedOut` at once, which lets loom explore a
//! timeout firing at every point where it could race a notify. Untimed waits block
//! for real, so a lost wakeup shows up as a loom deadlock.

use std::time::Instant;

use crate::loom::{AtomicU32, Condvar, Mutex, Ordering};
use crate::stats;
use crate::sys::Outcome;

/// The futex emulation's wait queue: one per `Event`, under loom only.
#[derive(Debug)]
pub(crate) struct Parker {
    /// The bucket lock, holding how many `wake_all`s ran (the model of an
    /// io_uring `FUTEX_WAIT`'s completion, see [`Parker::submit`]).
    lock: Mutex<u64>,
    cond: Condvar,
}

/// A wait submitted with [`Parker::submit`]: complete once a `wake_all`
/// after the submission ran, or at once when the word differed.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(Option<u64>);

impl Parker {
    /// An empty wait queue.
    pub(crate) fn new() -> Self {
        Parker {
            lock: Mutex::new(0),
            cond: Condvar::new(),
        }
    }

    /// Sleeps while `*word == expected`; a timed wait times out instead of sleeping.
    pub(crate) fn wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        deadline: Option<Instant>,
    ) -> Outcome {
        stats::count_wait();
        // A poisoned lock means a model thread panicked, which already fails the model.
        let guard = self.lock.lock().expect("loom futex lock poisoned");
        // Relaxed: the mutex orders this compare against `wake_all`, as the bucket
        // lock does in the kernel: if `wake_all` locked first, the bump sequenced
        // before its lock happens-before this load; if this lock came first, the
        // waiter is queued before `wake_all` notifies.
        if word.load(Ordering::Relaxed) != expected {
            return Outcome::Woken;
        }
        if deadline.is_some() {
            return Outcome::TimedOut;
        }
        let _guard = self.cond.wait(guard).expect("loom futex lock poisoned");
        Outcome::Woken
    }

    /// Wakes every sleeper. The caller has already changed the word.
    pub(crate) fn wake_all(&self) {
        stats::count_wake();
        let mut wakes = self.lock.lock().expect("loom futex lock poisoned");
        *wakes += 1;
        self.cond.notify_all();
    }

    /// Queues a wait without blocking, as io_uring's `FUTEX_WAIT` does: the
    /// compare happens now, under the bucket lock; the wait completes with
    /// the next `wake_all` (or at once when the word differs).
    pub(crate) fn submit(&self, word: &AtomicU32, expected: u32) -> Ticket {
        stats::count_wait();
        let wakes = self.lock.lock().expect("loom futex lock poisoned");
        // Relaxed: ordered by the mutex, as in `wait`.
        if word.load(Ordering::Relaxed) != expected {
            return Ticket(None);
        }
        Ticket(Some(*wakes))
    }

    /// Blocks until the wait `ticket` stands for has completed.
    pub(crate) fn complete(&self, ticket: Ticket) {
        let Ticket(Some(queued_at)) = ticket else {
            return;
        };
        let mut wakes = self.lock.lock().expect("loom futex lock poisoned");
        while *wakes == queued_at {
            wakes = self.cond.wait(wakes).expect("loom futex lock poisoned");
        }
    }
}
