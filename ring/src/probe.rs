//! Reading a ring's header through a descriptor (`pread`), without mapping it.
//!
//! An opener (and every `ringway` CLI command) looks at an object this way
//! before it maps anything: a mapping of a foreign or hostile object is where
//! a truncation turns into SIGBUS, so nothing is mapped that has not shown a
//! ring header first. What the first bytes say, given the creation order in
//! [`layout`](crate::layout) (the creator's first write is line 0 with the
//! magic and [`STATE_INIT`]):
//!
//! | object | [`Probe`] | opener gets | `ringway rm` |
//! |---|---|---|---|
//! | 0 bytes | `Empty` | `TooSmall` (retried by `wait_for_creator`: a creator between `open` and its first write looks like this) | refuses: nothing proves it is a ring |
//! | first bytes are not (a prefix of) the magic, any length | `Foreign` | `BadMagic`, at once | refuses |
//! | 1-7 bytes, a prefix of the magic | `Incomplete` | `TooSmall` | refuses |
//! | the magic, `state` is not READY | `Initialising` | `NotReady` (retried) | removes it only when the creator recorded in line 0 is dead |
//! | the magic, `state` is READY | `Ready` | the full validation of `attach.rs` | removes it |
//!
//! The bytes are a private copy: a peer writing the object while we read it
//! can make the copy inconsistent, which validation refuses, but cannot change
//! it after the fact.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use core::mem::offset_of;

use crate::attach::{self, Expect};
use crate::error::OpenError;
use crate::layout::{
    Geometry, Header, Identity, ABI_VERSION, HEADER_SIZE, LAYOUT_HASH, LINE, MAGIC, STATE_INIT,
    STATE_READY,
};
use crate::process;

/// What the first bytes of an object say it is.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Probe {
    /// The object has no bytes.
    Empty,
    /// The object does not start with the ring magic.
    Foreign {
        /// The first word, zero-padded when shorter (native byte order, as
        /// [`OpenError::BadMagic`] reports it).
        found: u64,
    },
    /// Fewer than 8 bytes, all of them a prefix of the magic.
    Incomplete {
        /// Length of the object.
        len: u64,
    },
    /// The magic, and a state word other than READY: a creator at work, or
    /// one that died mid-setup.
    Initialising(HeaderCopy),
    /// The magic and a READY state word (the rest is not validated yet: see
    /// [`HeaderCopy::validate`]).
    Ready(HeaderCopy),
}

/// A private copy of an object's header (zero past the end of a short object).
#[derive(Clone)]
pub struct HeaderCopy {
    bytes: Box<[u8; HEADER_SIZE]>,
    file_len: u64,
}

impl core::fmt::Debug for HeaderCopy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HeaderCopy")
            .field("file_len", &self.file_len)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl HeaderCopy {
    fn u32_at(&self, at: usize) -> u32 {
        let mut w = [0u8; 4];
        w.copy_from_slice(&self.bytes[at..at + 4]);
        u32::from_ne_bytes(w)
    }

    fn u64_at(&self, at: usize) -> u64 {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.bytes[at..at + 8]);
        u64::from_ne_bytes(w)
    }

    /// Length of the object when it was read (`fstat`).
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// The identity as copied (unvalidated).
    pub fn identity(&self) -> Identity {
        // SAFETY: `Identity` is `repr(C)` and made only of integers, so every
        // bit pattern is a value; its 96 bytes lie inside the 2048-byte
        // buffer; `read_unaligned` needs no alignment.
        unsafe { core::ptr::read_unaligned(self.bytes.as_ptr().cast::<Identity>()) }
    }

    /// The state word.
    pub fn state(&self) -> u32 {
        self.u32_at(offset_of!(Header, state))
    }

    /// The producer cursor.
    pub fn tail(&self) -> u64 {
        self.u64_at(offset_of!(Header, tail))
    }

    /// The consumer cursor.
    pub fn head(&self) -> u64 {
        self.u64_at(offset_of!(Header, head))
    }

    /// Pids holding the SPSC producer and consumer roles (0 = free).
    pub fn role_owners(&self) -> (u32, u32) {
        (
            self.u32_at(offset_of!(Header, producer_owner)),
            self.u32_at(offset_of!(Header, consumer_owner)),
        )
    }

    /// Whether the creator recorded in the header is still running (same pid
    /// and start time).
    pub fn creator_alive(&self) -> bool {
        let id = self.identity();
        id.creator_pid != 0 && process::is_alive(id.creator_pid, Some(id.creator_start_time))
    }

    /// Runs the attach checks on the copy (magic, ABI, layout hash, geometry,
    /// total length within the object), for any kind and message type.
    ///
    /// # Errors
    /// The [`OpenError`] an opener would get.
    pub fn validate(&self) -> Result<Geometry, OpenError> {
        self.validate_for(&Expect::default())
    }

    pub(crate) fn validate_for(&self, expect: &Expect) -> Result<Geometry, OpenError> {
        let state = self.state();
        if state != STATE_READY {
            return Err(OpenError::NotReady { state });
        }
        attach::check_identity(&self.identity(), self.file_len, expect)
    }
}

