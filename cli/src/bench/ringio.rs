//! The SPSC and MPMC handles behind one set of small traits, so that each
//! workload is written once and compiled (monomorphised) for each kind: no
//! dynamic dispatch inside a measured loop.

use std::time::Instant;

use ringway::{mpmc, spsc, PopError, PopTimeoutError, PushError, PushTimeoutError, WaitStrategy};

use crate::{fail, Failure};

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

macro_rules! u64_handles {
    ($tx:ty, $rx:ty) => {
        impl U64Tx for $tx {
            #[inline]
            fn try_push(&mut self, v: u64) -> Result<bool, Failure> {
                match <$tx>::try_push(self, v) {
                    Ok(()) => Ok(true),
                    Err(PushError::Full(_)) => Ok(false),
                    Err(e) => fail!("push: {e}"),
                }
            }
            #[inline]
            fn push_slice(&mut self, v: &[u64]) -> Result<usize, Failure> {
                Ok(<$tx>::push_slice(self, v)?)
            }
            #[inline]
            fn push_deadline(&mut self, v: u64, deadline: Instant) -> Result<(), Failure> {
                match <$tx>::push_deadline(self, v, deadline) {
                    Ok(()) => Ok(()),
                    Err(PushTimeoutError::Timeout(_)) => Err(timeout()),
                    Err(e) => fail!("push: {e}"),
                }
            }
            fn set_strategy(&mut self, s: WaitStrategy) {
                self.set_wait_strategy(s);
            }
        }

        impl U64Rx for $rx {
            #[inline]
            fn try_pop(&mut self) -> Result<Option<u64>, Failure> {
                match <$rx>::try_pop(self) {
                    Ok(v) => Ok(Some(v)),
                    Err(PopError::Empty) => Ok(None),
                    Err(e) => fail!("pop: {e}"),
                }
            }
            #[inline]
            fn pop_into(&mut self, out: &mut [u64]) -> Result<usize, Failure> {
                Ok(<$rx>::pop_into(self, out)?)
            }
            #[inline]
            fn pop_deadline(&mut self, deadline: Instant) -> Result<u64, Failure> {
                match <$rx>::pop_deadline(self, deadline) {
                    Ok(v) => Ok(v),
                    Err(PopTimeoutError::Timeout) => Err(timeout()),
                    Err(e) => fail!("pop: {e}"),
                }
            }
            fn set_strategy(&mut self, s: WaitStrategy) {
                self.set_wait_strategy(s);
            }
        }
    };
}

u64_handles!(spsc::Producer<u64>, spsc::Consumer<u64>);
u64_handles!(mpmc::Producer<u64>, mpmc::Consumer<u64>);

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

impl BytesTx for spsc::BytesProducer {
    fn slot_size(&self) -> usize {
        spsc::BytesProducer::slot_size(self)
    }
    #[inline]
    fn try_push(&mut self, m: &[u8]) -> Result<bool, Failure> {
        match spsc::BytesProducer::try_push(self, m) {
            Ok(()) => Ok(true),
            Err(PushError::Full(())) => Ok(false),
            Err(e) => fail!("push: {e}"),
        }
    }
    #[inline]
    fn push_batch(&mut self, n: usize, mut fill: impl FnMut(&mut [u8])) -> Result<usize, Failure> {
        let size = spsc::BytesProducer::slot_size(self);
        let mut chunk = self.write_chunk(n)?;
        let (a, b) = chunk.as_mut_slices();
        for s in a.chunks_exact_mut(size).chain(b.chunks_exact_mut(size)) {
            fill(s);
        }
        let n = chunk.len();
        chunk.commit_all();
        Ok(n)
    }
}

impl BytesRx for spsc::BytesConsumer {
    fn slot_size(&self) -> usize {
        spsc::BytesConsumer::slot_size(self)
    }
    #[inline]
    fn try_pop(&mut self, out: &mut [u8]) -> Result<bool, Failure> {
        match spsc::BytesConsumer::try_pop(self, out) {
            Ok(()) => Ok(true),
            Err(PopError::Empty) => Ok(false),
            Err(e) => fail!("pop: {e}"),
        }
    }
    #[inline]
    fn pop_batch(&mut self, out: &mut [u8]) -> Result<usize, Failure> {
        let size = spsc::BytesConsumer::slot_size(self);
        let chunk = self.read_chunk(out.len() / size)?;
        let (a, b) = chunk.as_slices();
        out[..a.len()].copy_from_slice(a);
        out[a.len()..a.len() + b.len()].copy_from_slice(b);
        let n = chunk.len();
        chunk.release_all();
        Ok(n)
    }
}

impl BytesTx for mpmc::BytesProducer {
    fn slot_size(&self) -> usize {
        mpmc::BytesProducer::slot_size(self)
    }
    #[inline]
    fn try_push(&mut self, m: &[u8]) -> Result<bool, Failure> {
        match mpmc::BytesProducer::try_push(self, m) {
            Ok(()) => Ok(true),
            Err(PushError::Full(())) => Ok(false),
            Err(e) => fail!("push: {e}"),
        }
    }
    #[inline]
    fn push_batch(&mut self, n: usize, mut fill: impl FnMut(&mut [u8])) -> Result<usize, Failure> {
        let mut chunk = self.write_chunk(n)?;
        for s in chunk.iter_mut() {
            fill(s);
        }
        let n = chunk.len();
        chunk.commit_all();
        Ok(n)
    }
}

