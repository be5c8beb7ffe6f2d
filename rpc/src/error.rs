//! What a call or a server operation failed with.

use std::io;

use ringway::{CorruptError, CreateError, HandleError, OpenError};

/// An RPC error.
#[derive(Debug)]
#[non_exhaustive]
pub enum RpcError {
    /// The call's deadline passed before its response came (or before the
    /// request found room). A response that comes later is discarded.
    Timeout,
    /// The server process is gone: it exited or was killed while the call
    /// waited (or before it started).
    ServerGone,
    /// The server could not handle the call; its message.
    Failed(String),
    /// A payload longer than [`MAX_PAYLOAD`](crate::MAX_PAYLOAD).
    TooLarge {
        /// The payload's length.
        len: usize,
    },
    /// A typed call's response (or a typed request) has another size than the type.
    WrongSize {
        /// The type's size.
        expected: usize,
        /// The payload's length.
        found: usize,
    },
    /// Opening the server's request ring failed.
    Open(OpenError),
    /// Creating a ring failed.
    Create(CreateError),
    /// Taking a ring role failed.
    Handle(HandleError),
    /// A ring's cursors are inconsistent (a corrupt or hostile peer).
    Corrupt(CorruptError),
    /// A system call failed (io_uring, pidfd, poll).
    Io(io::Error),
}

impl core::fmt::Display for RpcError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RpcError::Timeout => f.write_str("the call's deadline passed"),
            RpcError::ServerGone => f.write_str("the server process is gone"),
            RpcError::Failed(m) => write!(f, "the server failed the call: {m}"),
            RpcError::TooLarge { len } => write!(
                f,
                "payload of {len} bytes; at most {} fit a frame",
                crate::MAX_PAYLOAD
            ),
            RpcError::WrongSize { expected, found } => {
                write!(f, "payload of {found} bytes for a type of {expected}")
            }
            RpcError::Open(e) => write!(f, "opening the server: {e}"),
            RpcError::Create(e) => write!(f, "creating a ring: {e}"),
            RpcError::Handle(e) => write!(f, "{e}"),
            RpcError::Corrupt(e) => write!(f, "{e}"),
            RpcError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RpcError {}

impl From<OpenError> for RpcError {
    fn from(e: OpenError) -> Self {
        RpcError::Open(e)
    }
}

impl From<CreateError> for RpcError {
    fn from(e: CreateError) -> Self {
        RpcError::Create(e)
    }
}

impl From<HandleError> for RpcError {
    fn from(e: HandleError) -> Self {
        RpcError::Handle(e)
    }
}

impl From<CorruptError> for RpcError {
    fn from(e: CorruptError) -> Self {
        RpcError::Corrupt(e)
    }
}

impl From<io::Error> for RpcError {
    fn from(e: io::Error) -> Self {
        RpcError::Io(e)
    }
}
