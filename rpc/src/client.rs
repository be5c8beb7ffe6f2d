//! The calling side: one response ring per client, one call in flight.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytemuck::Pod;
use ringway::{mpmc, spsc, Kind, OpenOptions, PopError, PushError, Ring, RingBuilder};
use ringway_async::Readiness;

use crate::error::RpcError;
use crate::frame::{deadline_ns, Frame, FRAME_TYPE_NAME, MAX_PAYLOAD, STATUS_OK};
use crate::liveness::ProcessWatch;

/// Slots of a client's response ring. One call is in flight at a time, so
/// this only needs room for the late responses of calls that timed out.
pub const RESPONSE_CAPACITY: u64 = 64;

/// How many times a waiting call re-checks its response ring before it arms
/// the readiness fd and sleeps (a round trip with an idle server is a few
/// microseconds; sleeping costs more than that).
const SPINS: u32 = 200;

/// Tags distinguish the clients of one process.
static NEXT_TAG: AtomicU32 = AtomicU32::new(1);

/// The name of a client's response ring: the server's name, the client's pid
/// and tag, all decimal.
pub(crate) fn response_ring_name(server: &str, pid: u32, tag: u32) -> String {
    format!("{server}.c{pid}.{tag}")
}

/// A client of one server (see the crate docs). `Send`, not `Sync`: one call
/// at a time; make one client per thread.
#[derive(Debug)]
pub struct Client {
    requests: mpmc::Producer<Frame>,
    responses: spsc::Consumer<Frame>,
    response_ring: Ring,
    readiness: Readiness,
    server: ProcessWatch,
    id: Identity,
    next_call: u64,
}

/// Who a client is, as its requests say.
#[derive(Debug)]
pub(crate) struct Identity {
    pub(crate) pid: u32,
    pub(crate) tag: u32,
    pub(crate) start: u64,
}

/// Opens the server's request ring and creates this client's response ring.
#[allow(clippy::type_complexity)]
pub(crate) fn connect_parts(
    server: &str,
) -> Result<
    (
        mpmc::Producer<Frame>,
        spsc::Consumer<Frame>,
        Ring,
        ProcessWatch,
        Identity,
    ),
    RpcError,
> {
    let request_ring = OpenOptions::new()
        .kind(Kind::Mpmc)
        .message::<Frame>()
        .type_name(FRAME_TYPE_NAME)
        .open_shm(server)?;
    let id = request_ring.identity();
    let watch = match ProcessWatch::watch(id.creator_pid, id.creator_start_time) {
        Ok(w) => w,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RpcError::ServerGone),
        Err(e) => return Err(e.into()),
    };
    let requests = mpmc::Producer::<Frame>::attach(&request_ring)?;
    let pid = ringway::process::current_pid();
    // Relaxed: a counter; uniqueness is all it gives.
    let tag = NEXT_TAG.fetch_add(1, Ordering::Relaxed);
    let name = response_ring_name(server, pid, tag);
    let builder = RingBuilder::new(Kind::Spsc)
        .capacity(RESPONSE_CAPACITY)
        .message::<Frame>()
        .type_name(FRAME_TYPE_NAME)
        .unlink_on_drop(true);
    let response_ring = match builder.create_shm(&name) {
        Ok(r) => r,
        // Our pid and tag in the name: left by a dead process that had our pid.
        Err(ringway::CreateError::AlreadyExists { .. }) => {
            let _ = Ring::remove_shm(&name);
            builder.create_shm(&name)?
        }
        Err(e) => return Err(e.into()),
    };
    let responses = spsc::Consumer::<Frame>::attach(&response_ring)?;
    Ok((
        requests,
        responses,
        response_ring,
        watch,
        Identity {
            pid,
            tag,
            start: ringway::process::current_start_time(),
        },
    ))
}

/// Builds the request frame of call `call_id`.
pub(crate) fn request_frame(
    id: &Identity,
    call_id: u64,
    payload: &[u8],
    deadline: Option<Instant>,
) -> Result<Frame, RpcError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(RpcError::TooLarge { len: payload.len() });
    }
    let mut f = Frame::with_payload(payload);
    f.call_id = call_id;
    f.client_pid = id.pid;
    f.client_tag = id.tag;
    f.client_start = id.start;
    f.deadline_ns = deadline_ns(deadline);
    Ok(f)
}

