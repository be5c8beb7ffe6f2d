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

/// A producer of any kind.
pub type AnyProducer<M> = AnyKind<Producer<Spsc, M>, Producer<Mpmc, M>>;
/// A consumer of any kind.
pub type AnyConsumer<M> = AnyKind<Consumer<Spsc, M>, Consumer<Mpmc, M>>;
/// A write chunk of any kind.
pub type AnyWriteChunk<'a, M> = AnyKind<WriteChunk<'a, Spsc, M>, WriteChunk<'a, Mpmc, M>>;
/// A read chunk of any kind.
pub type AnyReadChunk<'a, M> = AnyKind<ReadChunk<'a, Spsc, M>, ReadChunk<'a, Mpmc, M>>;

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
        Ok(match ring.kind() {
            Kind::Spsc => AnyKind::Spsc(Producer::attach(ring)?),
            Kind::Mpmc => AnyKind::Mpmc(Producer::attach(ring)?),
            // Variable-size kinds have their own handles (`record`, `broadcast`).
            found @ (Kind::Record | Kind::Broadcast) => {
                return Err(HandleError::WrongKind {
                    found,
                    expected: Kind::Spsc,
                })
            }
        })
    }

    /// See [`Producer::try_push`] (errors as there).
    #[inline]
    pub fn try_push<'m>(&mut self, message: M::In<'m>) -> Result<(), PushError<M::In<'m>>> {
        crate::with_any!(self, h => h.try_push(message))
    }

    /// See [`Producer::push_deadline`] (errors as there).
    pub fn push_deadline<'m>(
        &mut self,
        message: M::In<'m>,
        deadline: impl Into<Option<Instant>>,
    ) -> Result<(), PushTimeoutError<M::In<'m>>> {
        crate::with_any!(self, h => h.push_deadline(message, deadline))
    }

    /// See [`Producer::write_chunk`] (errors as there).
    pub fn write_chunk(&mut self, n: usize) -> Result<AnyWriteChunk<'_, M>, CorruptError> {
        Ok(match self {
            AnyKind::Spsc(h) => AnyKind::Spsc(h.write_chunk(n)?),
            AnyKind::Mpmc(h) => AnyKind::Mpmc(h.write_chunk(n)?),
        })
    }
}

impl<M: Message> AnyConsumer<M> {
    /// Attaches a consumer of whatever kind `ring` is.
    ///
    /// # Errors
    /// As [`Consumer::attach`].
    pub fn attach(ring: &Ring) -> Result<Self, HandleError> {
        Ok(match ring.kind() {
            Kind::Spsc => AnyKind::Spsc(Consumer::attach(ring)?),
            Kind::Mpmc => AnyKind::Mpmc(Consumer::attach(ring)?),
            // Variable-size kinds have their own handles (`record`, `broadcast`).
            found @ (Kind::Record | Kind::Broadcast) => {
                return Err(HandleError::WrongKind {
                    found,
                    expected: Kind::Spsc,
                })
            }
        })
    }

    /// See [`Consumer::read_chunk`] (errors as there).
    pub fn read_chunk(&mut self, n: usize) -> Result<AnyReadChunk<'_, M>, CorruptError> {
        Ok(match self {
            AnyKind::Spsc(h) => AnyKind::Spsc(h.read_chunk(n)?),
            AnyKind::Mpmc(h) => AnyKind::Mpmc(h.read_chunk(n)?),
        })
    }
}

impl<T: Pod> AnyConsumer<T> {
    /// See [`Consumer::try_pop`] (errors as there).
    #[inline]
    pub fn try_pop(&mut self) -> Result<T, PopError> {
        crate::with_any!(self, h => h.try_pop())
    }

    /// See [`Consumer::pop_deadline`] (errors as there).
    pub fn pop_deadline(
        &mut self,
        deadline: impl Into<Option<Instant>>,
    ) -> Result<T, PopTimeoutError> {
        crate::with_any!(self, h => h.pop_deadline(deadline))
    }
}

impl AnyConsumer<Bytes> {
    /// See [`Consumer::try_pop`](Consumer#method.try_pop-1).
    ///
    /// # Errors
    /// As there.
    #[inline]
    pub fn try_pop(&mut self, out: &mut [u8]) -> Result<(), PopError> {
        crate::with_any!(self, h => h.try_pop(out))
    }

    /// See [`Consumer::pop_deadline`](Consumer#method.pop_deadline-1).
    ///
    /// # Errors
    /// As there.
    pub fn pop_deadline(
        &mut self,
        out: &mut [u8],
        deadline: impl Into<Option<Instant>>,
    ) -> Result<(), PopTimeoutError> {
        crate::with_any!(self, h => h.pop_deadline(out, deadline))
    }
}

impl<M: Message> AnyWriteChunk<'_, M> {
    /// See [`WriteChunk::len`].
    pub fn len(&self) -> usize {
        crate::with_any!(self, c => c.len())
    }

    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// See [`WriteChunk::get_mut`].
    pub fn get_mut(&mut self, i: usize) -> Option<M::Mut<'_>> {
        crate::with_any!(self, c => c.get_mut(i))
    }

    /// See [`WriteChunk::slices_mut`].
    pub fn slices_mut(&mut self) -> Option<SlicesMut<'_, M::Elem>> {
        crate::with_any!(self, c => c.slices_mut())
    }

    /// See [`WriteChunk::commit`] (panics as there).
    pub fn commit(self, written: usize) {
        crate::with_any!(self, c => c.commit(written))
    }
}

impl<M: Message> AnyReadChunk<'_, M> {
    /// See [`ReadChunk::len`].
    pub fn len(&self) -> usize {
        crate::with_any!(self, c => c.len())
    }

    /// Whether the chunk is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// See [`ReadChunk::get`].
    pub fn get(&self, i: usize) -> Option<M::Ref<'_>> {
        crate::with_any!(self, c => c.get(i))
    }

    /// See [`ReadChunk::slices`].
    pub fn slices(&self) -> Option<Slices<'_, M::Elem>> {
        crate::with_any!(self, c => c.slices())
    }

    /// See [`ReadChunk::releases_part`].
    pub fn releases_part(&self) -> bool {
        crate::with_any!(self, c => c.releases_part())
    }

    /// See [`ReadChunk::copy_to`].
    pub fn copy_to(&self, out: &mut [M::Elem]) -> usize {
        crate::with_any!(self, c => c.copy_to(out))
    }

    /// See [`ReadChunk::copy_message`].
    pub fn copy_message(&self, i: usize, out: &mut [M::Elem]) -> bool {
        crate::with_any!(self, c => c.copy_message(i, out))
    }

    /// See [`ReadChunk::release`] (panics as there).
    pub fn release(self, read: usize) {
        crate::with_any!(self, c => c.release(read))
    }
}
