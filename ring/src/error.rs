//! Error types, one per operation.
//!
//! A full or empty ring is an ordinary result ([`PushError::Full`],
//! [`PopError::Empty`]); a value read from shared memory that breaks an
//! invariant is a [`CorruptError`]; nothing here panics.

use std::fmt;
use std::io;

use crate::layout::{Kind, LayoutError};

/// A value read from shared memory broke an invariant of the protocol: the
/// peer is buggy, malicious, or the region is not what it claims to be. The
/// operation did nothing; the handle stays usable but the ring should be
/// considered lost.
///
/// One case says nothing about the ring: a handle used in a child process
/// it was `fork`ed into ([`is_forked`](Self::is_forked)). Such a copy is
/// the parent's handle (its role, its claims), so every call that would
/// touch the ring through it refuses, doing nothing; the parent's handle
/// and ring are unaffected, and the child opens the ring again. It rides
/// in this type because every call's error carries one (`Corrupt(e)` of
/// [`PushError`], [`PopError`], ..., and the chunk calls' own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CorruptError {
    /// What was wrong, e.g. `"tail is more than capacity ahead of head"`;
    /// [`CorruptError::FORKED`] for a forked copy of a handle.
    pub what: &'static str,
    /// The offending value (0 for [`FORKED`](Self::FORKED)).
    pub value: u64,
}

impl CorruptError {
    /// The [`what`](Self::what) of the error a `fork`ed copy of a handle
    /// returns (see [`is_forked`](Self::is_forked)).
    pub const FORKED: &'static str =
        "this handle was created by the parent process before fork(); open the ring again in the child";

    /// The error of a forked copy of a handle.
    pub(crate) fn forked() -> CorruptError {
        CorruptError {
            what: CorruptError::FORKED,
            value: 0,
        }
    }

    /// Whether this is the error of a handle used in a process `fork`ed
    /// after the handle was attached (the ring is not corrupt: the call was
    /// refused before it touched it; C: `RINGWAY_ERR_FORKED`).
    ///
    /// ```
    /// use ringway::{spsc, Kind, PushError, RingBuilder};
    /// let ring = RingBuilder::new(Kind::Spsc).capacity(4).message::<u64>().create_anonymous()?;
    /// let mut tx = spsc::Producer::<u64>::attach(&ring)?;
    /// match tx.try_push(1) {
    ///     Err(PushError::Corrupt(e)) if e.is_forked() => { /* reopen the ring here */ }
    ///     other => other?,
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_forked(&self) -> bool {
        self.what == CorruptError::FORKED
    }
}

impl fmt::Display for CorruptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_forked() {
            return f.write_str(self.what);
        }
        write!(
            f,
            "ring is corrupt: {} (value {}); a peer wrote an impossible value, recreate the ring",
            self.what, self.value
        )
    }
}

impl std::error::Error for CorruptError {}

