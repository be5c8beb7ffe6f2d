//! The multi-producer, multi-consumer ring: Vyukov's bounded queue (the
//! algorithm of crossbeam's `ArrayQueue`) over the mapped slots, with batch
//! claims.
//!
//! ```text
//!                   head (consumers' claim cursor)       tail (producers' claim cursor)
//!                     v                                    v
//!  positions:  ... | R  R  W  R  S  R  W  R  R  R  R  R | F  F  F  F | ...
//!  slot:       [stamp|payload] [stamp|payload] ...      index = position & (capacity - 1)
//!
//!  F free for this lap    W claimed by a producer, being written (first slot
//!  R ready                  of the claim stamped C, the others still F)
//!                         S skipped (claimed, published without a message)
//! ```
//!
//! Each slot carries an 8-byte **stamp** in front of its payload; the stamp,
//! not the cursors, says who may touch the slot. `tail` and `head` only hand
//! out positions: a producer claims positions by moving `tail` forward with
//! one CAS, writes the slots, and publishes each one by storing its stamp; a
//! consumer claims ready positions by moving `head` forward with one CAS,
//! reads the slots, and frees each one by storing its stamp for the next lap.
//! A producer stalled between claim and publish does not stop other
//! producers from claiming the positions after it (they have their own
//! slots); consumers wait at its position until it publishes.
//!
//! ```
//! use ringway::{mpmc, Kind, RingBuilder};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ring = RingBuilder::new(Kind::Mpmc).capacity(256).message::<u64>().create_anonymous()?;
//! let senders: Vec<_> = (0..2u64)
//!     .map(|p| {
//!         let mut tx = mpmc::Producer::<u64>::attach(&ring)?;
//!         Ok(std::thread::spawn(move || {
//!             let batch: Vec<u64> = (0..100).map(|i| p << 32 | i).collect();
//!             let mut sent = 0;
//!             while sent < batch.len() {
//!                 sent += tx.push_slice(&batch[sent..]).unwrap(); // one CAS per call
//!             }
//!         }))
//!     })
//!     .collect::<Result<_, ringway::HandleError>>()?;
//! let mut rx = mpmc::Consumer::<u64>::attach(&ring)?;
//! let mut next = [0u64; 2];
//! while next != [100, 100] {
//!     let chunk = rx.read_chunk(32)?; // zero-copy, one CAS
//!     for &v in chunk.iter() {
//!         let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
//!         assert_eq!(i, next[p]); // each producer's order is kept
//!         next[p] += 1;
//!     }
//! } // dropping the chunk frees its slots
//! for s in senders {
//!     s.join().unwrap();
//! }
//! # Ok(()) }
//! ```
//!
//! # Stamp encoding
//!
//! `stamp = lap << 2 | state`, with `lap = position >> log2(capacity)` (62
//! bits) and `state` one of `FREE` = 0, `READY` = 1, `SKIP` = 2,
//! `CLAIMED` = 3:
//!
//! | stamp of the slot of position `p` (lap `L`) | meaning |
//! |---|---|
//! | `L << 2 \| FREE` | free: a producer may claim `p` (or one has just claimed it and not stamped it yet) |
//! | `L << 2 \| CLAIMED` | `p` is the first position of a claim not yet published: consumers at `p` report `Busy` |
//! | `L << 2 \| READY` | holds the message of `p`: a consumer may claim `p` |
//! | `L << 2 \| SKIP` | `p` was published without a message: a consumer claims and frees it, showing nothing |
//! | `(L + 1) << 2 \| FREE` | `p` was consumed; free for `p + capacity` |
//!
//! All-zero memory is lap 0 `FREE` in every slot, so a zero-filled mapping
//! is an empty ring and needs no initialisation (for memory the caller
//! provides, `Ring::init` zeroes the stamps). Every stamp value read from
//! shared memory is classified against the position it is read for
//! (`stamp::Stamps::for_producer`, `for_consumer`): claimable, wait (full or
//! empty), stale cursor, or impossible.
//!
//! # Batches
//!
//! `write_chunk(k)` (and `push_slice`) reads the stamps of `t..t + k`, keeps
//! the prefix that is free for its lap, and claims it with one CAS of `tail`
//! from `t` to `t + n`; `read_chunk(k)` (and `pop_into`) does the same with
//! ready stamps and `head`. Correctness: a slot's stamp says free for
//! position `p` from the moment `p - capacity` was consumed until `p` is
//! published, and only the producer whose CAS moves `tail` across `p` writes
//! it. `tail` only moves forward (every write is a CAS from the value read),
//! so exactly one CAS ever covers `p`; and a CAS from `t` succeeds only while
//! `tail == t`, when no position from `t` on has been claimed, so the stamps
//! read as free before the CAS are still free after it. The same holds for
//! consumers, `head` and ready stamps. A stale scan only makes the CAS fail.
//!
//! # Protocol
//!
//! | atomic | written by | read by | ordering | partner |
//! |---|---|---|---|---|
//! | slot stamp → `CLAIMED` | producer, right after its winning `tail` CAS in `claim_inner`, for a claim lent as a write chunk only (`Side::lend`), first slot of the claim (`ProducerCore::mark_claimed`) | producer scans (a stale `tail` finds it: `Ahead`), consumer's `why_unavailable` | Release / Acquire | the `tail` CAS before it: a producer that finds it reloads `tail` past its position, so the stamp is not taken for corruption |
//! | slot stamp → `READY`/`SKIP` | producer, after writing the payload (`ProducerCore::publish`, in position order) | consumer scan (`ConsumerCore::claim`) | Release / Acquire | the payload bytes: the consumer reads what the producer wrote |
//! | slot stamp → next lap `FREE` | consumer, after reading the payload (`ConsumerCore::release`) | producer scan (`ProducerCore::claim`) | Release / Acquire | the consumer's reads happen before the next producer's writes |
//! | `tail` | producers: CAS `t → t + n` | producers | AcqRel CAS, Acquire loads | the producer that claimed `t - capacity`: its free stamp is visible, so an older stamp is corruption, not staleness |
//! | `head` | consumers: CAS `h → h + n` | consumers | AcqRel CAS, Acquire loads | as `tail`, with ready stamps |
//! | peer entry `claim_pos`, `claim_len` | the holder, before each claim CAS (a one-position claim: the position only), and after publishing / releasing a batch claim (`held.rs`) | the reaper, after the holder died | Relaxed pos, Release len / AcqRel swap | see `peer` and `heal.rs` |
//! | `data_event`, `space_event` | `notify` after publishing / freeing | blocking calls | fence(SeqCst) | `ringway_sync::Event` |
//!
//! Producers read `head` only to tell `Busy` from `Full` after a push found
//! no free slot; consumers never read `tail`: they tell `Busy` from `Empty`
//! by the `CLAIMED` stamp (see below). Each side otherwise reads only its
//! own cursor and the stamps, so consumers polling an empty ring leave
//! `tail`'s line to the producers (reading it on every empty poll made
//! every producer CAS take the line back: the MPMC busy-poll round trip
//! went from 151 ns to 360-390 ns). A one-message call (`try_push`, `try_pop`)
//! that finds the other side `Busy` (a producer between claim and publish at
//! `head`; a consumer between claim and release one lap behind `tail`)
//! waits for it a bounded time ([`PEER_SPIN_ROUNDS`] of backoff, as
//! `ArrayQueue` waits without a bound) before it reports `Busy`: that step
//! takes nanoseconds, and giving up the thread costs microseconds.
//!
//! # Empty, Busy, and who waits on whom
//!
//! Positions are taken in order: the message at `head` must be published
//! before any consumer can take the ones after it. So:
//! - `try_pop` returns [`PopError::Busy`](crate::PopError::Busy) when a
//!   producer has claimed the position at `head` with a write chunk (a
//!   claim lent to the caller, held as long as it likes) and not published
//!   it yet (its stamp says `CLAIMED`): the ring is not empty (later
//!   messages may be published), every consumer waits for that producer.
//!   Otherwise [`PopError::Empty`](crate::PopError::Empty): no producer has
//!   claimed that position; or one has won its `tail` CAS and not yet
//!   stored `CLAIMED` (a few instructions); or it is a push that copies and
//!   publishes at once (`try_push`, `push_blocking`, `push_slice`...)
//!   between its claim and its publish, which stores no `CLAIMED` (the
//!   store would buy a `Busy` for the time of a copy with a second store
//!   into the line a caught-up consumer polls, and it multiplies the
//!   states the loom models explore: a model of two batch pushes ran for
//!   more than 10 minutes instead of 12 s); or its
//!   producer died there (until it is healed, as any dead claim). In each
//!   case the push is not done, and a later call sees the message (or
//!   `Busy`). Once a consumer has seen `Busy` at a position, it
//!   sees `Busy` there until the message is published (the stamp only
//!   moves forward). A claim of several positions stamps only its first
//!   slot and is published in position order: a consumer that took the
//!   published prefix of a claim still being published can find `Empty`
//!   at the next position for those few instructions, as in the window
//!   after the CAS.
//! - `pop_timeout` / `pop_blocking` wait for that producer too; a deadline
//!   bounds what it can cost (`Timeout`), and is checked between claim
//!   attempts as well as while parked, so neither a long run of skipped
//!   positions nor a peer that keeps publishing SKIP holds the call past it
//!   by more than one batch of [`SKIP_BATCH`] stamp reads.
//! - Producers wait for the consumer that claimed the position one lap
//!   behind `tail` to release it. `try_push` returns
//!   [`PushError::Full`](crate::PushError::Full) when `capacity` positions
//!   are unconsumed (`tail - head == capacity`: no consumer has claimed
//!   that position), and [`PushError::Busy`](crate::PushError::Busy) when
//!   fewer are (a consumer has claimed it and not released its slot yet):
//!   the ring is not full, every producer waits for that consumer. The
//!   push deadline bounds what it can cost.
//! - A producer that stops for ever inside a claim (a crash) holds every
//!   consumer at that position; freeing it is the crash reaper's job (the
//!   peer table, below), not something a deadline can do.
//! - Skipped positions (a dropped or partial write chunk) cost a consumer
//!   one CAS per [`SKIP_BATCH`] of them, and `try_pop` passes up to
//!   `capacity` of them in one call: a consumer that drains "until Empty"
//!   does not stop early after a large dropped chunk.
//!
//! # Ordering guarantees
//!
//! Positions are a total order of all messages: the order of the claims on
//! `tail`. Then:
//! - **Per producer FIFO.** One handle claims increasing positions (a
//!   handle holds at most one claim at a time), so its messages occupy
//!   increasing positions in the order it pushed (and, within a chunk, in
//!   slot order).
//! - **Per consumer, increasing positions.** One handle claims increasing
//!   positions, so a consumer receives any producer's messages in that
//!   producer's order, and messages of different producers in claim order:
//!   if producer A's claim came before producer B's (for example A's push
//!   returned before B's began), a consumer that receives both gets A's
//!   first.
//! - **Across consumers, nothing more.** Two consumers may take consecutive
//!   messages of one producer and process them in either order; the claims
//!   on `head` are ordered, the work after them is not.
//! - Each message is delivered to exactly one consumer; skipped positions
//!   to none.
//!
//! # Uncommitted chunks
//!
//! A claimed position must get a new stamp or the other side stalls at it.
//! A write chunk dropped without commit (or committed partially) publishes
//! its unwritten slots as `SKIP`. A read chunk frees all its slots when it
//! is released or dropped: its messages were taken by the claim. See
//! [`WriteChunk`] and [`ReadChunk`].
//!
//! # Shared memory is untrusted
//!
//! Every index is `position & (capacity - 1)`, whatever a cursor holds, and
//! positions are added with wrapping arithmetic, so no cursor value causes
//! an out-of-bounds access or a panic. Stamps are never used to compute an
//! address: a stamp only decides claim, wait, retry, or
//! [`CorruptError`] (a state of 3, a lap older than any
//! honest peer leaves, or a stamp ahead of a cursor that does not move).
//! Typed rings carry only `Pod` types, valid for any bytes. `try_*` calls
//! retry a bounded number of times ([`MAX_ATTEMPTS`] lost races or stale
//! reads, `capacity` skipped positions), then report `Full`/`Empty`/`Busy`:
//! a peer that keeps moving a cursor or publishing SKIP cannot make them
//! spin forever.
//!
//! # Peers that die
//!
//! Each handle, producer or consumer, holds an entry of the peer table
//! ([`peer`](crate::peer)) and records there the claim it has in flight. When
//! a call finds the ring empty or full (or a blocking call's sleep slice
//! ends), it looks for dead holders of the other role and reaps them
//! (`heal.rs`): a dead producer's unpublished positions become `SKIP`, a dead
//! consumer's unreleased positions are freed and their messages counted as
//! lost ([`Ring::lost`]). Entries of dead processes are reused, so dead
//! producers never exhaust the table. A consumer gets `PeerGone` once the
//! ring is drained and no producer lives (the last one died); a producer
//! once the ring is full and no consumer lives.
//!
//! A live but stalled producer is never unblocked: only the kernel's word
//! that its process is gone lets a reaper touch its claim, so no late write
//! can land on a healed position.
//!
//! **Why there is no opt-in unblock after a timeout** (as Aeron offers, and
//! issue #12 asks: "bound how long a live claim may hold everyone").
//! Decided against, for this reason: a producer writes its message *in
//! place* (the zero-copy write chunk) before it publishes. Fencing its
//! publish (a CAS of the stamp from `FREE` to `READY` that fails once the
//! consumers tombstoned the position) stops the late *commit*, but not the
//! late *payload writes*: once the position is tombstoned, a consumer
//! passes and frees the slot, a producer of the next lap claims it and
//! writes its own message there, and the stalled producer's writes, still
//! in progress, tear that message. Nothing in the slot can stop a plain
//! store from a thread that does not look. Making it safe would take a
//! copy-in path (write to private memory, copy on commit, checking an epoch
//! in between), which gives up the zero-copy chunk this ring exists for, or
//! per-slot epochs read before every byte written. Aeron's log buffer can
//! afford it because a term is reused only two terms later; a ring slot is
//! reused one lap later. What bounds a live stall instead: a consumer sees
//! [`PopError::Busy`](crate::PopError::Busy) (a live claim holds the head,
//! not an empty ring) and every blocking call returns at its deadline, so
//! a stalled producer costs consumers latency, never an unbounded call; the
//! moment its process dies the claim is healed.
//!
//! Claims are recorded before the cursor CAS (pending, `held.rs`), so a
//! holder killed at any instruction leaves a record of every position it
//! may own. A one-message push or pop stores only its position there and
//! never clears it: the stamp says when the position is done, and the
//! reaper reads the stamp before it acts on a record (`heal.rs`).

