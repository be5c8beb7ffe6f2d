//! The one place that names the concurrency primitives (atomics, and the
//! fences and spin hints when a protocol needs them).
//!
//! Under `--cfg loom` every atomic, fence and spin hint comes from [loom], so the
//! model checker sees each access of the real protocol code; otherwise they are
//! the `core` ones, with no cost. Slot bytes are plain memory in a mapping, which
//! loom cannot track, so [`SlotAccess`] records a read or a write of each slot on
//! a per-slot loom cell: a race on a slot's bytes becomes a loom failure.
//!
//! The pattern follows tokio's `loom` facade.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// Atomics that loom does not track, for the peer table (`peer`): its words
/// are read and written only around deaths and waits, and tracking them
/// multiplied the branches of every MPMC model (a record store before and
/// after each claim) for no check they need. Under loom they behave as
/// sequentially consistent memory; the peer models check the healing
/// logic and its stamp CASes, which stay tracked, against live peers.
pub(crate) mod untracked {
    pub(crate) use core::sync::atomic::{AtomicU32, AtomicU64};
}

#[cfg(loom)]
pub(crate) use loom::hint::spin_loop;

#[cfg(not(loom))]
pub(crate) use core::hint::spin_loop;

/// Witness of accesses to slot bytes (a no-op outside loom).
#[cfg(not(loom))]
#[derive(Debug, Default)]
pub(crate) struct SlotAccess;

#[cfg(not(loom))]
impl SlotAccess {
    pub(crate) fn new(_slots: usize) -> Self {
        SlotAccess
    }

    /// Records a read of slot `idx` (already masked).
    #[inline(always)]
    pub(crate) fn read(&self, _idx: usize) {}

    /// Records a write of slot `idx` (already masked).
    #[inline(always)]
    pub(crate) fn write(&self, _idx: usize) {}
}

/// Witness of accesses to slot bytes: one loom cell per slot.
///
/// It also holds the MPMC slot stamps: loom atomics cannot live in the
/// mapping, so under loom each slot's stamp is a loom atomic here instead of
/// the 8 bytes in front of its payload.
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct SlotAccess {
    cells: Box<[loom::cell::UnsafeCell<()>]>,
    stamps: Box<[AtomicU64]>,
}

#[cfg(loom)]
impl SlotAccess {
    pub(crate) fn new(slots: usize) -> Self {
        SlotAccess {
            cells: (0..slots)
                .map(|_| loom::cell::UnsafeCell::new(()))
                .collect(),
            stamps: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The MPMC stamp of slot `idx` (already masked).
    pub(crate) fn stamp(&self, idx: usize) -> &AtomicU64 {
        &self.stamps[idx]
    }

    /// Records a read of slot `idx` (already masked).
    pub(crate) fn read(&self, idx: usize) {
        self.cells[idx].with(|_| ());
    }

    /// Records a write of slot `idx` (already masked).
    pub(crate) fn write(&self, idx: usize) {
        self.cells[idx].with_mut(|_| ());
    }
}

/// An ordering that the mutation proof may weaken.
///
/// `ordering!(Release, "spsc_publish_relaxed")` is `Ordering::Release`, or
/// `Ordering::Relaxed` in a build with
/// `--cfg ringway_mutation="spsc_publish_relaxed"`; `scripts/loom-mutations.sh`
/// builds the loom models once per mutation and checks that each one fails.
/// Outside such a build it is a constant, free.
macro_rules! ordering {
    ($ordering:ident, $mutation:literal) => {
        if cfg!(ringway_mutation = $mutation) {
            $crate::loom::Ordering::Relaxed
        } else {
            $crate::loom::Ordering::$ordering
        }
    };
}
pub(crate) use ordering;