/// Why a ring could not be created.
#[derive(Debug)]
#[non_exhaustive]
pub enum CreateError {
    /// The shared-memory name is not usable.
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Something of that name already exists (rings are created exclusively).
    AlreadyExists {
        /// The name or path.
        name: String,
    },
    /// The parameters cannot be laid out.
    Layout(LayoutError),
    /// The filesystem could not reserve the ring's bytes.
    NoSpace {
        /// Bytes asked for.
        need: u64,
    },
    /// Caller-provided memory is shorter than the ring needs.
    RegionTooSmall {
        /// Bytes needed.
        need: u64,
        /// Bytes given.
        have: u64,
    },
    /// Caller-provided memory is not aligned to 128 bytes.
    Misaligned {
        /// The address given.
        address: usize,
    },
    /// The permission bits are not usable for a ring: bits outside `0o777`
    /// (set-id, sticky, file type), or no read and write for the owner.
    InvalidMode {
        /// The mode given.
        mode: u32,
    },
    /// An asymmetric ring was asked for, and this process cannot register
    /// for `membarrier` (see [`OpenError::BarrierUnavailable`]).
    BarrierUnavailable,
    /// A system call failed.
    Io {
        /// Which step failed.
        context: &'static str,
        /// The error the system gave.
        source: io::Error,
    },
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreateError::InvalidName { name, reason } => {
                write!(f, "invalid ring name {name:?}: {reason}")
            }
            CreateError::AlreadyExists { name } => write!(
                f,
                "{name} already exists; open it, or remove it first (`ringway rm {name}`)"
            ),
            CreateError::Layout(e) => write!(f, "cannot lay out the ring: {e}"),
            CreateError::NoSpace { need } => write!(
                f,
                "no space for the ring's {need} bytes (for /dev/shm, check its size with `df -h /dev/shm`)"
            ),
            CreateError::RegionTooSmall { need, have } => {
                write!(f, "memory is {have} bytes; the ring needs {need}")
            }
            CreateError::Misaligned { address } => {
                write!(f, "memory at {address:#x} is not aligned to 128 bytes")
            }
            CreateError::InvalidMode { mode } => write!(
                f,
                "mode {mode:#o} is not usable for a ring: give permission bits within 0o777 that include owner read and write (0o600)"
            ),
            CreateError::Io { context, source } => write!(f, "{context}: {source}"),
            CreateError::BarrierUnavailable => f.write_str(
                "an asymmetric ring needs membarrier, which this process cannot register for (old kernel, seccomp, or RINGWAY_BARRIER=symmetric); create it symmetric",
            ),
        }
    }
}

impl std::error::Error for CreateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CreateError::Io { source, .. } => Some(source),
            CreateError::Layout(e) => Some(e),
            _ => None,
        }
    }
}

impl From<LayoutError> for CreateError {
    fn from(e: LayoutError) -> Self {
        CreateError::Layout(e)
    }
}

