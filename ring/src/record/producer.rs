//! The producing side of a record ring: claim by CAS on `tail`, fill in
//! place, commit by CAS on the record's stamp.

use core::cell::Cell;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use ringway_sync::WaitStrategy;

use super::frame::Frame;
use super::{
    check_kind, deadline_after, max_record_len, record_size, DATA, PADDING, RECORD_ALIGN,
    RECORD_HEADER, TOMBSTONE,
};
use crate::error::{CorruptError, HandleError, PushError, PushTimeoutError, Role, Waited};
use crate::layout::Header;
use crate::loom::{ordering, Ordering};
use crate::peer::{self, Peer, WAIT_SPACE};
use crate::ring::Ring;

/// Why a claim did not happen.
enum Claim {
    Full,
    Corrupt(CorruptError),
}

/// Whether a claim at a `tail` snapshot fits (`ProducerCore::fits`).
enum Fit {
    Yes,
    /// The ring is full at that `tail`.
    No,
    /// The snapshot is stale: other producers moved `tail` meanwhile.
    Stale,
}

/// A producer's private state.
#[derive(Debug)]
struct ProducerCore {
    ring: Ring,
    /// Our entry in the peer table: liveness, and the claim in flight.
    peer: Peer,
    /// Last `head` read (Acquire). Invariant: it never exceeds the shared head.
    cached_head: u64,
    capacity: u64,
    /// Whether data records carry a CRC32C.
    crc: bool,
    strategy: WaitStrategy,
}

/// Bytes a claim at `tail` takes for a record of `size` bytes: the record,
/// or the rest of the lap (a padding record) when the record does not fit
/// before the end. Returns (bytes, is_padding).
#[inline]
fn claim_bytes(tail: u64, size: u64, capacity: u64) -> (u64, bool) {
    let room = capacity - (tail & (capacity - 1));
    if size > room {
        (room, true)
    } else {
        (size, false)
    }
}

impl ProducerCore {
    fn attach(ring: &Ring) -> Result<ProducerCore, HandleError> {
        check_kind(ring)?;
        let peer = Peer::register(ring, Role::Producer)?;
        // Acquire: pairs with the consumer's Release store of head.
        let head = ring.shared.header().head.load(Ordering::Acquire);
        Ok(ProducerCore {
            ring: ring.clone(),
            peer,
            cached_head: head,
            capacity: ring.capacity(),
            crc: ring.identity().flags & crate::layout::FLAG_CRC32C != 0,
            strategy: WaitStrategy::default(),
        })
    }

    fn header(&self) -> &Header {
        self.ring.shared.header()
    }

    /// Whether `need` bytes at `tail` are free, re-reading `head` when the
    /// cached one says no.
    ///
    /// `tail` was read before `head`: with several producers, others may
    /// have claimed past it and the consumer freed past it meanwhile, so
    /// `tail < head` (or a span wider than the ring) is a stale snapshot, not
    /// corruption, unless a fresh `tail` read after `head` still says so.
    #[inline]
    fn fits(&mut self, tail: u64, need: u64) -> Result<Fit, CorruptError> {
        if tail >= self.cached_head && tail - self.cached_head + need <= self.capacity {
            return Ok(Fit::Yes);
        }
        // Acquire: pairs with the Release store of head in
        // `ConsumerCore::advance`: the consumer's reads and zeroing of the
        // bytes below head happen before we write them.
        let head = self
            .header()
            .head
            .load(ordering!(Acquire, "record_read_head_relaxed"));
        if head < self.cached_head {
            return Err(CorruptError {
                what: "record ring head moved backwards",
                value: head,
            });
        }
        self.cached_head = head;
        if tail < head || tail - head > self.capacity || head % RECORD_ALIGN != 0 {
            // Relaxed: the Acquire load of head above orders this load after
            // the consumer's reads of the records below head, whose claims'
            // CASes moved tail past them, so an honest ring gives a tail of
            // at least head here (coherence).
            let fresh = self.header().tail.load(Ordering::Relaxed);
            if fresh != tail && head % RECORD_ALIGN == 0 {
                return Ok(Fit::Stale);
            }
            return Err(CorruptError {
                what: "record ring tail is not within capacity ahead of head",
                value: tail,
            });
        }
        Ok(if tail - head + need <= self.capacity {
            Fit::Yes
        } else {
            Fit::No
        })
    }

