//! The seam the async handles are written over: a non-blocking receive or
//! send and the ring whose events to wait on. Implemented for the typed SPSC
//! and MPMC handles; a new handle kind implements two methods.

use bytemuck::Pod;
use ringway::{mpmc, spsc, PopError, PushError, Ring};

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

impl<T: Pod> Receiver for spsc::Consumer<T> {
    type Item = T;

    fn try_recv(&mut self) -> Result<T, PopError> {
        self.try_pop()
    }

    fn ring(&self) -> &Ring {
        spsc::Consumer::ring(self)
    }
}

impl<T: Pod> Receiver for mpmc::Consumer<T> {
    type Item = T;

    fn try_recv(&mut self) -> Result<T, PopError> {
        self.try_pop()
    }

    fn ring(&self) -> &Ring {
        mpmc::Consumer::ring(self)
    }
}

impl<T: Pod> Sender for spsc::Producer<T> {
    type Item = T;

    fn try_send(&mut self, value: T) -> Result<(), PushError<T>> {
        self.try_push(value)
    }

    fn ring(&self) -> &Ring {
        spsc::Producer::ring(self)
    }
}

impl<T: Pod> Sender for mpmc::Producer<T> {
    type Item = T;

    fn try_send(&mut self, value: T) -> Result<(), PushError<T>> {
        self.try_push(value)
    }

    fn ring(&self) -> &Ring {
        mpmc::Producer::ring(self)
    }
}
