//! A broadcast subscriber: copy a record out, check it was not lapped
//! meanwhile, deliver or resume at the oldest intact record.

use core::cell::Cell;
use core::marker::PhantomData;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ringway_sync::WaitStrategy;

use super::check_kind;
use super::words::{meta, payload_word, room, size_within, stamp};
use crate::error::{CorruptError, HandleError, PopError, PopTimeoutError, Role, Waited};
use crate::layout::FLAG_GATED;
use crate::loom::{fence, ordering, Ordering};
use crate::peer::{self, Peer, WAIT_DATA};
use crate::record::{DATA, PADDING, TOMBSTONE};
use crate::ring::Ring;

/// Where a new subscriber starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// At the oldest record still in the ring.
    Oldest,
    /// With the newest record already written (the same as `Back(1)`).
    Newest,
    /// With the last `k` records already written (fewer if the ring holds
    /// fewer).
    Back(usize),
    /// With the next record written after attaching.
    Next,
}

/// What [`Subscriber::try_pop_into`] received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// Bytes of the record (now in the buffer).
    pub len: usize,
    /// The producer's sequence number of the record (its low 32 bits).
    pub seq: u32,
    /// Records this subscriber missed just before this one because the
    /// producer lapped it.
    pub missed: u64,
}

/// What one look at the cursor found.
enum Look {
    /// A whole data record, copied out.
    Data { len: usize, seq: u32 },
    /// Nothing new.
    Nothing,
}

fn corrupt(what: &'static str, value: u64) -> CorruptError {
    CorruptError { what, value }
}

/// A subscriber of a broadcast ring. `Send`, not `Sync`.
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<ringway::broadcast::Subscriber>();
/// ```
#[derive(Debug)]
pub struct Subscriber {
    ring: Ring,
    /// Our entry in the peer table; it holds our cursor (`claim_pos`) for
    /// the gated producer.
    peer: Peer,
    /// Position of the next record to read. A multiple of 16.
    pos: u64,
    /// Sequence number the next data record should have, once known.
    expected: Option<u32>,
    missed: u64,
    capacity: u64,
    gated: bool,
    strategy: WaitStrategy,
    _not_sync: PhantomData<Cell<()>>,
}

impl Subscriber {
    /// Subscribes to a broadcast ring, starting at `start`.
    ///
    /// In gated mode the producer waits for this subscriber from the moment
    /// it is registered (its cursor starts at 0, the most conservative
    /// value, until the start position is found).
    ///
    /// # Errors
    /// [`HandleError::WrongKind`] for another kind, `TooManyPeers` when
    /// the peer table is full (62 handles), `Corrupt` for impossible
    /// cursors.
    pub fn attach(ring: &Ring, start: Start) -> Result<Subscriber, HandleError> {
        check_kind(ring)?;
        let peer = Peer::register(ring, Role::Consumer)?;
        let mut sub = Subscriber {
            ring: ring.clone(),
            peer,
            pos: 0,
            expected: None,
            missed: 0,
            capacity: ring.capacity(),
            gated: ring.identity().flags & FLAG_GATED != 0,
            strategy: WaitStrategy::default(),
            _not_sync: PhantomData,
        };
        let k = match start {
            Start::Oldest => usize::MAX,
            Start::Newest => 1,
            Start::Back(k) => k,
            Start::Next => 0,
        };
        let (pos, expected) = sub.locate(k)?;
        sub.pos = pos;
        sub.expected = expected;
        sub.publish_cursor();
        Ok(sub)
    }

    /// The producer's `oldest` (the oldest intact record).
    fn oldest(&self) -> Result<u64, CorruptError> {
        // Acquire: pairs with the producer's Release store of tail that
        // follows its store of head; for a joiner, any recent value will do.
        let oldest = self.ring.shared.header().head.load(Ordering::Acquire);
        if oldest % 16 != 0 {
            return Err(corrupt(
                "broadcast oldest position is not a multiple of 16",
                oldest,
            ));
        }
        Ok(oldest)
    }