/// Why an existing ring could not be opened. Every check of the header has its
/// own variant.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The shared-memory name is not usable.
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No ring of that name or path.
    NotFound {
        /// The name or path.
        name: String,
    },
    /// The name refers to something other than a regular file (a directory,
    /// a symlink, a device).
    NotRegularFile {
        /// The name or path.
        name: String,
    },
    /// The ring belongs to another user, and the options did not allow that.
    WrongOwner {
        /// Owner of the ring.
        owner: u32,
        /// This process's effective uid.
        expected: u32,
    },
    /// The region is shorter than the ring needs.
    TooSmall {
        /// Bytes needed.
        need: u64,
        /// Bytes present.
        have: u64,
    },
    /// The first word is not `RINGWAY\0`: not a ringway ring.
    BadMagic {
        /// The word found.
        found: u64,
    },
    /// Created by a library speaking another ABI version.
    AbiMismatch {
        /// ABI of the creator.
        found: u32,
        /// ABI of this library.
        expected: u32,
    },
    /// Same ABI number, different layout (a build with other field offsets).
    LayoutMismatch {
        /// Layout hash in the header.
        found: u64,
        /// Layout hash of this library.
        expected: u64,
    },
    /// The creator has not finished initialising (or died while doing so).
    NotReady {
        /// State word found.
        state: u32,
    },
    /// The kind word names no known ring kind.
    UnknownKind {
        /// The kind word found.
        found: u32,
    },
    /// The ring is of another kind than the caller asked for.
    WrongKind {
        /// Kind of the ring.
        found: Kind,
        /// Kind asked for.
        expected: Kind,
    },
    /// The geometry fields are impossible or inconsistent.
    BadGeometry {
        /// Which field.
        field: &'static str,
        /// Value found.
        found: u64,
        /// Value it must have, where one value is right.
        expected: Option<u64>,
    },
    /// Feature flags this library does not know.
    UnknownFlags {
        /// The flags found.
        flags: u32,
    },
    /// The barrier word names no known [`Barrier`](ringway_sync::Barrier) mode.
    UnknownBarrier {
        /// The word found.
        found: u32,
    },
    /// The ring was created asymmetric (notifiers without a hardware fence,
    /// waiters running `membarrier`), and this process cannot register for
    /// `membarrier` (an old kernel, a seccomp filter, another system, or
    /// `RINGWAY_BARRIER=symmetric`), so its waits could miss wakeups.
    BarrierUnavailable {
        /// The ring's mode.
        barrier: ringway_sync::Barrier,
    },
    /// The ring carries messages of another type.
    TypeMismatch {
        /// (size, alignment, name hash) recorded in the ring.
        found: (u32, u32, u64),
        /// (size, alignment, name hash) of the requested type.
        expected: (u32, u32, u64),
    },
    /// A system call failed.
    Io {
        /// Which step failed.
        context: &'static str,
        /// The error the system gave.
        source: io::Error,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::InvalidName { name, reason } => write!(f, "invalid ring name {name:?}: {reason}"),
            OpenError::NotFound { name } => write!(f, "no ring named {name}; create it first"),
            OpenError::NotRegularFile { name } => write!(f, "{name} is not a regular file; refusing to map it"),
            OpenError::WrongOwner { owner, expected } => write!(
                f,
                "ring is owned by uid {owner}, not by this process's uid {expected}; allow other owners explicitly if that is intended"
            ),
            OpenError::TooSmall { need, have } => write!(
                f,
                "region is {have} bytes but the ring needs {need}; it was truncated or is not a ring"
            ),
            OpenError::BadMagic { found } => write!(f, "not a ringway ring (first word {found:#018x})"),
            OpenError::AbiMismatch { found, expected } => write!(
                f,
                "ring was created with ABI {found}; this library speaks ABI {expected}: use a matching ringway version"
            ),
            OpenError::LayoutMismatch { found, expected } => write!(
                f,
                "ring layout hash {found:#018x} differs from this library's {expected:#018x}: the creator was built with another layout"
            ),
            OpenError::NotReady { state } => write!(
                f,
                "ring is not initialised (state {state:#x}): its creator is still setting it up or died doing so; retry, or remove it"
            ),
            OpenError::UnknownBarrier { found } => write!(f, "ring barrier mode {found} is unknown to this library"),
            OpenError::BarrierUnavailable { barrier } => write!(
                f,
                "ring is {barrier} but this process cannot register for membarrier (old kernel, seccomp, or RINGWAY_BARRIER=symmetric); create the ring symmetric to share it with such processes"
            ),
            OpenError::UnknownKind { found } => write!(f, "ring kind {found} is unknown to this library"),
            OpenError::WrongKind { found, expected } => write!(f, "ring is {found}, not {expected}"),
            OpenError::BadGeometry { field, found, expected: Some(e) } => {
                write!(f, "ring header is inconsistent: {field} is {found}, must be {e}")
            }
            OpenError::BadGeometry { field, found, expected: None } => {
                write!(f, "ring header is invalid: {field} {found} is out of range")
            }
            OpenError::UnknownFlags { flags } => write!(f, "ring uses feature flags {flags:#x} unknown to this library"),
            OpenError::TypeMismatch { found, expected } => write!(
                f,
                "ring carries messages of size {}, align {}, name hash {:#x}; the requested type has size {}, align {}, name hash {:#x}",
                found.0, found.1, found.2, expected.0, expected.1, expected.2
            ),
            OpenError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The two roles of an SPSC ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The side that pushes.
    Producer,
    /// The side that pops.
    Consumer,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        })
    }
}

/// Why a producer or consumer handle could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandleError {
    /// The role is held by another handle.
    RoleTaken {
        /// Which role.
        role: Role,
        /// Pid of the holder, as recorded in the ring.
        pid: u32,
    },
    /// The ring is of another kind than the handle.
    WrongKind {
        /// Kind of the ring.
        found: Kind,
        /// Kind the handle needs.
        expected: Kind,
    },
    /// The message type does not fit the ring's slots.
    TypeMismatch {
        /// (size, alignment) of the slots.
        slot: (u32, u32),
        /// (size, alignment) of the requested type.
        requested: (u32, u32),
    },
    /// Every entry of the peer table has a live holder (62 handles of any
    /// kind and role; entries of dead processes are reused).
    TooManyPeers,
    /// The cursors in the header are inconsistent.
    Corrupt(CorruptError),
}

