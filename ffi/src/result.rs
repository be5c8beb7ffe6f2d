//! `ringway_result`: the one result code every fallible call returns, and
//! the mapping from the core crate's error types to it.
//!
//! Numbers are part of the ABI: a code is never renumbered or reused; new
//! codes are added at the end.

use std::ffi::c_char;

use crate::boundary::boundary;

/// The result of a ringway call. `RINGWAY_OK` is 0; every other value is an
/// error, described by `ringway_result_str` and, for the calling thread, by
/// `ringway_last_error_message`. Values are never renumbered or reused.
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ringway_result {
    /// Success.
    RINGWAY_OK = 0,
    /// A required pointer argument was NULL.
    RINGWAY_ERR_NULL = 1,
    /// An argument has an impossible value (a bad kind, flags, capacity, slot
    /// size or alignment, a count larger than the chunk).
    RINGWAY_ERR_INVALID_ARGUMENT = 2,
    /// A shared-memory name is malformed (it must be `/name`, no other `/`,
    /// at most 255 bytes, UTF-8).
    RINGWAY_ERR_INVALID_NAME = 3,
    /// No ring of that name or path.
    RINGWAY_ERR_NOT_FOUND = 4,
    /// Something of that name or path already exists.
    RINGWAY_ERR_EXISTS = 5,
    /// The ring is full (not an error condition: retry later).
    RINGWAY_ERR_FULL = 6,
    /// The ring is empty (not an error condition: retry later).
    RINGWAY_ERR_EMPTY = 7,
    /// A timed call ran out of time.
    RINGWAY_ERR_TIMEOUT = 8,
    /// A message or buffer is not exactly one slot long.
    RINGWAY_ERR_SIZE = 9,
    /// A peer wrote an impossible cursor: the ring should be recreated.
    RINGWAY_ERR_CORRUPT = 10,
    /// The region does not start with the ringway magic: not a ring.
    RINGWAY_ERR_BAD_MAGIC = 11,
    /// The ring was created by a library speaking another layout ABI.
    RINGWAY_ERR_ABI_MISMATCH = 12,
    /// Same ABI number, different field layout.
    RINGWAY_ERR_LAYOUT_MISMATCH = 13,
    /// The creator has not finished initialising the ring (or died doing so).
    RINGWAY_ERR_NOT_READY = 14,
    /// The header's kind, geometry or flags are invalid.
    RINGWAY_ERR_BAD_HEADER = 15,
    /// The ring is of another kind than asked for.
    RINGWAY_ERR_WRONG_KIND = 16,
    /// The ring records another message type.
    RINGWAY_ERR_TYPE_MISMATCH = 17,
    /// The SPSC producer or consumer role is held by another handle.
    RINGWAY_ERR_ROLE_TAKEN = 18,
    /// Every entry of the ring's peer table has a live holder (62 handles
    /// of any kind and role; entries of dead processes are reused).
    RINGWAY_ERR_TOO_MANY_PRODUCERS = 19,
    /// The region is shorter than the ring needs.
    RINGWAY_ERR_TOO_SMALL = 20,
    /// The name refers to something other than a regular file.
    RINGWAY_ERR_NOT_REGULAR_FILE = 21,
    /// The ring belongs to another user.
    RINGWAY_ERR_WRONG_OWNER = 22,
    /// No space for the ring's bytes (check `/dev/shm`).
    RINGWAY_ERR_NO_SPACE = 23,
    /// A system call failed; the message says which and why.
    RINGWAY_ERR_IO = 24,
    /// A call out of order: a push or pop while a chunk is outstanding, a
    /// commit or release without one.
    RINGWAY_ERR_STATE = 25,
    /// The call is not supported by this ring or platform.
    RINGWAY_ERR_UNSUPPORTED = 26,
    /// A panic inside the library was caught; free the handle involved.
    RINGWAY_ERR_PANIC = 27,
    /// An error this version of the C API has no code for; see the message.
    RINGWAY_ERR_OTHER = 28,
    /// MPMC: a producer's claim holds the head (a message is being written
    /// there; from a pop: the ring is not empty) or a consumer's claim
    /// holds the slot at the tail (a message there is still being read;
    /// from a push: the ring is not full); retry (not an error condition).
    RINGWAY_ERR_BUSY = 29,
    /// The RPC server's process is gone (exited or killed).
    RINGWAY_ERR_SERVER_GONE = 30,
    /// The RPC server failed the call; the message says why.
    RINGWAY_ERR_CALL_FAILED = 31,
    /// The other side is gone: its last holder died and none is attached
    /// (a consumer sees it once the ring is drained, a producer when the
    /// ring is full).
    RINGWAY_ERR_PEER_GONE = 32,
    /// The handle was created by the parent process before `fork()`: its
    /// copy in the child refuses every call that would touch the ring (the
    /// parent's handle and ring are unaffected); free it and open the ring
    /// again in the child (or create a new handle on the inherited ring).
    RINGWAY_ERR_FORKED = 33,
}

use ringway_result::*;

