//! The tokio adapter: a ring handle whose waits are futures, a
//! [`Stream`](futures_core::Stream) of messages and a
//! [`Sink`](futures_sink::Sink) for them.
//!
//! Each async handle owns a [`Readiness`] registered with tokio's reactor
//! ([`AsyncFd`]). A pop first tries the ring (no syscall when a message is
//! there); only when it is empty does it register on the ring's
//! `data_event` and queue an io_uring futex wait, then return `Pending`
//! until the producer's ordinary notify completes the wait.
//!
//! # Cancellation
//!
//! Every future here is cancellation-safe: a message is taken from the ring
//! only inside the `poll` that returns it, so dropping a [`AsyncConsumer::pop`]
//! future loses no message, and a dropped [`AsyncProducer::push`] future has
//! either pushed its value (and completed) or not pushed it at all.

use core::future::poll_fn;
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use std::io;

use ringway::{CorruptError, PopError, PushError, Ring};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::endpoint::{Receiver, Sender};
use crate::readiness::Readiness;

/// What an async ring operation failed with.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The ring's cursors are inconsistent (a corrupt or hostile peer).
    Corrupt(CorruptError),
    /// The readiness fd failed (io_uring setup or submission, the reactor).
    Io(io::Error),
    /// The handle reported an error other than empty/full/corrupt (such as
    /// a bytes size mismatch).
    Other(String),
    /// The other side of the ring is gone: its process died and no live
    /// peer is attached (`PopError::PeerGone` / `PushError::PeerGone`).
    PeerGone,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Corrupt(e) => write!(f, "ring corrupt: {e}"),
            Error::Io(e) => write!(f, "readiness fd: {e}"),
            Error::Other(e) => f.write_str(e),
            Error::PeerGone => f.write_str("the other side of the ring is gone"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

/// Registers a readiness fd with the current runtime's reactor.
fn register(readiness: Readiness) -> io::Result<AsyncFd<Readiness>> {
    // SAFETY: `Readiness::as_raw_fd` returns the fd of the io_uring the
    // `Readiness` owns: open for as long as the `Readiness` lives (it is
    // closed only in its drop), never replaced, so the same fd on every call
    // for the whole life of the `AsyncFd` that owns it.
    Ok(unsafe { AsyncFd::register_with_interest(readiness, Interest::READABLE) }?)
}

/// Polls until the readiness fd has a completion to reap, clearing the
/// reactor's stale readiness on the way (readiness left over from a wait
/// whose completion an earlier arm already reaped), so that an arm with no
/// completion to reap (a second membarrier for nothing) is never made.
fn wait_for_completion(fd: &mut AsyncFd<Readiness>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    loop {
        let mut guard = ready!(fd.poll_read_ready_mut(cx))?;
        if guard.get_inner_mut().has_completion() {
            return Poll::Ready(Ok(()));
        }
        // Clear only after looking: a completion posted after the look
        // raises a new readiness event, which `clear_ready` does not clear.
        guard.clear_ready();
    }
}

fn pop_error(e: PopError) -> Error {
    match e {
        PopError::Corrupt(e) => Error::Corrupt(e),
        PopError::PeerGone => Error::PeerGone,
        other => Error::Other(other.to_string()),
    }
}

/// A consumer whose pops are futures. Wraps any [`Receiver`] (typed SPSC or
/// MPMC consumer). `Send` when the handle is; not `Sync`.
#[derive(Debug)]
pub struct AsyncConsumer<R: Receiver> {
    fd: AsyncFd<Readiness>,
    ring: Ring,
    inner: R,
}

impl<R: Receiver> AsyncConsumer<R> {
    /// Wraps `inner`. Must be called inside a tokio runtime with IO enabled.
    ///
    /// # Errors
    /// [`Readiness::new`]'s, or the reactor's registration error.
    ///
    /// # Panics
    /// Outside a tokio runtime, or in one without IO enabled (tokio's
    /// `AsyncFd` registration panics then).
    pub fn new(inner: R) -> io::Result<Self> {
        let ring = inner.ring().clone();
        let fd = register(Readiness::new()?)?;
        Ok(AsyncConsumer { fd, ring, inner })
    }

    /// Pops one message, waiting for one as long as it takes. Cancellation-safe.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the producer's cursor is impossible;
    /// [`Error::Io`] when the readiness fd fails.
    pub async fn pop(&mut self) -> Result<R::Item, Error> {
        poll_fn(|cx| self.poll_pop(cx)).await
    }

    /// Polls for one message: `Ready` with it, or `Pending` with `cx`'s waker
    /// registered for the producer's next notify.
    ///
    /// # Errors
    /// As [`pop`](Self::pop).
    pub fn poll_pop(&mut self, cx: &mut Context<'_>) -> Poll<Result<R::Item, Error>> {
        loop {
            let inner = &mut self.inner;
            let got =
                self.fd.get_mut().arm(
                    self.ring.data_event(),
                    self.ring.barrier(),
                    || match inner.try_recv() {
                        Err(PopError::Empty | PopError::Busy) => None,
                        other => Some(other),
                    },
                )?;
            if let Some(result) = got {
                return Poll::Ready(result.map_err(pop_error));
            }
            ready!(wait_for_completion(&mut self.fd, cx))?;
        }
    }

    /// The wrapped handle (its non-blocking calls work as usual).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }
}

impl<R: Receiver> Drop for AsyncConsumer<R> {
    fn drop(&mut self) {
        self.fd.get_mut().disarm(self.ring.data_event());
    }
}

impl<R: Receiver + Unpin> futures_core::Stream for AsyncConsumer<R> {
    type Item = Result<R::Item, Error>;

    /// Never ends (`None`): a ring has no end of stream; every item is a
    /// message or the error that stopped one.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_pop(cx).map(Some)
    }
}

