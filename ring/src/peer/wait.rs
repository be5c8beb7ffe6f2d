//! Blocking waits that a dead peer cannot make endless: the eventcount wait
//! cut into slices that end at the handle's next look at its peer's
//! liveness ([`Looks`]), at most [`LIVENESS_SLICE`] after the last one.
//!
//! The looks follow one schedule per handle, kept across calls, not one per
//! call: a waiter that a live peer wakes again and again (a consumer of a
//! stream parks after each burst) used to start a fresh slice at each wait,
//! so a peer that died right after its last publication was seen a whole
//! slice later, every time (torture, light load: p50 25.1 ms). Now a wait
//! that starts when a look is due looks first, and every sleep ends at the
//! next due look: a death is seen at most one slice after the last look
//! before it, wherever the waits fall.
//!
//! ```text
//!          look        look        look         (every LIVENESS_SLICE at most,
//!   -------|-----------|-----------|------        while the handle waits)
//!   waits:   [--]  [-----]   [--------]  [-]      each sleep ends at the next look
//! ```
//!
//! A sleep also ends when the count of deaths of the peer's role moves: a
//! reaper that counts one wakes the ring's sleepers (`Shared::clean_up`),
//! so a death that another handle found first is looked at now. While
//! nothing is ready the waits read that count once per `ready` check (one
//! more load of a line that is written once per death).
//!
//! The cost while the peer lives: one wake-up and one liveness check (an
//! `fcntl`) per slice of sleep, i.e. at most 40 per second per parked
//! handle, and no spin phase after the first slice of a call; a waiter
//! woken often pays one check per slice, at the start of a wait; nothing on
//! the paths that do not sleep. The waiter's registration in the event is
//! recorded in its peer entry (`Event::wait_noting`), so a reaper can undo
//! it if the waiter dies parked.

use core::cell::Cell;
use std::time::Instant;

use ringway_sync::{Barrier, Event, WaitStrategy};

use super::{other, role_of, Peer, CHECK_INTERVAL, LIVENESS_SLICE, WAIT_DATA, WAIT_SPACE};
use crate::error::{CorruptError, Role, Waited};

/// When a handle's blocking calls next look at its peer's liveness (see
/// the module docs). `None`: at the next wait.
#[derive(Debug, Default)]
pub(crate) struct Looks(Cell<Option<Instant>>);

// Under loom the waits are not sliced (see `wait_sliced`).
#[cfg_attr(loom, allow(dead_code))]
impl Looks {
    /// Whether a look is due at `now`.
    fn due(&self, now: Instant) -> bool {
        self.0.get().is_none_or(|next| now >= next)
    }

    /// Whether a call that times out at `now` looks before it returns: as
    /// the non-blocking calls, at most every [`CHECK_INTERVAL`] (so a caller
    /// that waits with timeouts shorter than a slice learns of a death
    /// within about one of them).
    fn due_at_timeout(&self, now: Instant) -> bool {
        let early = LIVENESS_SLICE.saturating_sub(CHECK_INTERVAL);
        self.0.get().is_none_or(|next| {
            now.checked_add(early)
                .is_none_or(|late_enough| late_enough >= next)
        })
    }

    /// A look is made at `now`: the next is due a slice later.
    fn looked(&self, now: Instant) {
        self.0.set(now.checked_add(LIVENESS_SLICE));
    }

    /// Makes a look due at once.
    fn now(&self) {
        self.0.set(None);
    }

    /// When the next look is due (`None`: at once).
    fn next(&self) -> Option<Instant> {
        self.0.get()
    }
}

/// Waits on `event` (in the ring's `barrier` mode) until `ready` gives a
/// value, `deadline` passes, or `gone` says the peer is gone (after a last
/// `ready`); `gone` is called when `looks` says a look is due (and, at most
/// every [`CHECK_INTERVAL`], before a timeout is returned), and when
/// `news` (the count of deaths of the peer's role) moves: a reaper that
/// counts a death wakes the ring's sleepers (`Shared::clean_up`), so a
/// death that another handle (or a tool, or a restarted peer's attach)
/// found first is looked at now rather than at the end of the slice. `note`
/// records the waiter registration (see `Event::wait_noting`). `unreport`
/// takes back `gone`'s report when that last `ready` gives a value after
/// all (`Peer::unreport`).
#[cfg_attr(loom, allow(unused_mut, unused_variables))]
// Each closure is one step of the caller's core; a struct of them would only
// move the same list elsewhere.
#[allow(clippy::too_many_arguments)]
pub(crate) fn wait_sliced<R>(
    event: &Event,
    barrier: Barrier,
    mut strategy: WaitStrategy,
    deadline: Option<Instant>,
    looks: &Looks,
    news: impl Fn() -> u32,
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
    let mut waited = false;
    loop {
        // Before the look: a death the look itself counts ends the wait
        // below at once, and costs one more look, never a missed one.
        let seen = news();
        let now = Instant::now();
        let timed_out = waited && deadline.is_some_and(|d| now >= d);
        if looks.due(now) || timed_out && looks.due_at_timeout(now) {
            looks.looked(now);
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
        }
        if timed_out {
            return Err(Waited::Timeout);
        }
        let until = match (deadline, looks.next()) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        };
        let mut ready_or_news = || match ready() {
            Some(r) => Some(Some(r)),
            None => (news() != seen).then_some(None),
        };
        match event.wait_noting(barrier, strategy, until, &mut note, &mut ready_or_news) {
            Ok(Some(r)) => return Ok(r),
            // A death was counted: look now.
            Ok(None) => looks.now(),
            Err(_) => {}
        }
        waited = true;
        // A slice ended: the spin phase was paid once in this call, and a
        // peer that publishes wakes the next slice's sleep.
        if let WaitStrategy::SpinThenPark { .. } = strategy {
            strategy = WaitStrategy::Park;
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
            &self.looks,
            || self.ring.shared.deaths(other(role)),
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
