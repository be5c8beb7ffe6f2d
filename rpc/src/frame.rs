//! The message both rings carry: a 256-byte frame, a 40-byte header and
//! up to [`MAX_PAYLOAD`] bytes of payload.
//!
//! ```text
//! offset  size  field         request                      response
//! ------  ----  ------------  ---------------------------  ---------------------------
//!      0     8  call_id       client's id, increasing      copied from the request
//!      8     4  client_pid    the client's pid             copied
//!     12     4  client_tag    the client's instance tag    copied
//!     16     8  client_start  the client's start time      copied
//!     24     8  deadline_ns   CLOCK_MONOTONIC ns, 0: none  copied
//!     32     4  len           payload bytes used           payload bytes used
//!     36     4  status        0                            0: ok, 1: the server failed it
//!     40   216  payload
//! ```
//!
//! Every field is peer-written: `len` is checked against [`MAX_PAYLOAD`]
//! before the payload is sliced; ids and pids are only compared or used to
//! build a ring name from decimal digits.

use bytemuck::{Pod, Zeroable};

/// Payload bytes a frame carries at most.
pub const MAX_PAYLOAD: usize = 216;

/// The name recorded in the rings' type fingerprint, so that C peers and
/// other builds agree on the frame type.
pub const FRAME_TYPE_NAME: &str = "ringway-rpc-frame-v1";

/// Response status: the server handled the call.
pub const STATUS_OK: u32 = 0;
/// Response status: the server could not handle the call (its payload is a
/// UTF-8 message).
pub const STATUS_ERROR: u32 = 1;

/// One request or response (see the module docs for the layout).
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
pub struct Frame {
    /// The call's correlation id.
    pub call_id: u64,
    /// Pid of the calling client.
    pub client_pid: u32,
    /// Which client of that process (its response ring's name has it).
    pub client_tag: u32,
    /// Start time of the client process (clock ticks since boot), against pid reuse.
    pub client_start: u64,
    /// Absolute `CLOCK_MONOTONIC` deadline of the call in ns, 0 for none.
    pub deadline_ns: u64,
    /// Payload bytes used.
    pub len: u32,
    /// [`STATUS_OK`] or [`STATUS_ERROR`] in a response; 0 in a request.
    pub status: u32,
    /// The payload; bytes past `len` are zero.
    pub payload: [u8; MAX_PAYLOAD],
}

const _: () = {
    assert!(size_of::<Frame>() == 256);
    assert!(core::mem::offset_of!(Frame, len) == 32);
    assert!(core::mem::offset_of!(Frame, payload) == 40);
};

impl Frame {
    /// A frame with `payload` (at most [`MAX_PAYLOAD`] bytes; the caller checks).
    pub(crate) fn with_payload(payload: &[u8]) -> Frame {
        let mut f = Frame::zeroed();
        f.payload[..payload.len()].copy_from_slice(payload);
        f.len = payload.len() as u32;
        f
    }

    /// The payload, if `len` is within bounds (it is peer-written).
    #[must_use]
    pub fn payload(&self) -> Option<&[u8]> {
        self.payload.get(..self.len as usize)
    }
}

/// `CLOCK_MONOTONIC` now, in ns: the clock every process on the machine shares.
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64
}

/// `deadline` as a `CLOCK_MONOTONIC` ns value (0 for none).
pub(crate) fn deadline_ns(deadline: Option<std::time::Instant>) -> u64 {
    deadline.map_or(0, |d| {
        let left = d.saturating_duration_since(std::time::Instant::now());
        monotonic_ns()
            .saturating_add(u64::try_from(left.as_nanos()).unwrap_or(u64::MAX))
            .max(1)
    })
}
