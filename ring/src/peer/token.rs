//! The liveness token: an open-file-description lock on one byte of the ring
//! object per registry entry.
//!
//! `F_OFD_SETLK` locks belong to an open file description, not to a process
//! (unlike classic `F_SETLK` locks, which a process loses when it closes any
//! descriptor of the file and which do not conflict within one process). So:
//!
//! - each handle opens the ring object again (`/proc/self/fd/N` gives a new
//!   description of the same object, for shm, files and memfds alike) and
//!   write-locks the byte of its entry on it; two handles of one process hold
//!   different descriptions and see each other's locks;
//! - the kernel releases the lock when the last descriptor of that
//!   description is closed, which a process's death does after its last
//!   thread has exited: a released lock proves that no thread of the holder
//!   can still write;
//! - anyone holding another description of the object, in any pid namespace,
//!   tests the lock with `F_OFD_GETLK`: one system call, no pid involved.
//!
//! Locks are advisory and on a byte range only: they never block a read or a
//! write of the mapping.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// Whether the byte at `offset` of `file`'s object is write-locked by an open
/// file description other than `file`'s.
///
/// # Errors
/// The `fcntl` failure (for example `EINVAL` where OFD locks do not exist).
pub(crate) fn is_locked(file: &File, offset: u64) -> io::Result<bool> {
    let mut lock = flock(libc::F_WRLCK as i16, offset)?;
    // SAFETY: `lock` is a valid, initialised `flock` that the kernel fills in;
    // the descriptor is open (owned by `file`).
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_GETLK, &mut lock) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lock.l_type != libc::F_UNLCK as i16)
}

/// Tries to write-lock the byte at `offset` through `file`'s open file
/// description without waiting. `Ok(false)`: another description holds it.
///
/// # Errors
/// The `fcntl` failure other than a conflict.
pub(crate) fn try_lock(file: &File, offset: u64) -> io::Result<bool> {
    set(file, libc::F_WRLCK as i16, offset)
}

/// Releases the lock `file`'s description holds on the byte at `offset`.
pub(crate) fn unlock(file: &File, offset: u64) {
    // An error here leaves the lock to the descriptor's close.
    let _ = set(file, libc::F_UNLCK as i16, offset);
}

fn set(file: &File, kind: i16, offset: u64) -> io::Result<bool> {
    let lock = flock(kind, offset)?;
    // SAFETY: `lock` is a valid, initialised `flock`; the descriptor is open.
    let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &lock) };
    if rc == 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EAGAIN | libc::EACCES) => Ok(false),
        _ => Err(e),
    }
}

fn flock(kind: i16, offset: u64) -> io::Result<libc::flock> {
    // SAFETY: `flock` is plain data; all-zero is a valid value (l_pid must be
    // 0 for the OFD commands).
    let mut lock: libc::flock = unsafe { core::mem::zeroed() };
    lock.l_type = kind;
    lock.l_whence = libc::SEEK_SET as i16;
    lock.l_start = libc::off_t::try_from(offset).map_err(|_| io::Error::other("offset"))?;
    lock.l_len = 1;
    Ok(lock)
}

/// A description of our own of the ring object, for a liveness token or
/// a reaper's exclusive lock: listed for `fork` while open (`fork.rs`), so
/// a forked child does not keep the locks taken through it.
#[derive(Debug)]
pub(crate) struct Token(Option<File>);

impl core::ops::Deref for Token {
    type Target = File;

    fn deref(&self) -> &File {
        // Only `drop` takes the file out.
        self.0
            .as_ref()
            .expect("a token's file is present until drop")
    }
}

impl Drop for Token {
    fn drop(&mut self) {
        if let Some(file) = self.0.take() {
            super::fork::close_listed(file);
        }
    }
}

/// A new open file description of the object `file` refers to (through
/// `/proc/self/fd`), read-write, close-on-exec, listed for `fork`.
///
/// # Errors
/// No `/proc`, or the reopen is refused.
pub(crate) fn reopen(file: &File) -> io::Result<Token> {
    use std::os::unix::fs::OpenOptionsExt;
    super::fork::open_listed(|| {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(format!("/proc/self/fd/{}", file.as_raw_fd()))
    })
    .map(|f| Token(Some(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_seen_from_another_description_and_not_from_its_own() {
        let dir = std::env::temp_dir().join(format!("ringway-token-{}", std::process::id()));
        let base = File::create(&dir).unwrap();
        let holder = reopen(&base).unwrap();
        assert!(!is_locked(&base, 7).unwrap());
        assert!(try_lock(&holder, 7).unwrap());
        assert!(is_locked(&base, 7).unwrap());
        assert!(!is_locked(&holder, 7).unwrap(), "own lock is no conflict");
        assert!(!is_locked(&base, 8).unwrap(), "one byte only");
        let other = reopen(&base).unwrap();
        assert!(!try_lock(&other, 7).unwrap());
        drop(holder);
        assert!(!is_locked(&base, 7).unwrap(), "closing drops the lock");
        assert!(try_lock(&other, 7).unwrap());
        unlock(&other, 7);
        assert!(!is_locked(&base, 7).unwrap());
        std::fs::remove_file(&dir).unwrap();
    }
}
