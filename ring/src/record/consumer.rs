//! The consuming side of a record ring: read the stamp at `head`, lend the
//! record in place, zero it and move `head` on release.

use core::cell::Cell;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use ringway_sync::WaitStrategy;

use super::frame::{zero, Frame};
use super::{
    check_kind, deadline_after, record_size, DATA, PADDING, RECORD_ALIGN, RECORD_HEADER, TOMBSTONE,
    TYPE_MASK,
};
use crate::error::{CorruptError, HandleError, PopError, PopTimeoutError, Role, Waited};
use crate::loom::{ordering, Ordering};
use crate::peer::{self, Peer, WAIT_DATA};
use crate::ring::Ring;

/// The consumer's private state.
#[derive(Debug)]
struct ConsumerCore {
    ring: Ring,
    /// Our cursor: the position of the next record. Only we write the shared
    /// `head`, so it equals this value between operations. A multiple of 16.
    head: u64,
    capacity: u64,
    /// Whether data records carry a CRC32C.
    crc: bool,
    strategy: WaitStrategy,
    /// Our entry in the peer table; it holds the consumer role.
    peer: Peer,
}

impl ConsumerCore {
    fn attach(ring: &Ring) -> Result<ConsumerCore, HandleError> {
        check_kind(ring)?;
        let peer = Peer::register(ring, Role::Consumer)?;
        // Takes the role over from a dead holder (reaping it finishes a
        // release it left half-done, see `heal`).
        ring.claim_role(Role::Consumer, &peer, crate::layout::Kind::Record)?;
        let h = ring.shared.header();
        // Acquire: pairs with the previous consumer's Release store of head.
        let head = h.head.load(Ordering::Acquire);
        // Relaxed: only a bound for the check below.
        let tail = h.tail.load(Ordering::Relaxed);
        if head % RECORD_ALIGN != 0 || head > tail || tail - head > ring.capacity() {
            ring.release_role(Role::Consumer, &peer);
            return Err(CorruptError {
                what: "record ring head is not a multiple of 16 within capacity behind tail",
                value: head,
            }
            .into());
        }
        Ok(ConsumerCore {
            ring: ring.clone(),
            head,
            capacity: ring.capacity(),
            crc: ring.identity().flags & crate::layout::FLAG_CRC32C != 0,
            strategy: WaitStrategy::default(),
            peer,
        })
    }

    /// `front_once`, after a look at the poison flag (a zero page reads as
    /// "nothing committed", which must not pass for empty), with the
    /// truncation error in place of any other once the ring is poisoned.
    fn front(&mut self) -> Result<Option<u32>, CorruptError> {
        // A `fork`ed copy of the handle reads nothing.
        self.peer.check_fork()?;
        self.ring.check_poison()?;
        self.front_once().map_err(|e| self.ring.explain(e))
    }

    /// The length of the data record at `head`, skipping padding and
    /// tombstones; `None` when nothing is committed there yet.
    fn front_once(&mut self) -> Result<Option<u32>, CorruptError> {
        loop {
            let shared = &self.ring.shared;
            let frame = Frame::of(shared, self.head);
            // Acquire: pairs with the Release CAS in `ProducerCore::publish`
            // (and in `heal_dead_producers`): the length and payload written
            // before it are visible.
            let stamp = frame
                .stamp
                .load(ordering!(Acquire, "record_read_stamp_relaxed"));
            if stamp == 0 {
                return Ok(None);
            }
            if stamp & !TYPE_MASK != self.head {
                return Err(CorruptError {
                    what: "record stamp does not match its position",
                    value: stamp,
                });
            }
            let room = self.capacity - frame.idx as u64;
            match stamp & TYPE_MASK {
                PADDING => {
                    // Only the header was written: the rest of the lap is
                    // still zero from the previous one.
                    self.peer.freeing(self.head, room);
                    zero(shared, self.head, RECORD_HEADER);
                    self.advance(room);
                }
                kind @ (DATA | TOMBSTONE) => {
                    let len = frame.len();
                    let size = record_size(len as usize)
                        .filter(|&size| size <= room)
                        .ok_or(CorruptError {
                            what: "record length runs past the end of the ring",
                            value: u64::from(len),
                        })?;
                    if kind == DATA {
                        shared.access.read(frame.idx);
                        if self.crc {
                            // SAFETY: size <= room, checked above; the
                            // record is published and ours until release.
                            let payload = unsafe { frame.payload_slice(len as usize) };
                            if super::checksum(self.head, payload) != frame.crc() {
                                return Err(CorruptError {
                                    what: "record checksum mismatch",
                                    value: self.head,
                                });
                            }
                        }
                        return Ok(Some(len));
                    }
                    self.peer.freeing(self.head, size);
                    zero(shared, self.head, size);
                    self.advance(size);
                }
                _ => {
                    return Err(CorruptError {
                        what: "record stamp has an unknown type",
                        value: stamp,
                    })
                }
            }
        }
    }