    /// `claim_once` (which looks at the poison flag first), with the
    /// truncation error in place of any other once the ring is poisoned (a
    /// value read from the zero pages the SIGBUS handler mapped). A claim
    /// that got nothing leaves no pending record (it would hold back the
    /// healing of the position it names, `heal`).
    fn claim(&mut self, size: u64) -> Result<u64, Claim> {
        // A `fork`ed copy claims nothing (nor clears the parent's record).
        self.peer.check_fork().map_err(Claim::Corrupt)?;
        let claimed = self.claim_once(size).map_err(|c| match c {
            Claim::Corrupt(e) => Claim::Corrupt(self.ring.explain(e)),
            Claim::Full => Claim::Full,
        });
        if claimed.is_err() {
            self.peer.settled();
        }
        claimed
    }

    /// Claims `size` bytes (a multiple of 16, at most the capacity) for one
    /// record, publishing a padding record first when the rest of the lap is
    /// too short. Returns the record's position.
    fn claim_once(&mut self, size: u64) -> Result<u64, Claim> {
        debug_assert!(size % RECORD_ALIGN == 0 && size <= self.capacity);
        // A truncation caught by the SIGBUS handler fails every operation.
        self.ring.check_poison().map_err(Claim::Corrupt)?;
        loop {
            // Relaxed: `tail` only hands out byte ranges; what we may write
            // is decided by `head` (Acquire in `fits`) and the CAS below.
            let tail = self.header().tail.load(Ordering::Relaxed);
            if tail % RECORD_ALIGN != 0 {
                return Err(Claim::Corrupt(CorruptError {
                    what: "record ring tail is not a multiple of 16",
                    value: tail,
                }));
            }
            let (need, padding) = claim_bytes(tail, size, self.capacity);
            match self.fits(tail, need).map_err(Claim::Corrupt)? {
                Fit::Yes => {}
                Fit::No => return Err(Claim::Full),
                // Another producer moved tail: claim again from the new one.
                Fit::Stale => continue,
            }
            // Recorded before the CAS, so that no instruction owns bytes
            // without a record (`heal`).
            self.peer.pending(tail, need);
            // AcqRel on success: Release publishes the record above to the
            // consumer that loads `tail` with Acquire before it heals
            // (`heal::bury`). Relaxed on failure: as the load above. Exactly
            // one CAS moves `tail` across each position, so the range is ours.
            if self
                .header()
                .tail
                .compare_exchange(
                    tail,
                    tail + need,
                    ordering!(AcqRel, "record_tail_cas_relaxed"),
                    Ordering::Relaxed,
                )
                .is_err()
            {
                continue;
            }
            self.ring
                .shared
                .access
                .write(Frame::of(&self.ring.shared, tail).idx);
            if !padding {
                return Ok(tail);
            }
            // The padding's stamp can only be taken by a healer if we were
            // taken for dead; either way the consumer skips the range.
            let _ = self.publish(tail, PADDING, (need - RECORD_HEADER) as u32);
        }
    }

