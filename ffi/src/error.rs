//! The error of a failed call, and every mapping to it: from the Rust
//! errors of ringway (`From` impls) and the ffi's own states (a pending
//! chunk, no chunk). `boundary.rs` records an `Error` for
//! `ringway_last_error_message`; `result.rs` holds only the codes.

use std::borrow::Cow;
use std::io;

use ringway_core::{
    CorruptError, CreateError, HandleError, Kind, OpenError, PopError, PopTimeoutError, PushError,
    PushTimeoutError,
};

use crate::result::ringway_result::{self, *};

/// A failed call: its code and a message for `ringway_last_error_message`.
#[derive(Debug)]
pub(crate) struct Error {
    pub(crate) code: ringway_result,
    pub(crate) message: Cow<'static, str>,
}

impl Error {
    /// An error with a message that needs no allocation.
    pub(crate) const fn fixed(code: ringway_result, message: &'static str) -> Error {
        Error {
            code,
            message: Cow::Borrowed(message),
        }
    }

    /// An error with a formatted message.
    pub(crate) fn new(code: ringway_result, message: impl Into<Cow<'static, str>>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }

    /// `RINGWAY_ERR_INVALID_ARGUMENT` with `message`.
    pub(crate) fn invalid(message: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ringway_result::RINGWAY_ERR_INVALID_ARGUMENT, message)
    }

    /// `RINGWAY_ERR_NULL` naming the argument.
    pub(crate) fn null(arg: &'static str) -> Error {
        Error::new(
            ringway_result::RINGWAY_ERR_NULL,
            format!("argument `{arg}` is NULL"),
        )
    }
}

impl From<CreateError> for Error {
    fn from(e: CreateError) -> Error {
        let code = match &e {
            CreateError::InvalidName { .. } => RINGWAY_ERR_INVALID_NAME,
            CreateError::AlreadyExists { .. } => RINGWAY_ERR_EXISTS,
            CreateError::Layout(_)
            | CreateError::Misaligned { .. }
            | CreateError::InvalidMode { .. } => RINGWAY_ERR_INVALID_ARGUMENT,
            CreateError::NoSpace { .. } => RINGWAY_ERR_NO_SPACE,
            CreateError::RegionTooSmall { .. } => RINGWAY_ERR_TOO_SMALL,
            CreateError::Io { .. } => RINGWAY_ERR_IO,
            CreateError::BarrierUnavailable => RINGWAY_ERR_UNSUPPORTED,
            _ => RINGWAY_ERR_OTHER,
        };
        Error::new(code, e.to_string())
    }
}

impl From<OpenError> for Error {
    fn from(e: OpenError) -> Error {
        let code = match &e {
            OpenError::InvalidName { .. } => RINGWAY_ERR_INVALID_NAME,
            OpenError::NotFound { .. } => RINGWAY_ERR_NOT_FOUND,
            OpenError::NotRegularFile { .. } => RINGWAY_ERR_NOT_REGULAR_FILE,
            OpenError::WrongOwner { .. } => RINGWAY_ERR_WRONG_OWNER,
            OpenError::TooSmall { .. } => RINGWAY_ERR_TOO_SMALL,
            OpenError::BadMagic { .. } => RINGWAY_ERR_BAD_MAGIC,
            OpenError::AbiMismatch { .. } => RINGWAY_ERR_ABI_MISMATCH,
            OpenError::LayoutMismatch { .. } => RINGWAY_ERR_LAYOUT_MISMATCH,
            OpenError::NotReady { .. } => RINGWAY_ERR_NOT_READY,
            OpenError::UnknownKind { .. }
            | OpenError::BadGeometry { .. }
            | OpenError::UnknownFlags { .. }
            | OpenError::UnknownBarrier { .. } => RINGWAY_ERR_BAD_HEADER,
            OpenError::BarrierUnavailable { .. } => RINGWAY_ERR_UNSUPPORTED,
            OpenError::WrongKind { .. } => RINGWAY_ERR_WRONG_KIND,
            OpenError::TypeMismatch { .. } => RINGWAY_ERR_TYPE_MISMATCH,
            OpenError::Io { .. } => RINGWAY_ERR_IO,
            _ => RINGWAY_ERR_OTHER,
        };
        Error::new(code, e.to_string())
    }
}

