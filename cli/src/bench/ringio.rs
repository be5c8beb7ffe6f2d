//! The ring handles behind one set of small traits, implemented once over
//! every kind (`K: Flavor`), so that each workload is written once and
//! compiled (monomorphised) for each kind: `ringway::with_any!` picks the
//! kind outside the measured loop, so there is no dispatch inside it.

use std::time::Instant;

use ringway::handle::{Consumer, Producer};
use ringway::{
    AnyConsumer, AnyKind, AnyProducer, Bytes, Flavor, PopError, PopTimeoutError, PushError,
    PushTimeoutError, Ring, WaitStrategy,
};

use crate::failure::{fail, Failure};

fn timeout() -> Failure {
    Failure("the peer stopped answering (blocking call timed out)".into())
}

/// Sending side of a typed u64 ring.
pub(crate) trait U64Tx {
    /// Pushes `v`; false when full.
    fn try_push(&mut self, v: u64) -> Result<bool, Failure>;
    /// Pushes a prefix of `v`; how many went.
    fn push_slice(&mut self, v: &[u64]) -> Result<usize, Failure>;
    /// Pushes `v`, waiting with the handle's strategy until `deadline`.
    fn push_deadline(&mut self, v: u64, deadline: Instant) -> Result<(), Failure>;
    /// Sets the blocking calls' wait strategy.
    fn set_strategy(&mut self, s: WaitStrategy);
}

/// Receiving side of a typed u64 ring.
pub(crate) trait U64Rx {
    /// Pops one; `None` when empty.
    fn try_pop(&mut self) -> Result<Option<u64>, Failure>;
    /// Pops up to `out.len()`; how many came.
    fn pop_into(&mut self, out: &mut [u64]) -> Result<usize, Failure>;
    /// Pops one, waiting with the handle's strategy until `deadline`.
    fn pop_deadline(&mut self, deadline: Instant) -> Result<u64, Failure>;
    /// Sets the blocking calls' wait strategy.
    fn set_strategy(&mut self, s: WaitStrategy);
}

/// Sending side of a bytes ring.
pub(crate) trait BytesTx {
    /// Bytes per message.
    fn slot_size(&self) -> usize;
    /// Copies `m` into a slot; false when full.
    fn try_push(&mut self, m: &[u8]) -> Result<bool, Failure>;
    /// Fills up to `n` slots in place with `fill`, publishes them; how many.
    fn push_batch(&mut self, n: usize, fill: impl FnMut(&mut [u8])) -> Result<usize, Failure>;
}

/// Receiving side of a bytes ring.
pub(crate) trait BytesRx {
    /// Bytes per message.
    fn slot_size(&self) -> usize;
    /// Copies one message out; false when empty.
    fn try_pop(&mut self, out: &mut [u8]) -> Result<bool, Failure>;
    /// Copies up to `out.len() / slot_size` messages out; how many.
    fn pop_batch(&mut self, out: &mut [u8]) -> Result<usize, Failure>;
}

/// Whether a push went (`Full` and `Busy` are `false`, any other error a
/// failure).
fn pushed<T>(r: Result<(), PushError<T>>) -> Result<bool, Failure> {
    match r {
        Ok(()) => Ok(true),
        Err(PushError::Full(_) | PushError::Busy(_)) => Ok(false),
        Err(e) => fail!("push: {e}"),
    }
}

/// The value of a pop, `None` when empty.
fn popped<T>(r: Result<T, PopError>) -> Result<Option<T>, Failure> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(PopError::Empty | PopError::Busy) => Ok(None),
        Err(e) => fail!("pop: {e}"),
    }
}

impl<K: Flavor> U64Tx for Producer<K, u64> {
    #[inline]
    fn try_push(&mut self, v: u64) -> Result<bool, Failure> {
        pushed(Producer::try_push(self, v))
    }
    #[inline]
    fn push_slice(&mut self, v: &[u64]) -> Result<usize, Failure> {
        Ok(Producer::push_slice(self, v)?)
    }
    #[inline]
    fn push_deadline(&mut self, v: u64, deadline: Instant) -> Result<(), Failure> {
        match Producer::push_deadline(self, v, deadline) {
            Ok(()) => Ok(()),
            Err(PushTimeoutError::Timeout(_)) => Err(timeout()),
            Err(e) => fail!("push: {e}"),
        }
    }
    fn set_strategy(&mut self, s: WaitStrategy) {
        self.set_wait_strategy(s);
    }
}