impl BytesRx for mpmc::BytesConsumer {
    fn slot_size(&self) -> usize {
        mpmc::BytesConsumer::slot_size(self)
    }
    #[inline]
    fn try_pop(&mut self, out: &mut [u8]) -> Result<bool, Failure> {
        match mpmc::BytesConsumer::try_pop(self, out) {
            Ok(()) => Ok(true),
            Err(PopError::Empty) => Ok(false),
            Err(e) => fail!("pop: {e}"),
        }
    }
    #[inline]
    fn pop_batch(&mut self, out: &mut [u8]) -> Result<usize, Failure> {
        let size = mpmc::BytesConsumer::slot_size(self);
        let chunk = self.read_chunk(out.len() / size)?;
        let mut n = 0;
        for m in chunk.iter() {
            out[n * size..(n + 1) * size].copy_from_slice(m);
            n += 1;
        }
        chunk.release();
        Ok(n)
    }
}

/// An SPSC or an MPMC handle (or pair of handles), chosen per row.
#[derive(Debug)]
pub(crate) enum Kinded<S, M> {
    /// SPSC.
    Spsc(S),
    /// MPMC.
    Mpmc(M),
}

/// Runs `$body` with `$h` bound to whichever handle `$k` holds; the body is
/// compiled once per kind.
macro_rules! with_kind {
    ($k:expr, $h:pat => $body:expr) => {
        match $k {
            $crate::bench::ringio::Kinded::Spsc($h) => $body,
            $crate::bench::ringio::Kinded::Mpmc($h) => $body,
        }
    };
}
pub(crate) use with_kind;

/// The bench's round-trip handles: (ping producer, pong consumer).
pub(crate) type PingPair =
    Kinded<(spsc::Producer<u64>, spsc::Consumer<u64>), (mpmc::Producer<u64>, mpmc::Consumer<u64>)>;
/// The peer's round-trip handles: (ping consumer, pong producer).
pub(crate) type EchoPair =
    Kinded<(spsc::Consumer<u64>, spsc::Producer<u64>), (mpmc::Consumer<u64>, mpmc::Producer<u64>)>;
/// A u64 consumer.
pub(crate) type AnyU64Rx = Kinded<spsc::Consumer<u64>, mpmc::Consumer<u64>>;
/// A u64 producer.
pub(crate) type AnyU64Tx = Kinded<spsc::Producer<u64>, mpmc::Producer<u64>>;
/// A bytes consumer.
pub(crate) type AnyBytesRx = Kinded<spsc::BytesConsumer, mpmc::BytesConsumer>;
/// A bytes producer.
pub(crate) type AnyBytesTx = Kinded<spsc::BytesProducer, mpmc::BytesProducer>;

use ringway::{Kind, Ring};

/// Attaches the bench's round-trip handles. (Record rings are refused by
/// the SPSC handles with `WrongKind`.)
pub(crate) fn ping_pair(ping: &Ring, pong: &Ring) -> Result<PingPair, Failure> {
    Ok(match ping.kind() {
        Kind::Spsc | Kind::Record | Kind::Broadcast => {
            Kinded::Spsc((spsc::Producer::attach(ping)?, spsc::Consumer::attach(pong)?))
        }
        Kind::Mpmc => Kinded::Mpmc((mpmc::Producer::attach(ping)?, mpmc::Consumer::attach(pong)?)),
    })
}

/// Attaches the peer's round-trip handles.
pub(crate) fn echo_pair(ping: &Ring, pong: &Ring) -> Result<EchoPair, Failure> {
    Ok(match ping.kind() {
        Kind::Spsc | Kind::Record | Kind::Broadcast => {
            Kinded::Spsc((spsc::Consumer::attach(ping)?, spsc::Producer::attach(pong)?))
        }
        Kind::Mpmc => Kinded::Mpmc((mpmc::Consumer::attach(ping)?, mpmc::Producer::attach(pong)?)),
    })
}

/// A u64 consumer of `ring`.
pub(crate) fn u64_rx(ring: &Ring) -> Result<AnyU64Rx, Failure> {
    Ok(match ring.kind() {
        Kind::Spsc | Kind::Record | Kind::Broadcast => Kinded::Spsc(spsc::Consumer::attach(ring)?),
        Kind::Mpmc => Kinded::Mpmc(mpmc::Consumer::attach(ring)?),
    })
}

/// A u64 producer of `ring`.
pub(crate) fn u64_tx(ring: &Ring) -> Result<AnyU64Tx, Failure> {
    Ok(match ring.kind() {
        Kind::Spsc | Kind::Record | Kind::Broadcast => Kinded::Spsc(spsc::Producer::attach(ring)?),
        Kind::Mpmc => Kinded::Mpmc(mpmc::Producer::attach(ring)?),
    })
}

/// A bytes consumer of `ring`.
pub(crate) fn bytes_rx(ring: &Ring) -> Result<AnyBytesRx, Failure> {
    Ok(match ring.kind() {
        Kind::Spsc | Kind::Record | Kind::Broadcast => {
            Kinded::Spsc(spsc::BytesConsumer::attach(ring)?)
        }
        Kind::Mpmc => Kinded::Mpmc(mpmc::BytesConsumer::attach(ring)?),
    })
}

/// A bytes producer of `ring`.
pub(crate) fn bytes_tx(ring: &Ring) -> Result<AnyBytesTx, Failure> {
    Ok(match ring.kind() {
        Kind::Spsc | Kind::Record | Kind::Broadcast => {
            Kinded::Spsc(spsc::BytesProducer::attach(ring)?)
        }
        Kind::Mpmc => Kinded::Mpmc(mpmc::BytesProducer::attach(ring)?),
    })
}