    /// Walks from the oldest record to the newest and returns the position
    /// of the `k`-th last (the end for 0, the oldest for `usize::MAX`) and
    /// the sequence number the record there will have, when it is known.
    /// Starts over if lapped meanwhile.
    fn locate(&mut self, k: usize) -> Result<(u64, Option<u32>), CorruptError> {
        let mut last = VecDeque::with_capacity(k.min(1024));
        let mut walked_from = None;
        'walk: loop {
            last.clear();
            let oldest = self.oldest()?;
            // A lap means the producer overwrote a record we walked past, so
            // it moved `oldest` beyond it first (it stores head before tail):
            // a walk that is lapped again from the same `oldest` faces cursors
            // no producer left (tail more than a lap ahead of oldest), and
            // would restart forever (found by the fuzz `open` target).
            if walked_from.is_some_and(|from| oldest <= from) {
                return Err(corrupt(
                    "broadcast producer lapped the join walk without moving oldest",
                    oldest,
                ));
            }
            walked_from = Some(oldest);
            let mut first = None;
            let mut next_seq = None;
            let mut pos = oldest;
            loop {
                match self.step(pos)? {
                    Step::Lapped => continue 'walk,
                    Step::End => break,
                    Step::Skip(size) => pos = advance(pos, size)?,
                    Step::Record(size, seq) => {
                        first.get_or_insert((pos, seq));
                        next_seq = Some(seq.wrapping_add(1));
                        if k > 0 && k != usize::MAX {
                            if last.len() == k {
                                last.pop_front();
                            }
                            last.push_back((pos, seq));
                        }
                        pos = advance(pos, size)?;
                    }
                }
            }
            if next_seq.is_none() && pos == 0 {
                // Nothing was ever written: the first record is number 0.
                next_seq = Some(0);
            }
            return Ok(match k {
                usize::MAX => first.map_or((oldest, next_seq), |(_, seq)| (oldest, Some(seq))),
                _ => last
                    .front()
                    .map_or((pos, next_seq), |&(pos, seq)| (pos, Some(seq))),
            });
        }
    }

    /// Reads the header at `pos` (for the join walk), checking for a lap.
    fn step(&self, pos: u64) -> Result<Step, CorruptError> {
        let shared = &self.ring.shared;
        // Acquire: as in `look`.
        let s = stamp(shared, pos).load(Ordering::Acquire);
        let m = meta(shared, pos).load(Ordering::Relaxed);
        let step = match s.wrapping_sub(pos) {
            PADDING => Step::Skip(room(pos, self.capacity)),
            kind @ (DATA | TOMBSTONE) => match size_within(pos, m as u32, self.capacity) {
                Some(size) if kind == DATA => Step::Record(size, (m >> 32) as u32),
                Some(size) => Step::Skip(size),
                None => Step::Lapped, // torn, or corrupt: the check decides
            },
            _ => Step::End,
        };
        if self.lapped(pos) {
            return Ok(Step::Lapped);
        }
        match step {
            Step::Lapped => Err(corrupt("broadcast record length runs past the ring", m)),
            other => Ok(other),
        }
    }

    /// The seqlock check: whether the producer has announced bytes that
    /// overlap the record at `pos`.
    #[inline]
    fn lapped(&self, pos: u64) -> bool {
        // Acquire fence: if anything read before it was written after an
        // announcement, the announcement is visible to the load below;
        // pairs with the producer's fence(Release) after announcing.
        if !cfg!(ringway_mutation = "broadcast_check_no_fence") {
            fence(Ordering::Acquire);
        }
        // Acquire: pairs with the producer's Release store of tail, so the
        // `oldest` stored before it is visible to `resume`.
        let tail = self.ring.shared.header().tail.load(Ordering::Acquire);
        // `tail > pos + capacity` without overflow for hostile positions.
        tail.saturating_sub(self.capacity) > pos
    }

    /// `look` (which looks at the poison flag first), with the truncation
    /// error in place of any other once the ring is poisoned (a value read
    /// from the zero pages the SIGBUS handler mapped).
    fn look_checked(&mut self, buf: &mut Vec<u8>) -> Result<Look, CorruptError> {
        // A `fork`ed copy reads nothing (it would publish the parent's
        // cursor in gated mode).
        self.peer.check_fork()?;
        self.look(buf).map_err(|e| self.ring.explain(e))
    }

    /// One look at the cursor: copies a data record into `buf`, skips
    /// padding and tombstones, resumes after a lap.
    fn look(&mut self, buf: &mut Vec<u8>) -> Result<Look, CorruptError> {
        // A truncation caught by the SIGBUS handler fails every operation.
        self.ring.check_poison()?;
        loop {
            let shared = &self.ring.shared;
            let pos = self.pos;
            // Acquire: pairs with the producer's Release store of the stamp:
            // the meta and payload words written before it are visible.
            let s = stamp(shared, pos).load(ordering!(Acquire, "broadcast_read_stamp_relaxed"));
            let kind = s.wrapping_sub(pos);
            if !matches!(kind, DATA | PADDING | TOMBSTONE) {
                if self.lapped(pos) {
                    self.resume()?;
                    continue;
                }
                return Ok(Look::Nothing);
            }
            // Relaxed: inside the seqlock.
            let m = meta(shared, pos).load(Ordering::Relaxed);
            let (len, seq) = (m as u32, (m >> 32) as u32);
            let size = match kind {
                PADDING => Some(room(pos, self.capacity)),
                _ => size_within(pos, len, self.capacity),
            };
            if kind == DATA && size.is_some() {
                let words = (len as usize).div_ceil(8);
                buf.clear();
                buf.resize(words * 8, 0);
                for (i, out) in buf.chunks_exact_mut(8).enumerate() {
                    // Relaxed: inside the seqlock.
                    let w = payload_word(shared, pos, i as u64).load(Ordering::Relaxed);
                    out.copy_from_slice(&w.to_le_bytes());
                }
                buf.truncate(len as usize);
            }
            if self.lapped(pos) {
                self.resume()?;
                continue;
            }
            let size = size.ok_or(corrupt("broadcast record length runs past the ring", m))?;
            self.pos = advance(pos, size)?;
            self.publish_cursor();
            if kind == DATA {
                return Ok(Look::Data {
                    len: len as usize,
                    seq,
                });
            }
        }
    }

    /// After a lap: continue at the oldest intact record.
    fn resume(&mut self) -> Result<(), CorruptError> {
        let oldest = self.oldest()?;
        if oldest <= self.pos {
            return Err(corrupt(
                "broadcast producer lapped a subscriber without moving oldest",
                oldest,
            ));
        }
        self.pos = oldest;
        self.publish_cursor();
        Ok(())
    }

    fn publish_cursor(&self) {
        let header = self.ring.shared.header();
        // Release: our copies of the records below pos happen before the
        // gated producer overwrites them; pairs with its Acquire load in
        // `ProducerCore::slowest`.
        self.peer
            .entry()
            .claim_pos
            .store(self.pos, ordering!(Release, "broadcast_cursor_relaxed"));
        if self.gated {
            header.space_event.notify();
        }
    }

    fn deliver(&mut self, len: usize, seq: u32) -> Received {
        let missed = match self.expected {
            Some(e) => u64::from(seq.wrapping_sub(e)),
            None => 0,
        };
        self.missed += missed;
        self.expected = Some(seq.wrapping_add(1));
        Received { len, seq, missed }
    }

    /// Copies the next record into `buf` (replacing its contents).
    ///
    /// # Errors
    /// [`PopError::Empty`] when there is no new record;
    /// [`PopError::PeerGone`] when, besides, the producer died (and no new
    /// one took its role over; reported once, as in `peer`); `Corrupt` for
    /// impossible positions or lengths (a lap is not an error: it shows as
    /// [`Received::missed`]).
    pub fn try_pop_into(&mut self, buf: &mut Vec<u8>) -> Result<Received, PopError> {
        match self.look_checked(buf)? {
            Look::Data { len, seq } => Ok(self.deliver(len, seq)),
            Look::Nothing if self.peer.tick() && self.peer.gone_now(Role::Producer) => {
                // Whatever the producer wrote before it died counts first.
                match self.look_checked(buf)? {
                    Look::Data { len, seq } => {
                        self.peer.unreport();
                        Ok(self.deliver(len, seq))
                    }
                    Look::Nothing => Err(PopError::PeerGone),
                }
            }
            Look::Nothing => Err(PopError::Empty),
        }
    }

    /// As [`try_pop_into`](Self::try_pop_into), waiting as long as it takes
    /// (in slices of `peer::LIVENESS_SLICE`, looking at the producer's
    /// liveness between two).
    ///
    /// # Errors
    /// `PeerGone` and `Corrupt` as `try_pop_into` (never `Timeout`).
    pub fn pop_blocking_into(&mut self, buf: &mut Vec<u8>) -> Result<Received, PopTimeoutError> {
        self.pop_until(buf, None)
    }

    /// As [`try_pop_into`](Self::try_pop_into), waiting at most `timeout`.
    ///
    /// # Errors
    /// [`PopTimeoutError::Timeout`]; `PeerGone` and `Corrupt` as `try_pop_into`.
    pub fn pop_timeout_into(
        &mut self,
        buf: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<Received, PopTimeoutError> {
        self.pop_until(buf, Instant::now().checked_add(timeout))
    }

    /// As [`try_pop_into`](Self::try_pop_into), waiting until `deadline`.
    ///
    /// # Errors
    /// As [`pop_timeout_into`](Self::pop_timeout_into).
    pub fn pop_deadline_into(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<Received, PopTimeoutError> {
        self.pop_until(buf, Some(deadline))
    }

    fn pop_until(
        &mut self,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<Received, PopTimeoutError> {
        loop {
            if let Look::Data { len, seq } = self.look_checked(buf)? {
                return Ok(self.deliver(len, seq));
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(PopTimeoutError::Timeout);
            }
            let this = &*self;
            let (shared, pos, capacity) = (&this.ring.shared, this.pos, this.capacity);
            // The producer's liveness is looked at after each slice of the
            // wait (`peer::wait_sliced`); a poisoned ring ends the wait, and
            // `look` reports it.
            match peer::wait_sliced(
                &shared.header().data_event,
                ringway_sync::Barrier::Symmetric,
                this.strategy,
                deadline,
                &this.peer.looks,
                || this.ring.shared.deaths(Role::Producer),
                |on| this.peer.note_wait(WAIT_DATA, on),
                || {
                    // Acquire: as in `look` (which re-reads both).
                    let s = stamp(shared, pos).load(Ordering::Acquire);
                    let tail = shared.header().tail.load(Ordering::Acquire);
                    (s & !15 == pos && s != pos
                        || tail.saturating_sub(capacity) > pos
                        || this.ring.check_poison().is_err())
                    .then_some(())
                },
                || this.peer.gone(Role::Producer),
                || this.peer.unreport(),
            ) {
                Ok(()) | Err(Waited::Timeout) => {}
                Err(e) => return Err(e.into_pop()),
            }
        }
    }

    /// Records missed to laps since attaching.
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Position of the next record (bytes since the ring was created).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// How the blocking calls wait for data.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// The ring this subscriber reads.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }
}

impl Drop for Subscriber {
    /// In gated mode, stops gating the producer before the entry is freed
    /// and wakes it: a producer parked on this subscriber would otherwise
    /// notice only at its next liveness period (20 ms). A `fork`ed copy of
    /// the subscriber leaves the parent's cursor alone.
    fn drop(&mut self) {
        if self.gated && self.peer.owned() {
            // Release: as in `publish_cursor`; our copies are done.
            self.peer
                .entry()
                .claim_pos
                .store(u64::MAX, ordering!(Release, "broadcast_cursor_relaxed"));
            self.ring.shared.header().space_event.notify();
        }
    }
}

/// One header of the join walk.
enum Step {
    Record(u64, u32),
    Skip(u64),
    End,
    Lapped,
}

/// `pos + size`, or a corrupt error when a hostile position would wrap the
/// 64-bit byte count.
fn advance(pos: u64, size: u64) -> Result<u64, CorruptError> {
    pos.checked_add(size)
        .ok_or_else(|| corrupt("broadcast position overflows 64 bits", pos))
}
