//! The slot-walk row: a second floor for the busy-polling round trip. Raw
//! stamped slots, no ring code: each direction walks 64 slots of 16 bytes
//! (stamp, payload) as a stamped SPSC ring of capacity 64 does, in the
//! probe's shm object, and both sides run the ring rows' own loops
//! (`work::ring_ping` / `work::ring_echo`). So the row costs what the ring
//! rows cost except the ring's code: the cache-line row's two fixed words
//! against this row is the cost of walking through slots (and of the
//! harness); this row against `ringway stamped` is the ring's own.
//!
//! ```text
//! probe object:  0     128   256   384   ...  1024            2048            3072
//!                ping0 pong0 ping1 pong1      ping walk       pong walk
//!                (lines.rs)                   64 x [stamp | payload], 16 bytes each
//! ```
//!
//! | atomic | written by | read by | ordering | partner |
//! |---|---|---|---|---|
//! | slot payload (+8) | sender, before the stamp | receiver, after the stamp | Relaxed | ordered by the stamp |
//! | slot stamp (+0) = position + 1 | sender, after the payload | receiver (polls the slot of its position) | Release / Acquire | each other |
//!
//! No flow control: at most one message is in flight in a ping-pong, so a
//! slot is never rewritten before it is read. It is a round-trip floor
//! only, never a queue; the calls a round trip does not make fail.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use ringway::WaitStrategy;

use super::lines::Lines;
use super::ringio::{U64Rx, U64Tx};
use crate::failure::{fail, Failure};

/// Slots per direction (as the round-trip rings' capacity).
const SLOTS: u64 = 64;
/// Bytes per slot: stamp and payload, as a stamped u64 ring's stride.
const STRIDE: usize = 16;
/// Offset of each direction's slots in the probe object.
const PING: usize = 1024;
const PONG: usize = 2048;
const _: () = assert!(PONG + SLOTS as usize * STRIDE <= super::lines::LEN);
const _: () = assert!(PING + SLOTS as usize * STRIDE <= PONG);

/// One direction: the slots and this side's position in them.
#[derive(Debug)]
pub(crate) struct Walk<'a> {
    lines: &'a Lines,
    base: usize,
    pos: u64,
}

impl<'a> Walk<'a> {
    /// The ping direction (the bench sends, the peer receives).
    pub(crate) fn ping(lines: &'a Lines) -> Self {
        Walk {
            lines,
            base: PING,
            pos: 0,
        }
    }

    /// The pong direction (the peer sends, the bench receives).
    pub(crate) fn pong(lines: &'a Lines) -> Self {
        Walk {
            lines,
            base: PONG,
            pos: 0,
        }
    }

    /// The (stamp, payload) words of the slot of our position.
    #[inline(always)]
    fn slot(&self) -> (&'a AtomicU64, &'a AtomicU64) {
        let lines: &'a Lines = self.lines;
        let at = self.base + (self.pos % SLOTS) as usize * STRIDE;
        (lines.walk_word(at), lines.walk_word(at + 8))
    }
}

fn not_a_queue() -> Failure {
    Failure("the slot walk is a round-trip floor, not a queue".into())
}

impl U64Tx for Walk<'_> {
    #[inline(always)]
    fn try_push(&mut self, v: u64) -> Result<bool, Failure> {
        let (stamp, payload) = self.slot();
        // Relaxed: published by the stamp store below.
        payload.store(v, Ordering::Relaxed);
        self.pos += 1;
        // Release: publishes the payload; pairs with the Acquire stamp
        // load in `try_pop`.
        stamp.store(self.pos, Ordering::Release);
        Ok(true)
    }
    fn push_slice(&mut self, _: &[u64]) -> Result<usize, Failure> {
        Err(not_a_queue())
    }
    fn push_deadline(&mut self, _: u64, _: Instant) -> Result<(), Failure> {
        Err(not_a_queue())
    }
    fn set_strategy(&mut self, _: WaitStrategy) {}
}

impl U64Rx for Walk<'_> {
    #[inline(always)]
    fn try_pop(&mut self) -> Result<Option<u64>, Failure> {
        let (stamp, payload) = self.slot();
        // Acquire: pairs with the Release stamp store in `try_push`.
        let s = stamp.load(Ordering::Acquire);
        if s != self.pos + 1 {
            // 0 (never written) or the stamp of the slot's previous lap.
            if s != 0 && s + SLOTS != self.pos + 1 {
                fail!("slot walk: stamp {s} at position {}", self.pos);
            }
            return Ok(None);
        }
        self.pos += 1;
        // Relaxed: ordered after the stamp load above.
        Ok(Some(payload.load(Ordering::Relaxed)))
    }
    fn pop_into(&mut self, _: &mut [u64]) -> Result<usize, Failure> {
        Err(not_a_queue())
    }
    fn pop_deadline(&mut self, _: Instant) -> Result<u64, Failure> {
        Err(not_a_queue())
    }
    fn set_strategy(&mut self, _: WaitStrategy) {}
}
