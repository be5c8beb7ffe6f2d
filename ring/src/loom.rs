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
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, Ordering};

#[cfg(not(loom))]
pub(crate) use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

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
#[cfg(loom)]
#[derive(Debug)]
pub(crate) struct SlotAccess {
    cells: Box<[loom::cell::UnsafeCell<()>]>,
}

#[cfg(loom)]
impl SlotAccess {
    pub(crate) fn new(slots: usize) -> Self {
        SlotAccess {
            cells: (0..slots)
                .map(|_| loom::cell::UnsafeCell::new(()))
                .collect(),
        }
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
