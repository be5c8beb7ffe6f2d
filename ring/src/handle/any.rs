//! [`AnyKind`]: a handle (or chunk, or pair) of whichever kind a ring is,
//! chosen at run time. The match on the kind is written here once (one arm
//! a kind); the cli and the C API reach every kind through it.

use std::time::Instant;

use bytemuck::Pod;

use super::{Bytes, Consumer, Message, Producer, ReadChunk, Slices, SlicesMut, WriteChunk};
use crate::error::{
    CorruptError, HandleError, PopError, PopTimeoutError, PushError, PushTimeoutError,
};
use crate::layout::Kind;
use crate::mpmc::Mpmc;
use crate::ring::Ring;
use crate::spsc::Spsc;

/// A value of whichever kind a ring is: the handles of one kind, or of the
/// other. The aliases [`AnyProducer`], [`AnyConsumer`], [`AnyWriteChunk`] and
/// [`AnyReadChunk`] carry the calls; [`with_any!`](crate::with_any) runs
/// code generic over the kind on whichever is held (compiled once a kind:
/// no dispatch inside it). A new kind adds a variant here.
#[derive(Debug)]
pub enum AnyKind<S, M> {
    /// Of an SPSC ring.
    Spsc(S),
    /// Of an MPMC ring.
    Mpmc(M),
}

/// Runs `$body` with `$h` bound to the value of whichever kind an
/// [`AnyKind`] holds; `$body` is compiled once a kind.
///
/// ```
/// use ringway::{with_any, AnyProducer, Kind, RingBuilder};
/// let ring = RingBuilder::new(Kind::Mpmc).capacity(4).message::<u64>().create_anonymous()?;
/// let mut tx = AnyProducer::<u64>::attach(&ring)?;
/// with_any!(&mut tx, tx => tx.push_slice(&[1, 2, 3]))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[macro_export]
macro_rules! with_any {
    ($any:expr, $h:pat => $body:expr) => {
        match $any {
            $crate::handle::AnyKind::Spsc($h) => $body,
            $crate::handle::AnyKind::Mpmc($h) => $body,
        }
    };
}

/// Methods of an [`AnyKind`] that call the same method of whichever kind it
/// holds (`[&mut] self`: the receiver).
macro_rules! forward {
    ($($(#[$attr:meta])* fn $name:ident $(<$lt:lifetime>)?
        ([$($r:tt)*] $s:ident $(, $arg:ident: $ty:ty)*) $(-> $ret:ty)?;)*) => {$(
        $(#[$attr])*
        pub fn $name $(<$lt>)? ($($r)* $s $(, $arg: $ty)*) $(-> $ret)? {
            crate::with_any!($s, h => h.$name($($arg),*))
        }
    )*};
}

/// `$body` run on whichever kind `$any` holds, its value wrapped back in
/// that kind.
macro_rules! map_any {
    ($any:expr, $h:pat => $body:expr) => {
        match $any {
            AnyKind::Spsc($h) => AnyKind::Spsc($body),
            AnyKind::Mpmc($h) => AnyKind::Mpmc($body),
        }
    };
}

/// A producer of any kind.
pub type AnyProducer<M> = AnyKind<Producer<Spsc, M>, Producer<Mpmc, M>>;
/// A consumer of any kind.
pub type AnyConsumer<M> = AnyKind<Consumer<Spsc, M>, Consumer<Mpmc, M>>;
/// A write chunk of any kind.
pub type AnyWriteChunk<'a, M> = AnyKind<WriteChunk<'a, Spsc, M>, WriteChunk<'a, Mpmc, M>>;
/// A read chunk of any kind.
pub type AnyReadChunk<'a, M> = AnyKind<ReadChunk<'a, Spsc, M>, ReadChunk<'a, Mpmc, M>>;

impl AnyKind<(), ()> {
    /// The kind of `ring`, holding nothing yet.
    fn of(ring: &Ring) -> Result<Self, HandleError> {
        match ring.kind() {
            Kind::Spsc => Ok(AnyKind::Spsc(())),
            Kind::Mpmc => Ok(AnyKind::Mpmc(())),
            // Variable-size kinds have their own handles (`record`, `broadcast`).
            found @ (Kind::Record | Kind::Broadcast) => Err(HandleError::WrongKind {
                found,
                expected: Kind::Spsc,
            }),
        }
    }
}

impl<S, M> AnyKind<S, M> {
    /// The kind held.
    pub fn kind(&self) -> Kind {
        match self {
            AnyKind::Spsc(_) => Kind::Spsc,
            AnyKind::Mpmc(_) => Kind::Mpmc,
        }
    }

    /// The pair of `self` and `other` when they are of the same kind (the
    /// two handles of a round trip, say), `None` otherwise.
    pub fn zip<S2, M2>(self, other: AnyKind<S2, M2>) -> Option<AnyKind<(S, S2), (M, M2)>> {
        match (self, other) {
            (AnyKind::Spsc(a), AnyKind::Spsc(b)) => Some(AnyKind::Spsc((a, b))),
            (AnyKind::Mpmc(a), AnyKind::Mpmc(b)) => Some(AnyKind::Mpmc((a, b))),
            _ => None,
        }
    }
}

impl<M: Message> AnyProducer<M> {
    /// Attaches a producer of whatever kind `ring` is.
    ///
    /// # Errors
    /// As [`Producer::attach`].
    ///
    /// # Examples
    /// ```
    /// use ringway::{AnyProducer, Bytes, Kind, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Mpmc).capacity(4).slot_size(3).create_anonymous()?;
    /// let mut tx = AnyProducer::<Bytes>::attach(&ring)?;
    /// tx.try_push(b"abc")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attach(ring: &Ring) -> Result<Self, HandleError> {
        Ok(map_any!(AnyKind::of(ring)?, () => Producer::attach(ring)?))
    }

    /// See [`Producer::write_chunk`] (errors as there).
    pub fn write_chunk(&mut self, n: usize) -> Result<AnyWriteChunk<'_, M>, CorruptError> {
        Ok(map_any!(self, h => h.write_chunk(n)?))
    }

    forward! {
        /// See [`Producer::try_push`] (errors as there).
        #[inline]
        fn try_push<'m>([&mut] self, message: M::In<'m>) -> Result<(), PushError<M::In<'m>>>;
        /// See [`Producer::push_deadline`] (errors as there).
        fn push_deadline<'m>([&mut] self, message: M::In<'m>, deadline: impl Into<Option<Instant>>)
            -> Result<(), PushTimeoutError<M::In<'m>>>;
    }
}

