//! Healing after record-ring peers that died (called by the reaper in
//! `peer`, once it holds the dead holder's entry).
//!
//! Record producers and the consumer register in the peer table like every
//! handle (OFD-lock liveness, see `peer`). What each leaves in its entry:
//!
//! | holder | record in its entry | stored | the healer |
//! |---|---|---|---|
//! | producer | claim `pos, len \| PENDING` | before its CAS on `tail` (AcqRel); cleared (Release) after its commit CAS | only the consumer, at its `head`: [`bury`] |
//! | consumer | freeing `pos, len` | before it zeroes a record; cleared after it moves `head` | any reaper: [`finish_release`] |
//!
//! **Producers.** As in the MPMC ring (`mpmc::heal`), a record does not say
//! whether its CAS won: a producer whose CAS lost leaves a record naming the
//! position the winner claimed. Every claim of a record ring starts at the
//! `tail` its CAS read, so a winner's claim and every loser's record start
//! at the same position `pos`. The consumer decides, at a `pos` in
//! `head..tail` whose stamp is still 0 (not committed):
//! - a live producer's record names `pos`: that one may own it and will
//!   commit; leave it (reap again later);
//! - otherwise every record naming `pos` is a dead producer's, one of them
//!   the winner: if they agree on the length, write it and CAS the stamp from
//!   0 to a tombstone (a commit that happened meanwhile wins the CAS). If two
//!   dead producers name `pos` with different lengths (the loser killed
//!   right after its failed CAS and the winner killed before its commit,
//!   both), the claim's length is unknown and it is never buried: the
//!   consumer's calls return their deadline (documented limit).
//!
//! Only the consumer buries: it alone moves `head`, so between its check of
//! the stamp and its CAS nobody can consume the record at `pos` and zero its
//! stamp for the next lap (a third-party reaper could then write a
//! tombstone into free space). A reaper that is not the consumer leaves a
//! dead producer's entry with a claim in flight for it.
//!
//! Why the live records are seen: a producer stores its record before its
//! CAS on `tail` (AcqRel), and the consumer loads `tail` with Acquire
//! before it reads the records, so a claim below that `tail` is recorded
//! (or was already settled after its commit, whose stamp CAS then beats
//! ours).
//!
//! **The consumer.** A consumer killed while it zeroes a record it read
//! (or skipped) has not moved `head` yet: the stamp at `head` may already be
//! 0, and a new consumer would wait there forever. Its record says which
//! bytes it was freeing; the reaper zeroes them again and moves `head` from
//! `pos` by CAS (no-op if the dead consumer got that far). The dead
//! consumer had the record in hand: it is not delivered again (a consumer
//! killed before `release` leaves no record, and the next one reads the
//! record again: at-least-once).
//!
//! No late write follows a healing: the reaper acts only once the kernel
//! dropped the holder's liveness token, after its last thread exited (or,
//! for caller memory, once its pid and start time show it gone). The
//! commit CAS of `producer.rs` fences only the stamp: a producer wrongly
//! taken for dead would still write its length, checksum and payload bytes
//! into a claim the consumer may already have zeroed and freed, which no
//! fence in the record can stop (the same reason the MPMC ring offers no
//! unblock of a live claim, see `mpmc`). So healing rests on liveness
//! being the kernel's word, never on a timeout.

use super::frame::{zero, Frame};
use super::{RECORD_ALIGN, RECORD_HEADER, TOMBSTONE};
use crate::loom::Ordering;
use crate::mpmc::heal::PENDING;
use crate::peer::{Liveness, ROLE_MASK, ROLE_PRODUCER};
use crate::ring::Shared;

/// Buries the claim `pos, len` of the dead producer of entry `me`, as the
/// consumer at `head`. `true` when the record can be dropped (buried, or
/// nothing to bury: committed, consumed, never claimed, impossible);
/// `false` when it cannot be decided yet (see the module docs).
pub(crate) fn bury(shared: &Shared, me: usize, pos: u64, len: u64, head: u64) -> bool {
    let n = len & !PENDING;
    let capacity = shared.geometry().capacity;
    // Acquire: pairs with the producers' AcqRel CAS of tail, so the record
    // of every claim below it is visible (module docs).
    let tail = shared.header().tail.load(Ordering::Acquire);
    if pos < head || pos >= tail {
        // Consumed already (by whoever owned it), or the CAS never happened.
        return true;
    }
    let frame = Frame::of(shared, pos);
    // Acquire: as the consumer's load of a stamp.
    if frame.stamp.load(Ordering::Acquire) != 0 {
        return true; // committed
    }
    for (i, entry) in shared.peers().entries.iter().enumerate() {
        // Relaxed pre-filter: the role bits of a registration.
        if i == me || entry.info.load(Ordering::Relaxed) & ROLE_MASK != ROLE_PRODUCER {
            continue;
        }
        // Acquire: pairs with the holder's Release clear after its commit.
        let other = entry.claim_len.load(Ordering::Acquire);
        // Relaxed: stored before `claim_len`, read after it.
        if other == 0 || entry.claim_pos.load(Ordering::Relaxed) != pos {
            continue;
        }
        if shared.liveness(i) == Liveness::Alive || other & !PENDING != n {
            return false;
        }
    }
    let plausible = n >= RECORD_HEADER
        && n % RECORD_ALIGN == 0
        && pos % RECORD_ALIGN == 0
        && n <= tail - pos
        && n <= capacity - (pos & (capacity - 1));
    if !plausible {
        // No honest producer records this: nothing we could bury.
        return true;
    }
    frame.set_len((n - RECORD_HEADER) as u32);
    // Release: publishes the length; pairs with the consumer's Acquire load
    // of the stamp (the caller is that consumer). Relaxed on failure: the
    // claim was committed after all, and is delivered.
    let _ = frame
        .stamp
        .compare_exchange(0, pos | TOMBSTONE, Ordering::Release, Ordering::Relaxed);
    true
}

/// Finishes a dead consumer's release of `len` bytes at `pos`: zeroes them
/// and moves `head` past them, if `head` is still at `pos`.
pub(crate) fn finish_release(shared: &Shared, pos: u64, len: u64) {
    let capacity = shared.geometry().capacity;
    let header = shared.header();
    // Acquire: the dead consumer's last store of head (the kernel ordered
    // its stores before our lock anyway).
    let head = header.head.load(Ordering::Acquire);
    let plausible = head == pos
        && len > 0
        && len % RECORD_ALIGN == 0
        && len <= capacity - (pos & (capacity - 1));
    if !plausible {
        return;
    }
    // The bytes are the consumer's until head moves past them: producers
    // write only below a head they read, and no consumer holds the role
    // while we reap its holder.
    zero(shared, pos, len);
    // Release: our zeroing happens before a producer writes the bytes;
    // pairs with the Acquire load of head in `ProducerCore::fits`.
    // Relaxed on failure: someone moved it (nothing to do).
    let _ = header
        .head
        .compare_exchange(pos, pos + len, Ordering::Release, Ordering::Relaxed);
    header.space_event.notify();
}
