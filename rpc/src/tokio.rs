//! The async client: calls as futures on a tokio runtime.

use std::io;
use std::time::Instant;

use bytemuck::Pod;
use ringway::{mpmc, spsc, PopError};
use ringway_async::{AsyncConsumer, AsyncProducer, Error as AsyncError};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::client::{connect_parts, decode, match_response, request_frame, Identity};
use crate::error::RpcError;
use crate::frame::Frame;
use crate::liveness::ProcessWatch;
use crate::server::{Delivery, Request, Server, SWEEP_EVERY};
use ringway_async::Readiness;

/// A client whose calls are futures (see [`Client`](crate::Client) for the
/// protocol). Needs a tokio runtime with IO and time enabled. Dropping a
/// call's future abandons the call: its late answer is discarded by the
/// next call.
#[derive(Debug)]
pub struct AsyncClient {
    requests: AsyncProducer<mpmc::Producer<Frame>>,
    responses: AsyncConsumer<spsc::Consumer<Frame>>,
    server: AsyncFd<ProcessWatch>,
    id: Identity,
    next_call: u64,
}

fn async_error(e: AsyncError) -> RpcError {
    match e {
        AsyncError::Corrupt(e) => RpcError::Corrupt(e),
        AsyncError::Io(e) => RpcError::Io(e),
        other => RpcError::Io(io::Error::other(other.to_string())),
    }
}