mod consumer;
pub(crate) mod heal;
mod held;
mod producer;
mod stamp;

use std::time::Instant;

use crate::error::{CorruptError, HandleError, Waited};
use crate::handle::side::Span;
use crate::layout::Kind;
use crate::loom::AtomicU64;
use crate::place::{stamp_at, Place};
use crate::ring::{Ring, Shared};

/// How many lost CAS races or stale cursor reads a `try_*` call tolerates
/// before it reports `Full` or `Empty`.
pub const MAX_ATTEMPTS: u32 = 128;

/// Most skipped positions a consumer passes over with one CAS (and between
/// two looks at its deadline).
pub const SKIP_BATCH: u64 = 4096;

/// How many backoff rounds `try_push` / `try_pop` wait for a peer caught in
/// the middle of its step at our cursor (a producer between its claim and
/// its publish, at `head`; a consumer between its claim and its release,
/// one lap behind `tail`) before reporting `Busy` / `Full`. Round `k` spins
/// `2^min(k, 6)` times: 191 spin hints in all, a few microseconds, the most
/// a stalled or dead peer adds to one such call. `ArrayQueue` waits for
/// such a peer without a bound.
pub const PEER_SPIN_ROUNDS: u32 = 8;

/// Waits round `round` of a backoff: `2^min(round, 6)` spin hints (one
/// under loom, whose models gain nothing from more).
#[inline]
pub(crate) fn backoff(round: u32) {
    #[cfg(not(loom))]
    for _ in 0..1u32 << round.min(6) {
        crate::loom::spin_loop();
    }
    #[cfg(loom)]
    {
        let _ = round;
        crate::loom::spin_loop();
    }
}

