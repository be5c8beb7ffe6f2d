//! Looking at an object by descriptor before trusting it: open without
//! following a symlink and without blocking (a FIFO), `fstat` the descriptor,
//! read the header with `pread` ([`ringway::probe`]), and remove only the
//! object that was looked at.
//!
//! Nothing here maps anything: `ls` and `rm` never map an object, and `info`
//! maps only after the header read here validated (and the library validates
//! it again on the mapped copy).
//!
//! What `rm` removes, and why (the rule for objects a creator left behind):
//!
//! | object | removed? |
//! |---|---|
//! | a READY header (valid, or another ABI/layout version) | yes: it starts with the magic |
//! | the magic and an initialising state, creator gone | yes: a creator that died mid-setup |
//! | the magic and an initialising state, creator alive | no: it is being created |
//! | empty (0 bytes) | no: nothing proves it is a ring (since ABI 2 a creator's first write is the magic, so only a creator killed between `open` and that `pwrite` leaves one) |
//! | anything else (text, zeros, random bytes, 1-7 bytes of the magic) | no |
//! | not a regular file (symlink, FIFO, directory, device) | no |

use std::fs::File;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ringway::probe::{self, Probe};

use crate::failure::{fail, Failure};
use crate::locator::Locator;

/// An object opened for inspection, and who it was (device and inode).
#[derive(Debug)]
pub(crate) struct Object {
    file: File,
    path: PathBuf,
    dev: u64,
    ino: u64,
}

/// Where a locator's object is in the file system (shm objects live in
/// /dev/shm on Linux).
pub(crate) fn path_of(locator: &Locator) -> PathBuf {
    match locator {
        Locator::Shm(name) => Path::new("/dev/shm").join(&name[1..]),
        Locator::File(path) => path.clone(),
    }
}

impl Object {
    /// Opens `path` read-only, never following a symlink and never blocking
    /// (a FIFO opens at once), and checks by `fstat` that it is a regular file.
    ///
    /// # Errors
    /// What `open` or `fstat` reported; `InvalidInput` for a symlink or for
    /// anything that is not a regular file.
    pub(crate) fn open(path: &Path) -> io::Result<Object> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => {
                    io::Error::new(io::ErrorKind::InvalidInput, "it is a symbolic link")
                }
                _ => e,
            })?;
        let meta = file.metadata()?;
        if !meta.file_type().is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is not a regular file",
            ));
        }
        Ok(Object {
            file,
            path: path.to_owned(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// What its header says (read with `pread`, no mapping).
    ///
    /// # Errors
    /// What `fstat` or `pread` reported.
    pub(crate) fn probe(&self) -> io::Result<Probe> {
        probe::probe(&self.file)
    }

    /// Whether the name still leads to this very object (same device and
    /// inode, not a symlink).
    pub(crate) fn still_at_path(&self) -> bool {
        std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.file_type().is_file() && m.dev() == self.dev && m.ino() == self.ino)
    }
}

/// Why `rm` will or will not remove an object, from its probe.
pub(crate) fn removable(probe: &Probe) -> Result<&'static str, String> {
    match probe {
        Probe::Ready(_) => Ok("a ring"),
        Probe::Initialising(copy) if !copy.creator_alive() => {
            Ok("a ring whose creator died while setting it up")
        }
        Probe::Initialising(copy) => Err(format!(
            "is being created by pid {} (still running); not removing it",
            copy.identity().creator_pid
        )),
        Probe::Empty => Err(
            "is empty (0 bytes): nothing proves it is a ringway ring; not removing it (use the system's rm if you know it is)"
                .to_owned(),
        ),
        _ => Err("is not a ringway ring; not removing it".to_owned()),
    }
}

/// `ringway rm`: removes a ring, and only a ring, and only the object whose
/// header was read (re-checked by device and inode just before the unlink).
pub(crate) fn rm(name: &str) -> Result<(), Failure> {
    let locator = Locator::parse(name)?;
    let shown = locator.display();
    let path = path_of(&locator);
    let object = match Object::open(&path) {
        Ok(o) => o,
        Err(e) if e.kind() == io::ErrorKind::NotFound => fail!("no ring named {shown}"),
        Err(e) => fail!("{shown}: {e}; not removing it"),
    };
    let probe = object
        .probe()
        .map_err(|e| Failure(format!("{shown}: cannot read its header: {e}")))?;
    let what = match removable(&probe) {
        Ok(what) => what,
        Err(why) => fail!("{shown} {why}"),
    };
    // The name could have been pointed at another object since we opened
    // it: remove only if it still names the object we read. (A swap between
    // this check and the unlink below remains possible for someone who can
    // write the directory; see the README's security model.)
    if !object.still_at_path() {
        fail!("{shown} changed while it was being checked; not removing it");
    }
    match &locator {
        Locator::Shm(n) => ringway::Ring::remove_shm(n)?,
        Locator::File(p) => std::fs::remove_file(p)?,
    }
    println!("removed {shown} ({what})");
    Ok(())
}