/// What a response frame means for call `call_id`: `None` for a stale one
/// (an earlier call that timed out), to discard.
pub(crate) fn match_response(f: &Frame, call_id: u64) -> Option<Result<Frame, RpcError>> {
    if f.call_id != call_id {
        return None;
    }
    let Some(payload) = f.payload() else {
        return Some(Err(RpcError::Failed(format!(
            "response length {} is more than a frame holds",
            f.len
        ))));
    };
    if f.status != STATUS_OK {
        return Some(Err(RpcError::Failed(
            String::from_utf8_lossy(payload).into_owned(),
        )));
    }
    Some(Ok(*f))
}

impl Client {
    /// Connects to the server named `server` (a shm name such as `/svc`):
    /// opens its request ring, watches its process, and creates this
    /// client's response ring (removed when the client is dropped).
    ///
    /// # Errors
    /// [`RpcError::Open`] when there is no such server ring;
    /// [`RpcError::ServerGone`] when its process is not running;
    /// `Create`/`Handle`/`Io` for the response ring and the readiness fd.
    pub fn connect(server: &str) -> Result<Client, RpcError> {
        let (requests, responses, response_ring, server, id) = connect_parts(server)?;
        Ok(Client {
            requests,
            responses,
            response_ring,
            readiness: Readiness::new()?,
            server,
            id,
            next_call: 1,
        })
    }

    /// Calls with a bytes payload (at most [`MAX_PAYLOAD`]) and copies the
    /// response's payload into `out`, returning its length. Waits until
    /// `deadline` at the latest (`None`: as long as the server lives).
    ///
    /// # Errors
    /// [`RpcError::Timeout`]; [`RpcError::ServerGone`] as soon as the server
    /// process exits (the wait polls its pidfd, no timer);
    /// [`RpcError::Failed`] when the server failed the call;
    /// [`RpcError::TooLarge`] for a payload or an `out` too small for the
    /// response; `Corrupt`, `Io`.
    pub fn call_bytes(
        &mut self,
        payload: &[u8],
        out: &mut [u8],
        deadline: Option<Instant>,
    ) -> Result<usize, RpcError> {
        let f = self.call_frame(payload, deadline)?;
        let got = f.payload().unwrap_or_default();
        let dst = out
            .get_mut(..got.len())
            .ok_or(RpcError::TooLarge { len: got.len() })?;
        dst.copy_from_slice(got);
        Ok(got.len())
    }

    /// Calls with a typed request and response (`Pod` types of at most
    /// [`MAX_PAYLOAD`] bytes each).
    ///
    /// # Errors
    /// As [`call_bytes`](Self::call_bytes), and [`RpcError::WrongSize`] when
    /// the response has another size than `Resp`.
    pub fn call<Req: Pod, Resp: Pod>(
        &mut self,
        request: &Req,
        deadline: Option<Instant>,
    ) -> Result<Resp, RpcError> {
        let f = self.call_frame(bytemuck::bytes_of(request), deadline)?;
        decode(&f)
    }

    /// Sends the request and waits for its response frame.
    fn call_frame(&mut self, payload: &[u8], deadline: Option<Instant>) -> Result<Frame, RpcError> {
        let call_id = self.next_call;
        self.next_call += 1;
        let frame = request_frame(&self.id, call_id, payload, deadline)?;
        self.send(frame, deadline)?;
        self.receive(call_id, deadline)
    }

    /// Pushes the request, waiting in slices for room while the server lives.
    fn send(&mut self, mut frame: Frame, deadline: Option<Instant>) -> Result<(), RpcError> {
        loop {
            match self.requests.try_push(frame) {
                Ok(()) => return Ok(()),
                // Busy (MPMC: a consumer still reads the slot at the tail)
                // waits as Full does.
                Err(PushError::Full(f) | PushError::Busy(f)) => frame = f,
                Err(PushError::Corrupt(e)) => return Err(e.into()),
                // The request ring's consumer (the server) died.
                Err(PushError::PeerGone(_)) => return Err(RpcError::ServerGone),
                Err(PushError::Size { .. }) => unreachable!("typed ring"),
            }
            if !self.server.is_alive() {
                return Err(RpcError::ServerGone);
            }
            let slice = Instant::now() + Duration::from_millis(5);
            let until = deadline.map_or(slice, |d| d.min(slice));
            match self.requests.push_deadline(frame, until) {
                Ok(()) => return Ok(()),
                Err(ringway::PushTimeoutError::Timeout(f)) => frame = f,
                Err(ringway::PushTimeoutError::Corrupt(e)) => return Err(e.into()),
                Err(ringway::PushTimeoutError::PeerGone(_)) => return Err(RpcError::ServerGone),
                Err(ringway::PushTimeoutError::Size { .. }) => unreachable!("typed ring"),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(RpcError::Timeout);
            }
        }
    }