/// `PEER_SPIN_ROUNDS`, or none under loom (the rounds only repeat a claim
/// the models already explore, and multiply their interleavings).
pub(crate) const fn peer_spin_rounds() -> u32 {
    if cfg!(loom) {
        0
    } else {
        PEER_SPIN_ROUNDS
    }
}

/// What the inline one-position claim of a core (`claim_single`) found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Single {
    /// It won this position.
    Won(u64),
    /// The slot at the cursor says "not yet" (`Seen::Wait`): full or
    /// `Busy` at `tail` (producer), empty or `Busy` at `head` (consumer;
    /// `busy`: the stamp is `CLAIMED`). Told from the one stamp load, as
    /// the full claim would tell it, without reading the line again.
    Wait {
        /// Consumer: a producer's claim holds `head`. Producer: unused.
        busy: bool,
    },
    /// Another side's claim got there first: the CAS failed, or the stamp
    /// is already of a later claim (our cursor was stale). Worth another
    /// try after a backoff.
    Raced,
    /// Anything else (skipped positions, an impossible stamp, a poisoned
    /// ring): the full claim decides.
    Other,
}

/// How many backoff rounds a one-message call spends retrying its inline
/// claim after lost races ([`Single::Raced`]) before it hands over to the
/// full claim: as `ArrayQueue` backs off after a failed CAS, so that two
/// contending handles do not take the cursor's line from each other on
/// every attempt. At most [`PEER_SPIN_ROUNDS`]' worth of spin hints; none
/// under loom (the full claim explores the same races).
pub(crate) const fn raced_rounds() -> u32 {
    peer_spin_rounds()
}

