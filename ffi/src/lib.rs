//! The C ABI of ringway (`libringway.so`, `libringway.a`), declared by
//! `c-include/ringway.h`, which is generated from this crate by cbindgen
//! (`tests/header.rs` fails when the committed header is stale).
//!
//! Shape (after rustls-ffi and wasmtime's C API):
//! - every symbol is `ringway_*`, every macro `RINGWAY_*`;
//! - rings, producers and consumers (of fixed-size slots: `ringway_producer`,
//!   `ringway_consumer`; of records: `ringway_record_producer`,
//!   `ringway_record_consumer`; of broadcast rings:
//!   `ringway_broadcast_producer`, `ringway_broadcast_subscriber`) are opaque handles made by `_create` or
//!   `_open` and freed by `_free` (`_free(NULL)` is a no-op);
//! - fallible calls return a [`ringway_result`] (`RINGWAY_OK` = 0), write
//!   their outputs (last argument) only on success, and leave a message for
//!   [`ringway_last_error_message`];
//! - every export runs through one boundary (`boundary.rs`) that checks
//!   pointers for NULL and catches panics, so nothing unwinds into C and the
//!   host never aborts;
//! - only plain `#[repr(C)]` structs cross by value, their sizes asserted here
//!   and in the header (`_Static_assert`).

#![deny(unsafe_op_in_unsafe_fn)]

mod boundary;
mod broadcast;
mod chunk;
mod consumer;
mod durable;
mod error;
mod producer;
mod readiness;
mod record_consumer;
mod record_producer;
mod result;
mod ring;
mod rpc;
mod version;
mod wait;

use std::ffi::c_char;

pub use broadcast::{
    ringway_broadcast_producer, ringway_broadcast_producer_create, ringway_broadcast_producer_free,
    ringway_broadcast_producer_push, ringway_broadcast_producer_push_timeout,
    ringway_broadcast_producer_try_push, ringway_broadcast_subscriber,
    ringway_broadcast_subscriber_create, ringway_broadcast_subscriber_free,
    ringway_broadcast_subscriber_missed, ringway_broadcast_subscriber_pop,
    ringway_broadcast_subscriber_pop_timeout, ringway_broadcast_subscriber_try_pop,
    ringway_received, ringway_start, RINGWAY_START_BACK, RINGWAY_START_NEWEST, RINGWAY_START_NEXT,
    RINGWAY_START_OLDEST,
};
pub use chunk::ringway_chunk;
pub use consumer::{
    ringway_consumer, ringway_consumer_create, ringway_consumer_disarm, ringway_consumer_free,
    ringway_consumer_pop, ringway_consumer_pop_or_arm, ringway_consumer_pop_timeout,
    ringway_consumer_read, ringway_consumer_readiness_fd, ringway_consumer_release,
    ringway_consumer_slot, ringway_consumer_try_pop,
};
pub use durable::{ringway_ring_flush, ringway_ring_recover, ringway_ring_scan, ringway_scan};
pub use producer::{
    ringway_producer, ringway_producer_commit, ringway_producer_create, ringway_producer_disarm,
    ringway_producer_free, ringway_producer_push, ringway_producer_push_or_arm,
    ringway_producer_push_timeout, ringway_producer_readiness_fd, ringway_producer_reserve,
    ringway_producer_slot, ringway_producer_try_push,
};
pub use record_consumer::{
    ringway_record, ringway_record_consumer, ringway_record_consumer_create,
    ringway_record_consumer_free, ringway_record_consumer_heal_dead_producers,
    ringway_record_consumer_pop, ringway_record_consumer_pop_timeout, ringway_record_consumer_read,
    ringway_record_consumer_read_timeout, ringway_record_consumer_release,
    ringway_record_consumer_try_pop, RINGWAY_RECORD_HEADER,
};
pub use record_producer::{
    ringway_record_producer, ringway_record_producer_abort, ringway_record_producer_commit,
    ringway_record_producer_create, ringway_record_producer_free, ringway_record_producer_push,
    ringway_record_producer_push_timeout, ringway_record_producer_reserve,
    ringway_record_producer_reserve_timeout, ringway_record_producer_try_push,
};
pub use result::{ringway_result, ringway_result_str};
pub use ring::{
    ringway_barrier, ringway_info, ringway_kind, ringway_params, ringway_ring,
    ringway_ring_barrier, ringway_ring_create_anonymous, ringway_ring_create_file,
    ringway_ring_create_shm, ringway_ring_free, ringway_ring_info, ringway_ring_lost,
    ringway_ring_open_file, ringway_ring_open_shm, ringway_ring_reap_dead,
    ringway_ring_remove_file, ringway_ring_remove_shm, RINGWAY_BARRIER_ASYMMETRIC,
    RINGWAY_BARRIER_SYMMETRIC, RINGWAY_CREATE_ASYMMETRIC_BARRIER, RINGWAY_CREATE_CHECKSUMS,
    RINGWAY_CREATE_GATED, RINGWAY_CREATE_STAMPED, RINGWAY_CREATE_SYMMETRIC_BARRIER,
    RINGWAY_CREATE_UNLINK_ON_DROP, RINGWAY_KIND_ANY, RINGWAY_KIND_BROADCAST, RINGWAY_KIND_MPMC,
    RINGWAY_KIND_RECORD, RINGWAY_KIND_SPSC,
};
pub use rpc::{
    ringway_rpc_client, ringway_rpc_client_call, ringway_rpc_client_connect,
    ringway_rpc_client_free, ringway_rpc_server, ringway_rpc_server_create,
    ringway_rpc_server_fail, ringway_rpc_server_free, ringway_rpc_server_recv,
    ringway_rpc_server_respond,
};
pub use version::{
    ringway_abi_version, ringway_layout_version, ringway_version, RINGWAY_ABI_VERSION,
    RINGWAY_LAYOUT_VERSION, RINGWAY_VERSION_MAJOR, RINGWAY_VERSION_MINOR, RINGWAY_VERSION_PATCH,
};

/// Copies the calling thread's last error message (`"function: reason"`)
/// into `buf`, truncated to `len - 1` bytes and always NUL-terminated when
/// `len > 0`, and returns the message's full length without the NUL, like
/// `snprintf` (so a return value `>= len` means it was truncated). With
/// `len == 0` nothing is written and `buf` may be NULL.
///
/// The message is that of the last call on this thread that failed; a
/// successful call leaves it unchanged. It is empty before any failure.
///
/// # Safety
/// `buf` is writable for `len` bytes (or NULL when `len` is 0).
#[no_mangle]
pub unsafe extern "C" fn ringway_last_error_message(buf: *mut c_char, len: usize) -> usize {
    boundary::boundary("ringway_last_error_message", || {
        if buf.is_null() || len == 0 {
            return boundary::copy_last_error(None);
        }
        // SAFETY: `buf` is non-null and writable for `len` bytes (the
        // caller's promise).
        let out = unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
        boundary::copy_last_error(Some(out))
    })
}