    /// Waits for the response to `call_id`, discarding stale ones.
    fn receive(&mut self, call_id: u64, deadline: Option<Instant>) -> Result<Frame, RpcError> {
        let mut spins = 0;
        loop {
            let popped = if spins < SPINS {
                spins += 1;
                match self.responses.try_pop() {
                    Err(PopError::Empty | PopError::Busy) => {
                        core::hint::spin_loop();
                        None
                    }
                    other => Some(other),
                }
            } else {
                let rx = &mut self.responses;
                let armed = self.readiness.arm(
                    self.response_ring.data_event(),
                    self.response_ring.barrier(),
                    || match rx.try_pop() {
                        Err(PopError::Empty | PopError::Busy) => None,
                        other => Some(other),
                    },
                )?;
                if armed.is_none() {
                    match self.sleep(deadline)? {
                        Woke::Maybe => {}
                        Woke::Timeout => return Err(RpcError::Timeout),
                        Woke::ServerGone => {
                            // One last look: the response may have come
                            // just before the server exited.
                            return self.last_look(call_id).unwrap_or(Err(RpcError::ServerGone));
                        }
                    }
                }
                armed
            };
            match popped {
                None => {}
                Some(Ok(f)) => {
                    if let Some(result) = match_response(&f, call_id) {
                        return result;
                    }
                }
                Some(Err(PopError::Corrupt(e))) => return Err(e.into()),
                // The response ring's producer (the server) died.
                Some(Err(PopError::PeerGone)) => return Err(RpcError::ServerGone),
                Some(Err(e)) => unreachable!("typed ring: {e:?}"),
            }
        }
    }

    /// Sleeps until the response fd or the server's pidfd is readable, or
    /// the deadline.
    fn sleep(&mut self, deadline: Option<Instant>) -> Result<Woke, RpcError> {
        let woke = poll_until(&[self.readiness.fd(), self.server.fd()], deadline)?;
        let why = if woke[1] {
            Woke::ServerGone
        } else if !woke[0] && deadline.is_some_and(|d| Instant::now() >= d) {
            Woke::Timeout
        } else {
            return Ok(Woke::Maybe);
        };
        self.readiness.disarm(self.response_ring.data_event());
        Ok(why)
    }

    /// Drains the response ring for `call_id`'s response without waiting.
    fn last_look(&mut self, call_id: u64) -> Option<Result<Frame, RpcError>> {
        loop {
            match self.responses.try_pop() {
                Ok(f) => {
                    if let Some(result) = match_response(&f, call_id) {
                        return Some(result);
                    }
                }
                Err(PopError::Corrupt(e)) => return Some(Err(e.into())),
                Err(_) => return None,
            }
        }
    }

    /// This client's response ring.
    #[must_use]
    pub fn response_ring(&self) -> &Ring {
        &self.response_ring
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.readiness.disarm(self.response_ring.data_event());
    }
}

/// Why a sleeping call woke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woke {
    /// The response ring may have changed (or a spurious wake): re-check.
    Maybe,
    /// The deadline passed.
    Timeout,
    /// The server's pidfd is readable: it exited.
    ServerGone,
}

/// Decodes a typed payload.
pub(crate) fn decode<T: Pod>(f: &Frame) -> Result<T, RpcError> {
    let got = f.payload().unwrap_or_default();
    if got.len() != size_of::<T>() {
        return Err(RpcError::WrongSize {
            expected: size_of::<T>(),
            found: got.len(),
        });
    }
    Ok(bytemuck::pod_read_unaligned(got))
}

/// `ppoll` for `POLLIN` on `fds` until `deadline`; which fds are readable.
pub(crate) fn poll_until(
    fds: &[RawFd; 2],
    deadline: Option<Instant>,
) -> Result<[bool; 2], RpcError> {
    let mut pfds = fds.map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    });
    let ts = deadline.map(|d| {
        let left = d.saturating_duration_since(Instant::now());
        libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(left.subsec_nanos() as i32),
        }
    });
    let ts_ptr = ts.as_ref().map_or(core::ptr::null(), core::ptr::from_ref);
    // SAFETY: `pfds` is a valid array of 2 pollfds; `ts_ptr` is null or
    // points to `ts`, alive across the call; no signal mask.
    let rc = unsafe { libc::ppoll(pfds.as_mut_ptr(), 2, ts_ptr, core::ptr::null()) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok([false, false]);
        }
        return Err(e.into());
    }
    Ok(pfds.map(|p| p.revents != 0))
}
