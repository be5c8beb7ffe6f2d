//! The claim record a handle keeps in its peer entry, written on the claim
//! path: what a reaper reads after the holder died (`heal.rs`).
//!
//! | call | when | stores into the entry |
//! |---|---|---|
//! | [`Held::one`] | before the cursor CAS of a one-position claim | `claim_pos`; `claim_len = 1 \| PENDING` only when it held something else |
//! | [`Held::pending`] | before the cursor CAS of a claim of `len` positions | `claim_pos`, `claim_len = len \| PENDING` |
//! | [`Held::settled`] | after the stamp stores that end a batch claim, or after a claim that got nothing | `claim_len = 0` (Release) |
//!
//! **A one-position record is never settled.** A single push or pop
//! stores its position before its CAS and leaves the record in place after
//! its stamp store: the stamp itself says that the position is done (a
//! producer's `READY`, a consumer's free stamp of the next lap), stamps only
//! move forward, and the reaper looks at the stamp before it acts on a
//! record (`heal::tombstone`, `heal::free_claimed`). So a one-message call
//! stores one word of its own entry's line (the position), where it stored
//! three (position, length, then the settle). The next claim overwrites the
//! position, and it is stored before that claim's CAS as before: a holder
//! killed at any instruction still leaves a record of every position it may
//! own.

use core::ptr::NonNull;

use super::heal::PENDING;
use crate::loom::Ordering;
use crate::peer::{Peer, PeerEntry};

/// Our entry's claim record, and whether it holds a one-position claim
/// (`claim_len == 1 | PENDING`), so that the next one stores its position
/// only.
#[derive(Debug)]
pub(crate) struct Held {
    entry: NonNull<PeerEntry>,
    one: bool,
}

// SAFETY: `entry` points into the peer table of the mapping that the core
// holding this `Held` keeps alive (its `ring` and `peer`); every field of an
// entry is an atomic, and a core is used by one thread at a time.
unsafe impl Send for Held {}

impl Held {
    /// The record of `peer`'s entry (as registration left it: settled).
    pub(crate) fn new(peer: &Peer) -> Held {
        Held {
            entry: NonNull::from(peer.entry()),
            one: false,
        }
    }

    #[inline(always)]
    fn entry(&self) -> &PeerEntry {
        // SAFETY: see `unsafe impl Send`: the entry lives as long as the
        // core's ring; every field is atomic, so peers writing it do not
        // invalidate `&`.
        unsafe { self.entry.as_ref() }
    }

    /// Records that we are about to claim position `pos` alone.
    #[inline(always)]
    pub(crate) fn one(&mut self, pos: u64) {
        let entry = self.entry();
        // Relaxed: ordered before the cursor CAS (AcqRel) that follows, and
        // read by a reaper after that CAS (see `heal`).
        entry.claim_pos.store(pos, Ordering::Relaxed);
        if !self.one {
            // Relaxed: as above.
            entry.claim_len.store(1 | PENDING, Ordering::Relaxed);
            self.one = true;
        }
    }

    /// Records that we are about to claim `len` positions from `pos`.
    #[inline]
    pub(crate) fn pending(&mut self, pos: u64, len: u64) {
        let entry = self.entry();
        // Relaxed: as in `one`.
        entry.claim_pos.store(pos, Ordering::Relaxed);
        // Relaxed: as in `one`.
        entry.claim_len.store(len | PENDING, Ordering::Relaxed);
        self.one = len == 1;
    }

    /// Records that no claim is in flight.
    #[inline]
    pub(crate) fn settled(&mut self) {
        // Release: after our stamp stores, so a reaper that reads 0 sees them.
        self.entry().claim_len.store(0, Ordering::Release);
        self.one = false;
    }
}
