//! `ringway_rpc_server` and `ringway_rpc_client`: request/response between
//! processes (the `ringway-rpc` crate; its docs describe the rings, the
//! frames and what happens when a side dies).
//!
//! A server handle holds the request it received last; `respond` and
//! `fail` answer that one. Timeouts are in nanoseconds, `UINT64_MAX` for
//! none.

use std::ffi::c_char;
use std::time::{Duration, Instant};

use ringway_rpc::{Client, Delivery, Request, RpcError, Server};

use crate::boundary::{arg_bytes, arg_bytes_mut, arg_mut, arg_out, arg_str, boundary, call};
use crate::error::Error;
use crate::readiness::readiness_error;
use crate::result::ringway_result;

/// A request/response server (opaque): owns the request ring.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_rpc_server {
    server: Server,
    /// The request `recv` took last, until it is answered.
    current: Option<Request>,
}

/// A request/response client (opaque): one call at a time.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_rpc_client {
    client: Client,
}

fn deadline(timeout_ns: u64) -> Option<Instant> {
    if timeout_ns == u64::MAX {
        return None;
    }
    Instant::now().checked_add(Duration::from_nanos(timeout_ns))
}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Error {
        use ringway_result::*;
        match e {
            RpcError::Timeout => Error::fixed(RINGWAY_ERR_TIMEOUT, "the call's deadline passed"),
            RpcError::ServerGone => {
                Error::fixed(RINGWAY_ERR_SERVER_GONE, "the server process is gone")
            }
            RpcError::Failed(m) => Error::new(
                RINGWAY_ERR_CALL_FAILED,
                format!("the server failed the call: {m}"),
            ),
            e @ (RpcError::TooLarge { .. } | RpcError::WrongSize { .. }) => {
                Error::new(RINGWAY_ERR_SIZE, e.to_string())
            }
            RpcError::Open(e) => e.into(),
            RpcError::Create(e) => e.into(),
            RpcError::Handle(e) => e.into(),
            RpcError::Corrupt(e) => e.into(),
            RpcError::Io(e) => readiness_error(e),
            other => Error::new(RINGWAY_ERR_OTHER, other.to_string()),
        }
    }
}

/// Creates a server: its request ring `name` (a shm name such as "/svc")
/// with `capacity` slots (a power of two), removed by
/// `ringway_rpc_server_free`.
///
/// # Errors
/// `RINGWAY_ERR_INVALID_NAME`, `_EXISTS`, `_INVALID_ARGUMENT`, `_NO_SPACE`,
/// `_NULL`, `_IO`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_rpc_server_create(
    name: *const c_char,
    capacity: u64,
    out: *mut *mut ringway_rpc_server,
) -> ringway_result {
    call("ringway_rpc_server_create", || {
        // SAFETY: the caller's promise on `name`.
        let name = unsafe { arg_str(name, "name", ringway_result::RINGWAY_ERR_INVALID_NAME) }?;
        let out = arg_out(out, "out")?;
        let server = Server::create(name, capacity)?;
        let handle = Box::new(ringway_rpc_server {
            server,
            current: None,
        });
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(handle)) };
        Ok(())
    })
}

/// Frees a server and removes its request ring's name. Waiting clients see
/// the server as gone only when its process exits. `NULL` is a no-op.
///
/// # Safety
/// `server` is NULL or a server handle not yet freed; it is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ringway_rpc_server_free(server: *mut ringway_rpc_server) {
    boundary("ringway_rpc_server_free", || {
        if !server.is_null() {
            // SAFETY: a handle from `ringway_rpc_server_create`, freed once.
            drop(unsafe { Box::from_raw(server) });
        }
    })
}

