//! [`AnyKind`]: a handle (or chunk, or pair) of whichever kind a ring is,
//! chosen at run time. The match on the kind is written here once (one arm
//! a kind); the cli and the C API reach every kind through it.
//!
//! Only the slot kinds are variants: every call here lends or takes whole
//! fixed-size slots (`T: Pod` messages, bytes of exactly the slot size, and
//! chunks of `n` slots that `commit`/`release` count in slots), which the
//! byte rings have no equivalent of. A record ring lends one record of any
//! length at a time (`record::Reservation`, `record::Record`) and a
//! broadcast subscriber always copies out (`broadcast::Subscriber`), so
//! [`record`](crate::record) and [`broadcast`](crate::broadcast) rings are
//! refused here with `WrongKind`, and the cli and the C API reach them
//! through their own handles.

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

/// A writer of byte messages into a ring of any kind, for code that moves
/// bytes without caring how the ring frames them (`ringway cat`): on a
/// slot ring (SPSC, MPMC) every message is exactly the slot size; on a
/// record or broadcast ring any length up to [`max_len`](Self::max_len).
/// Typed messages and chunks stay with the kinds' own handles.
///
/// # Examples
/// ```
/// use ringway::broadcast::Start;
/// use ringway::{AnyReceiver, AnySender, Kind, RingBuilder};
/// for kind in [Kind::Record, Kind::Broadcast] {
///     let ring = RingBuilder::new(kind).capacity(4096).create_anonymous()?;
///     let mut rx = AnyReceiver::attach(&ring, Start::Next)?;
///     let mut tx = AnySender::attach(&ring)?;
///     tx.try_send(b"any length")?;
///     let mut buf = Vec::new();
///     assert_eq!(rx.try_recv_into(&mut buf)?, 10);
///     assert_eq!(buf, b"any length");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum AnySender {
    /// The producer of a slot ring.
    Slots(AnyProducer<Bytes>),
    /// A producer of a record ring.
    Record(crate::record::Producer),
    /// The producer of a broadcast ring.
    Broadcast(crate::broadcast::Producer),
}

/// A reader of byte messages from a ring of any kind (see [`AnySender`]);
/// each message is copied out into a caller's `Vec`.
#[derive(Debug)]
pub enum AnyReceiver {
    /// The consumer of a slot ring.
    Slots(AnyConsumer<Bytes>),
    /// The consumer of a record ring.
    Record(crate::record::Consumer),
    /// A subscriber of a broadcast ring.
    Broadcast(crate::broadcast::Subscriber),
}

fn unit_push<T>(e: PushError<T>) -> PushError<()> {
    match e {
        PushError::Full(_) => PushError::Full(()),
        PushError::Size { expected, found } => PushError::Size { expected, found },
        PushError::Corrupt(c) => PushError::Corrupt(c),
        PushError::PeerGone(_) => PushError::PeerGone(()),
        PushError::Busy(_) => PushError::Busy(()),
    }
}

fn unit_push_wait<T>(e: PushTimeoutError<T>) -> PushTimeoutError<()> {
    match e {
        PushTimeoutError::Timeout(_) => PushTimeoutError::Timeout(()),
        PushTimeoutError::Size { expected, found } => PushTimeoutError::Size { expected, found },
        PushTimeoutError::Corrupt(c) => PushTimeoutError::Corrupt(c),
        PushTimeoutError::PeerGone(_) => PushTimeoutError::PeerGone(()),
    }
}

impl AnySender {
    /// Attaches the producing side of whatever kind `ring` is.
    ///
    /// # Errors
    /// As the kind's `attach` ([`Producer::attach`],
    /// [`record::Producer::attach`](crate::record::Producer::attach),
    /// [`broadcast::Producer::attach`](crate::broadcast::Producer::attach)).
    pub fn attach(ring: &Ring) -> Result<Self, HandleError> {
        Ok(match ring.kind() {
            Kind::Spsc | Kind::Mpmc => AnySender::Slots(AnyProducer::attach(ring)?),
            Kind::Record => AnySender::Record(crate::record::Producer::attach(ring)?),
            Kind::Broadcast => AnySender::Broadcast(crate::broadcast::Producer::attach(ring)?),
        })
    }

    /// The largest message: the slot size of a slot ring (which is also
    /// the only size it takes), the largest record otherwise.
    pub fn max_len(&self) -> usize {
        match self {
            AnySender::Slots(p) => crate::with_any!(p, h => h.ring().slot_size()),
            AnySender::Record(p) => p.max_len(),
            AnySender::Broadcast(p) => p.max_len(),
        }
    }

    /// Whether every message must be exactly [`max_len`](Self::max_len)
    /// bytes (a slot ring).
    pub fn fixed_size(&self) -> bool {
        matches!(self, AnySender::Slots(_))
    }

