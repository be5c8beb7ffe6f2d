//! The per-slot sequence stamp: its encoding, and what a stamp read from
//! shared memory means to a producer or a consumer at a given position.
//!
//! A stamp is `lap << 2 | state`, where `lap = (pos >> log2(capacity))` masked
//! to 62 bits and `state` is [`FREE`], [`READY`], [`SKIP`] or [`CLAIMED`].
//! All-zero memory is lap 0, `FREE`: every slot free for its first
//! position, so a zero-filled mapping is an empty ring.

/// The slot may be written for the position of this lap.
pub(crate) const FREE: u64 = 0;
/// The slot holds a message for the position of this lap.
pub(crate) const READY: u64 = 1;
/// The slot was claimed for the position of this lap and published without a
/// message (its write chunk was dropped or committed partially); consumers
/// pass over it.
pub(crate) const SKIP: u64 = 2;
/// The position of this lap was claimed by a producer that has not
/// published it yet: stored into the first slot of a claim right after the
/// winning CAS of `tail`, so that a consumer that finds the slot at `head`
/// not ready tells `Busy` from `Empty` by the stamp alone (see the MPMC
/// module docs, "Empty, Busy").
pub(crate) const CLAIMED: u64 = 3;

const STATE_MASK: u64 = 3;
/// Laps are 62-bit numbers (they wrap after 2^62 laps, which no ring lives to see).
const LAP_MASK: u64 = u64::MAX >> 2;

/// Converts positions to laps and stamps for one ring.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamps {
    /// `log2(capacity)`; at least 1 since capacity >= 2.
    shift: u32,
}

/// What a stamp at the slot of position `pos` tells the side looking at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Claimable by this side at `pos` (free for a producer, ready or
    /// skipped for a consumer).
    Claimable,
    /// Not yet: the previous lap has not finished with the slot (producer:
    /// the ring is full here; consumer: the ring is empty here).
    Wait,
    /// The stamp is from a later position: the cursor we read is stale.
    Ahead,
    /// No honest peer writes this stamp here.
    Corrupt,
}

impl Stamps {
    pub(crate) fn new(capacity: u64) -> Stamps {
        debug_assert!(capacity.is_power_of_two() && capacity >= 2);
        Stamps {
            shift: capacity.trailing_zeros(),
        }
    }

    /// The lap of `pos`.
    #[inline]
    pub(crate) fn lap(self, pos: u64) -> u64 {
        (pos >> self.shift) & LAP_MASK
    }

    /// The stamp `state` for position `pos`.
    #[inline]
    pub(crate) fn at(self, pos: u64, state: u64) -> u64 {
        (self.lap(pos) << 2) | state
    }

    /// The stamp a consumer leaves after reading position `pos`: free for
    /// the position one lap later.
    #[inline]
    pub(crate) fn released(self, pos: u64) -> u64 {
        (((self.lap(pos) + 1) & LAP_MASK) << 2) | FREE
    }

    /// Lap distance of `stamp` from `pos`'s lap, as a signed number (wrapping,
    /// 62-bit), and the stamp's state.
    #[inline]
    fn split(self, pos: u64, stamp: u64) -> (i64, u64) {
        let d = ((stamp >> 2).wrapping_sub(self.lap(pos))) & LAP_MASK;
        // Sign-extend the 62-bit difference.
        let d = ((d << 2) as i64) >> 2;
        (d, stamp & STATE_MASK)
    }

    /// What `stamp` means to a producer about to claim `pos`.
    ///
    /// `FREE` of this lap is claimable. Any stamp of the previous lap means
    /// the slot's previous message is not yet written (`FREE`, `CLAIMED`)
    /// or not yet read: full. Any other stamp of this lap (`CLAIMED`, a
    /// message, skipped), or of a later lap, means someone already claimed
    /// `pos`: our cursor is stale. Anything else is impossible (a stamp only
    /// moves forward, and a producer that read `tail` with Acquire sees at
    /// least the stamp that let `pos - capacity` be claimed).
    #[inline]
    pub(crate) fn for_producer(self, pos: u64, stamp: u64) -> Seen {
        let (d, state) = self.split(pos, stamp);
        match (d, state) {
            (0, FREE) => Seen::Claimable,
            (-1, _) => Seen::Wait,
            (d, _) if d >= 0 => Seen::Ahead,
            _ => Seen::Corrupt,
        }
    }