impl fmt::Display for HandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandleError::RoleTaken { role, pid } => write!(
                f,
                "the {role} role is already held by live pid {pid}; an SPSC ring has one {role}"
            ),
            HandleError::WrongKind { found, expected } => {
                write!(f, "ring is {found}; this handle needs {expected}")
            }
            HandleError::TypeMismatch { slot, requested } => write!(
                f,
                "slots are {} bytes aligned to {}, the message type is {} bytes aligned to {}",
                slot.0, slot.1, requested.0, requested.1
            ),
            HandleError::TooManyPeers => {
                f.write_str("the ring's peer table is full: 62 live handles are attached; drop one")
            }
            HandleError::Corrupt(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for HandleError {}

impl From<CorruptError> for HandleError {
    fn from(e: CorruptError) -> Self {
        HandleError::Corrupt(e)
    }
}

/// Why a push did not happen. `Debug` does not need `T: Debug` (the
/// message shows as `..`).
///
/// ```
/// struct Opaque;
/// let e = ringway::PushError::Full(Opaque);
/// assert_eq!(format!("{e:?}"), "Full(..)");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum PushError<T> {
    /// No free slot; the message is handed back.
    Full(T),
    /// A bytes message was not exactly one slot long.
    Size {
        /// The ring's slot size.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The ring's cursors are inconsistent.
    Corrupt(CorruptError),
    /// The consumer side is gone (it died, and no live consumer is
    /// attached); the message is handed back.
    PeerGone(T),
    /// MPMC only: the slot at the producer cursor is held by a consumer's
    /// claim (a consumer took the message there and has not released the
    /// slot yet), although fewer than `capacity` messages are in the ring.
    /// Positions are taken in order, so every producer waits for that
    /// consumer: the ring is not full, retry. (Rarely, also after losing
    /// many races for the cursor in a row.) The message is handed back.
    Busy(T),
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("ring is full"),
            PushError::Size { expected, found } => {
                write!(f, "message is {found} bytes; slots are {expected} bytes")
            }
            PushError::Corrupt(e) => e.fmt(f),
            PushError::PeerGone(_) => {
                f.write_str("the consumer is gone: it died and no live consumer is attached")
            }
            PushError::Busy(_) => f.write_str(
                "the slot at the tail of the ring is still being read (a consumer's claim holds it); retry",
            ),
        }
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("Full(..)"),
            PushError::Size { expected, found } => f
                .debug_struct("Size")
                .field("expected", expected)
                .field("found", found)
                .finish(),
            PushError::Corrupt(e) => f.debug_tuple("Corrupt").field(e).finish(),
            PushError::PeerGone(_) => f.write_str("PeerGone(..)"),
            PushError::Busy(_) => f.write_str("Busy(..)"),
        }
    }
}

impl<T> std::error::Error for PushError<T> {}

impl<T> From<CorruptError> for PushError<T> {
    fn from(e: CorruptError) -> Self {
        PushError::Corrupt(e)
    }
}

/// Why a pop did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopError {
    /// No message is ready: nothing has been claimed by a producer at the
    /// consumer cursor.
    Empty,
    /// MPMC only: a producer has claimed the position at the consumer cursor
    /// and not published it yet (a message is being written at the head).
    /// Messages claimed after it may already be published, but positions are
    /// taken in order, so every consumer waits for that producer: the ring
    /// is not empty, retry. (Rarely, also after losing many races for the
    /// cursor in a row.)
    Busy,
    /// A bytes buffer was not exactly one slot long.
    Size {
        /// The ring's slot size.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The ring's cursors are inconsistent.
    Corrupt(CorruptError),
    /// The ring is drained and the producer side is gone (it died, and no
    /// live producer is attached).
    PeerGone,
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopError::Empty => f.write_str("ring is empty"),
            PopError::Busy => f.write_str(
                "a message is being written at the head of the ring (a producer's claim holds it); retry",
            ),
            PopError::Size { expected, found } => {
                write!(f, "buffer is {found} bytes; slots are {expected} bytes")
            }
            PopError::Corrupt(e) => e.fmt(f),
            PopError::PeerGone => f.write_str("the producer is gone: it died and no live producer is attached; the ring is drained"),
        }
    }
}