    /// Sends `message` without waiting.
    ///
    /// # Errors
    /// `Full` (a lossy broadcast ring never is), `Size`, `Corrupt`,
    /// `PeerGone`, as the kind's `try_push`.
    pub fn try_send(&mut self, message: &[u8]) -> Result<(), PushError<()>> {
        match self {
            AnySender::Slots(p) => p.try_push(message).map_err(unit_push),
            AnySender::Record(p) => p.try_push(message),
            AnySender::Broadcast(p) => p.try_push(message),
        }
    }

    /// Sends `message`, waiting for room until `deadline` (`None`: as long
    /// as it takes).
    ///
    /// # Errors
    /// `Timeout`, `Size`, `Corrupt`, `PeerGone`, as the kind's
    /// `push_deadline`.
    pub fn send_deadline(
        &mut self,
        message: &[u8],
        deadline: impl Into<Option<Instant>>,
    ) -> Result<(), PushTimeoutError<()>> {
        match (self, deadline.into()) {
            (AnySender::Slots(p), d) => p.push_deadline(message, d).map_err(unit_push_wait),
            (AnySender::Record(p), None) => p.push_blocking(message),
            (AnySender::Record(p), Some(d)) => p.push_deadline(message, d),
            (AnySender::Broadcast(p), None) => p.push_blocking(message),
            (AnySender::Broadcast(p), Some(d)) => p.push_deadline(message, d),
        }
    }
}

impl AnyReceiver {
    /// Attaches the reading side of whatever kind `ring` is; a broadcast
    /// subscriber starts at `start`.
    ///
    /// # Errors
    /// As the kind's `attach` ([`Consumer::attach`],
    /// [`record::Consumer::attach`](crate::record::Consumer::attach),
    /// [`broadcast::Subscriber::attach`](crate::broadcast::Subscriber::attach)).
    pub fn attach(ring: &Ring, start: crate::broadcast::Start) -> Result<Self, HandleError> {
        Ok(match ring.kind() {
            Kind::Spsc | Kind::Mpmc => AnyReceiver::Slots(AnyConsumer::attach(ring)?),
            Kind::Record => AnyReceiver::Record(crate::record::Consumer::attach(ring)?),
            Kind::Broadcast => {
                AnyReceiver::Broadcast(crate::broadcast::Subscriber::attach(ring, start)?)
            }
        })
    }

    /// Copies the next message into `buf` (replacing its contents) and
    /// frees it, without waiting; returns its length.
    ///
    /// # Errors
    /// `Empty`, `Busy`, `Corrupt`, `PeerGone`, as the kind's `try_pop`.
    pub fn try_recv_into(&mut self, buf: &mut Vec<u8>) -> Result<usize, PopError> {
        match self {
            AnyReceiver::Slots(c) => {
                let size = crate::with_any!(&*c, h => h.ring().slot_size());
                buf.resize(size, 0);
                c.try_pop(buf).map(|()| size)
            }
            AnyReceiver::Record(c) => {
                let r = c.try_read()?;
                buf.clear();
                buf.extend_from_slice(&r);
                Ok(buf.len())
            }
            AnyReceiver::Broadcast(s) => s.try_pop_into(buf).map(|r| r.len),
        }
    }

    /// As [`try_recv_into`](Self::try_recv_into), waiting until `deadline`
    /// (`None`: as long as it takes).
    ///
    /// # Errors
    /// `Timeout`, `Corrupt`, `PeerGone`, as the kind's `pop_deadline`.
    pub fn recv_deadline_into(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: impl Into<Option<Instant>>,
    ) -> Result<usize, PopTimeoutError> {
        match (self, deadline.into()) {
            (AnyReceiver::Slots(c), d) => {
                let size = crate::with_any!(&*c, h => h.ring().slot_size());
                buf.resize(size, 0);
                c.pop_deadline(buf, d).map(|()| size)
            }
            (AnyReceiver::Record(c), d) => {
                let r = match d {
                    None => c.read_blocking()?,
                    Some(d) => c.read_deadline(d)?,
                };
                buf.clear();
                buf.extend_from_slice(&r);
                Ok(buf.len())
            }
            (AnyReceiver::Broadcast(s), None) => Ok(s.pop_blocking_into(buf)?.len),
            (AnyReceiver::Broadcast(s), Some(d)) => s.pop_deadline_into(buf, d).map(|r| r.len),
        }
    }

    /// Records a broadcast subscriber missed to laps since attaching (0 for
    /// the other kinds, which never drop a message).
    pub fn missed(&self) -> u64 {
        match self {
            AnyReceiver::Broadcast(s) => s.missed(),
            _ => 0,
        }
    }
}
