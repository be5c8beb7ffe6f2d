//! `ringway_chunk`: a run of slots lent to C for zero-copy writing or
//! reading, as two spans (before and after the end of the slot array).

use core::ptr;

/// Slots lent by `ringway_producer_reserve` (to write) or
/// `ringway_consumer_read` (to read) in place. On an SPSC ring the run may
/// wrap around the end of the slot array, so it comes as two spans; `second`
/// is NULL and `second_len` 0 when it does not wrap. Lengths are in bytes,
/// each a multiple of the slot size; `slots` is the number of slots in both.
/// On an MPMC ring, or an SPSC ring created with `RINGWAY_CREATE_STAMPED`,
/// slots are not contiguous (each carries a stamp): `first`
/// and `second` are NULL, the lengths 0, and `ringway_producer_slot` /
/// `ringway_consumer_slot` give each slot's address (they work for SPSC too).
///
/// The spans stay valid until the matching `ringway_producer_commit` or
/// `ringway_consumer_release` (or the handle is freed).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ringway_chunk {
    /// Start of the first span.
    pub first: *mut u8,
    /// Bytes in the first span.
    pub first_len: usize,
    /// Start of the second span (slot 0), or NULL.
    pub second: *mut u8,
    /// Bytes in the second span, 0 when `second` is NULL.
    pub second_len: usize,
    /// Slots in both spans together (at least 1).
    pub slots: usize,
}

const _: () = assert!(core::mem::size_of::<ringway_chunk>() == 5 * core::mem::size_of::<usize>());
const _: () = assert!(core::mem::align_of::<ringway_chunk>() == core::mem::align_of::<usize>());
#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<ringway_chunk>() == 40);

impl ringway_chunk {
    /// A chunk over the spans `a` and `b` (`b` may be empty) of `slots` slots.
    pub(crate) fn new(a: (*mut u8, usize), b: (*mut u8, usize), slots: usize) -> ringway_chunk {
        ringway_chunk {
            first: a.0,
            first_len: a.1,
            second: if b.1 == 0 { ptr::null_mut() } else { b.0 },
            second_len: b.1,
            slots,
        }
    }

    /// A chunk of `slots` slots that are not contiguous (no spans).
    pub(crate) fn scattered(slots: usize) -> ringway_chunk {
        ringway_chunk {
            first: ptr::null_mut(),
            first_len: 0,
            second: ptr::null_mut(),
            second_len: 0,
            slots,
        }
    }
}