impl AsyncClient {
    /// Connects to the server named `server`, as [`Client::connect`](crate::Client::connect).
    ///
    /// # Errors
    /// As [`Client::connect`](crate::Client::connect).
    ///
    /// # Panics
    /// Outside a tokio runtime with IO enabled (tokio's `AsyncFd`
    /// registration panics then); its calls need the time driver too.
    pub fn connect(server: &str) -> Result<AsyncClient, RpcError> {
        let (requests, responses, _ring, watch, id) = connect_parts(server)?;
        // SAFETY: `ProcessWatch::as_raw_fd` is the pidfd it owns, open and
        // unchanged until the watch is dropped, which the AsyncFd does.
        let server = unsafe { AsyncFd::register_with_interest(watch, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(AsyncClient {
            requests: AsyncProducer::new(requests)?,
            responses: AsyncConsumer::new(responses)?,
            server,
            id,
            next_call: 1,
        })
    }

    /// Calls with a typed request and response.
    ///
    /// # Errors
    /// As [`Client::call`](crate::Client::call).
    pub async fn call<Req: Pod, Resp: Pod>(
        &mut self,
        request: &Req,
        deadline: Option<Instant>,
    ) -> Result<Resp, RpcError> {
        let f = self
            .call_frame(bytemuck::bytes_of(request), deadline)
            .await?;
        decode(&f)
    }

    /// Calls with a bytes payload; returns the response's payload.
    ///
    /// # Errors
    /// As [`Client::call_bytes`](crate::Client::call_bytes).
    pub async fn call_bytes(
        &mut self,
        payload: &[u8],
        deadline: Option<Instant>,
    ) -> Result<Vec<u8>, RpcError> {
        let f = self.call_frame(payload, deadline).await?;
        Ok(f.payload().unwrap_or_default().to_vec())
    }

    async fn call_frame(
        &mut self,
        payload: &[u8],
        deadline: Option<Instant>,
    ) -> Result<Frame, RpcError> {
        let call_id = self.next_call;
        self.next_call += 1;
        let frame = request_frame(&self.id, call_id, payload, deadline)?;
        let AsyncClient {
            requests,
            responses,
            server,
            ..
        } = self;
        let exchange = async {
            requests.push(frame).await.map_err(async_error)?;
            loop {
                let f = responses.pop().await.map_err(async_error)?;
                if let Some(result) = match_response(&f, call_id) {
                    return result;
                }
            }
        };
        let expiry = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            result = exchange => result,
            gone = server.readable() => {
                let _still_readable = gone?;
                // One last look: the answer may have come just before the exit.
                loop {
                    match responses.get_mut().try_pop() {
                        Ok(f) => {
                            if let Some(result) = match_response(&f, call_id) {
                                return result;
                            }
                        }
                        Err(PopError::Corrupt(e)) => return Err(e.into()),
                        Err(_) => return Err(RpcError::ServerGone),
                    }
                }
            }
            () = expiry => Err(RpcError::Timeout),
        }
    }
}

/// A server whose `recv` is a future (see [`Server`] for the protocol).
/// Answers never wait, so they are plain calls. Needs a tokio runtime with
/// IO and time enabled.
#[derive(Debug)]
pub struct AsyncServer {
    server: Server,
    fd: AsyncFd<Readiness>,
}

impl AsyncServer {
    /// Creates the request ring `name`, as [`Server::create`].
    ///
    /// # Errors
    /// As [`Server::create`]; `Io` for the readiness fd.
    ///
    /// # Panics
    /// Outside a tokio runtime with IO enabled.
    pub fn create(name: &str, capacity: u64) -> Result<AsyncServer, RpcError> {
        let server = Server::create(name, capacity)?;
        let readiness = Readiness::new()?;
        // SAFETY: `Readiness::as_raw_fd` is the fd of the io_uring it owns,
        // open and unchanged until the readiness is dropped, which the
        // AsyncFd does.
        let fd = unsafe { AsyncFd::register_with_interest(readiness, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(AsyncServer { server, fd })
    }

    /// Takes the next request. While no request comes it wakes every
    /// [`SWEEP_EVERY`] to forget dead clients. Cancellation-safe: a request
    /// is taken only in the poll that returns it.
    ///
    /// # Errors
    /// `Corrupt`, `Io`.
    pub async fn recv(&mut self) -> Result<Request, RpcError> {
        loop {
            let AsyncServer { server, fd } = self;
            let event = server.request_ring().clone();
            let got = std::future::poll_fn(|cx| loop {
                let taken = fd.get_mut().arm(event.data_event(), event.barrier(), || {
                    server.try_recv().transpose()
                });
                match taken {
                    Err(e) => return std::task::Poll::Ready(Err(RpcError::Io(e))),
                    Ok(Some(result)) => return std::task::Poll::Ready(result),
                    Ok(None) => {}
                }
                let mut guard = std::task::ready!(fd.poll_read_ready_mut(cx))?;
                if !guard.get_inner_mut().has_completion() {
                    guard.clear_ready();
                }
            });
            match tokio::time::timeout(SWEEP_EVERY, got).await {
                Ok(result) => return result,
                Err(_elapsed) => {
                    self.server.sweep();
                }
            }
        }
    }

    /// Answers `request` with a bytes payload, as [`Server::respond_bytes`].
    ///
    /// # Errors
    /// As [`Server::respond_bytes`].
    pub fn respond_bytes(
        &mut self,
        request: &Request,
        payload: &[u8],
    ) -> Result<Delivery, RpcError> {
        self.server.respond_bytes(request, payload)
    }

    /// Answers `request` with a typed payload, as [`Server::respond`].
    ///
    /// # Errors
    /// As [`Server::respond`].
    pub fn respond<T: Pod>(
        &mut self,
        request: &Request,
        response: &T,
    ) -> Result<Delivery, RpcError> {
        self.server.respond(request, response)
    }

    /// Fails `request`, as [`Server::fail`].
    ///
    /// # Errors
    /// As [`Server::fail`].
    pub fn fail(&mut self, request: &Request, message: &str) -> Result<Delivery, RpcError> {
        self.server.fail(request, message)
    }

    /// The blocking server inside (its `clients`, `sweep`, ...).
    pub fn get_mut(&mut self) -> &mut Server {
        &mut self.server
    }
}

impl Drop for AsyncServer {
    fn drop(&mut self) {
        let ring = self.server.request_ring().clone();
        self.fd.get_mut().disarm(ring.data_event());
    }
}