    /// Claims, waiting on the space event while the ring is full (the wait
    /// ends on a poisoned ring too, so the claim that follows reports it).
    fn claim_until(&mut self, size: u64, deadline: Option<Instant>) -> Result<u64, Waited> {
        loop {
            match self.claim(size) {
                Ok(pos) => return Ok(pos),
                Err(Claim::Corrupt(e)) => return Err(Waited::Corrupt(e)),
                Err(Claim::Full) => {}
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Waited::Timeout);
            }
            let (header, capacity) = (self.ring.shared.header(), self.capacity);
            let this = &*self;
            // The consumer's liveness is looked at after each slice of the
            // wait (`peer::wait_sliced`).
            match peer::wait_sliced(
                &header.space_event,
                ringway_sync::Barrier::Symmetric,
                this.strategy,
                deadline,
                &this.peer.looks,
                || this.ring.shared.deaths(Role::Consumer),
                |on| this.peer.note_wait(WAIT_SPACE, on),
                || {
                    // Acquire: as in `fits`.
                    let head = header.head.load(Ordering::Acquire);
                    // Relaxed: as in `claim`.
                    let tail = header.tail.load(Ordering::Relaxed);
                    let (need, _) = claim_bytes(tail, size, capacity);
                    // An impossible pair, or a truncated ring, is reported by
                    // the `claim` that follows.
                    (tail < head
                        || tail - head + need <= capacity
                        || this.ring.check_poison().is_err())
                    .then_some(())
                },
                || this.peer.gone(Role::Consumer),
                || this.peer.unreport(),
            ) {
                Ok(()) | Err(Waited::Timeout) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the consumer is gone while the ring has no room for a record
    /// of `size` (looked at no more often than `peer::CHECK_INTERVAL`;
    /// reaping a dead consumer may finish its release and make room).
    #[cold]
    fn consumer_gone(&mut self, size: u64) -> bool {
        if !(self.peer.tick() && self.peer.gone_now(Role::Consumer)) {
            return false;
        }
        // Relaxed: as in `claim`.
        let tail = self.header().tail.load(Ordering::Relaxed);
        let (need, _) = claim_bytes(tail, size, self.capacity);
        if !matches!(self.fits(tail, need), Ok(Fit::No)) {
            // Room after all: report the death once the ring is full.
            self.peer.unreport();
            return false;
        }
        true
    }

    /// Publishes the claim at `pos` as a record of `kind` with `len` payload
    /// bytes and wakes a sleeping consumer. Fails when the stamp is no
    /// longer 0: a healer took this producer for dead and buried the claim.
    fn publish(&mut self, pos: u64, kind: u64, len: u32) -> Result<(), CorruptError> {
        // A reservation that a `fork` copied: the claim is the parent's.
        self.peer.check_fork()?;
        let frame = Frame::of(&self.ring.shared, pos);
        frame.set_len(len);
        if self.crc && kind == DATA {
            // SAFETY: we own the claim (not yet published) and it holds len
            // payload bytes inside the lap (`claim_bytes`).
            let payload = unsafe { frame.payload_slice(len as usize) };
            frame.set_crc(super::checksum(pos, payload));
        }
        // Release: publishes the length and the payload written in place;
        // pairs with the Acquire load of the stamp in `ConsumerCore::front`.
        // Relaxed on failure: we only report it.
        let result = frame.stamp.compare_exchange(
            0,
            pos | kind,
            ordering!(Release, "record_commit_relaxed"),
            Ordering::Relaxed,
        );
        self.peer.settled();
        self.header().data_event.notify();
        result.map(|_| ()).map_err(|found| {
            self.ring.explain(CorruptError {
                what: "the record's claim was healed as a tombstone (this producer was taken for dead)",
                value: found,
            })
        })
    }
}

/// A producer of a record ring. Any number of producers (each holds an
/// entry of the peer table, 62 handles in all) may write one ring at once,
/// from any processes.
/// `Send`, not `Sync`.
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<ringway::record::Producer>();
/// ```
#[derive(Debug)]
pub struct Producer {
    core: ProducerCore,
    /// `Send`, not `Sync`: one thread uses a handle at a time.
    _not_sync: PhantomData<Cell<()>>,
}

impl Producer {
    /// Attaches a producer to a record ring.
    ///
    /// # Errors
    /// [`HandleError::WrongKind`] for a ring of another kind,
    /// `TooManyPeers` when the peer table is full.
    pub fn attach(ring: &Ring) -> Result<Producer, HandleError> {
        Ok(Producer {
            core: ProducerCore::attach(ring)?,
            _not_sync: PhantomData,
        })
    }

    /// Largest payload this ring carries: the capacity less one header.
    pub fn max_len(&self) -> usize {
        max_record_len(self.core.capacity)
    }

    fn size_of(&self, len: usize) -> Result<u64, (usize, usize)> {
        match record_size(len) {
            Some(size) if size <= self.core.capacity => Ok(size),
            _ => Err((self.max_len(), len)),
        }
    }

    /// Claims room for a record of `len` bytes, to fill in place
    /// (the bytes start zeroed) and then [`commit`](Reservation::commit).
    ///
    /// # Errors
    /// [`PushError::Full`] when the ring has no room now (a padding record
    /// may have been published to reach the start of the ring);
    /// [`PushError::Size`] when `len` exceeds [`max_len`](Self::max_len)
    /// (`expected` is the maximum); `Corrupt` for impossible cursors;
    /// [`PushError::PeerGone`] when the ring is full and the consumer died
    /// (reported once; afterwards the handle says `Full` until a new
    /// consumer attaches or another one dies).
    pub fn try_reserve(&mut self, len: usize) -> Result<Reservation<'_>, PushError<()>> {
        let size = self
            .size_of(len)
            .map_err(|(expected, found)| PushError::Size { expected, found })?;
        match self.core.claim(size) {
            Ok(pos) => Ok(Reservation::new(&mut self.core, pos, len)),
            Err(Claim::Full) if self.core.consumer_gone(size) => Err(PushError::PeerGone(())),
            Err(Claim::Full) => Err(PushError::Full(())),
            Err(Claim::Corrupt(e)) => Err(PushError::Corrupt(e)),
        }
    }

    /// As [`try_reserve`](Self::try_reserve), waiting as long as it takes
    /// (in slices of `peer::LIVENESS_SLICE`, looking at the consumer's
    /// liveness between two).
    ///
    /// # Errors
    /// `Size`, `Corrupt` and `PeerGone` as `try_reserve` (never `Timeout`).
    pub fn reserve_blocking(
        &mut self,
        len: usize,
    ) -> Result<Reservation<'_>, PushTimeoutError<()>> {
        self.reserve_until(len, None)
    }

