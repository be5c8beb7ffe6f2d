//! Healing the claims of dead peers (called by the reaper in `peer`, once it
//! holds a dead holder's entry).
//!
//! # Claim records
//!
//! A handle records each claim in its peer entry *before* its CAS on the
//! cursor, marked [`PENDING`]; a failed CAS re-records the next attempt, and
//! a claim that gets nothing clears the record.
//! So a holder killed at any instruction leaves a record of every claim it
//! may own: there is no window between owning positions and saying so. A
//! batch claim's record is settled (length 0) after its last stamp store
//! (Release); a one-position record is left in place (`held`: a single push
//! or pop stores its position and nothing else), so a record may name a
//! position that is done. The reaper therefore looks at each position's
//! stamp first: a published (producer) or released (consumer) position
//! needs no healing and is passed over, whoever's record names it.
//!
//! | dead holder | positions `q` of its record | the reaper |
//! |---|---|---|
//! | producer | `q < tail`, stamp still `FREE` or `CLAIMED` for `q`'s lap | CAS it to `SKIP`: consumers pass over it |
//! | consumer | `q < head`, stamp still `READY`/`SKIP` for `q`'s lap | CAS it to free-for-next-lap; each `READY` one is a lost message |
//!
//! A record does not say whether its CAS won. The positions it names are the
//! dead holder's unless a *live* handle's record names them too; then it
//! cannot be decided yet (the live one may own them), and the whole claim is
//! left for a later reaping: the live handle publishes (and, for a batch,
//! settles) right after, and a position it published is passed over by the
//! stamp check, so this delays healing, never prevents it (unless that live
//! handle keeps a chunk open on positions the dead one lost: healing waits
//! for its commit). A position owned by another dead holder is healed the
//! same way, by whichever reaper gets it first (the stamp CAS makes it once).
//!
//! Why the live records are seen: the reaper loads the cursor (Acquire)
//! before the records, and a position `q` below that cursor was claimed by a
//! CAS that came after its claimer's pending record (Relaxed stores before an
//! AcqRel CAS; the reaper's Acquire load of the cursor reads that CAS or a
//! later one in the cursor's modification order). A record that was settled
//! or replaced since was stored with Release after the claimer's stamp
//! stores, so the stamp CAS of the reaper fails on those positions.
//!
//! No late write follows a healing: the reaper acts only once the kernel
//! dropped the holder's liveness token, after its last thread exited (`peer`).

use super::stamp::{Stamps, CLAIMED, FREE, READY, SKIP};
use super::Slot;
use crate::loom::Ordering;
use crate::peer::{Liveness, ROLE_MASK};
use crate::ring::Shared;

/// Bit of `claim_len`: the claim's CAS may not have happened yet.
pub(crate) const PENDING: u64 = 1 << 63;

/// Whether a live handle (other than entry `me`) of role bits `role`
/// records position `q`.
fn live_record(shared: &Shared, me: usize, role: u32, q: u64) -> bool {
    for (i, entry) in shared.peers().entries.iter().enumerate() {
        // Relaxed pre-filter: the role bits of a registration.
        if i == me || entry.info.load(Ordering::Relaxed) & ROLE_MASK != role {
            continue;
        }
        // Acquire: pairs with the holder's Release stores of `claim_len`
        // (and, through its CAS, with the reaper's cursor load).
        let len = entry.claim_len.load(Ordering::Acquire);
        if len == 0 {
            continue;
        }
        // Relaxed: stored before `claim_len` (Release), read after it.
        let pos = entry.claim_pos.load(Ordering::Relaxed);
        if q.wrapping_sub(pos) < len & !PENDING && shared.liveness(i) == Liveness::Alive {
            return true;
        }
    }
    false
}

/// The stamp of the slot of `q`, read with Acquire (as a claim scan reads
/// it).
fn stamp_of(shared: &Shared, q: u64) -> u64 {
    let g = shared.geometry();
    // Acquire: as the stamp loads of the claims (`ProducerCore::claim`,
    // `ConsumerCore::claim`).
    Slot::of(shared, g.payload_offset as usize, q)
        .stamp
        .load(Ordering::Acquire)
}

/// Whether position `q` (below `tail`) is still unpublished: its stamp is
/// `FREE` or `CLAIMED` of `q`'s lap. Stamps only move forward, so a
/// position found published stays so: its record (a one-position record
/// is left in place after its publish, see `held`) needs no healing, and
/// no live record can hold it back.
fn unpublished(shared: &Shared, stamps: &Stamps, q: u64) -> bool {
    let stamp = stamp_of(shared, q);
    stamp == stamps.at(q, FREE) || stamp == stamps.at(q, CLAIMED)
}

