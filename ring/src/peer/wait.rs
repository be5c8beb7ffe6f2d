//! Blocking waits that a dead peer cannot make endless: the eventcount wait
//! cut into slices of at most [`LIVENESS_SLICE`], with a look at the peer's
//! liveness between two slices.
//!
//! The cost while the peer lives: one wake-up, one spin phase and one
//! liveness check (an `fcntl`) per slice of sleep, i.e. at most 40 per second
//! per parked handle, nothing on the paths that do not sleep. The waiter's
//! registration in the event is recorded in its peer entry
//! (`Event::wait_noting`), so a reaper can undo it if the waiter dies parked.

use std::time::Instant;

use ringway_sync::{Barrier, Event, WaitStrategy};

use super::{other, role_of, Peer, LIVENESS_SLICE, WAIT_DATA, WAIT_SPACE};
use crate::error::{CorruptError, Role, Waited};

/// Waits on `event` (in the ring's `barrier` mode) until `ready` gives a
/// value, `deadline` passes, or `gone` says the peer is gone (after a last
/// `ready`). `note` records the waiter registration (see
/// `Event::wait_noting`). `unreport` takes back `gone`'s report when that
/// last `ready` gives a value after all (`Peer::unreport`).
#[cfg_attr(loom, allow(unused_mut))]
// Each closure is one step of the caller's core; a struct of them would only
// move the same list elsewhere.
#[allow(clippy::too_many_arguments)]
pub(crate) fn wait_sliced<R>(
    event: &Event,
    barrier: Barrier,
    strategy: WaitStrategy,
    deadline: Option<Instant>,
    mut note: impl FnMut(bool),
    mut ready: impl FnMut() -> Option<R>,
    mut gone: impl FnMut() -> bool,
    mut unreport: impl FnMut(),
) -> Result<R, Waited> {
    // Under loom a timed wait never sleeps (the model has no clock), so
    // slicing would turn every blocking wait into a spin and hide lost
    // wakeups; the models wait unsliced, and model deaths by explicit reaping.
    if cfg!(loom) {
        let waited = event.wait_noting(barrier, strategy, deadline, note, ready);
        return waited.map_err(|_| Waited::Timeout);
    }
    loop {
        let now = Instant::now();
        let slice_end = now.checked_add(LIVENESS_SLICE);
        let until = match (deadline, slice_end) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        };
        match event.wait_noting(barrier, strategy, until, &mut note, &mut ready) {
            Ok(r) => return Ok(r),
            Err(_) => {
                if gone() {
                    // Whatever the peer published before it died counts, and
                    // so does what reaping it made ready (its claim
                    // tombstoned, or freed): then the death is not passed
                    // on now, and must be reported when the caller waits
                    // again (`Peer::unreport`).
                    return match ready() {
                        Some(r) => {
                            unreport();
                            Ok(r)
                        }
                        None => Err(Waited::PeerGone),
                    };
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(Waited::Timeout);
                }
            }
        }
    }
}

/// What the SPSC and MPMC cores ask of their entry, written once: a handle
/// waits on the event of its role (a producer on `space_event` for the
/// consumers to free slots, a consumer on `data_event`), and a death of the
/// other role ends the wait.
impl Peer {
    /// After `gone_now` said the other role is gone: whether to report it,
    /// which is when the caller is `idle` (its ring full, or drained);
    /// otherwise reaping made work after all and the report is taken back.
    pub(crate) fn confirm_gone(&self, idle: bool) -> bool {
        if !idle {
            self.unreport();
        }
        idle
    }

    /// Waits as [`wait_sliced`] until `ready` gives a value or `deadline`
    /// passes (`None`: no deadline).
    pub(crate) fn wait<R>(
        &self,
        strategy: WaitStrategy,
        deadline: Option<Instant>,
        ready: impl FnMut() -> Option<R>,
    ) -> Result<R, Waited> {
        let role = role_of(self.info).unwrap_or(Role::Consumer);
        let header = self.ring.shared.header();
        let (event, bit) = match role {
            Role::Producer => (&header.space_event, WAIT_SPACE),
            Role::Consumer => (&header.data_event, WAIT_DATA),
        };
        wait_sliced(
            event,
            self.ring.shared.barrier,
            strategy,
            deadline,
            |on| self.note_wait(bit, on),
            ready,
            || self.gone(other(role)),
            || self.unreport(),
        )
    }

    /// Waits until `count()` (free slots, ready messages) is at least
    /// `want`, or `deadline` passes; returns the count. A consumer whose
    /// producers are gone while fewer than `want` but some messages are
    /// ready gets `Timeout`, so it takes those first (the death is reported
    /// when it waits again).
    pub(crate) fn wait_count(
        &self,
        strategy: WaitStrategy,
        want: u64,
        deadline: Option<Instant>,
        mut count: impl FnMut() -> Result<u64, CorruptError>,
    ) -> Result<u64, Waited> {
        let mut found = 0;
        let waited = self.wait(strategy, deadline, || match count() {
            Ok(n) if n < want => {
                found = n;
                None
            }
            other => Some(other),
        });
        match waited {
            Err(Waited::PeerGone) if found > 0 && role_of(self.info) == Some(Role::Consumer) => {
                self.unreport();
                Err(Waited::Timeout)
            }
            other => other?.map_err(Waited::Corrupt),
        }
    }
}
