//! Healing the claims of dead peers (called by the reaper in `peer`, once it
//! holds a dead holder's entry).
//!
//! | dead holder | its recorded claim `pos..pos + len` | the reaper |
//! |---|---|---|
//! | producer | claimed, some slots maybe published | CAS each stamp still `FREE` for its lap to `SKIP`: consumers pass over it |
//! | consumer | claimed, some slots maybe released | CAS each stamp still `READY`/`SKIP` for its lap to free-for-next-lap; each `READY` one is a lost message |
//!
//! The CAS leaves alone every slot the holder finished before it died. No
//! late write can follow: the reaper acts only once the kernel dropped the
//! holder's liveness token, after its last thread exited (`peer`).

use super::stamp::{Stamps, FREE, READY, SKIP};
use super::Slot;
use crate::loom::Ordering;
use crate::ring::Shared;

/// Publishes the unpublished positions of a dead producer's claim as
/// skipped, then wakes the consumers.
pub(crate) fn tombstone(shared: &Shared, pos: u64, len: u64) {
    let g = shared.geometry();
    let stamps = Stamps::new(g.capacity);
    for i in 0..len.min(g.capacity) {
        let p = pos.wrapping_add(i);
        let slot = Slot::of(shared, g.payload_offset as usize, p);
        // Release: as a producer's publish (the consumer's Acquire scan sees
        // a settled slot). Relaxed on failure: published already, leave it.
        let _ = slot.stamp.compare_exchange(
            stamps.at(p, FREE),
            stamps.at(p, SKIP),
            Ordering::Release,
            Ordering::Relaxed,
        );
    }
    shared.header().data_event.notify();
}

/// Frees the unreleased positions of a dead consumer's claim for the next
/// lap, then wakes the producers. Returns how many held messages (lost).
pub(crate) fn free_claimed(shared: &Shared, pos: u64, len: u64) -> u64 {
    let g = shared.geometry();
    let stamps = Stamps::new(g.capacity);
    let mut lost = 0;
    for i in 0..len.min(g.capacity) {
        let p = pos.wrapping_add(i);
        let slot = Slot::of(shared, g.payload_offset as usize, p);
        for state in [READY, SKIP] {
            // Release: as a consumer's release (the next producer's Acquire
            // scan). Relaxed on failure: not in this state.
            if slot
                .stamp
                .compare_exchange(
                    stamps.at(p, state),
                    stamps.released(p),
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
    shared.header().space_event.notify();
    lost
}