/// Every code, in numeric order (for tests and `ringway_result_str`).
pub(crate) const ALL: [ringway_result; 34] = [
    RINGWAY_OK,
    RINGWAY_ERR_NULL,
    RINGWAY_ERR_INVALID_ARGUMENT,
    RINGWAY_ERR_INVALID_NAME,
    RINGWAY_ERR_NOT_FOUND,
    RINGWAY_ERR_EXISTS,
    RINGWAY_ERR_FULL,
    RINGWAY_ERR_EMPTY,
    RINGWAY_ERR_TIMEOUT,
    RINGWAY_ERR_SIZE,
    RINGWAY_ERR_CORRUPT,
    RINGWAY_ERR_BAD_MAGIC,
    RINGWAY_ERR_ABI_MISMATCH,
    RINGWAY_ERR_LAYOUT_MISMATCH,
    RINGWAY_ERR_NOT_READY,
    RINGWAY_ERR_BAD_HEADER,
    RINGWAY_ERR_WRONG_KIND,
    RINGWAY_ERR_TYPE_MISMATCH,
    RINGWAY_ERR_ROLE_TAKEN,
    RINGWAY_ERR_TOO_MANY_PRODUCERS,
    RINGWAY_ERR_TOO_SMALL,
    RINGWAY_ERR_NOT_REGULAR_FILE,
    RINGWAY_ERR_WRONG_OWNER,
    RINGWAY_ERR_NO_SPACE,
    RINGWAY_ERR_IO,
    RINGWAY_ERR_STATE,
    RINGWAY_ERR_UNSUPPORTED,
    RINGWAY_ERR_PANIC,
    RINGWAY_ERR_OTHER,
    RINGWAY_ERR_BUSY,
    RINGWAY_ERR_SERVER_GONE,
    RINGWAY_ERR_CALL_FAILED,
    RINGWAY_ERR_PEER_GONE,
    RINGWAY_ERR_FORKED,
];

impl ringway_result {
    /// A short description, NUL-terminated for C.
    pub(crate) fn describe(self) -> &'static core::ffi::CStr {
        match self {
            RINGWAY_OK => c"success",
            RINGWAY_ERR_NULL => c"a required pointer argument is NULL",
            RINGWAY_ERR_INVALID_ARGUMENT => c"an argument has an invalid value",
            RINGWAY_ERR_INVALID_NAME => c"invalid shared-memory name",
            RINGWAY_ERR_NOT_FOUND => c"no such ring",
            RINGWAY_ERR_EXISTS => c"a ring of that name already exists",
            RINGWAY_ERR_FULL => c"ring is full",
            RINGWAY_ERR_EMPTY => c"ring is empty",
            RINGWAY_ERR_TIMEOUT => c"timed out",
            RINGWAY_ERR_SIZE => c"message or buffer is not one slot long",
            RINGWAY_ERR_CORRUPT => c"ring is corrupt",
            RINGWAY_ERR_BAD_MAGIC => c"not a ringway ring (bad magic)",
            RINGWAY_ERR_ABI_MISMATCH => c"ring was created with another ABI version",
            RINGWAY_ERR_LAYOUT_MISMATCH => c"ring was created with another layout",
            RINGWAY_ERR_NOT_READY => c"ring is not initialised",
            RINGWAY_ERR_BAD_HEADER => c"ring header is invalid",
            RINGWAY_ERR_WRONG_KIND => c"ring is of another kind",
            RINGWAY_ERR_TYPE_MISMATCH => c"ring carries another message type",
            RINGWAY_ERR_ROLE_TAKEN => c"role is held by another handle",
            RINGWAY_ERR_TOO_MANY_PRODUCERS => c"peer table is full",
            RINGWAY_ERR_TOO_SMALL => c"region is too small for the ring",
            RINGWAY_ERR_NOT_REGULAR_FILE => c"not a regular file",
            RINGWAY_ERR_WRONG_OWNER => c"ring is owned by another user",
            RINGWAY_ERR_NO_SPACE => c"no space for the ring",
            RINGWAY_ERR_IO => c"system call failed",
            RINGWAY_ERR_STATE => c"call out of order (chunk outstanding or missing)",
            RINGWAY_ERR_UNSUPPORTED => c"not supported",
            RINGWAY_ERR_PANIC => c"panic caught inside ringway",
            RINGWAY_ERR_OTHER => c"other error",
            RINGWAY_ERR_BUSY => c"a claim in flight holds the next position; retry",
            RINGWAY_ERR_SERVER_GONE => c"the RPC server is gone",
            RINGWAY_ERR_CALL_FAILED => c"the RPC server failed the call",
            RINGWAY_ERR_PEER_GONE => c"the peer is gone (it died)",
            RINGWAY_ERR_FORKED => {
                c"handle created by the parent process before fork(); open the ring again in the child"
            }
        }
    }
}

/// A static description of `result` (any value: unknown codes get
/// "unknown result code"). The string is never freed.
#[no_mangle]
pub extern "C" fn ringway_result_str(result: u32) -> *const c_char {
    boundary("ringway_result_str", || match ALL.get(result as usize) {
        Some(r) => r.describe().as_ptr(),
        None => c"unknown result code".as_ptr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_dense_and_descriptions_distinct() {
        for (i, r) in ALL.iter().enumerate() {
            assert_eq!(*r as u32 as usize, i);
            assert!(!r.describe().is_empty());
        }
        let mut seen: Vec<_> = ALL.iter().map(|r| r.describe()).collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), ALL.len());
    }
}