/// Reads the header of `file` with `pread` and says what it is.
///
/// # Errors
/// What `fstat` or `pread` reported.
pub fn probe(file: &File) -> io::Result<Probe> {
    let file_len = file.metadata()?.len();
    if file_len == 0 {
        return Ok(Probe::Empty);
    }
    let mut bytes = Box::new([0u8; HEADER_SIZE]);
    let want = usize::try_from(file_len).map_or(HEADER_SIZE, |l| l.min(HEADER_SIZE));
    let mut got = 0;
    while got < want {
        match file.read_at(&mut bytes[got..want], got as u64) {
            Ok(0) => break, // shrunk since fstat: the rest stays zero
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let magic = MAGIC.to_ne_bytes();
    let n = got.min(8);
    if bytes[..n] != magic[..n] {
        let mut word = [0u8; 8];
        word[..n].copy_from_slice(&bytes[..n]);
        return Ok(Probe::Foreign {
            found: u64::from_ne_bytes(word),
        });
    }
    if n < 8 {
        return Ok(Probe::Incomplete { len: got as u64 });
    }
    let copy = HeaderCopy { bytes, file_len };
    Ok(if copy.state() == STATE_READY {
        Probe::Ready(copy)
    } else {
        Probe::Initialising(copy)
    })
}

/// The checks an opener runs before it maps `file`: it must start with a
/// ring header that says READY and validates, and hold all of it.
pub(crate) fn check_before_map(file: &File) -> Result<(), OpenError> {
    let need = HEADER_SIZE as u64;
    match probe(file).map_err(|source| OpenError::Io {
        context: "pread",
        source,
    })? {
        Probe::Empty => Err(OpenError::TooSmall { need, have: 0 }),
        Probe::Incomplete { len } => Err(OpenError::TooSmall { need, have: len }),
        Probe::Foreign { found } => Err(OpenError::BadMagic { found }),
        Probe::Initialising(copy) => Err(OpenError::NotReady {
            state: copy.state(),
        }),
        Probe::Ready(copy) if copy.file_len < need => Err(OpenError::TooSmall {
            need,
            have: copy.file_len,
        }),
        Probe::Ready(copy) => copy.validate().map(|_| ()),
    }
}

/// Line 0 of a ring under construction: the creator's first write to a new
/// object (see [`STATE_INIT`]).
pub(crate) fn creation_line() -> [u8; LINE] {
    let id = Identity {
        magic: MAGIC,
        abi_version: ABI_VERSION,
        layout_hash: LAYOUT_HASH,
        creator_pid: process::current_pid(),
        creator_start_time: process::current_start_time(),
        ..Identity::default()
    };
    let mut line = [0u8; LINE];
    // SAFETY: `Identity` is `repr(C)`, 96 bytes of integers with no padding
    // (pinned in layout.rs), so viewing it as bytes reads initialised memory;
    // the slice lives only for this copy.
    let id_bytes = unsafe {
        core::slice::from_raw_parts(
            (&id as *const Identity).cast::<u8>(),
            core::mem::size_of::<Identity>(),
        )
    };
    line[..id_bytes.len()].copy_from_slice(id_bytes);
    let state = offset_of!(Header, state);
    line[state..state + 4].copy_from_slice(&STATE_INIT.to_ne_bytes());
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> File {
        let mut f = tempfile_in_tmp();
        f.write_all(bytes).unwrap();
        f
    }

    fn tempfile_in_tmp() -> File {
        // An unnamed file: O_TMPFILE would do, but a named one removed at
        // once works everywhere.
        let path = std::env::temp_dir().join(format!(
            "ringway-probe-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    #[test]
    fn foreign_bytes_of_every_length_are_foreign() {
        assert!(matches!(probe(&file_with(b"")).unwrap(), Probe::Empty));
        for text in [&b"x"[..], b"hello", b"notes: remember the milk\n"] {
            assert!(matches!(
                probe(&file_with(text)).unwrap(),
                Probe::Foreign { .. }
            ));
        }
        assert!(matches!(
            probe(&file_with(&[0u8; 8192])).unwrap(),
            Probe::Foreign { found: 0 }
        ));
        assert!(matches!(
            probe(&file_with(b"RING")).unwrap(),
            Probe::Incomplete { len: 4 }
        ));
    }

    #[test]
    fn a_creation_line_reads_as_initialising_by_us() {
        let probe = probe(&file_with(&creation_line())).unwrap();
        let Probe::Initialising(copy) = probe else {
            panic!("{probe:?}")
        };
        assert_eq!(copy.state(), STATE_INIT);
        assert!(copy.creator_alive());
        assert_eq!(copy.identity().abi_version, ABI_VERSION);
        assert!(matches!(
            copy.validate(),
            Err(OpenError::NotReady { state: STATE_INIT })
        ));
    }
}
