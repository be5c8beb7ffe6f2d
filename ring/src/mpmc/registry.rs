//! The pid-only producer table in the header: one entry per live record-ring
//! producer or broadcast subscriber, for `record`'s healer and the broadcast
//! producer's eviction to find claims / readers that a dead process left.
//! MPMC (and SPSC) handles register in the peer table instead (`peer`, with
//! OFD-lock liveness); moving these two kinds there too is open work (#11
//! merge notes).
//!
//! An entry is taken by CAS of its `pid` from 0 to ours, and given back by
//! CAS from ours to 0 on drop. While a claim is in flight the holder records
//! its first position and length (`claim_len` 0 means none). These are
//! Relaxed stores: the only reader that acts on them is a reaper that has
//! established that the holder process is dead, and a process's exit (seen
//! through `kill`/`/proc`, system calls that are full barriers) orders all
//! its stores before the reaper's loads. Live processes only display them.
//!
//! There is a window between the claim (the CAS on `tail`) and the record: a
//! producer killed inside it leaves an unrecorded claim, which a reaper has
//! to find by scanning the stamps between `head` and `tail`.

use crate::error::HandleError;
use crate::layout::{ProducerEntry, PRODUCER_TABLE_LEN};
use crate::loom::Ordering;
use crate::process;
use crate::ring::Ring;

/// The order in which `register` tries entries: entries are 32 bytes, four to
/// a 128-byte line, so the first eight producers get a line each and do not
/// share one for their claim records.
fn probe_order() -> impl Iterator<Item = usize> {
    const PER_LINE: usize = 4;
    const LINES: usize = PRODUCER_TABLE_LEN / PER_LINE;
    (0..PRODUCER_TABLE_LEN).map(|k| (k % LINES) * PER_LINE + k / LINES)
}

/// A taken entry of the producer table, given back on drop.
#[derive(Debug)]
pub(crate) struct Registration {
    ring: Ring,
    index: usize,
    pid: u32,
}

impl Registration {
    /// Takes a free entry.
    pub(crate) fn register(ring: &Ring) -> Result<Registration, HandleError> {
        let pid = process::current_pid();
        let table = &ring.shared.header().producers;
        for index in probe_order() {
            let entry = &table[index];
            // Relaxed pre-check: only a hint to skip a CAS on a taken entry.
            if entry.pid.load(Ordering::Relaxed) != 0 {
                continue;
            }
            // Acquire on success: pairs with the Release CAS in `drop` of the
            // previous holder, so its last stores to this entry come before
            // ours in each field's modification order. Relaxed on failure:
            // we move on to the next entry.
            if entry
                .pid
                .compare_exchange(0, pid, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // Relaxed: reaper information, see the module docs.
                entry
                    .start_time
                    .store(process::current_start_time(), Ordering::Relaxed);
                entry.claim_len.store(0, Ordering::Relaxed);
                entry.claim_pos.store(0, Ordering::Relaxed);
                return Ok(Registration {
                    ring: ring.clone(),
                    index,
                    pid,
                });
            }
        }
        Err(HandleError::TooManyProducers)
    }

    /// The taken entry (the broadcast ring keeps a subscriber's cursor in it).
    pub(crate) fn entry(&self) -> &ProducerEntry {
        &self.ring.shared.header().producers[self.index]
    }

    /// Records the claim in flight.
    #[inline]
    pub(crate) fn claimed(&self, pos: u64, len: u64) {
        let entry = self.entry();
        // Relaxed: reaper information, see the module docs.
        entry.claim_pos.store(pos, Ordering::Relaxed);
        entry.claim_len.store(len, Ordering::Relaxed);
    }

    /// Records that no claim is in flight.
    #[inline]
    pub(crate) fn published(&self) {
        // Relaxed: reaper information, see the module docs.
        self.entry().claim_len.store(0, Ordering::Relaxed);
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let entry = self.entry();
        // Relaxed: reaper information, see the module docs.
        entry.claim_len.store(0, Ordering::Relaxed);
        entry.start_time.store(0, Ordering::Relaxed);
        // Release: orders our stores to the entry before the next holder's
        // Acquire CAS in `register`. Relaxed on failure: a reaper (or a
        // scribbler) freed the entry already; nothing to give back.
        let _ = entry
            .pid
            .compare_exchange(self.pid, 0, Ordering::Release, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_order_visits_every_entry_once_one_per_line_first() {
        let order: Vec<usize> = probe_order().collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..PRODUCER_TABLE_LEN).collect::<Vec<_>>());
        assert_eq!(&order[..8], &[0, 4, 8, 12, 16, 20, 24, 28]);
    }
}
