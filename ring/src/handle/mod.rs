//! The handles of every ring kind, written once over a small seam.
//!
//! ```text
//!   Producer<K, M> ─┐                        ┌─ spsc::ProducerCore / ConsumerCore  (K = Spsc)
//!   Consumer<K, M> ─┼─ side::{Side,         ─┤
//!   WriteChunk,     │   ProducerSide,        └─ mpmc::ProducerCore / ConsumerCore  (K = Mpmc)
//!   ReadChunk      ─┘   ConsumerSide}
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
//! implementing the side traits for its cores (`Side` for both, then
//! `ProducerSide` or `ConsumerSide`) and [`Flavor`] for a marker type; every
//! call of the handles, chunks and [`AnyProducer`]/[`AnyConsumer`] then works
//! for it.
//!
//! What is written once, and where: `handle!` (this file) writes each
//! handle's struct and its calls that differ only in names (attach, chunk,
//! count, wait, batch); `singles!` writes the try / deadline / timeout /
//! blocking quartet of a push and of the typed and bytes pops; `chunk!`
//! (`chunk.rs`) writes each chunk's struct, length, end of claim and drop.
//!
//! A `fork`ed copy of a handle is refused before it touches the ring
//! (`peer/fork.rs`): the single push and pop by the core's poison check in
//! `claim_one` (the poison word also counts forks), every other call by
//! `Side::check_fork` here; a chunk copied by a `fork` ends nothing.
//!
//! One signature set for every kind: deadlines are `impl Into<Option<Instant>>`
//! (an `Instant`, or `None` for no deadline); blocking calls hand the message
//! back on every error; `free_slots`, `ready_slots`, `wait_for_free`,
//! `wait_for_ready`, `push_slice` and `pop_into` exist on every kind and
//! format.

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
/// side (`$side`: `Producer` or `Consumer`, the core of `K` it holds, and
/// the names of its calls): the struct, `Debug`, `attach`, `slot_size`,
/// `set_wait_strategy`, `ring`, the call that lends a chunk (`$lend`, of
/// type `$chunk`), the count and the wait for a count (`$count`, `$wait`),
/// and the batch through a chunk (`$batch`, copying with the chunk's
/// `$copy`).
macro_rules! handle {
    (
        $(#[$doc:meta])* $name:ident($side:ident),
        $(#[$attach:meta])* attach,
        $(#[$batch_doc:meta])* $batch:ident($elems:ident: $elems_ty:ty) = $copy:ident,
        $(#[$chunk_doc:meta])* $lend:ident -> $chunk:ident,
        $(#[$count_doc:meta])* $count:ident,
        $(#[$wait_doc:meta])* $wait:ident($side_wait:ident) -> $err:ty = $into:ident,
    ) => {
        $(#[$doc])*
        pub struct $name<K: Flavor, M: Message> {
            pub(crate) side: K::$side,
            per_slot: usize,
            // `fn(M) -> M`: carries `M` without owning one; `Cell`: not `Sync`.
            _marker: core::marker::PhantomData<(fn(M) -> M, core::cell::Cell<()>)>,
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
            pub fn attach(ring: &$crate::ring::Ring) -> Result<Self, $crate::HandleError> {
                let per_slot = M::per_slot(ring)?;
                Ok($name {
                    side: <K::$side>::attach(ring)?,
                    per_slot,
                    _marker: core::marker::PhantomData,
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
            pub fn ring(&self) -> &$crate::ring::Ring {
                self.side.ring()
            }

            $(#[$batch_doc])*
            pub fn $batch(&mut self, $elems: $elems_ty) -> Result<usize, $crate::CorruptError> {
                self.side.check_fork()?;
                // Not `$lend`: the claim is filled or drained at once, so
                // it is not marked as held (`Side::lend`).
                let claim = self.side.claim(($elems.len() / self.slot_size()) as u64)?;
                let chunk = &mut $chunk::<'_, K, M>::new(&mut self.side, claim, self.per_slot);
                let n = chunk.$copy($elems);
                chunk.end(n);
                Ok(n)
            }

            $(#[$chunk_doc])*
            pub fn $lend(&mut self, n: usize) -> Result<$chunk<'_, K, M>, $crate::CorruptError> {
                self.side.check_fork()?;
                let claim = self.side.lend(n as u64)?;
                Ok($chunk::new(&mut self.side, claim, self.per_slot))
            }

            $(#[$count_doc])*
            pub fn $count(&mut self) -> Result<usize, $crate::CorruptError> {
                self.side.check_fork()?;
                self.side.$count().map(|n| n as usize)
            }

            $(#[$wait_doc])*
            pub fn $wait(
                &mut self,
                n: usize,
                deadline: impl Into<Option<std::time::Instant>>,
            ) -> Result<usize, $err> {
                if let Err(e) = self.side.check_fork() {
                    return Err($crate::error::Waited::Corrupt(e).$into());
                }
                let waited = self.side.$side_wait(n as u64, deadline.into());
                waited.map(|n| n as usize).map_err($crate::error::Waited::$into)
            }
        }
    };
}

/// The single-message calls of a handle, written once for pushes and for
/// the typed and bytes pops: `$try` does not wait, `$deadline` waits until
/// a deadline, `$timeout` and `$blocking` are `$deadline` from now plus a
/// timeout, and without one. `$call` is the step, with `$h` the handle and
/// `$w` the [`Wait`]; `$try_err` and `$err` turn its [`Failed`] into the
/// call's error.
macro_rules! singles {
    (
        [$($gen:tt)*] $name:ident<$m:ty> $(<$lt:lifetime>)?,
        ($($arg:ident: $arg_ty:ty),*) -> $ret:ty, |$h:ident, $w:ident| $call:expr,
        $(#[$try_doc:meta])* $try:ident -> $try_err:ty = $try_map:expr,
        $(#[$deadline_doc:meta])* $deadline:ident -> $err:ty = $map:expr,
        $(#[$timeout_doc:meta])* $timeout:ident,
        $(#[$blocking_doc:meta])* $blocking:ident,
    ) => {
        impl<$($gen)*> $name<K, $m> {
            $(#[$try_doc])*
            #[inline]
            pub fn $try $(<$lt>)? (&mut self $(, $arg: $arg_ty)*) -> Result<$ret, $try_err> {
                let ($h, $w) = (self, $crate::handle::Wait::Never);
                $call.map_err($try_map)
            }

            $(#[$deadline_doc])*
            pub fn $deadline $(<$lt>)? (
                &mut self,
                $($arg: $arg_ty,)*
                deadline: impl Into<Option<std::time::Instant>>,
            ) -> Result<$ret, $err> {
                let ($h, $w) = (self, $crate::handle::Wait::Until(deadline.into()));
                $call.map_err($map)
            }

            $(#[$timeout_doc])*
            pub fn $timeout $(<$lt>)? (
                &mut self,
                $($arg: $arg_ty,)*
                timeout: std::time::Duration,
            ) -> Result<$ret, $err> {
                // A timeout too far to add to now is no deadline.
                self.$deadline($($arg,)* std::time::Instant::now().checked_add(timeout))
            }

            $(#[$blocking_doc])*
            pub fn $blocking $(<$lt>)? (&mut self $(, $arg: $arg_ty)*) -> Result<$ret, $err> {
                self.$deadline($($arg,)* None)
            }
        }
    };
}

mod any;
mod chunk;
mod consumer;
mod message;
mod producer;
pub(crate) mod side;

use std::time::Instant;

pub use any::{
    AnyConsumer, AnyKind, AnyProducer, AnyReadChunk, AnyReceiver, AnySender, AnyWriteChunk,
};
pub use chunk::{ReadChunk, WriteChunk};
pub use consumer::Consumer;
pub use message::{Bytes, Message};
pub use producer::Producer;

use crate::error::{PopError, PopTimeoutError, PushError, PushTimeoutError, Waited};
use crate::layout::Kind;
use side::{Side, Span};

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

/// Claims one slot or message for a single push or pop, of either side:
/// without waiting, nothing free / ready is `Nothing` (`PeerGone` when the
/// other side is gone); with a wait, what the wait says. Always inline: as an
/// out-of-line call (what `#[inline]` got) its `Result` went through memory
/// on every single push and pop. The side's steps are called as methods of
/// `S`, not passed as fn items (whose `FnOnce` shim LLVM kept out of line).
///
/// A `fork`ed copy of the handle claims nothing: the forked error, as a
/// `Corrupt` (`peer/fork.rs`). Without a wait, the core's `claim_one` says
/// so (its poison check, made first, compares the word that counts forks:
/// no second check on the fast path); a wait asks `check_fork` before it
/// registers anything.
#[inline(always)]
fn claim_single<S: Side>(side: &mut S, wait: Wait) -> Result<Span, Failed> {
    match wait {
        Wait::Never => match side.claim_one() {
            Ok(claim) if claim.len == 0 && side.peer_gone() => {
                Err(Failed::Waited(Waited::PeerGone))
            }
            Ok(claim) if claim.len == 0 => Err(Failed::Nothing(PopError::Empty)),
            Ok(claim) => Ok(claim),
            Err(e) => Err(Failed::Waited(Waited::Corrupt(e))),
        },
        Wait::Until(deadline) => {
            if let Err(e) = side.check_fork() {
                return Err(Failed::Waited(Waited::Corrupt(e)));
            }
            side.claim_one_until(deadline).map_err(Failed::Waited)
        }
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

    /// As [`into_pop`](Self::into_pop), for a push: the message handed
    /// back, and nothing free is `Full` (`push` reports a full ring as a
    /// pop's `Empty`, and a held slot as `Busy`).
    fn into_push<T>(self, message: T) -> PushError<T> {
        match self.into_pop() {
            PopError::Empty => PushError::Full(message),
            PopError::Busy => PushError::Busy(message),
            PopError::PeerGone => PushError::PeerGone(message),
            PopError::Size { expected, found } => PushError::Size { expected, found },
            PopError::Corrupt(e) => PushError::Corrupt(e),
        }
    }

    /// As [`into_push`](Self::into_push) for a push with a deadline: `Full`
    /// and `Busy` are `Timeout`.
    fn into_push_timeout<T>(self, message: T) -> PushTimeoutError<T> {
        match self.into_push(message) {
            PushError::Full(m) | PushError::Busy(m) => PushTimeoutError::Timeout(m),
            PushError::PeerGone(m) => PushTimeoutError::PeerGone(m),
            PushError::Size { expected, found } => PushTimeoutError::Size { expected, found },
            PushError::Corrupt(e) => PushTimeoutError::Corrupt(e),
        }
    }
}
