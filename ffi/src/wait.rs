//! How long a C call waits: not at all, or until a deadline (none: as long
//! as it takes), from the `timeout_ns` arguments of the `_timeout` calls.

use std::time::{Duration, Instant};

/// How long a call waits.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// The `try` calls: not at all.
    No,
    /// The blocking (`None`) and timed calls.
    Until(Option<Instant>),
}

/// The deadline `timeout_ns` from now (`None` if that is past the clock's
/// range: as long as it takes).
pub(crate) fn deadline_of(timeout_ns: u64) -> Option<Instant> {
    Instant::now().checked_add(Duration::from_nanos(timeout_ns))
}
