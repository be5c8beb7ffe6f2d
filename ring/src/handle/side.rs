//! The seam between the protocol cores and the handles: what a kind's
//! producer and consumer core do, and nothing more. Each kind implements
//! these traits once (in its core's file: [`Side`] for both cores, then
//! [`ProducerSide`] or [`ConsumerSide`]); every handle call, chunk and wait
//! is written once above them, in this module's siblings.
//!
//! A claim is a run of positions a side owns until it gives it back:
//! `publish` (producer) or `release` (consumer) ends it. The cores keep their
//! own algorithms; the seam only names their steps.

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
// `pub` in a private module: named by the public, sealed `Flavor`.
#[allow(unreachable_pub)]
pub trait Side: Sized + Send + core::fmt::Debug {
    /// Takes a role or entry of `ring` for this side (the kind check
    /// included).
    fn attach(ring: &Ring) -> Result<Self, HandleError>;
    /// The ring.
    fn ring(&self) -> &Ring;
    /// How the blocking calls wait.
    fn set_wait_strategy(&mut self, strategy: WaitStrategy);
    /// Claims one slot: a free one (producer) or the next message
    /// (consumer); an empty span when there is none.
    fn claim_one(&mut self) -> Result<Span, CorruptError>;
    /// Claims up to `n` free slots (producer) or ready positions
    /// (consumer); an empty span when there is none.
    fn claim(&mut self, n: u64) -> Result<Span, CorruptError>;
    /// Claims one slot as `claim_one` does, waiting until `deadline`
    /// (`None`: forever).
    fn claim_one_until(&mut self, deadline: Option<Instant>) -> Result<Span, Waited>;
}

/// The producing core of a kind.
#[allow(unreachable_pub)]
pub trait ProducerSide: Side {
    /// The payload of the slot of position `pos` (any value: masked).
    fn payload(&self, pos: u64) -> *mut u8;
    /// The claim as contiguous runs, for kinds whose slots are contiguous.
    fn spans(&self, claim: Span) -> Option<Spans>;
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
    /// After a non-blocking claim found no free slot: whether that is
    /// because every consumer is gone (see `peer`; looked at only on some
    /// of these calls, so cheap to ask).
    fn peer_gone(&mut self) -> bool;
}

/// The consuming core of a kind.
#[allow(unreachable_pub)]
pub trait ConsumerSide: Side {
    /// Whether `release` can give back part of a claim (the rest staying
    /// ready), or frees it whole.
    const PARTIAL_RELEASE: bool;
    /// The payload of position `i` of `claim`, `None` when it is skipped.
    fn shown(&self, claim: Span, i: u64) -> Option<*const u8>;
    /// The claim as contiguous runs, for kinds whose slots are contiguous.
    fn spans(&self, claim: Span) -> Option<Spans>;
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
    /// After a non-blocking claim found no message: whether the ring is
    /// drained and every producer is gone (see `peer`; looked at only on
    /// some of these calls, so cheap to ask).
    fn peer_gone(&mut self) -> bool;
}

/// The seam's `ring` and `set_wait_strategy`, for a core that keeps them
/// in fields `ring` and `strategy` (every core so far).
macro_rules! ring_and_strategy {
    () => {
        fn ring(&self) -> &crate::ring::Ring {
            &self.ring
        }

        fn set_wait_strategy(&mut self, strategy: ringway_sync::WaitStrategy) {
            self.strategy = strategy;
        }
    };
}
pub(crate) use ring_and_strategy;

/// The two runs of `len` contiguous slots from `pos` of `ring`.
pub(crate) fn contiguous(ring: &Ring, pos: u64, len: u64) -> Spans {
    let shared = &ring.shared;
    let (first_ptr, idx) = shared.slot(pos);
    let first = len.min(ring.capacity() - idx as u64);
    let (second_ptr, _) = shared.slot(0);
    (
        (first_ptr, first as usize),
        (second_ptr, (len - first) as usize),
    )
}
