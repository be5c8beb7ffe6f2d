//! The seam between the protocol cores and the handles: what a kind's
//! producer and consumer core do, and nothing more. Each kind implements
//! these traits once (in its core's file: [`Side`] for both cores, then
//! [`ProducerSide`] or [`ConsumerSide`]); every handle call, chunk and wait
//! is written once above them, in this module's siblings.
//!
//! A claim is a run of positions a side owns until it gives it back:
//! `publish` (producer) or `release` (consumer) ends it. The cores keep their
//! own algorithms; the seam only names their steps.

// `pub` in a private module: the traits are named by the public, sealed
// `Flavor`.
#![allow(unreachable_pub)]

use std::time::Instant;

use ringway_sync::WaitStrategy;

use crate::error::{CorruptError, HandleError, Waited};
use crate::ring::Ring;

/// A run of claimed positions: the first, how many, and how many of them
/// carry no message (MPMC positions published as skipped; 0 elsewhere).
#[derive(Clone, Copy, Debug, Default)]
pub struct Span {
    pub(crate) pos: u64,
    pub(crate) len: u64,
    pub(crate) skips: u64,
}

impl Span {
    pub(crate) fn new(pos: u64, len: u64) -> Span {
        Span { pos, len, skips: 0 }
    }
}

/// Two runs of contiguous slots (before and after the wrap): pointers and
/// lengths in slots. Only kinds whose slots follow each other give them.
pub(crate) type Spans = ((*mut u8, usize), (*mut u8, usize));

/// What the producing and the consuming core of a kind both do.
pub trait Side: Sized + Send + core::fmt::Debug {
    /// Takes a role or entry of `ring` for this side (the kind check
    /// included).
    fn attach(ring: &Ring) -> Result<Self, HandleError>;
    /// The ring.
    fn ring(&self) -> &Ring;
    /// How the blocking calls wait.
    fn set_wait_strategy(&mut self, strategy: WaitStrategy);
    /// The forked error when this side is a `fork`ed copy (`peer/fork.rs`):
    /// the handle layer asks it before every call that touches the ring
    /// but the single push and pop (whose `claim_one` checks the same word
    /// first). One load while the handle's fork-generation word is clear.
    fn check_fork(&self) -> Result<(), CorruptError>;
    /// Claims one slot: a free one (producer) or the next message
    /// (consumer); an empty span when there is none. Checks the poison
    /// flag (`Ring::poison`) before anything else: a `fork`ed copy gets the
    /// forked error and touches nothing.
    fn claim_one(&mut self) -> Result<Span, CorruptError>;
    /// Claims up to `n` free slots (producer) or ready positions
    /// (consumer); an empty span when there is none.
    fn claim(&mut self, n: u64) -> Result<Span, CorruptError>;
    /// Claims as `claim` does, for a chunk lent to the caller, who may hold
    /// it as long as it likes (`claim` is for what the handle fills or
    /// drains at once). A kind that marks held claims does it here: the
    /// MPMC producer stamps the first slot `CLAIMED`, so that consumers
    /// waiting at it report `Busy`.
    fn lend(&mut self, n: u64) -> Result<Span, CorruptError> {
        self.claim(n)
    }
    /// Claims one slot as `claim_one` does, waiting until `deadline`
    /// (`None`: forever).
    fn claim_one_until(&mut self, deadline: Option<Instant>) -> Result<Span, Waited>;
    /// The claim as contiguous runs, for kinds whose slots are contiguous
    /// (`None`: per-slot access only).
    fn spans(&self, _claim: Span) -> Option<Spans> {
        None
    }
    /// After a non-blocking claim found nothing: whether that is because
    /// the other side is gone (every consumer; every producer and the ring
    /// drained). Looked at only on some of these calls (see `peer`), so
    /// cheap to ask.
    fn peer_gone(&mut self) -> bool;
}

/// The producing core of a kind.
pub trait ProducerSide: Side {
    /// The payload of the slot of position `pos` (any value: masked).
    fn payload(&self, pos: u64) -> *mut u8;
    /// Ends a claim: its first `written` slots become messages; the rest
    /// are given back as the kind does it (SPSC: unclaimed; MPMC: skipped).
    fn publish(&mut self, claim: Span, written: u64);
    /// Free slots now (re-reading what the kind must).
    fn free_slots(&mut self) -> Result<u64, CorruptError>;
    /// Waits until at least `n` (1 to capacity) slots are free.
    fn wait_free(&mut self, n: u64, deadline: Option<Instant>) -> Result<u64, Waited>;
    /// After a claim found no free slot: whether a consumer's claim holds
    /// the slot at the producer cursor (MPMC, `PushError::Busy`) rather
    /// than the ring being full.
    fn busy(&self) -> bool {
        false
    }
}

/// The consuming core of a kind.
pub trait ConsumerSide: Side {
    /// Whether `release` can give back part of a claim (the rest staying
    /// ready), or frees it whole.
    const PARTIAL_RELEASE: bool;
    /// The payload of position `i` of `claim`, `None` when it is skipped.
    fn shown(&self, claim: Span, i: u64) -> Option<*const u8>;
    /// Why `claim_one` found nothing: `Empty`, or (MPMC) `Busy` when a
    /// producer's claim holds the position at the consumer cursor.
    fn empty_reason(&self) -> crate::PopError {
        crate::PopError::Empty
    }
    /// Ends a claim, giving back its first `read` positions (SPSC; the rest
    /// stay ready) or all of them (MPMC: the claim took the messages).
    fn release(&mut self, claim: Span, read: u64);
    /// Ready messages now.
    fn ready_slots(&mut self) -> Result<u64, CorruptError>;
    /// Waits until at least `n` (1 to capacity) messages are ready.
    fn wait_ready(&mut self, n: u64, deadline: Option<Instant>) -> Result<u64, Waited>;
}