/// Why a claim got nothing.
#[derive(Debug)]
pub(crate) enum Claim {
    /// Full (producer) or empty (consumer) at the cursor, or too contended.
    Unavailable,
    /// A stamp no honest peer writes.
    Corrupt(CorruptError),
}

impl Claim {
    /// A claim's result as the seam has it: nothing claimed is an empty span.
    fn into_seam(claimed: Result<Span, Claim>) -> Result<Span, CorruptError> {
        match claimed {
            Ok(span) => Ok(span),
            Err(Claim::Unavailable) => Ok(Span::default()),
            Err(Claim::Corrupt(e)) => Err(e),
        }
    }
}

/// Claims with `claim` until it gets a position, sleeping with `sleep` (on
/// the side's event, until a claim may succeed) in between, until
/// `deadline`. The deadline is checked after every failed claim as well as
/// while parked: a ring in which a claim looks possible but keeps failing
/// (lost races, a peer rewriting stamps, runs of skipped positions) cannot
/// hold the call past it. The blocking claim of both sides.
fn claim_until<C>(
    core: &mut C,
    deadline: Option<Instant>,
    mut claim: impl FnMut(&mut C) -> Result<u64, Claim>,
    mut sleep: impl FnMut(&C) -> Result<(), Waited>,
) -> Result<Span, Waited> {
    loop {
        match claim(core) {
            Ok(pos) => return Ok(Span::new(pos, 1)),
            Err(Claim::Corrupt(e)) => return Err(Waited::Corrupt(e)),
            Err(Claim::Unavailable) => {}
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Waited::Timeout);
        }
        sleep(core)?;
    }
}

