//! Is the peer process still there: a pidfd, readable once it has exited.
//!
//! This is the small interface the RPC module needs from peer liveness
//! (`watch`, `is_alive`, `fd` to poll). It is built here on `pidfd_open`
//! because the shared peer-liveness registry was not on `main` yet; when it
//! lands, [`ProcessWatch`] is the one type to switch to it.
//!
//! Pid reuse: the pidfd is opened first and the process's start time is
//! compared afterwards, so a pidfd that refers to a recycled pid is refused.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A watch on one process: its pidfd.
#[derive(Debug)]
pub struct ProcessWatch {
    fd: OwnedFd,
    pid: u32,
}

impl ProcessWatch {
    /// Watches process `pid`, which must have started at `start_time` (clock
    /// ticks since boot, as `ringway::process::start_time`; 0: unchecked).
    ///
    /// # Errors
    /// [`io::ErrorKind::NotFound`] when no such process runs (or the pid was
    /// recycled); the `pidfd_open` error otherwise (`ENOSYS` before Linux 5.3).
    pub fn watch(pid: u32, start_time: u64) -> io::Result<ProcessWatch> {
        let gone = || io::Error::new(io::ErrorKind::NotFound, format!("process {pid} is gone"));
        let raw_pid = libc::pid_t::try_from(pid).map_err(|_| gone())?;
        if raw_pid <= 0 {
            return Err(gone());
        }
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, raw_pid, 0) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err(if e.raw_os_error() == Some(libc::ESRCH) {
                gone()
            } else {
                e
            });
        }
        // SAFETY: `rc` is a new fd that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(rc as RawFd) };
        if start_time != 0 && ringway::process::start_time(pid) != Some(start_time) {
            return Err(gone());
        }
        let watch = ProcessWatch { fd, pid };
        if !watch.is_alive() {
            return Err(gone());
        }
        Ok(watch)
    }

    /// The process has not exited (one `poll` syscall).
    #[must_use]
    pub fn is_alive(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, no wait.
        let rc = unsafe { libc::poll(&mut p, 1, 0) };
        rc == 0
    }

    /// The pidfd: readable (`POLLIN`) once the process has exited.
    #[must_use]
    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The watched pid.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

impl AsRawFd for ProcessWatch {
    fn as_raw_fd(&self) -> RawFd {
        self.fd()
    }
}