    /// As [`try_reserve`](Self::try_reserve), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`PushTimeoutError::Timeout`]; `Size`, `Corrupt` and `PeerGone` as
    /// `try_reserve`.
    pub fn reserve_timeout(
        &mut self,
        len: usize,
        timeout: Duration,
    ) -> Result<Reservation<'_>, PushTimeoutError<()>> {
        self.reserve_until(len, deadline_after(timeout))
    }

    /// As [`try_reserve`](Self::try_reserve), waiting until `deadline`.
    ///
    /// # Errors
    /// As [`reserve_timeout`](Self::reserve_timeout).
    pub fn reserve_deadline(
        &mut self,
        len: usize,
        deadline: Instant,
    ) -> Result<Reservation<'_>, PushTimeoutError<()>> {
        self.reserve_until(len, Some(deadline))
    }

    fn reserve_until(
        &mut self,
        len: usize,
        deadline: Option<Instant>,
    ) -> Result<Reservation<'_>, PushTimeoutError<()>> {
        let size = self
            .size_of(len)
            .map_err(|(expected, found)| PushTimeoutError::Size { expected, found })?;
        let pos = self
            .core
            .claim_until(size, deadline)
            .map_err(Waited::into_push)?;
        Ok(Reservation::new(&mut self.core, pos, len))
    }

    /// Writes `record` as one record.
    ///
    /// # Errors
    /// As [`try_reserve`](Self::try_reserve).
    pub fn try_push(&mut self, record: &[u8]) -> Result<(), PushError<()>> {
        let mut r = self.try_reserve(record.len())?;
        r.copy_from_slice(record);
        r.commit().map_err(PushError::Corrupt)
    }

    /// Writes `record`, waiting for room as long as it takes.
    ///
    /// # Errors
    /// `Size` and `Corrupt` as [`try_reserve`](Self::try_reserve).
    pub fn push_blocking(&mut self, record: &[u8]) -> Result<(), PushTimeoutError<()>> {
        self.push_until(record, None)
    }

    /// Writes `record`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// As [`reserve_timeout`](Self::reserve_timeout).
    pub fn push_timeout(
        &mut self,
        record: &[u8],
        timeout: Duration,
    ) -> Result<(), PushTimeoutError<()>> {
        self.push_until(record, deadline_after(timeout))
    }

    /// Writes `record`, waiting until `deadline` for room.
    ///
    /// # Errors
    /// As [`reserve_timeout`](Self::reserve_timeout).
    pub fn push_deadline(
        &mut self,
        record: &[u8],
        deadline: Instant,
    ) -> Result<(), PushTimeoutError<()>> {
        self.push_until(record, Some(deadline))
    }

    fn push_until(
        &mut self,
        record: &[u8],
        deadline: Option<Instant>,
    ) -> Result<(), PushTimeoutError<()>> {
        let mut r = self.reserve_until(record.len(), deadline)?;
        r.copy_from_slice(record);
        r.commit().map_err(PushTimeoutError::Corrupt)
    }

    /// Writes the bytes of `value` as one record.
    ///
    /// # Errors
    /// [`PushError::Full`] hands the value back; `Size` when it is larger
    /// than [`max_len`](Self::max_len); `Corrupt`.
    pub fn try_push_value<T: Pod>(&mut self, value: T) -> Result<(), PushError<T>> {
        match self.try_push(bytemuck::bytes_of(&value)) {
            Ok(()) => Ok(()),
            Err(PushError::Full(())) => Err(PushError::Full(value)),
            Err(PushError::Size { expected, found }) => Err(PushError::Size { expected, found }),
            Err(PushError::Corrupt(e)) => Err(PushError::Corrupt(e)),
            Err(PushError::PeerGone(())) => Err(PushError::PeerGone(value)),
            Err(PushError::Busy(())) => Err(PushError::Busy(value)),
        }
    }

    /// How the blocking calls wait for room.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.core.strategy = strategy;
    }

    /// The ring this producer writes.
    pub fn ring(&self) -> &Ring {
        &self.core.ring
    }
}