    /// As `front`, and when nothing is committed at `head`: whether every
    /// producer is gone (looked at no more often than `peer::CHECK_INTERVAL`;
    /// reaping buries the claims dead producers left, which may make the
    /// head readable).
    fn front_or_gone(&mut self) -> Result<Option<u32>, PopError> {
        if let Some(len) = self.front()? {
            return Ok(Some(len));
        }
        if !(self.peer.tick() && self.peer.gone_now_at(Role::Producer, Some(self.head))) {
            return Ok(None);
        }
        match self.front()? {
            Some(len) => {
                // Reaping buried what we waited at: report the death once drained.
                self.peer.unreport();
                Ok(Some(len))
            }
            None => Err(PopError::PeerGone),
        }
    }

    /// As `front`, waiting on the data event until `deadline`, in slices
    /// (`peer::wait_sliced`) that look at the producers' liveness (and bury
    /// dead ones' claims); a poisoned ring ends the wait, and `front`
    /// reports it.
    fn front_until(&mut self, deadline: Option<Instant>) -> Result<u32, Waited> {
        loop {
            if let Some(len) = self.front().map_err(Waited::Corrupt)? {
                return Ok(len);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Waited::Timeout);
            }
            let this = &*self;
            let shared = &this.ring.shared;
            let frame = Frame::of(shared, this.head);
            match peer::wait_sliced(
                &shared.header().data_event,
                ringway_sync::Barrier::Symmetric,
                this.strategy,
                deadline,
                &this.peer.looks,
                || this.ring.shared.deaths(Role::Producer),
                |on| this.peer.note_wait(WAIT_DATA, on),
                // Acquire: as in `front` (which re-reads it).
                || {
                    (frame.stamp.load(Ordering::Acquire) != 0 || this.ring.check_poison().is_err())
                        .then_some(())
                },
                || this.peer.gone_at(Role::Producer, Some(this.head)),
                || this.peer.unreport(),
            ) {
                Ok(()) | Err(Waited::Timeout) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Frees the data record of `len` bytes at `head` (checked by `front`),
    /// and a padding record right behind it, so that a producer waiting for
    /// the start of the ring gets it without another read.
    fn release(&mut self, len: u32) {
        if self.peer.is_fork_copy() {
            // A record that a `fork` copied: the parent frees it.
            return;
        }
        let size = record_size(len as usize).unwrap_or(RECORD_HEADER);
        let shared = &self.ring.shared;
        let mut advance = size;
        let next = Frame::of(shared, self.head + size);
        // Acquire: as in `front`.
        let padding = next.stamp.load(Ordering::Acquire) == (self.head + size) | PADDING;
        if padding {
            advance += self.capacity - next.idx as u64;
        }
        self.peer.freeing(self.head, advance);
        zero(shared, self.head, size);
        if padding {
            zero(shared, self.head + size, RECORD_HEADER);
        }
        self.advance(advance);
    }

    /// Moves `head` on by `size` bytes we have zeroed and wakes producers.
    fn advance(&mut self, size: u64) {
        self.head += size;
        let header = self.ring.shared.header();
        // Release: our reads and zeroing of the bytes below head happen before
        // a producer writes them; pairs with the Acquire load of head in
        // `ProducerCore::fits`.
        header
            .head
            .store(self.head, ordering!(Release, "record_release_relaxed"));
        self.peer.settled();
        header.space_event.notify();
    }

    /// Copies the first `out.len()` payload bytes of the data record at
    /// `head` (`front` checked that it holds at least that many) with
    /// volatile loads (`crate::copy`): a private snapshot to parse from.
    fn copy_payload(&self, out: &mut [u8]) {
        let frame = Frame::of(&self.ring.shared, self.head);
        // SAFETY: as in `payload`, for `out.len()` <= the record's length
        // (the callers pass its length); `out` is the caller's own memory.
        unsafe { crate::copy::copy_out(frame.payload(), out.as_mut_ptr(), out.len()) };
    }

    fn payload(&self, len: u32) -> &[u8] {
        let frame = Frame::of(&self.ring.shared, self.head);
        // SAFETY: `front` checked that the record's header and len payload
        // bytes end inside the lap; the record is ours until `release`: its
        // producer published it, and no producer writes these bytes again
        // before our Release store of a head past them.
        unsafe { core::slice::from_raw_parts(frame.payload(), len as usize) }
    }
}

impl Drop for ConsumerCore {
    fn drop(&mut self) {
        self.ring.release_role(Role::Consumer, &self.peer);
    }
}

/// The one consumer of a record ring. `Send`, not `Sync`.
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<ringway::record::Consumer>();
/// ```
#[derive(Debug)]
pub struct Consumer {
    core: ConsumerCore,
    /// `Send`, not `Sync`: one thread uses a handle at a time.
    _not_sync: PhantomData<Cell<()>>,
}

impl Consumer {
    /// Takes the consumer role of a record ring; it continues from the
    /// ring's `head`.
    ///
    /// # Errors
    /// [`HandleError::WrongKind`] for another kind, `RoleTaken` when another
    /// consumer holds the role, `Corrupt` for impossible cursors.
    pub fn attach(ring: &Ring) -> Result<Consumer, HandleError> {
        Ok(Consumer {
            core: ConsumerCore::attach(ring)?,
            _not_sync: PhantomData,
        })
    }

    /// Lends the next record in place; it is freed when the [`Record`] is
    /// dropped.
    ///
    /// # Errors
    /// [`PopError::Empty`] when no record is committed at the head (a
    /// producer may be filling it); [`PopError::PeerGone`] when, besides,
    /// every producer is gone and the last one died (reported once; the
    /// claims dead producers left are buried on the way, see
    /// [`heal_dead_producers`](Self::heal_dead_producers)); `Corrupt` for a
    /// stamp or length no honest producer writes.
    pub fn try_read(&mut self) -> Result<Record<'_>, PopError> {
        match self.core.front_or_gone()? {
            Some(len) => Ok(Record {
                core: &mut self.core,
                len,
            }),
            None => Err(PopError::Empty),
        }
    }

    /// As [`try_read`](Self::try_read), waiting as long as it takes (in
    /// slices of `peer::LIVENESS_SLICE`, looking at the producers' liveness
    /// and burying dead ones' claims between two).
    ///
    /// # Errors
    /// `PeerGone` and `Corrupt` as `try_read` (never `Timeout`).
    pub fn read_blocking(&mut self) -> Result<Record<'_>, PopTimeoutError> {
        self.read_until(None)
    }

