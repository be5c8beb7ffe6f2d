//! Per-source sequence numbers on the receiving side: which message comes
//! next from each source, and what a jump means.
//!
//! | seen from a source | verdict                                   |
//! |--------------------|-------------------------------------------|
//! | first message, seq `s` | [`Verdict::First`] (nothing before `s` was seen by this process) |
//! | the expected seq   | [`Verdict::Next`]                         |
//! | above the expected | [`Verdict::Gap`]: `expected..seq` were lost |
//! | below the expected | [`Verdict::Duplicate`]: already delivered (a restarted sender resends what it had not released) |
//!
//! A source's id is chosen by the sender (`out`); the receiver trusts it only
//! to group numbers, never to index anything.

use std::collections::HashMap;

/// What one received sequence number means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The first message from this source seen by this receiver.
    First,
    /// The next message, in order.
    Next,
    /// Messages `from..to` (half-open) never arrived; this one is `to`.
    Gap {
        /// First lost sequence number.
        from: u64,
        /// This message's sequence number (one past the last lost).
        to: u64,
    },
    /// A message at or below one already delivered: drop it.
    Duplicate,
}

/// The next expected sequence number of every source seen.
#[derive(Debug, Default)]
pub struct Tracker {
    next: HashMap<u64, u64>,
}

impl Tracker {
    /// A tracker that has seen nothing.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Classifies message `seq` from `source`, and (unless it is a
    /// duplicate) records it as delivered.
    pub fn observe(&mut self, source: u64, seq: u64) -> Verdict {
        match self.next.get_mut(&source) {
            None => {
                self.next.insert(source, seq.wrapping_add(1));
                Verdict::First
            }
            Some(next) if seq == *next => {
                *next = seq.wrapping_add(1);
                Verdict::Next
            }
            Some(next) if seq > *next => {
                let from = *next;
                *next = seq.wrapping_add(1);
                Verdict::Gap { from, to: seq }
            }
            Some(_) => Verdict::Duplicate,
        }
    }

    /// The next sequence number expected from `source` (0 for one never seen).
    pub fn next(&self, source: u64) -> u64 {
        self.next.get(&source).copied().unwrap_or(0)
    }

    /// Sources seen.
    pub fn sources(&self) -> usize {
        self.next.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_then_gap_then_duplicates() {
        let mut t = Tracker::new();
        assert_eq!(t.observe(7, 0), Verdict::First);
        assert_eq!(t.observe(7, 1), Verdict::Next);
        assert_eq!(t.observe(7, 5), Verdict::Gap { from: 2, to: 5 });
        assert_eq!(t.observe(7, 3), Verdict::Duplicate);
        assert_eq!(t.observe(7, 5), Verdict::Duplicate);
        assert_eq!(t.observe(7, 6), Verdict::Next);
        assert_eq!(t.next(7), 7);
        assert_eq!(t.next(8), 0);
    }

    #[test]
    fn sources_are_independent() {
        let mut t = Tracker::new();
        assert_eq!(t.observe(1, 10), Verdict::First);
        assert_eq!(t.observe(2, 0), Verdict::First);
        assert_eq!(t.observe(1, 11), Verdict::Next);
        assert_eq!(t.observe(2, 2), Verdict::Gap { from: 1, to: 2 });
        assert_eq!(t.sources(), 2);
    }
}
