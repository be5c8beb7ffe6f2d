//! The serving side: takes requests from the MPMC request ring, answers into
//! each client's response ring, forgets clients that died.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bytemuck::Pod;
use ringway::{mpmc, spsc, Kind, OpenOptions, PopTimeoutError, PushError, Ring, RingBuilder};

use crate::client::{decode, response_ring_name};
use crate::error::RpcError;
use crate::frame::{monotonic_ns, Frame, FRAME_TYPE_NAME, MAX_PAYLOAD, STATUS_ERROR};
use crate::liveness::ProcessWatch;

/// How often a waiting server looks for clients that died.
pub const SWEEP_EVERY: Duration = Duration::from_millis(50);

/// A request taken from the ring, to answer with [`Server::respond`].
#[derive(Debug, Clone, Copy)]
pub struct Request {
    frame: Frame,
}

impl Request {
    /// The request's payload (bounds-checked: `len` is peer-written).
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        self.frame.payload().unwrap_or_default()
    }

    /// The payload as a `T`.
    ///
    /// # Errors
    /// [`RpcError::WrongSize`] when the payload is not `size_of::<T>()` bytes.
    pub fn decode<T: Pod>(&self) -> Result<T, RpcError> {
        decode(&self.frame)
    }

    /// The call's correlation id.
    #[must_use]
    pub fn call_id(&self) -> u64 {
        self.frame.call_id
    }

    /// Pid of the calling client (peer-written: an identifier, not a proof).
    #[must_use]
    pub fn client_pid(&self) -> u32 {
        self.frame.client_pid
    }

    /// The caller's deadline has passed: it no longer waits for the answer.
    #[must_use]
    pub fn expired(&self) -> bool {
        self.frame.deadline_ns != 0 && monotonic_ns() >= self.frame.deadline_ns
    }
}

/// What became of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the client's response ring.
    Delivered,
    /// Dropped: the client process is gone (its ring is removed).
    ClientGone,
    /// Dropped: the client's response ring is full (it is not reading: it
    /// abandoned calls, or hangs).
    ClientFull,
}

/// A client the server has answered before.
#[derive(Debug)]
struct Peer {
    tx: spsc::Producer<Frame>,
    watch: ProcessWatch,
    ring_name: String,
}

/// An RPC server (see the crate docs). One per request ring; `Send`.
#[derive(Debug)]
pub struct Server {
    requests: mpmc::Consumer<Frame>,
    request_ring: Ring,
    name: String,
    clients: HashMap<(u32, u32), Peer>,
    last_sweep: Instant,
    dropped_expired: u64,
}

impl Server {
    /// Creates the request ring `name` (a shm name such as `/svc`) with
    /// `capacity` slots (a power of two); the name is removed when the server
    /// is dropped.
    ///
    /// # Errors
    /// [`RpcError::Create`] (the name exists, bad capacity, no space),
    /// `Handle`.
    pub fn create(name: &str, capacity: u64) -> Result<Server, RpcError> {
        let ring = RingBuilder::new(Kind::Mpmc)
            .capacity(capacity)
            .message::<Frame>()
            .type_name(FRAME_TYPE_NAME)
            .unlink_on_drop(true)
            .create_shm(name)?;
        Ok(Server {
            requests: mpmc::Consumer::<Frame>::attach(&ring)?,
            request_ring: ring,
            name: name.to_owned(),
            clients: HashMap::new(),
            last_sweep: Instant::now(),
            dropped_expired: 0,
        })
    }