/// A claimed record being filled in place. [`commit`](Self::commit)
/// publishes it; [`abort`](Self::abort), or dropping it, publishes a
/// tombstone that the consumer skips.
#[derive(Debug)]
pub struct Reservation<'a> {
    core: &'a mut ProducerCore,
    pos: u64,
    len: usize,
    done: bool,
}

impl<'a> Reservation<'a> {
    fn new(core: &'a mut ProducerCore, pos: u64, len: usize) -> Reservation<'a> {
        Reservation {
            core,
            pos,
            len,
            done: false,
        }
    }

    /// The record's byte position since the ring was created.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Publishes the record.
    ///
    /// # Errors
    /// [`CorruptError`] when the claim was healed meanwhile (a consumer took
    /// this producer's process for dead): the record is not delivered.
    pub fn commit(mut self) -> Result<(), CorruptError> {
        self.done = true;
        self.core.publish(self.pos, DATA, self.len as u32)
    }

    /// Gives the claim up: the consumer skips it.
    pub fn abort(self) {
        drop(self);
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.core.publish(self.pos, TOMBSTONE, self.len as u32);
        }
    }
}

impl core::ops::Deref for Reservation<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        let frame = Frame::of(&self.core.ring.shared, self.pos);
        // SAFETY: the claim covers [pos, pos + record_size(len)), which lies
        // inside the lap (`claim_bytes`), so the payload's len bytes are in
        // the ring; we own them until we publish (no other producer's claim
        // covers them, and the consumer does not read past a 0 stamp).
        unsafe { core::slice::from_raw_parts(frame.payload(), self.len) }
    }
}

impl core::ops::DerefMut for Reservation<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let frame = Frame::of(&self.core.ring.shared, self.pos);
        // SAFETY: as in `deref`, and `&mut self` makes this the only borrow.
        unsafe { core::slice::from_raw_parts_mut(frame.payload(), self.len) }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{Kind, RingBuilder};

    /// A `tail` read before another producer claimed past it and the consumer
    /// freed past it is stale, not corruption (the C test
    /// `test_record_second_producer` saw a spurious `Corrupt` about once in
    /// 500 runs); a pair that stays impossible is corruption.
    #[test]
    fn a_stale_tail_is_claimed_again_and_an_impossible_one_is_corrupt() {
        let ring = RingBuilder::new(Kind::Record)
            .capacity(1024)
            .create_anonymous()
            .unwrap();
        let mut core = ProducerCore::attach(&ring).unwrap();
        let header = ring.shared.header();
        // Others moved both cursors to 4096 since we read tail = 1024.
        header.tail.store(4096, Ordering::Relaxed);
        header.head.store(4096, Ordering::Relaxed);
        assert!(matches!(core.fits(1024, 32), Ok(Fit::Stale)));
        assert!(matches!(core.fits(4096, 32), Ok(Fit::Yes)));
        assert!(matches!(core.fits(4096 + 1000, 32), Ok(Fit::No)));
        // tail itself stays behind head: a peer wrote an impossible value.
        header.tail.store(2048, Ordering::Relaxed);
        assert!(core.fits(2048, 32).is_err());
    }
}