/// Takes the next request, waiting at most `timeout_ns`, and copies its
/// payload into `buf` (`cap` bytes; `*out_len` is set to the payload's
/// length). The request becomes the one `ringway_rpc_server_respond`
/// answers (an earlier unanswered one is dropped).
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`, `_SIZE` (the payload does not fit `cap`; the
/// request is kept, answer or fail it), `_NULL`, `_CORRUPT`.
///
/// # Safety
/// `server` is a live server handle not used by another thread during the
/// call; `buf` is writable for `cap` bytes; `out_len` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_rpc_server_recv(
    server: *mut ringway_rpc_server,
    timeout_ns: u64,
    buf: *mut core::ffi::c_void,
    cap: usize,
    out_len: *mut usize,
) -> ringway_result {
    call("ringway_rpc_server_recv", || {
        // SAFETY: the caller's promise on `server`.
        let s = unsafe { arg_mut(server, "server") }?;
        // SAFETY: the caller's promise on `buf`.
        let buf = unsafe { arg_bytes_mut(buf, cap, "buf") }?;
        let out_len = arg_out(out_len, "out_len")?;
        let request = s.server.recv(deadline(timeout_ns))?;
        s.current = Some(request);
        let payload = request.payload();
        let dst = buf.get_mut(..payload.len()).ok_or_else(|| {
            Error::new(
                ringway_result::RINGWAY_ERR_SIZE,
                format!("a payload of {} bytes does not fit {cap}", payload.len()),
            )
        })?;
        dst.copy_from_slice(payload);
        // SAFETY: `out_len` is non-null and writable.
        unsafe { out_len.write(payload.len()) };
        Ok(())
    })
}

/// Answers the request `ringway_rpc_server_recv` took last with `len` bytes
/// of `payload` (at most 216). Never waits. `*out_delivered` (if not NULL)
/// is 1 when the answer is in the client's ring, 0 when it was dropped (the
/// client is gone, or its ring is full).
///
/// # Errors
/// `RINGWAY_ERR_STATE` (no request to answer), `_SIZE`, `_NULL`, `_CORRUPT`.
///
/// # Safety
/// `server` is a live server handle not used by another thread during the
/// call; `payload` is readable for `len` bytes; `out_delivered` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_rpc_server_respond(
    server: *mut ringway_rpc_server,
    payload: *const core::ffi::c_void,
    len: usize,
    out_delivered: *mut core::ffi::c_int,
) -> ringway_result {
    call("ringway_rpc_server_respond", || {
        // SAFETY: the caller's promise on `server`.
        let s = unsafe { arg_mut(server, "server") }?;
        // SAFETY: the caller's promise on `payload`.
        let payload = unsafe { arg_bytes(payload, len, "payload") }?;
        let request = s.current.ok_or_else(nothing_to_answer)?;
        let delivery = s.server.respond_bytes(&request, payload)?;
        s.current = None;
        if !out_delivered.is_null() {
            // SAFETY: non-null and writable (the caller's promise).
            unsafe { out_delivered.write(core::ffi::c_int::from(delivery == Delivery::Delivered)) };
        }
        Ok(())
    })
}

/// Fails the request `ringway_rpc_server_recv` took last: the client's call
/// returns `RINGWAY_ERR_CALL_FAILED` with `message` (truncated to 216 bytes).
///
/// # Errors
/// `RINGWAY_ERR_STATE` (no request to answer), `_NULL`, `_INVALID_ARGUMENT`
/// (not UTF-8), `_CORRUPT`.
///
/// # Safety
/// `server` is a live server handle not used by another thread during the
/// call; `message` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ringway_rpc_server_fail(
    server: *mut ringway_rpc_server,
    message: *const c_char,
) -> ringway_result {
    call("ringway_rpc_server_fail", || {
        // SAFETY: the caller's promise on `server`.
        let s = unsafe { arg_mut(server, "server") }?;
        // SAFETY: the caller's promise on `message`.
        let message = unsafe {
            arg_str(
                message,
                "message",
                ringway_result::RINGWAY_ERR_INVALID_ARGUMENT,
            )
        }?;
        let request = s.current.ok_or_else(nothing_to_answer)?;
        s.server.fail(&request, message)?;
        s.current = None;
        Ok(())
    })
}

fn nothing_to_answer() -> Error {
    Error::fixed(
        ringway_result::RINGWAY_ERR_STATE,
        "no request to answer; call ringway_rpc_server_recv first",
    )
}

/// Connects a client to the server `name`.
///
/// # Errors
/// `RINGWAY_ERR_NOT_FOUND` (no such server), `_SERVER_GONE` (its process is
/// not running), `_INVALID_NAME`, `_UNSUPPORTED` (no io_uring futex wait on
/// this kernel), `_NULL`, `_IO`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_rpc_client_connect(
    name: *const c_char,
    out: *mut *mut ringway_rpc_client,
) -> ringway_result {
    call("ringway_rpc_client_connect", || {
        // SAFETY: the caller's promise on `name`.
        let name = unsafe { arg_str(name, "name", ringway_result::RINGWAY_ERR_INVALID_NAME) }?;
        let out = arg_out(out, "out")?;
        let client = Client::connect(name)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(Box::into_raw(Box::new(ringway_rpc_client { client }))) };
        Ok(())
    })
}

/// Frees a client and removes its response ring. `NULL` is a no-op.
///
/// # Safety
/// `client` is NULL or a client handle not yet freed; it is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ringway_rpc_client_free(client: *mut ringway_rpc_client) {
    boundary("ringway_rpc_client_free", || {
        if !client.is_null() {
            // SAFETY: a handle from `ringway_rpc_client_connect`, freed once.
            drop(unsafe { Box::from_raw(client) });
        }
    })
}

/// Calls: sends `request_len` bytes of `request` (at most 216), waits at
/// most `timeout_ns` for the answer, copies it into `response` (`cap`
/// bytes) and sets `*out_len` to its length.
///
/// # Errors
/// `RINGWAY_ERR_TIMEOUT`; `_SERVER_GONE` as soon as the server's process
/// exits; `_CALL_FAILED` (the server failed it; see the message); `_SIZE`
/// (request too large, or the answer does not fit `cap`); `_NULL`,
/// `_CORRUPT`, `_IO`.
///
/// # Safety
/// `client` is a live client handle not used by another thread during the
/// call; `request` is readable for `request_len` bytes; `response` is
/// writable for `cap` bytes; `out_len` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_rpc_client_call(
    client: *mut ringway_rpc_client,
    request: *const core::ffi::c_void,
    request_len: usize,
    response: *mut core::ffi::c_void,
    cap: usize,
    timeout_ns: u64,
    out_len: *mut usize,
) -> ringway_result {
    call("ringway_rpc_client_call", || {
        // SAFETY: the caller's promise on `client`.
        let c = unsafe { arg_mut(client, "client") }?;
        // SAFETY: the caller's promise on `request`.
        let request = unsafe { arg_bytes(request, request_len, "request") }?;
        // SAFETY: the caller's promise on `response`.
        let response = unsafe { arg_bytes_mut(response, cap, "response") }?;
        let out_len = arg_out(out_len, "out_len")?;
        let n = c
            .client
            .call_bytes(request, response, deadline(timeout_ns))?;
        // SAFETY: `out_len` is non-null and writable.
        unsafe { out_len.write(n) };
        Ok(())
    })
}