impl From<HandleError> for Error {
    fn from(e: HandleError) -> Error {
        let code = match &e {
            HandleError::RoleTaken { .. } => RINGWAY_ERR_ROLE_TAKEN,
            HandleError::WrongKind { .. } => RINGWAY_ERR_WRONG_KIND,
            HandleError::TypeMismatch { .. } => RINGWAY_ERR_TYPE_MISMATCH,
            HandleError::TooManyPeers => RINGWAY_ERR_TOO_MANY_PRODUCERS,
            HandleError::Corrupt(c) if c.is_forked() => RINGWAY_ERR_FORKED,
            HandleError::Corrupt(_) => RINGWAY_ERR_CORRUPT,
            _ => RINGWAY_ERR_OTHER,
        };
        Error::new(code, e.to_string())
    }
}

impl From<CorruptError> for Error {
    fn from(e: CorruptError) -> Error {
        if e.is_forked() {
            // Static: the message is the error's own.
            return Error::fixed(RINGWAY_ERR_FORKED, CorruptError::FORKED);
        }
        Error::new(RINGWAY_ERR_CORRUPT, e.to_string())
    }
}

impl<T> From<PushError<T>> for Error {
    fn from(e: PushError<T>) -> Error {
        match e {
            // Static: a producer spinning on a full ring must not allocate.
            PushError::Full(_) => Error::fixed(RINGWAY_ERR_FULL, "ring is full"),
            PushError::Size { expected, found } => Error::new(
                RINGWAY_ERR_SIZE,
                format!("message is {found} bytes; slots are {expected} bytes"),
            ),
            PushError::Corrupt(c) => c.into(),
            PushError::PeerGone(_) => consumer_gone(),
            PushError::Busy(_) => Error::fixed(
                RINGWAY_ERR_BUSY,
                "the slot at the tail of the ring is still being read; retry",
            ),
        }
    }
}

impl From<PopError> for Error {
    fn from(e: PopError) -> Error {
        match e {
            // Static: a consumer spinning on an empty ring must not allocate.
            PopError::Empty => Error::fixed(RINGWAY_ERR_EMPTY, "ring is empty"),
            PopError::Busy => Error::fixed(
                RINGWAY_ERR_BUSY,
                "a message is being written at the head of the ring; retry",
            ),
            PopError::Size { expected, found } => Error::new(
                RINGWAY_ERR_SIZE,
                format!("buffer is {found} bytes; slots are {expected} bytes"),
            ),
            PopError::Corrupt(c) => c.into(),
            PopError::PeerGone => producer_gone(),
        }
    }
}

/// Maps an error of a remove call (`shm_unlink`, `unlink`) for `name`.
pub(crate) fn remove_error(name: &str, e: io::Error) -> Error {
    let (code, message): (ringway_result, Cow<'static, str>) = match e.kind() {
        io::ErrorKind::InvalidInput => (
            RINGWAY_ERR_INVALID_NAME,
            format!("invalid ring name {name:?}: {e}").into(),
        ),
        io::ErrorKind::NotFound => (
            RINGWAY_ERR_NOT_FOUND,
            format!("no ring named {name}").into(),
        ),
        _ => (RINGWAY_ERR_IO, format!("cannot remove {name}: {e}").into()),
    };
    Error::new(code, message)
}

/// Maps a blocking push's error.
impl<T> From<PushTimeoutError<T>> for Error {
    fn from(e: PushTimeoutError<T>) -> Error {
        match e {
            PushTimeoutError::Timeout(_) => {
                Error::fixed(RINGWAY_ERR_TIMEOUT, "timed out waiting for a free slot")
            }
            PushTimeoutError::Size { .. } => Error::new(RINGWAY_ERR_SIZE, e.to_string()),
            PushTimeoutError::Corrupt(c) => c.into(),
            PushTimeoutError::PeerGone(_) => consumer_gone(),
        }
    }
}