/// A producer whose pushes are futures. Wraps any [`Sender`] (typed SPSC or
/// MPMC producer). As a [`Sink`](futures_sink::Sink) it buffers one message.
#[derive(Debug)]
pub struct AsyncProducer<S: Sender> {
    fd: AsyncFd<Readiness>,
    ring: Ring,
    inner: S,
    /// The message a `Sink::start_send` accepted and the ring has not yet.
    pending: Option<S::Item>,
}

impl<S: Sender> AsyncProducer<S> {
    /// Wraps `inner`. Must be called inside a tokio runtime with IO enabled.
    ///
    /// # Errors
    /// [`Readiness::new`]'s, or the reactor's registration error.
    ///
    /// # Panics
    /// Outside a tokio runtime, or in one without IO enabled (tokio's
    /// `AsyncFd` registration panics then).
    pub fn new(inner: S) -> io::Result<Self> {
        let ring = inner.ring().clone();
        let fd = register(Readiness::new()?)?;
        Ok(AsyncProducer {
            fd,
            ring,
            inner,
            pending: None,
        })
    }

    /// Pushes `value`, waiting for a free slot as long as it takes.
    /// Cancellation-safe: dropped before it completes, it has not pushed.
    ///
    /// # Errors
    /// [`Error::Corrupt`] when the consumer's cursor is impossible (the value
    /// is dropped); [`Error::Io`] when the readiness fd fails.
    pub async fn push(&mut self, value: S::Item) -> Result<(), Error> {
        let mut slot = Some(value);
        poll_fn(|cx| self.poll_push(cx, &mut slot)).await
    }

    /// Polls to push the value in `slot` (taken from it once pushed; `Ready(Ok)`
    /// at once when `slot` is empty).
    ///
    /// # Errors
    /// As [`push`](Self::push).
    pub fn poll_push(
        &mut self,
        cx: &mut Context<'_>,
        slot: &mut Option<S::Item>,
    ) -> Poll<Result<(), Error>> {
        loop {
            if slot.is_none() {
                return Poll::Ready(Ok(()));
            }
            let inner = &mut self.inner;
            let got =
                self.fd
                    .get_mut()
                    .arm(self.ring.space_event(), self.ring.barrier(), || {
                        let value = slot.take()?;
                        match inner.try_send(value) {
                            Ok(()) => Some(Ok(())),
                            // Busy: a consumer still reads the slot at the
                            // tail; its release notifies the space event.
                            Err(PushError::Full(value) | PushError::Busy(value)) => {
                                *slot = Some(value);
                                None
                            }
                            Err(PushError::Corrupt(e)) => Some(Err(Error::Corrupt(e))),
                            Err(PushError::PeerGone(value)) => {
                                // The value stays with the caller's sink.
                                *slot = Some(value);
                                Some(Err(Error::PeerGone))
                            }
                            Err(PushError::Size { expected, found }) => Some(Err(Error::Other(
                                format!("message of {found} bytes for slots of {expected}"),
                            ))),
                        }
                    })?;
            if let Some(result) = got {
                return Poll::Ready(result);
            }
            ready!(wait_for_completion(&mut self.fd, cx))?;
        }
    }

    /// The wrapped handle (its non-blocking calls work as usual).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: Sender> Drop for AsyncProducer<S> {
    fn drop(&mut self) {
        self.fd.get_mut().disarm(self.ring.space_event());
    }
}

impl<S: Sender + Unpin> futures_sink::Sink<S::Item> for AsyncProducer<S>
where
    S::Item: Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_flush(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: S::Item) -> Result<(), Error> {
        let this = self.get_mut();
        debug_assert!(this.pending.is_none(), "start_send without poll_ready");
        this.pending = Some(item);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        let mut pending = this.pending.take();
        let poll = this.poll_push(cx, &mut pending);
        this.pending = pending;
        poll
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_flush(cx)
    }
}