    /// What `stamp` means to a consumer about to claim `pos`.
    ///
    /// `READY` or `SKIP` of this lap is claimable. `FREE` or `CLAIMED` of
    /// this lap (not yet written) or a message of the previous lap (not yet
    /// released) is a wait: empty, or busy ([`Stamps::busy`]). Anything of
    /// a later lap: our cursor is stale. `FREE` or `CLAIMED` of the previous
    /// lap is impossible (the consumer that claimed `pos - capacity` saw it
    /// ready), as is anything older.
    #[inline]
    pub(crate) fn for_consumer(self, pos: u64, stamp: u64) -> Seen {
        let (d, state) = self.split(pos, stamp);
        match (d, state) {
            (0, READY | SKIP) => Seen::Claimable,
            (0, FREE | CLAIMED) => Seen::Wait,
            (-1, READY | SKIP) => Seen::Wait,
            (d, _) if d >= 1 => Seen::Ahead,
            _ => Seen::Corrupt,
        }
    }

    /// Whether `stamp`, read at the slot of `pos` by a consumer that could
    /// not claim `pos`, says that a producer owns `pos` and has not
    /// published it (`CLAIMED` of `pos`'s lap): `PopError::Busy` rather than
    /// `Empty`.
    #[inline]
    pub(crate) fn busy(self, pos: u64, stamp: u64) -> bool {
        stamp == self.at(pos, CLAIMED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_free_for_the_first_lap() {
        let s = Stamps::new(8);
        for pos in 0..8 {
            assert_eq!(s.at(pos, FREE), 0);
            assert_eq!(s.for_producer(pos, 0), Seen::Claimable);
            assert_eq!(s.for_consumer(pos, 0), Seen::Wait);
        }
    }

    #[test]
    fn a_slot_goes_round_its_laps() {
        let s = Stamps::new(4);
        let pos = 6; // lap 1, slot 2
        assert_eq!(s.for_producer(pos, s.at(2, FREE)), Seen::Wait);
        assert_eq!(s.for_producer(pos, s.at(2, READY)), Seen::Wait);
        assert_eq!(s.for_producer(pos, s.released(2)), Seen::Claimable);
        assert_eq!(s.released(2), s.at(pos, FREE));
        assert_eq!(s.for_consumer(pos, s.released(2)), Seen::Wait);
        assert_eq!(s.for_consumer(pos, s.at(2, READY)), Seen::Wait);
        assert_eq!(s.for_consumer(pos, s.at(pos, READY)), Seen::Claimable);
        assert_eq!(s.for_consumer(pos, s.at(pos, SKIP)), Seen::Claimable);
        assert_eq!(s.for_producer(pos, s.at(pos, READY)), Seen::Ahead);
        assert_eq!(s.for_consumer(pos, s.released(pos)), Seen::Ahead);
        assert_eq!(s.for_producer(pos, s.released(pos)), Seen::Ahead);
    }

    #[test]
    fn a_claimed_slot_is_busy_for_consumers_and_taken_for_producers() {
        let s = Stamps::new(4);
        let pos = 6; // lap 1, slot 2
        let claimed = s.at(pos, CLAIMED);
        assert_eq!(s.for_consumer(pos, claimed), Seen::Wait);
        assert!(s.busy(pos, claimed));
        assert!(!s.busy(pos, s.at(pos, FREE)));
        assert!(!s.busy(pos, s.at(2, CLAIMED)));
        assert_eq!(s.for_producer(pos, claimed), Seen::Ahead);
        // The previous lap's claim: the slot is not free yet.
        assert_eq!(s.for_producer(pos, s.at(2, CLAIMED)), Seen::Wait);
        // The next lap's claim: both cursors are stale.
        assert_eq!(s.for_consumer(pos, s.at(pos + 4, CLAIMED)), Seen::Ahead);
        assert_eq!(s.for_producer(pos, s.at(pos + 4, CLAIMED)), Seen::Ahead);
    }

    #[test]
    fn impossible_stamps_are_corrupt() {
        let s = Stamps::new(4);
        let pos = 40; // lap 10
        assert_eq!(s.for_consumer(pos, s.at(pos - 4, CLAIMED)), Seen::Corrupt);
        assert_eq!(s.for_producer(pos, s.at(pos - 8, CLAIMED)), Seen::Corrupt);
        assert_eq!(s.for_producer(pos, s.at(pos - 8, READY)), Seen::Corrupt);
        assert_eq!(s.for_consumer(pos, s.at(pos - 4, FREE)), Seen::Corrupt);
        assert_eq!(s.for_consumer(pos, 0), Seen::Corrupt);
    }

    #[test]
    fn any_value_at_any_position_is_classified_without_panic() {
        let s = Stamps::new(2);
        for &pos in &[0, 1, u64::MAX, u64::MAX - 1, 1 << 63] {
            for &stamp in &[0, 1, 2, 3, u64::MAX, 1 << 63, u64::MAX - 3] {
                let _ = s.for_producer(pos, stamp);
                let _ = s.for_consumer(pos, stamp);
                let _ = s.released(pos);
            }
        }
    }
}
