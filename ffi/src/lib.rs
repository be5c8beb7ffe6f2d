//! The C ABI of ringway (`libringway.so`, `libringway.a`), declared by
//! `c-include/ringway.h`.
//!
//! So far it exports only the version queries; the ring calls (create, open,
//! push, pop, chunks) come with the C ABI work, shaped like rustls-ffi:
//! `ringway_` prefix, opaque handles, result codes, panics caught at the
//! boundary.

#![deny(unsafe_op_in_unsafe_fn)]

/// ABI version of the mapped layout this library speaks.
#[no_mangle]
pub extern "C" fn ringway_abi_version() -> u32 {
    ringway::layout::ABI_VERSION
}