    /// As [`try_read`](Self::try_read), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`PopTimeoutError::Timeout`]; `PeerGone` and `Corrupt` as `try_read`.
    pub fn read_timeout(&mut self, timeout: Duration) -> Result<Record<'_>, PopTimeoutError> {
        self.read_until(deadline_after(timeout))
    }

    /// As [`try_read`](Self::try_read), waiting until `deadline`.
    ///
    /// # Errors
    /// As [`read_timeout`](Self::read_timeout).
    pub fn read_deadline(&mut self, deadline: Instant) -> Result<Record<'_>, PopTimeoutError> {
        self.read_until(Some(deadline))
    }

    fn read_until(&mut self, deadline: Option<Instant>) -> Result<Record<'_>, PopTimeoutError> {
        let len = self.core.front_until(deadline).map_err(Waited::into_pop)?;
        Ok(Record {
            core: &mut self.core,
            len,
        })
    }

    /// Whether a record is ready to read now (padding and tombstones at the
    /// head are skipped on the way).
    ///
    /// # Errors
    /// `Corrupt` as [`try_read`](Self::try_read).
    pub fn has_record(&mut self) -> Result<bool, CorruptError> {
        Ok(self.core.front()?.is_some())
    }

    /// Copies the next record out and frees it.
    ///
    /// # Errors
    /// As [`try_read`](Self::try_read).
    pub fn try_pop_vec(&mut self) -> Result<Vec<u8>, PopError> {
        let len = self.core.front_or_gone()?.ok_or(PopError::Empty)?;
        let mut out = vec![0u8; len as usize];
        self.core.copy_payload(&mut out);
        self.core.release(len);
        Ok(out)
    }

    /// Reads the next record as a `T` and frees it.
    ///
    /// # Errors
    /// As [`try_read`](Self::try_read), and [`PopError::Size`] when the
    /// record is not `size_of::<T>()` bytes long (the record stays unread).
    pub fn try_pop_value<T: Pod>(&mut self) -> Result<T, PopError> {
        let len = self.core.front_or_gone()?.ok_or(PopError::Empty)?;
        let want = core::mem::size_of::<T>();
        if len as usize != want {
            return Err(PopError::Size {
                expected: want,
                found: len as usize,
            });
        }
        let mut value = T::zeroed();
        self.core.copy_payload(bytemuck::bytes_of_mut(&mut value));
        self.core.release(len);
        Ok(value)
    }

    /// Reaps the producers whose processes died (their peer-table entries),
    /// turning the claims they left in flight into tombstones so that
    /// reading goes on past them. Returns how many it reaped. The reading
    /// calls do this on their own when they find nothing at the head (at
    /// most every `peer::CHECK_INTERVAL`); this is the explicit form.
    ///
    /// A claim is buried only if it lies between our head and `tail`, its
    /// stamp is still 0 (by CAS: a record the producer committed before it
    /// died is delivered) and no live producer's record names it (see
    /// `record::heal`).
    ///
    /// # Errors
    /// The forked error ([`CorruptError::is_forked`]) in a `fork`ed copy;
    /// `Corrupt` is otherwise reserved for an impossible table.
    pub fn heal_dead_producers(&mut self) -> Result<usize, CorruptError> {
        self.core.peer.check_fork()?;
        Ok(self
            .core
            .peer
            .reap_dead(Role::Producer, Some(self.core.head)))
    }

    /// Position of the next record (bytes since the ring was created).
    pub fn position(&self) -> u64 {
        self.core.head
    }

    /// How the blocking calls wait for data.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.core.strategy = strategy;
    }

    /// The ring this consumer reads.
    pub fn ring(&self) -> &Ring {
        &self.core.ring
    }
}

/// A record lent in place; dropping it (or [`release`](Self::release))
/// frees its bytes for the producers.
///
/// The bytes lent in place may change under you if a peer writes them (an
/// honest producer does not): pass them on, and parse from a copy
/// ([`Consumer::try_pop_vec`], [`Consumer::try_pop_value`] copy with
/// volatile loads, each byte once).
#[derive(Debug)]
pub struct Record<'a> {
    core: &'a mut ConsumerCore,
    len: u32,
}

impl Record<'_> {
    /// The record's byte position since the ring was created.
    pub fn position(&self) -> u64 {
        self.core.head
    }

    /// Frees the record.
    pub fn release(self) {
        drop(self);
    }
}

impl core::ops::Deref for Record<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.core.payload(self.len)
    }
}

impl Drop for Record<'_> {
    fn drop(&mut self) {
        self.core.release(self.len);
    }
}
