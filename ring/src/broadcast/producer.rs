//! The broadcast producer: announce, write, stamp; in gated mode, wait for
//! the slowest live subscriber first.

use core::cell::Cell;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

use ringway_sync::WaitStrategy;

use super::check_kind;
use super::words::{meta, payload_word, room, size_within, stamp};
use crate::error::{CorruptError, HandleError, PushError, PushTimeoutError, Role, Waited};
use crate::layout::FLAG_GATED;
use crate::loom::{fence, ordering, Ordering};
use crate::peer::{Liveness, Peer, ROLE_CONSUMER, ROLE_MASK, WAIT_SPACE};
use crate::record::{max_record_len, record_size, DATA, PADDING, RECORD_HEADER, TOMBSTONE};
use crate::ring::Ring;

/// How long a gated producer that waits for a lagging subscriber sleeps
/// between checks of the subscribers' liveness tokens (`peer`): the bound
/// on what a dead subscriber costs it.
const LIVENESS_PERIOD: Duration = Duration::from_millis(20);

#[derive(Debug)]
struct ProducerCore {
    ring: Ring,
    /// Our entry in the peer table; it holds the producer role.
    peer: Peer,
    /// End of the last record written (and announced). A multiple of 16.
    tail: u64,
    /// Position of the oldest record still intact.
    oldest: u64,
    /// Sequence number of the next data record (low 32 bits are stored).
    seq: u32,
    capacity: u64,
    gated: bool,
    /// Lowest subscriber cursor last seen (gated mode).
    cached_min: u64,
    strategy: WaitStrategy,
}

fn corrupt(what: &'static str, value: u64) -> CorruptError {
    CorruptError { what, value }
}

impl ProducerCore {
    fn attach(ring: &Ring) -> Result<ProducerCore, HandleError> {
        check_kind(ring)?;
        let peer = Peer::register(ring, Role::Producer)?;
        // Takes the role over from a dead holder; `recover` then buries
        // what it left half-written.
        ring.claim_role(Role::Producer, &peer, crate::layout::Kind::Broadcast)?;
        let mut core = ProducerCore {
            ring: ring.clone(),
            peer,
            tail: 0,
            oldest: 0,
            seq: 0,
            capacity: ring.capacity(),
            gated: ring.identity().flags & FLAG_GATED != 0,
            cached_min: 0,
            strategy: WaitStrategy::default(),
        };
        if let Err(e) = core.recover() {
            ring.release_role(Role::Producer, &core.peer);
            return Err(e.into());
        }
        Ok(core)
    }

    /// Continues where the last producer stopped: walks the records from
    /// `oldest` to find the end and the next sequence number, and buries
    /// a record a dead producer announced but never stamped.
    fn recover(&mut self) -> Result<(), CorruptError> {
        let shared = &self.ring.shared;
        let header = shared.header();
        // Acquire: pairs with the previous producer's Release store of tail;
        // its writes before it are visible (and the role's Acquire CAS
        // ordered us after its last store anyway).
        let tail = header.tail.load(Ordering::Acquire);
        // Relaxed: ordered by the load above.
        let oldest = header.head.load(Ordering::Relaxed);
        if tail % 16 != 0 || oldest % 16 != 0 || oldest > tail || tail - oldest > self.capacity {
            return Err(corrupt("broadcast ring cursors are inconsistent", tail));
        }
        let mut pos = oldest;
        while pos < tail {
            // Relaxed: our own role's earlier writes, ordered above.
            let s = stamp(shared, pos).load(Ordering::Relaxed);
            let m = meta(shared, pos).load(Ordering::Relaxed);
            let size = match s.wrapping_sub(pos) {
                PADDING => room(pos, self.capacity),
                kind @ (DATA | TOMBSTONE) if s & !15 == pos => {
                    if kind == DATA {
                        self.seq = (m >> 32) as u32 + 1;
                    }
                    size_within(pos, m as u32, self.capacity)
                        .ok_or(corrupt("broadcast record length runs past the ring", m))?
                }
                _ => break,
            };
            pos += size;
        }
        self.oldest = oldest;
        self.tail = pos;
        if pos < tail {
            // A producer died between announcing [pos, tail) and stamping it.
            let gap = tail - pos;
            if gap < RECORD_HEADER || gap > room(pos, self.capacity) {
                return Err(corrupt(
                    "broadcast ring has an impossible unfinished record",
                    gap,
                ));
            }
            meta(shared, pos).store(
                (gap - RECORD_HEADER) | u64::from(self.seq) << 32,
                Ordering::Relaxed,
            );
            // Release: as the stamp store in `write`.
            stamp(shared, pos).store(pos | TOMBSTONE, Ordering::Release);
            // A subscriber parked at `pos` steps over the tombstone, as
            // over padding (see `write`).
            header.data_event.notify();
            self.tail = tail;
        }
        Ok(())
    }

