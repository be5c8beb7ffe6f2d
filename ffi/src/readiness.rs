//! Readiness fds for C event loops: the shared part of
//! `ringway_consumer_readiness_fd` / `ringway_consumer_pop_or_arm` and the
//! producer's twins (see `ringway_async::Readiness` for the mechanism: an
//! io_uring `FUTEX_WAIT` on the ring's eventcount, so a busy ring makes no
//! syscall and notifiers are unchanged).

use std::io;

use ringway_async::Readiness;
use ringway_core::Ring;

use crate::error::Error;
use crate::result::ringway_result;

/// A handle's readiness fd and the ring whose event it waits on.
#[derive(Debug)]
pub(crate) struct Armable {
    pub(crate) readiness: Readiness,
    pub(crate) ring: Ring,
}

impl Armable {
    /// Creates the io_uring behind the fd.
    pub(crate) fn new(ring: &Ring) -> Result<Armable, Error> {
        Ok(Armable {
            readiness: Readiness::new().map_err(readiness_error)?,
            ring: ring.clone(),
        })
    }
}

/// Maps an io_uring setup or submission error.
pub(crate) fn readiness_error(e: io::Error) -> Error {
    // ENOSYS maps to Unsupported; EPERM (io_uring disabled by sysctl or
    // seccomp) to PermissionDenied.
    let code = if matches!(
        e.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
    ) {
        ringway_result::RINGWAY_ERR_UNSUPPORTED
    } else {
        ringway_result::RINGWAY_ERR_IO
    };
    Error::new(code, format!("readiness fd: {e}"))
}