crate::handle::kind_aliases!(Mpmc, "MPMC", producer::ProducerCore, consumer::ConsumerCore);
/// Refuses an SPSC ring.
pub(crate) fn check_kind(ring: &Ring) -> Result<(), HandleError> {
    match ring.kind() {
        Kind::Mpmc => Ok(()),
        found => Err(HandleError::WrongKind {
            found,
            expected: Kind::Mpmc,
        }),
    }
}

/// How many positions from `cursor` a claim of the capacity would take now,
/// each stamp classified by `seen` (`Stamps::for_producer` or
/// `for_consumer`): the snapshot behind `free_slots` / `ready_slots`, and
/// the condition of `wait_for_free` / `wait_for_ready`.
pub(crate) fn claimable(
    place: &Place,
    ring: &Ring,
    cursor: &AtomicU64,
    capacity: u64,
    seen: impl Fn(u64, u64) -> stamp::Seen,
) -> Result<u64, CorruptError> {
    // Acquire: as the cursor loads of the claims (`ProducerCore::claim`,
    // `ConsumerCore::claim`).
    let at = cursor.load(crate::loom::Ordering::Acquire);
    let mut n = 0;
    while n < capacity {
        let pos = at.wrapping_add(n);
        // Acquire: as the stamp loads of the claims.
        let stamp = place.stamp(ring, pos).load(crate::loom::Ordering::Acquire);
        match seen(pos, stamp) {
            stamp::Seen::Claimable => n += 1,
            stamp::Seen::Corrupt => {
                return Err(CorruptError {
                    what: "slot stamp is impossible for its cursor",
                    value: stamp,
                })
            }
            stamp::Seen::Wait | stamp::Seen::Ahead => break,
        }
    }
    Ok(n)
}