impl std::error::Error for PopError {}

impl From<CorruptError> for PopError {
    fn from(e: CorruptError) -> Self {
        PopError::Corrupt(e)
    }
}

/// Why a blocking push with a deadline did not happen. `Debug` does not
/// need `T: Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum PushTimeoutError<T> {
    /// No slot came free before the deadline; the message is handed back.
    Timeout(T),
    /// A bytes message was not exactly one slot long.
    Size {
        /// The ring's slot size.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The ring's cursors are inconsistent.
    Corrupt(CorruptError),
    /// As [`PushError::PeerGone`]; the message is handed back.
    PeerGone(T),
}

impl<T> fmt::Display for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(_) => f.write_str("timed out waiting for a free slot"),
            PushTimeoutError::Size { expected, found } => {
                write!(f, "message is {found} bytes; slots are {expected} bytes")
            }
            PushTimeoutError::Corrupt(e) => e.fmt(f),
            PushTimeoutError::PeerGone(_) => {
                f.write_str("the consumer is gone: it died and no live consumer is attached")
            }
        }
    }
}

impl<T> fmt::Debug for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(_) => f.write_str("Timeout(..)"),
            PushTimeoutError::Size { expected, found } => f
                .debug_struct("Size")
                .field("expected", expected)
                .field("found", found)
                .finish(),
            PushTimeoutError::Corrupt(e) => f.debug_tuple("Corrupt").field(e).finish(),
            PushTimeoutError::PeerGone(_) => f.write_str("PeerGone(..)"),
        }
    }
}

impl<T> std::error::Error for PushTimeoutError<T> {}

impl<T> From<CorruptError> for PushTimeoutError<T> {
    fn from(e: CorruptError) -> Self {
        PushTimeoutError::Corrupt(e)
    }
}

/// Why a blocking pop (or wait) with a deadline did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PopTimeoutError {
    /// Nothing (or not enough) became ready before the deadline.
    Timeout,
    /// A bytes buffer was not exactly one slot long.
    Size {
        /// The ring's slot size.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The ring's cursors are inconsistent.
    Corrupt(CorruptError),
    /// As [`PopError::PeerGone`].
    PeerGone,
}

impl fmt::Display for PopTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopTimeoutError::Timeout => f.write_str("timed out waiting for a message"),
            PopTimeoutError::Size { expected, found } => {
                write!(f, "buffer is {found} bytes; slots are {expected} bytes")
            }
            PopTimeoutError::Corrupt(e) => e.fmt(f),
            PopTimeoutError::PeerGone => f.write_str("the producer is gone: it died and no live producer is attached; the ring is drained"),
        }
    }
}

impl std::error::Error for PopTimeoutError {}

impl From<CorruptError> for PopTimeoutError {
    fn from(e: CorruptError) -> Self {
        PopTimeoutError::Corrupt(e)
    }
}

/// How a blocking wait ended without its condition: the shared result of the
/// SPSC and MPMC waits, turned into the public error of the call.
#[derive(Debug)]
#[allow(unreachable_pub)] // named by the sealed handle seam only
pub enum Waited {
    Timeout,
    /// The other side is gone.
    PeerGone,
    Corrupt(CorruptError),
}

impl Waited {
    pub(crate) fn into_push(self) -> PushTimeoutError<()> {
        match self {
            Waited::Timeout => PushTimeoutError::Timeout(()),
            Waited::PeerGone => PushTimeoutError::PeerGone(()),
            Waited::Corrupt(e) => PushTimeoutError::Corrupt(e),
        }
    }

    pub(crate) fn into_pop(self) -> PopTimeoutError {
        match self {
            Waited::Timeout => PopTimeoutError::Timeout,
            Waited::PeerGone => PopTimeoutError::PeerGone,
            Waited::Corrupt(e) => PopTimeoutError::Corrupt(e),
        }
    }
}
