//! The handles of every ring kind, written once over a small seam.
//!
//! ```text
//!   Producer<K, M> ─┐                        ┌─ spsc::ProducerCore / ConsumerCore  (K = Spsc)
//!   Consumer<K, M> ─┼─ side::{ProducerSide, ─┤
//!   WriteChunk,     │        ConsumerSide}   └─ mpmc::ProducerCore / ConsumerCore  (K = Mpmc)
//!   ReadChunk      ─┘
//!        M = T: Pod (one T a slot) or Bytes (slot_size bytes a slot)
//! ```
//!
//! | seam step | SPSC core | MPMC core |
//! |---|---|---|
//! | `claim(n)` | free / ready slots from the private cursor (cached peer cursor; stamped slots, one message: the stamp at `head`) | one CAS of `tail` / `head` over the free / ready stamps |
//! | `publish(claim, k)` | advance `tail` by `k` (Release); stamped slots: then `k` stamps (Release) | stamp `k` slots ready, the rest skipped (Release) |
//! | `release(claim, k)` | advance `head` by `k` (Release) | stamp every claimed slot free for the next lap (Release) |
//! | `claim_one_until(deadline)` | wait on `space_event` / `data_event`, then claim | claim, else wait on the event, in a loop |
//! | `spans(claim)` | two runs of contiguous slots; `None` for stamped slots | `None` |
//! | `free_slots` / `ready_slots` | `capacity - (tail - head)` / `tail - head` | the claimable prefix of stamps from the cursor |
//!
//! The orderings are the cores' (see [`spsc`](crate::spsc) and
//! [`mpmc`](crate::mpmc)); this module adds none. A kind plugs in by
//! implementing the two side traits for its cores and [`Flavor`] for a
//! marker type; every call of the handles, chunks and
//! [`AnyProducer`]/[`AnyConsumer`] then works for it.
//!
//! One signature set for every kind: deadlines are `impl Into<Option<Instant>>`
//! (an `Instant`, or `None` for no deadline); blocking calls hand the message
//! back on every error; `free_slots`, `ready_slots`, `wait_for_free`,
//! `wait_for_ready`, `push_slice` and `pop_into` exist on every kind and
//! format.

mod any;
mod chunk;
mod consumer;
mod message;
mod producer;
pub(crate) mod side;

use std::time::{Duration, Instant};

pub use any::{
    AnyConsumer, AnyKind, AnyProducer, AnyReadChunk, AnyReceiver, AnySender, AnyWriteChunk,
};
pub use chunk::{ReadChunk, WriteChunk};
pub use consumer::Consumer;
pub use message::{Bytes, Message};
pub use producer::Producer;

use crate::error::{CorruptError, PopError, PopTimeoutError, Waited};
use crate::layout::Kind;
use side::Span;

/// A kind's marker type `$k` (its [`Flavor`], over its two cores) and the
/// public names of its handles (`spsc::Producer<T>`, ...), as aliases of the
/// generic ones.
macro_rules! kind_aliases {
    ($k:ident, $name:literal, $producer:ty, $consumer:ty) => {
        #[doc = concat!("The ", $name, " kind, as a type: the `K` of the [`handle`](crate::handle) types.")]
        #[derive(Debug)]
        pub enum $k {}

        impl $crate::handle::Flavor for $k {
            const KIND: $crate::layout::Kind = $crate::layout::Kind::$k;
            type Producer = $producer;
            type Consumer = $consumer;
        }

        #[doc = concat!("The producer of a typed ", $name, " ring of `T`.")]
        pub type Producer<T> = $crate::handle::Producer<$k, T>;
        #[doc = concat!("The consumer of a typed ", $name, " ring of `T`.")]
        pub type Consumer<T> = $crate::handle::Consumer<$k, T>;
        #[doc = concat!("The producer of a ", $name, " ring of fixed-size byte slots.")]
        pub type BytesProducer = $crate::handle::Producer<$k, $crate::handle::Bytes>;
        #[doc = concat!("The consumer of a ", $name, " ring of fixed-size byte slots.")]
        pub type BytesConsumer = $crate::handle::Consumer<$k, $crate::handle::Bytes>;
        #[doc = concat!("Free slots of a ", $name, " ring claimed to be written in place.")]
        pub type WriteChunk<'a, M> = $crate::handle::WriteChunk<'a, $k, M>;
        #[doc = concat!("Messages of a ", $name, " ring lent to be read in place.")]
        pub type ReadChunk<'a, M> = $crate::handle::ReadChunk<'a, $k, M>;
        #[doc = concat!("[`WriteChunk`] of a ", $name, " bytes ring.")]
        pub type BytesWriteChunk<'a> = WriteChunk<'a, $crate::handle::Bytes>;
        #[doc = concat!("[`ReadChunk`] of a ", $name, " bytes ring.")]
        pub type BytesReadChunk<'a> = ReadChunk<'a, $crate::handle::Bytes>;
    };
}
pub(crate) use kind_aliases;