    /// Lowest cursor of the live subscribers (gated mode), evicting dead
    /// ones that lag behind `need` (reaping their peer entries) when
    /// `check_liveness`. `u64::MAX` when there are none.
    fn slowest(&self, need: u64, check_liveness: bool) -> u64 {
        let shared = &self.ring.shared;
        let mut min = u64::MAX;
        for (i, entry) in shared.peers().entries.iter().enumerate() {
            // Relaxed: a hint; an entry taken after this scan starts its
            // cursor at 0 and is seen by the next scan (see `Subscriber`).
            if entry.pid.load(Ordering::Relaxed) == 0
                || entry.info.load(Ordering::Relaxed) & ROLE_MASK != ROLE_CONSUMER
            {
                continue;
            }
            // Acquire: pairs with the subscriber's Release store of its
            // cursor: its copies of the records below happen before we
            // overwrite them.
            let cursor = entry
                .claim_pos
                .load(ordering!(Acquire, "broadcast_read_cursor_relaxed"));
            if cursor < need && check_liveness && shared.liveness(i) == Liveness::Dead {
                // Evicted: its entry is freed (or being freed by another
                // reaper); it no longer gates us either way.
                shared.reap(i, self.peer.lock());
                continue;
            }
            min = min.min(cursor);
        }
        min
    }

    /// Whether the bytes up to `end` may be written (gated mode: every
    /// live subscriber has read past `end - capacity`).
    fn has_room(&mut self, end: u64, check_liveness: bool) -> bool {
        let need = end.saturating_sub(self.capacity);
        if !self.gated || self.cached_min >= need {
            return true;
        }
        let min = self.slowest(need, check_liveness);
        // With no subscriber, the next push scans again.
        self.cached_min = if min == u64::MAX { need } else { min };
        self.cached_min >= need
    }

    /// Waits for room up to `end` (gated mode). When a wait of
    /// `LIVENESS_PERIOD` passes without room, checks that the lagging
    /// subscribers' processes are alive (evicting dead ones) and waits again.
    fn wait_room(&mut self, end: u64, deadline: Option<Instant>) -> Result<(), Waited> {
        loop {
            self.ring.check_poison().map_err(Waited::Corrupt)?;
            if self.has_room(end, false) {
                return Ok(());
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(Waited::Timeout);
            }
            let period = now + LIVENESS_PERIOD;
            let until = deadline.map_or(period, |d| d.min(period));
            let need = end.saturating_sub(self.capacity);
            let this = &*self;
            let waited = this.ring.shared.header().space_event.wait_noting(
                ringway_sync::Barrier::Symmetric,
                this.strategy,
                Some(until),
                |on| this.peer.note_wait(WAIT_SPACE, on),
                || (this.slowest(need, false) >= need).then_some(()),
            );
            if waited.is_err() && self.has_room(end, true) {
                return Ok(());
            }
        }
    }