/// Whether position `q` (below `head`) is still unreleased: its stamp is
/// `READY` or `SKIP` of `q`'s lap (as `unpublished`, for consumers).
fn unreleased(shared: &Shared, stamps: &Stamps, q: u64) -> bool {
    let stamp = stamp_of(shared, q);
    stamp == stamps.at(q, READY) || stamp == stamps.at(q, SKIP)
}

/// The part of a record that still holds positions, for inspection
/// (`Ring::peers`): `(pos, len)` as recorded, or `(pos, 0)` when its
/// first position is done already (a one-position record stays in place
/// after its publish or release, see `held`). `producer`: the holder's role.
pub(crate) fn in_flight(shared: &Shared, producer: bool, pos: u64, len: u64) -> (u64, u64) {
    let stamps = Stamps::new(shared.geometry().capacity);
    let len = len & !PENDING;
    let held = len > 0
        && if producer {
            unpublished(shared, &stamps, pos)
        } else {
            unreleased(shared, &stamps, pos)
        };
    (pos, if held { len } else { 0 })
}

/// Publishes the unpublished positions of a dead producer's (entry `me`)
/// record `pos, len` as skipped, then wakes the consumers. `false` when it
/// cannot be decided yet (a live producer's pending record names one of
/// them): reap again later.
pub(crate) fn tombstone(shared: &Shared, me: usize, role: u32, pos: u64, len: u64) -> bool {
    let g = shared.geometry();
    let stamps = Stamps::new(g.capacity);
    let n = (len & !PENDING).min(g.capacity);
    // Acquire: see the module docs (records of claims below `tail` are visible).
    let tail = shared.header().tail.load(Ordering::Acquire);
    let mut todo = Vec::new();
    for i in 0..n {
        let q = pos.wrapping_add(i);
        if (tail.wrapping_sub(q) as i64) <= 0 {
            break; // not claimed by anyone (the CAS did not happen)
        }
        if !unpublished(shared, &stamps, q) {
            continue; // published already: nothing to heal, whoever owns it
        }
        if live_record(shared, me, role, q) {
            return false;
        }
        todo.push(q);
    }
    for q in todo {
        let slot = Slot::of(shared, g.payload_offset as usize, q);
        for state in [FREE, CLAIMED] {
            // Release: as a producer's publish. Relaxed on failure: not in
            // this state (published already, or not ours): leave it.
            if slot
                .stamp
                .compare_exchange(
                    stamps.at(q, state),
                    stamps.at(q, SKIP),
                    Ordering::Release,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                break;
            }
        }
    }
    shared.header().data_event.notify_in(shared.barrier);
    true
}

/// Frees the unreleased positions of a dead consumer's (entry `me`) record
/// for the next lap, then wakes the producers. Returns how many held
/// messages (lost), or `None` when it cannot be decided yet.
pub(crate) fn free_claimed(
    shared: &Shared,
    me: usize,
    role: u32,
    pos: u64,
    len: u64,
) -> Option<u64> {
    let g = shared.geometry();
    let stamps = Stamps::new(g.capacity);
    let n = (len & !PENDING).min(g.capacity);
    // Acquire: as `tail` in `tombstone`.
    let head = shared.header().head.load(Ordering::Acquire);
    let mut todo = Vec::new();
    for i in 0..n {
        let q = pos.wrapping_add(i);
        if (head.wrapping_sub(q) as i64) <= 0 {
            break;
        }
        if !unreleased(shared, &stamps, q) {
            continue; // released already: nothing to heal
        }
        if live_record(shared, me, role, q) {
            return None;
        }
        todo.push(q);
    }
    let mut lost = 0;
    for q in todo {
        let slot = Slot::of(shared, g.payload_offset as usize, q);
        for state in [READY, SKIP] {
            // Release: as a consumer's release (the next producer's Acquire
            // scan). Relaxed on failure: not in this state.
            if slot
                .stamp
                .compare_exchange(
                    stamps.at(q, state),
                    stamps.released(q),
                    Ordering::Release,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                lost += u64::from(state == READY);
                break;
            }
        }
    }
    shared.header().space_event.notify_in(shared.barrier);
    Some(lost)
}
