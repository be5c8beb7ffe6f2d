//! The seam the async handles are written over: a non-blocking receive or
//! send and the ring whose events to wait on. Implemented once over the
//! handle layer's typed handles of every kind (`ringway::handle`), and for
//! the any-kind handles.

use bytemuck::Pod;
use ringway::handle::{self, AnyConsumer, AnyProducer, Flavor};
use ringway::{with_any, PopError, PushError, Ring};

/// A handle that takes messages without blocking.
pub trait Receiver {
    /// The message type.
    type Item;

    /// Takes one message.
    ///
    /// # Errors
    /// [`PopError::Empty`] when none is ready; any other error ends the wait.
    fn try_recv(&mut self) -> Result<Self::Item, PopError>;

    /// The ring, whose [`data_event`](Ring::data_event) producers notify.
    fn ring(&self) -> &Ring;
}

/// A handle that gives messages without blocking.
pub trait Sender {
    /// The message type.
    type Item;

    /// Gives one message.
    ///
    /// # Errors
    /// [`PushError::Full`] hands the value back when no slot is free; any
    /// other error ends the wait.
    fn try_send(&mut self, value: Self::Item) -> Result<(), PushError<Self::Item>>;

    /// The ring, whose [`space_event`](Ring::space_event) consumers notify.
    fn ring(&self) -> &Ring;
}

impl<K: Flavor, T: Pod> Receiver for handle::Consumer<K, T> {
    type Item = T;

    fn try_recv(&mut self) -> Result<T, PopError> {
        self.try_pop()
    }

    fn ring(&self) -> &Ring {
        handle::Consumer::ring(self)
    }
}

impl<T: Pod> Receiver for AnyConsumer<T> {
    type Item = T;

    fn try_recv(&mut self) -> Result<T, PopError> {
        self.try_pop()
    }

    fn ring(&self) -> &Ring {
        with_any!(self, h => h.ring())
    }
}

impl<K: Flavor, T: Pod> Sender for handle::Producer<K, T> {
    type Item = T;

    fn try_send(&mut self, value: T) -> Result<(), PushError<T>> {
        self.try_push(value)
    }

    fn ring(&self) -> &Ring {
        handle::Producer::ring(self)
    }
}

impl<T: Pod> Sender for AnyProducer<T> {
    type Item = T;

    fn try_send(&mut self, value: T) -> Result<(), PushError<T>> {
        self.try_push(value)
    }

    fn ring(&self) -> &Ring {
        with_any!(self, h => h.ring())
    }
}