impl<K: Flavor> U64Rx for Consumer<K, u64> {
    #[inline]
    fn try_pop(&mut self) -> Result<Option<u64>, Failure> {
        popped(Consumer::<K, u64>::try_pop(self))
    }
    #[inline]
    fn pop_into(&mut self, out: &mut [u64]) -> Result<usize, Failure> {
        Ok(Consumer::pop_into(self, out)?)
    }
    #[inline]
    fn pop_deadline(&mut self, deadline: Instant) -> Result<u64, Failure> {
        match Consumer::<K, u64>::pop_deadline(self, deadline) {
            Ok(v) => Ok(v),
            Err(PopTimeoutError::Timeout) => Err(timeout()),
            Err(e) => fail!("pop: {e}"),
        }
    }
    fn set_strategy(&mut self, s: WaitStrategy) {
        self.set_wait_strategy(s);
    }
}

impl<K: Flavor> BytesTx for Producer<K, Bytes> {
    fn slot_size(&self) -> usize {
        Producer::slot_size(self)
    }
    #[inline]
    fn try_push(&mut self, m: &[u8]) -> Result<bool, Failure> {
        pushed(Producer::try_push(self, m))
    }
    #[inline]
    fn push_batch(&mut self, n: usize, mut fill: impl FnMut(&mut [u8])) -> Result<usize, Failure> {
        let mut chunk = self.write_chunk(n)?;
        chunk.iter_mut().for_each(&mut fill);
        let n = chunk.len();
        chunk.commit_all();
        Ok(n)
    }
}

impl<K: Flavor> BytesRx for Consumer<K, Bytes> {
    fn slot_size(&self) -> usize {
        Consumer::slot_size(self)
    }
    #[inline]
    fn try_pop(&mut self, out: &mut [u8]) -> Result<bool, Failure> {
        popped(Consumer::<K, Bytes>::try_pop(self, out)).map(|v| v.is_some())
    }
    #[inline]
    fn pop_batch(&mut self, out: &mut [u8]) -> Result<usize, Failure> {
        Ok(self.pop_into(out)?)
    }
}

/// The bench's round-trip handles: (ping producer, pong consumer).
pub(crate) type PingPair = AnyKind<
    (
        Producer<ringway::spsc::Spsc, u64>,
        Consumer<ringway::spsc::Spsc, u64>,
    ),
    (
        Producer<ringway::mpmc::Mpmc, u64>,
        Consumer<ringway::mpmc::Mpmc, u64>,
    ),
>;
/// The peer's round-trip handles: (ping consumer, pong producer).
pub(crate) type EchoPair = AnyKind<
    (
        Consumer<ringway::spsc::Spsc, u64>,
        Producer<ringway::spsc::Spsc, u64>,
    ),
    (
        Consumer<ringway::mpmc::Mpmc, u64>,
        Producer<ringway::mpmc::Mpmc, u64>,
    ),
>;

/// The rings of a round trip are of two kinds.
fn mixed(kinds: (ringway::Kind, ringway::Kind)) -> Failure {
    Failure(format!(
        "the ping ring is {}, the pong ring {}",
        kinds.0, kinds.1
    ))
}

/// Attaches the bench's round-trip handles.
pub(crate) fn ping_pair(ping: &Ring, pong: &Ring) -> Result<PingPair, Failure> {
    let (tx, rx) = (AnyProducer::attach(ping)?, AnyConsumer::attach(pong)?);
    let kinds = (tx.kind(), rx.kind());
    tx.zip(rx).ok_or_else(|| mixed(kinds))
}

/// Attaches the peer's round-trip handles.
pub(crate) fn echo_pair(ping: &Ring, pong: &Ring) -> Result<EchoPair, Failure> {
    let (rx, tx) = (AnyConsumer::attach(ping)?, AnyProducer::attach(pong)?);
    let kinds = (rx.kind(), tx.kind());
    rx.zip(tx).ok_or_else(|| mixed(kinds))
}
