//! The single-producer, single-consumer ring.
//!
//! ```text
//!                 head (consumer)                 tail (producer)
//!                   v                               v
//!   slots:  [ free | ready ready ready ready ready | free free ]   index = cursor & (capacity - 1)
//!                    <-------- tail - head ------->
//! ```
//!
//! The producer writes slots at `tail` and then advances `tail`; the consumer
//! reads slots at `head` and then advances `head`. `tail - head` is the fill
//! level, never more than the capacity. Each side keeps its own cursor in a
//! private field (it is the only writer) and a cached copy of the peer's; it
//! re-reads the peer's shared cursor only when the cache says full (producer)
//! or empty (consumer), so a side that is not waiting touches only its own
//! line and the slots.
//!
//! | atomic | written by | read by | ordering | pairs with |
//! |---|---|---|---|---|
//! | `tail` | producer, after writing slots (`ProducerCore::publish`) | consumer refill (`consumer::load_tail`, from `ready` and `refresh`) | Release / Acquire | the slot bytes: the consumer reads what was written below `tail` |
//! | slot stamp (stamped slots only) | producer, after `tail`, for each published slot (`ProducerCore::publish`); again on attach | consumer with nothing cached, one message (`ConsumerCore::stamp_ready`) | Release / Acquire | the slot's payload and the `tail` store before it |
//! | `head` | consumer, after reading slots (`ConsumerCore::release`) | producer refill (`producer::load_head`, from `free` and `refresh`) | Release / Acquire | the consumer's slot reads happen before the producer overwrites them |
//! | `producer_owner`, `consumer_owner` | the handle, CAS 0 -> pid on attach, pid -> 0 on drop | the next handle | AcqRel CAS / Release | a new holder sees the old holder's last cursor store |
//! | `data_event`, `space_event` | see `ringway_sync::Event` | | fence(SeqCst) | the blocking calls |
//!
//! # Slot layouts
//!
//! Chosen at creation ([`RingBuilder::stamped`](crate::RingBuilder::stamped),
//! recorded as [`FLAG_STAMPED`](crate::layout::FLAG_STAMPED) in the identity):
//!
//! ```text
//! contiguous (default)   | payload 0 | payload 1 | payload 2 | ...          stride = slot size
//! stamped                | stamp 0 | payload 0 | stamp 1 | payload 1 | ...  stride = round_up(8 + size, max(8, align))
//!                          stamp of the slot of position p = p + 1 once p is published
//! ```
//!
//! With contiguous slots a consumer with nothing cached learns of a message
//! from `tail`, then reads the slot: two cache lines cross per message. With
//! stamped slots the producer still stores `tail` (once per batch: for
//! `ready_slots`, batch claims, the blocking calls, takeover and the
//! drained/`PeerGone` checks), then the stamp of each slot it published
//! (Release: plain stores on x86, written with the payload lines); a one-message claim with nothing cached loads
//! only the stamp at `head`, in the line of the payload it is about to read,
//! so a busy-polling round trip moves one line each way, as the MPMC stamp
//! does. Batch claims (`want > 1`) still read `tail`: one line for the whole
//! batch. Chunks of a stamped ring are not contiguous: they lend each
//! element (`get`, `iter`); `slices()` gives `None` and `as_slices` panics.
//!
//! Stamps are `position + 1` and are classified against the position they
//! are read for: `head + 1` is ready; 0 (never written) or the stamp of an
//! earlier position of the same slot (a previous lap) is "not yet"; anything
//! else is a [`CorruptError`](crate::CorruptError). Because `tail` is stored
//! before the stamps, a consumer that saw a stamp never sees a lower `tail`
//! afterwards. A producer that dies between its `tail` and stamp stores
//! leaves published messages without stamps: the consumer still gets them
//! through `tail` (`ready_slots`, batch claims, waits, the `PeerGone` check),
//! and the next producer stamps every message in the ring again on attach.
//!
//! A peer's cursor is untrusted: it is read once per refill, the distance to
//! our own cursor is checked against the capacity, and a cursor that moved
//! backwards or too far is a [`CorruptError`](crate::CorruptError). Every slot
//! index is masked, so no value of a shared cursor can cause an access outside
//! the slots; at worst a corrupt peer makes us read garbage bytes, which typed
//! rings accept because their message types are valid for any bit pattern.
//!
//! # Crashes and restarts
//!
//! A role whose holder died is taken over by the next `attach` (see
//! [`peer`](crate::peer)), which continues from the shared cursors. A
//! producer killed before publishing loses only what it had not published
//! (the cursor did not move): committed messages are delivered exactly once.
//! A consumer killed after reading messages and before releasing them (the
//! head store) gets them again when it restarts: delivery across a consumer
//! crash is **at-least-once**; make processing idempotent or release before
//! acting if that matters. The surviving side learns of the death as
//! `PeerGone` (a consumer once the ring is drained, a producer when it would
//! wait for space).

mod consumer;
mod producer;

pub(crate) use crate::error::Waited;
use crate::error::{HandleError, Role};
use crate::handle::side::Spans;
use crate::loom::Ordering;
use crate::peer::Peer;
use crate::ring::Ring;

/// The two runs of `len` contiguous slots from `pos` of `ring`.
fn contiguous(ring: &Ring, pos: u64, len: u64) -> Spans {
    let shared = &ring.shared;
    let (first_ptr, idx) = shared.slot(pos);
    let first = len.min(ring.capacity() - idx as u64);
    let (second_ptr, _) = shared.slot(0);
    (
        (first_ptr, first as usize),
        (second_ptr, (len - first) as usize),
    )
}

crate::handle::kind_aliases!(Spsc, "SPSC", producer::ProducerCore, consumer::ConsumerCore);

/// Takes `role` of `ring` (registering in the peer table, taking over from a
/// dead holder) and reads the cursors the new holder continues from:
/// `(peer, head, tail)`, checked.
fn attach(ring: &Ring, role: Role) -> Result<(Peer, u64, u64), HandleError> {
    let peer = Peer::register(ring, role)?;
    ring.claim_role(role, &peer, crate::layout::Kind::Spsc)?;
    let h = ring.shared.header();
    // Acquire: pairs with the Release stores of head and tail by the last
    // holders of the roles (`ConsumerCore::release`, `ProducerCore::publish`),
    // so we continue exactly where the last holder of ours stopped.
    let head = h.head.load(Ordering::Acquire);
    // Acquire: as above.
    let tail = h.tail.load(Ordering::Acquire);
    let capacity = ring.capacity();
    // Cursors count messages and never get near 2^64 honestly; one that
    // does (a peer's write) would overflow `tail + n`. The distance to 2^64
    // must hold at least two laps of pushes.
    let bad = if head > tail || tail - head > capacity {
        Some("tail is not within capacity ahead of head")
    } else if tail > u64::MAX - 2 * capacity {
        Some("tail is too close to 2^64")
    } else {
        None
    };
    if let Some(what) = bad {
        ring.release_role(role, &peer);
        return Err(ring.corrupt(what, tail).into());
    }
    Ok((peer, head, tail))
}