/// The parts of [`Producer`] and [`Consumer`] that are the same but for the
/// side (`$side`: `Producer` or `Consumer`, the core of `K` it holds): the
/// struct, `Debug`, `attach`, `slot_size`, `set_wait_strategy` and `ring`.
macro_rules! handle {
    ($(#[$doc:meta])* $name:ident($side:ident), $(#[$attach:meta])*) => {
        $(#[$doc])*
        pub struct $name<K: Flavor, M: Message> {
            side: K::$side,
            per_slot: usize,
            _message: core::marker::PhantomData<fn(M) -> M>,
            _not_sync: core::marker::PhantomData<core::cell::Cell<()>>,
        }

        impl<K: Flavor, M: Message> core::fmt::Debug for $name<K, M> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("side", &self.side)
                    .field("per_slot", &self.per_slot)
                    .finish()
            }
        }

        impl<K: Flavor, M: Message> $name<K, M> {
            $(#[$attach])*
            pub fn attach(ring: &Ring) -> Result<Self, crate::HandleError> {
                let per_slot = M::per_slot(ring)?;
                Ok($name {
                    side: <K::$side>::attach(ring)?,
                    per_slot,
                    _message: core::marker::PhantomData,
                    _not_sync: core::marker::PhantomData,
                })
            }

            /// Elements of `M::Elem` per message: 1 for a typed ring, the
            /// slot size in bytes for [`Bytes`](crate::Bytes).
            #[inline]
            pub fn slot_size(&self) -> usize {
                M::elems(self.per_slot)
            }

            /// How the blocking calls wait (default: spin briefly, then
            /// sleep on the ring's futex).
            pub fn set_wait_strategy(&mut self, strategy: ringway_sync::WaitStrategy) {
                self.side.set_wait_strategy(strategy);
            }

            /// The ring.
            pub fn ring(&self) -> &Ring {
                self.side.ring()
            }
        }
    };
}
use handle;

/// A ring kind, as a type: [`Spsc`](crate::spsc::Spsc) or
/// [`Mpmc`](crate::mpmc::Mpmc). Code generic over `K: Flavor` is written
/// once for every kind.
pub trait Flavor: Send + Sync + 'static {
    /// The kind, as a value.
    const KIND: Kind;
    /// The producing core.
    #[doc(hidden)]
    type Producer: side::ProducerSide;
    /// The consuming core.
    #[doc(hidden)]
    type Consumer: side::ConsumerSide;
}

/// A chunk's contiguous slots as two slices (before and after the wrap).
pub type Slices<'a, E> = (&'a [E], &'a [E]);
/// A write chunk's contiguous slots as two slices.
pub type SlicesMut<'a, E> = (&'a mut [E], &'a mut [E]);

/// The deadline `timeout` from now (`None` when it is too far to say).
fn after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// How a single push or pop may wait.
enum Wait {
    Never,
    Until(Option<Instant>),
}

/// Why a single push or pop did not happen: a bad size, what the wait said,
/// or (no wait) that nothing was free / ready.
enum Failed {
    Size(usize, usize),
    Waited(Waited),
    /// A pop that does not wait found nothing (`Empty` or `Busy`), or a
    /// push that does not wait found the slot at the tail held (`Busy`).
    Nothing(PopError),
}

/// Claims one slot or message for a single push or pop, of either side (the
/// side's `claim_one`, `claim_one_until` and `peer_gone` given): without
/// waiting, nothing free / ready is `Nothing` (`PeerGone` when the other
/// side is gone); with a wait, what the wait says. Always inline: as an
/// out-of-line call (what `#[inline]` got) its `Result` went through memory
/// on every single push and pop.
#[inline(always)]
fn claim_single<S>(
    side: &mut S,
    wait: Wait,
    one: impl FnOnce(&mut S) -> Result<Span, CorruptError>,
    until: impl FnOnce(&mut S, Option<Instant>) -> Result<Span, Waited>,
    gone: impl FnOnce(&mut S) -> bool,
) -> Result<Span, Failed> {
    match wait {
        Wait::Never => match one(side) {
            Ok(claim) if claim.len == 0 && gone(side) => Err(Failed::Waited(Waited::PeerGone)),
            Ok(claim) if claim.len == 0 => Err(Failed::Nothing(PopError::Empty)),
            Ok(claim) => Ok(claim),
            Err(e) => Err(Failed::Waited(Waited::Corrupt(e))),
        },
        Wait::Until(deadline) => until(side, deadline).map_err(Failed::Waited),
    }
}

impl Failed {
    fn into_pop(self) -> PopError {
        match self {
            Failed::Size(expected, found) => PopError::Size { expected, found },
            Failed::Waited(Waited::Timeout) => PopError::Empty,
            Failed::Waited(Waited::PeerGone) => PopError::PeerGone,
            Failed::Waited(Waited::Corrupt(e)) => PopError::Corrupt(e),
            Failed::Nothing(e) => e,
        }
    }

    fn into_pop_timeout(self) -> PopTimeoutError {
        match self {
            Failed::Size(expected, found) => PopTimeoutError::Size { expected, found },
            Failed::Waited(w) => w.into_pop(),
            Failed::Nothing(_) => PopTimeoutError::Timeout,
        }
    }
}