/// Maps a blocking pop's error.
impl From<PopTimeoutError> for Error {
    fn from(e: PopTimeoutError) -> Error {
        match e {
            PopTimeoutError::Timeout => {
                Error::fixed(RINGWAY_ERR_TIMEOUT, "timed out waiting for a message")
            }
            PopTimeoutError::Size { .. } => Error::new(RINGWAY_ERR_SIZE, e.to_string()),
            PopTimeoutError::Corrupt(c) => c.into(),
            PopTimeoutError::PeerGone => producer_gone(),
        }
    }
}

/// A call on a handle while a chunk of `slots` is lent to C.
pub(crate) fn pending_error(slots: usize) -> Error {
    Error::new(
        RINGWAY_ERR_STATE,
        format!("a chunk of {slots} slots is outstanding; commit or release it first"),
    )
}

/// A producer chunk call with nothing reserved.
pub(crate) fn no_reservation() -> Error {
    Error::fixed(
        RINGWAY_ERR_STATE,
        "no chunk is reserved; call ringway_producer_reserve first",
    )
}

/// A consumer chunk call with nothing being read.
pub(crate) fn nothing_read() -> Error {
    Error::fixed(
        RINGWAY_ERR_STATE,
        "no chunk is being read; call ringway_consumer_read first",
    )
}

/// `RINGWAY_ERR_PEER_GONE` for a producer (static: no allocation).
fn consumer_gone() -> Error {
    Error::fixed(
        RINGWAY_ERR_PEER_GONE,
        "the consumer is gone: it died and no live consumer is attached",
    )
}

/// `RINGWAY_ERR_PEER_GONE` for a consumer (static: no allocation).
fn producer_gone() -> Error {
    Error::fixed(
        RINGWAY_ERR_PEER_GONE,
        "the producer is gone: it died and no live producer is attached; the ring is drained",
    )
}

/// A record longer than the ring's largest (`expected` in the core's error).
fn record_too_long(found: usize, largest: usize) -> Error {
    Error::new(
        RINGWAY_ERR_SIZE,
        format!("record is {found} bytes; the largest this ring takes is {largest}"),
    )
}

/// Maps a record or broadcast push (or reservation): sizes speak of records.
pub(crate) fn record_push(e: PushError<()>) -> Error {
    match e {
        PushError::Size { expected, found } => record_too_long(found, expected),
        other => other.into(),
    }
}

/// Maps a waiting record or broadcast push (or reservation).
pub(crate) fn record_push_wait(e: PushTimeoutError<()>) -> Error {
    match e {
        PushTimeoutError::Size { expected, found } => record_too_long(found, expected),
        other => other.into(),
    }
}

/// A record that does not fit the caller's buffer (it stays unread).
pub(crate) fn buffer_too_small(record: usize, buf: usize) -> Error {
    Error::new(
        RINGWAY_ERR_SIZE,
        format!(
            "the next record is {record} bytes; the buffer holds {buf} (the record stays unread)"
        ),
    )
}

/// A call on a record handle while a record is lent to C.
pub(crate) fn record_pending(what: &'static str) -> Error {
    Error::new(
        RINGWAY_ERR_STATE,
        format!("a record is {what}; finish it first"),
    )
}

/// A call on a ring of another kind than the call's.
pub(crate) fn wrong_kind(found: Kind, expected: Kind) -> Error {
    Error::new(
        RINGWAY_ERR_WRONG_KIND,
        format!("the ring is of kind {found}; this call needs a {expected} ring"),
    )
}

/// Maps an error of `flush` / `recover` (`InvalidData` is a corrupt ring).
pub(crate) fn durable_error(e: io::Error) -> Error {
    let code = match e.kind() {
        io::ErrorKind::InvalidData => RINGWAY_ERR_CORRUPT,
        _ => RINGWAY_ERR_IO,
    };
    Error::new(code, e.to_string())
}

/// `_commit` / `_abort` of a record producer with nothing reserved.
pub(crate) fn no_record_reserved() -> Error {
    Error::fixed(
        RINGWAY_ERR_STATE,
        "no record is reserved; call ringway_record_producer_reserve first",
    )
}

/// `_release` of a record consumer with nothing being read.
pub(crate) fn no_record_read() -> Error {
    Error::fixed(
        RINGWAY_ERR_STATE,
        "no record is being read; call ringway_record_consumer_read first",
    )
}