impl<M: Message> AnyConsumer<M> {
    /// Attaches a consumer of whatever kind `ring` is.
    ///
    /// # Errors
    /// As [`Consumer::attach`].
    pub fn attach(ring: &Ring) -> Result<Self, HandleError> {
        Ok(map_any!(AnyKind::of(ring)?, () => Consumer::attach(ring)?))
    }

    /// See [`Consumer::read_chunk`] (errors as there).
    pub fn read_chunk(&mut self, n: usize) -> Result<AnyReadChunk<'_, M>, CorruptError> {
        Ok(map_any!(self, h => h.read_chunk(n)?))
    }
}

impl<T: Pod> AnyConsumer<T> {
    forward! {
        /// See [`Consumer::try_pop`] (errors as there).
        #[inline]
        fn try_pop([&mut] self) -> Result<T, PopError>;
        /// See [`Consumer::pop_deadline`] (errors as there).
        fn pop_deadline([&mut] self, deadline: impl Into<Option<Instant>>) -> Result<T, PopTimeoutError>;
    }
}

impl AnyConsumer<Bytes> {
    forward! {
        /// See [`Consumer::try_pop`](Consumer#method.try_pop-1).
        ///
        /// # Errors
        /// As there.
        #[inline]
        fn try_pop([&mut] self, out: &mut [u8]) -> Result<(), PopError>;
        /// See [`Consumer::pop_deadline`](Consumer#method.pop_deadline-1).
        ///
        /// # Errors
        /// As there.
        fn pop_deadline([&mut] self, out: &mut [u8], deadline: impl Into<Option<Instant>>)
            -> Result<(), PopTimeoutError>;
    }
}

impl<M: Message> AnyWriteChunk<'_, M> {
    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    forward! {
        /// See [`WriteChunk::len`].
        fn len([&] self) -> usize;
        /// See [`WriteChunk::get_mut`].
        fn get_mut([&mut] self, i: usize) -> Option<M::Mut<'_>>;
        /// See [`WriteChunk::slices_mut`].
        fn slices_mut([&mut] self) -> Option<SlicesMut<'_, M::Elem>>;
        /// See [`WriteChunk::commit`] (panics as there).
        fn commit([] self, written: usize);
    }
}

impl<M: Message> AnyReadChunk<'_, M> {
    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    forward! {
        /// See [`ReadChunk::len`].
        fn len([&] self) -> usize;
        /// See [`ReadChunk::get`].
        fn get([&] self, i: usize) -> Option<M::Ref<'_>>;
        /// See [`ReadChunk::slices`].
        fn slices([&] self) -> Option<Slices<'_, M::Elem>>;
        /// See [`ReadChunk::releases_part`].
        fn releases_part([&] self) -> bool;
        /// See [`ReadChunk::release`] (panics as there).
        fn release([] self, read: usize);
    }
}
