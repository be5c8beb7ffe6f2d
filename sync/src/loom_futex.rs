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
    lock: Mutex<()>,
    cond: Condvar,
}

impl Parker {
    /// An empty wait queue.
    pub(crate) fn new() -> Self {
        Parker {
            lock: Mutex::new(()),
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
        let _guard = self.lock.lock().expect("loom futex lock poisoned");
        self.cond.notify_all();
    }
}