/// The stamp and payload of one slot.
pub(crate) struct Slot<'a> {
    pub(crate) stamp: &'a AtomicU64,
    pub(crate) payload: *mut u8,
    pub(crate) idx: usize,
}

impl<'a> Slot<'a> {
    /// The slot of position `pos` (any value: the index is masked), for
    /// code that holds the ring's shared state (the reaper, `heal.rs`).
    #[inline]
    pub(crate) fn of(shared: &'a Shared, payload_offset: usize, pos: u64) -> Slot<'a> {
        let (start, idx) = shared.slot(pos);
        Slot::from_start(shared, start, idx, payload_offset)
    }

    /// The slot of position `pos` through a core's copied addresses.
    #[inline(always)]
    pub(crate) fn at(place: &'a Place, ring: &'a Ring, pos: u64) -> Slot<'a> {
        let (start, idx) = place.slot(pos);
        // The core's `place.payload(pos)` is this start plus the geometry's
        // payload offset, which `from_start` adds.
        Slot::from_start(&ring.shared, start, idx, place.payload_offset())
    }

    #[inline(always)]
    fn from_start(
        shared: &'a Shared,
        start: *mut u8,
        idx: usize,
        payload_offset: usize,
    ) -> Slot<'a> {
        // SAFETY: payload_offset + slot_size <= stride (Geometry::new for
        // Kind::Mpmc), so the payload is inside the slot that starts at
        // `start` (the start of slot `idx` inside the region).
        let payload = unsafe { start.add(payload_offset) };
        Slot {
            stamp: stamp_at(shared, start, idx),
            payload,
            idx,
        }
    }
}
