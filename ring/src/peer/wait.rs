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

use super::LIVENESS_SLICE;
use crate::error::Waited;

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
    #[cfg(loom)]
    {
        let _ = (&mut gone, &mut unreport);
        return event
            .wait_noting(barrier, strategy, deadline, note, ready)
            .map_err(|_| Waited::Timeout);
    }
    #[cfg(not(loom))]
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