    /// Takes the next request, waiting until `deadline` (`None`: forever).
    /// Requests whose caller's deadline has passed are skipped. While it
    /// waits, it forgets clients that died every [`SWEEP_EVERY`].
    ///
    /// # Errors
    /// [`RpcError::Timeout`]; `Corrupt`.
    pub fn recv(&mut self, deadline: Option<Instant>) -> Result<Request, RpcError> {
        loop {
            let slice = Instant::now() + SWEEP_EVERY;
            let until = deadline.map_or(slice, |d| d.min(slice));
            match self.requests.pop_deadline(until) {
                Ok(frame) => {
                    let request = Request { frame };
                    if request.expired() {
                        self.dropped_expired += 1;
                        continue;
                    }
                    if self.last_sweep.elapsed() >= SWEEP_EVERY {
                        self.sweep();
                    }
                    return Ok(request);
                }
                // PeerGone: every client died (reported once per death);
                // the server goes on serving whoever attaches next.
                Err(PopTimeoutError::Timeout | PopTimeoutError::PeerGone) => {
                    self.sweep();
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(RpcError::Timeout);
                    }
                }
                Err(PopTimeoutError::Corrupt(e)) => return Err(e.into()),
                Err(e @ PopTimeoutError::Size { .. }) => unreachable!("typed ring: {e:?}"),
            }
        }
    }

    /// Takes the next request if one is there, without waiting (skipping
    /// expired ones, sweeping dead clients every [`SWEEP_EVERY`]).
    ///
    /// # Errors
    /// `Corrupt`.
    pub fn try_recv(&mut self) -> Result<Option<Request>, RpcError> {
        if self.last_sweep.elapsed() >= SWEEP_EVERY {
            self.sweep();
        }
        loop {
            match self.requests.try_pop() {
                Ok(frame) => {
                    let request = Request { frame };
                    if request.expired() {
                        self.dropped_expired += 1;
                        continue;
                    }
                    return Ok(Some(request));
                }
                // Busy: a producer is writing the head message; its commit notifies.
                // PeerGone: every client died; new ones may come.
                Err(
                    ringway::PopError::Empty
                    | ringway::PopError::Busy
                    | ringway::PopError::PeerGone,
                ) => return Ok(None),
                Err(ringway::PopError::Corrupt(e)) => return Err(e.into()),
                Err(e) => unreachable!("typed ring: {e:?}"),
            }
        }
    }

    /// Answers `request` with a bytes payload (at most [`MAX_PAYLOAD`]).
    /// Never blocks: a client that does not read loses the answer.
    ///
    /// # Errors
    /// [`RpcError::TooLarge`]; `Corrupt` (the client's ring).
    pub fn respond_bytes(
        &mut self,
        request: &Request,
        payload: &[u8],
    ) -> Result<Delivery, RpcError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(RpcError::TooLarge { len: payload.len() });
        }
        self.deliver(request, Frame::with_payload(payload))
    }

    /// Answers `request` with a typed payload.
    ///
    /// # Errors
    /// As [`respond_bytes`](Self::respond_bytes).
    pub fn respond<T: Pod>(
        &mut self,
        request: &Request,
        response: &T,
    ) -> Result<Delivery, RpcError> {
        self.respond_bytes(request, bytemuck::bytes_of(response))
    }

    /// Fails `request` with a message (truncated to [`MAX_PAYLOAD`] bytes);
    /// the client's call returns [`RpcError::Failed`].
    ///
    /// # Errors
    /// As [`respond_bytes`](Self::respond_bytes).
    pub fn fail(&mut self, request: &Request, message: &str) -> Result<Delivery, RpcError> {
        let bytes = message.as_bytes();
        let mut f = Frame::with_payload(&bytes[..bytes.len().min(MAX_PAYLOAD)]);
        f.status = STATUS_ERROR;
        self.deliver(request, f)
    }

    fn deliver(&mut self, request: &Request, mut f: Frame) -> Result<Delivery, RpcError> {
        let q = &request.frame;
        f.call_id = q.call_id;
        f.client_pid = q.client_pid;
        f.client_tag = q.client_tag;
        f.client_start = q.client_start;
        f.deadline_ns = q.deadline_ns;
        let key = (q.client_pid, q.client_tag);
        if !self.clients.contains_key(&key) {
            match self.open_client(q) {
                Some(peer) => {
                    self.clients.insert(key, peer);
                }
                None => return Ok(Delivery::ClientGone),
            }
        }
        let Some(peer) = self.clients.get_mut(&key) else {
            unreachable!("inserted above")
        };
        match peer.tx.try_push(f) {
            Ok(()) => Ok(Delivery::Delivered),
            // Busy (MPMC: the client still reads the slot at the tail)
            // counts as full.
            Err(PushError::Full(_) | PushError::Busy(_)) => {
                if peer.watch.is_alive() {
                    Ok(Delivery::ClientFull)
                } else {
                    self.forget(key);
                    Ok(Delivery::ClientGone)
                }
            }
            Err(PushError::PeerGone(_)) => {
                self.forget(key);
                Ok(Delivery::ClientGone)
            }
            Err(PushError::Corrupt(e)) => Err(e.into()),
            Err(e @ PushError::Size { .. }) => unreachable!("typed ring: {e:?}"),
        }
    }

    /// Opens a new client's response ring and watches its process; `None`
    /// when either is gone.
    fn open_client(&self, q: &Frame) -> Option<Peer> {
        let ring_name = response_ring_name(&self.name, q.client_pid, q.client_tag);
        let Ok(watch) = ProcessWatch::watch(q.client_pid, q.client_start) else {
            // Gone before we ever answered it: remove its ring, unless a
            // process with its pid runs now (which may own that name).
            if !ringway::process::is_alive(q.client_pid, None) {
                let _ = Ring::remove_shm(&ring_name);
            }
            return None;
        };
        let ring = OpenOptions::new()
            .kind(Kind::Spsc)
            .message::<Frame>()
            .type_name(FRAME_TYPE_NAME)
            .open_shm(&ring_name)
            .ok()?;
        let tx = spsc::Producer::<Frame>::attach(&ring).ok()?;
        Some(Peer {
            tx,
            watch,
            ring_name,
        })
    }

    /// Forgets a client and removes its response ring's name (a dead client
    /// cannot).
    fn forget(&mut self, key: (u32, u32)) {
        if let Some(peer) = self.clients.remove(&key) {
            let _ = Ring::remove_shm(&peer.ring_name);
        }
    }

    /// Forgets every client whose process has exited, dropping what was
    /// queued for it. Returns how many. [`recv`](Self::recv) calls it.
    pub fn sweep(&mut self) -> usize {
        self.last_sweep = Instant::now();
        let dead: Vec<_> = self
            .clients
            .iter()
            .filter(|(_, p)| !p.watch.is_alive())
            .map(|(k, _)| *k)
            .collect();
        for key in &dead {
            self.forget(*key);
        }
        dead.len()
    }

    /// Clients the server currently knows (has answered and not forgotten).
    #[must_use]
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Requests skipped because their caller's deadline had passed.
    #[must_use]
    pub fn dropped_expired(&self) -> u64 {
        self.dropped_expired
    }

    /// The request ring.
    #[must_use]
    pub fn request_ring(&self) -> &Ring {
        &self.request_ring
    }
}