    /// Moves `oldest` past every record that bytes up to `end` overwrite.
    fn retire(&mut self, end: u64) -> Result<(), CorruptError> {
        let shared = &self.ring.shared;
        let mut moved = false;
        while self.oldest + self.capacity < end {
            let pos = self.oldest;
            // Relaxed: our own earlier writes.
            let s = stamp(shared, pos).load(Ordering::Relaxed);
            let size = match s.wrapping_sub(pos) {
                PADDING => room(pos, self.capacity),
                DATA | TOMBSTONE => {
                    let m = meta(shared, pos).load(Ordering::Relaxed);
                    size_within(pos, m as u32, self.capacity)
                        .ok_or(corrupt("broadcast record length runs past the ring", m))?
                }
                _ => return Err(corrupt("broadcast record stamp was overwritten", s)),
            };
            self.oldest += size;
            moved = true;
        }
        if moved {
            // Relaxed: ordered before the announcement by its Release.
            shared.header().head.store(self.oldest, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Writes one record (or, first, padding), waiting for room in gated
    /// mode until `deadline` (`Some(None)` = forever, `None` = not at all).
    fn write(
        &mut self,
        record: &[u8],
        deadline: Option<Option<Instant>>,
    ) -> Result<(), PushTimeoutError<()>> {
        let too_long = PushTimeoutError::Size {
            expected: max_record_len(self.capacity),
            found: record.len(),
        };
        let size = match record_size(record.len()) {
            Some(size) if size <= self.capacity => size,
            _ => return Err(too_long),
        };
        // A `fork`ed copy of the handle writes nothing.
        self.peer.check_fork()?;
        // A truncation caught by the SIGBUS handler fails every operation.
        self.ring
            .check_poison()
            .map_err(PushTimeoutError::Corrupt)?;
        loop {
            // Again on every lap of the loop: a wait for room may have
            // come back from a truncated ring.
            self.ring
                .check_poison()
                .map_err(PushTimeoutError::Corrupt)?;
            let pos = self.tail;
            let padding = size > room(pos, self.capacity);
            let need = if padding {
                room(pos, self.capacity)
            } else {
                size
            };
            if !self.has_room(pos + need, false) {
                match deadline {
                    None => return Err(PushTimeoutError::Timeout(())),
                    Some(d) => match self.wait_room(pos + need, d) {
                        Ok(()) => {}
                        // Subscribers are not peers: a broadcast producer
                        // is never told its readers are gone.
                        Err(Waited::Timeout | Waited::PeerGone) => {
                            return Err(PushTimeoutError::Timeout(()))
                        }
                        Err(Waited::Corrupt(e)) => return Err(PushTimeoutError::Corrupt(e)),
                    },
                }
            }
            self.retire(pos + need)
                .map_err(|e| PushTimeoutError::Corrupt(self.ring.explain(e)))?;
            let shared = &self.ring.shared;
            let header = shared.header();
            // Release: orders the `oldest` store above before it, for a
            // lapped subscriber's Acquire load of tail.
            header
                .tail
                .store(pos + need, ordering!(Release, "broadcast_announce_relaxed"));
            // Release fence: the words written below are seen by a
            // subscriber only together with the announcement; pairs with the
            // subscriber's fence(Acquire) before its check of tail.
            if !cfg!(ringway_mutation = "broadcast_announce_no_fence") {
                fence(Ordering::Release);
            }
            self.tail = pos + need;
            if padding {
                meta(shared, pos).store(need - RECORD_HEADER, Ordering::Relaxed);
                // Release: as below.
                stamp(shared, pos).store(pos | PADDING, Ordering::Release);
                // A subscriber parked at `pos` must step over the padding:
                // in gated mode the record after it may need those bytes,
                // and we are about to wait for that subscriber. Without
                // this notify the two waited on each other (until the
                // subscriber's liveness slice ran out).
                if !cfg!(ringway_mutation = "broadcast_padding_no_notify") {
                    header.data_event.notify();
                }
                continue;
            }
            let words = record.chunks_exact(8);
            let rest = words.remainder();
            let full = words.len();
            for (i, chunk) in words.enumerate() {
                let mut word = [0u8; 8];
                word.copy_from_slice(chunk);
                // Relaxed: inside the seqlock (see the module docs).
                payload_word(shared, pos, i as u64)
                    .store(u64::from_le_bytes(word), Ordering::Relaxed);
            }
            if !rest.is_empty() {
                let mut word = [0u8; 8];
                word[..rest.len()].copy_from_slice(rest);
                // Relaxed: as above.
                payload_word(shared, pos, full as u64)
                    .store(u64::from_le_bytes(word), Ordering::Relaxed);
            }
            meta(shared, pos).store(
                record.len() as u64 | u64::from(self.seq) << 32,
                Ordering::Relaxed,
            );
            // Release: publishes the meta and payload words; pairs with the
            // subscriber's Acquire load of the stamp.
            stamp(shared, pos).store(pos | DATA, ordering!(Release, "broadcast_commit_relaxed"));
            self.seq = self.seq.wrapping_add(1);
            header.data_event.notify();
            return Ok(());
        }
    }
}

impl Drop for ProducerCore {
    fn drop(&mut self) {
        self.ring.release_role(Role::Producer, &self.peer);
    }
}

/// The one producer of a broadcast ring. `Send`, not `Sync`.
///
/// ```compile_fail
/// fn sync<T: Sync>() {}
/// sync::<ringway::broadcast::Producer>();
/// ```
#[derive(Debug)]
pub struct Producer {
    core: ProducerCore,
    _not_sync: PhantomData<Cell<()>>,
}

impl Producer {
    /// Takes the producer role of a broadcast ring. It continues after the
    /// last record written; a record a dead producer left half-written is
    /// turned into a tombstone.
    ///
    /// # Errors
    /// [`HandleError::WrongKind`] for another kind, `RoleTaken` when another
    /// producer holds the role, `Corrupt` for impossible cursors or records.
    pub fn attach(ring: &Ring) -> Result<Producer, HandleError> {
        Ok(Producer {
            core: ProducerCore::attach(ring)?,
            _not_sync: PhantomData,
        })
    }

    /// Whether the producer waits for subscribers (gated) or laps them (lossy).
    pub fn is_gated(&self) -> bool {
        self.core.gated
    }

    /// Largest record: the capacity less one header.
    pub fn max_len(&self) -> usize {
        max_record_len(self.core.capacity)
    }

    /// Sends `record` to every subscriber. In lossy mode it never fails
    /// for lack of room.
    ///
    /// # Errors
    /// [`PushError::Full`] (gated mode) when the slowest live subscriber
    /// has not read far enough; `Size` when the record is longer than
    /// [`max_len`](Self::max_len); `Corrupt` when the ring's records were
    /// overwritten by someone else.
    pub fn try_push(&mut self, record: &[u8]) -> Result<(), PushError<()>> {
        self.core.write(record, None).map_err(|e| match e {
            PushTimeoutError::Timeout(()) => PushError::Full(()),
            PushTimeoutError::Size { expected, found } => PushError::Size { expected, found },
            PushTimeoutError::Corrupt(e) => PushError::Corrupt(e),
            PushTimeoutError::PeerGone(()) => PushError::PeerGone(()),
        })
    }

    /// Sends `record`, waiting (gated mode) as long as it takes; a dead
    /// subscriber is evicted within about 20 ms.
    ///
    /// # Errors
    /// `Size` and `Corrupt` as [`try_push`](Self::try_push).
    pub fn push_blocking(&mut self, record: &[u8]) -> Result<(), PushTimeoutError<()>> {
        self.core.write(record, Some(None))
    }

    /// Sends `record`, waiting at most `timeout` for room.
    ///
    /// # Errors
    /// [`PushTimeoutError::Timeout`]; `Size` and `Corrupt` as `try_push`.
    pub fn push_timeout(
        &mut self,
        record: &[u8],
        timeout: Duration,
    ) -> Result<(), PushTimeoutError<()>> {
        self.core
            .write(record, Some(Instant::now().checked_add(timeout)))
    }

    /// Sends `record`, waiting until `deadline` for room.
    ///
    /// # Errors
    /// As [`push_timeout`](Self::push_timeout).
    pub fn push_deadline(
        &mut self,
        record: &[u8],
        deadline: Instant,
    ) -> Result<(), PushTimeoutError<()>> {
        self.core.write(record, Some(Some(deadline)))
    }

    /// How the blocking calls wait for room (gated mode).
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.core.strategy = strategy;
    }

    /// The ring this producer writes.
    pub fn ring(&self) -> &Ring {
        &self.core.ring
    }
}
