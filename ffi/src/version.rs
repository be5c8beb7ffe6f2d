//! Versions: of the library, of its C ABI, and of the shared-memory layout.
//!
//! The constants become macros in `ringway.h`; the functions report what
//! the linked library was built as, so a program can check at run time that
//! it runs against the library its header came from.

use std::ffi::c_char;

use crate::boundary::boundary;

/// Major version of the library (`RINGWAY_VERSION_MAJOR` in C).
pub const RINGWAY_VERSION_MAJOR: u32 = 0;
/// Minor version of the library.
pub const RINGWAY_VERSION_MINOR: u32 = 1;
/// Patch version of the library.
pub const RINGWAY_VERSION_PATCH: u32 = 0;
/// Version of the C ABI declared by this header: bumped on any incompatible
/// change to a declaration, and when a field gains a meaning (2:
/// `ringway_info.flags`, formerly `reserved`, always 0 in 1). Compare with
/// `ringway_abi_version()`; a program that reads a field of version N checks
/// that it is at least N.
pub const RINGWAY_ABI_VERSION: u32 = 2;
/// Version of the shared-memory layout that rings created by this library
/// carry; rings of another layout version are refused with
/// `RINGWAY_ERR_ABI_MISMATCH`.
pub const RINGWAY_LAYOUT_VERSION: u32 = 9;

const fn parse_u32(s: &str) -> u32 {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut n = 0u32;
    while i < bytes.len() {
        n = n * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    n
}

// The header's macros are literals (cbindgen cannot evaluate `env!`); these
// asserts fail the build when the crate version or the core crate's layout
// version moves without them. (`RINGWAY_VERSION`, the string, is written into
// the header by `tests/header.rs` from the crate version: cbindgen 0.29 skips
// string constants.)
const _: () = assert!(RINGWAY_VERSION_MAJOR == parse_u32(env!("CARGO_PKG_VERSION_MAJOR")));
const _: () = assert!(RINGWAY_VERSION_MINOR == parse_u32(env!("CARGO_PKG_VERSION_MINOR")));
const _: () = assert!(RINGWAY_VERSION_PATCH == parse_u32(env!("CARGO_PKG_VERSION_PATCH")));
const _: () = assert!(RINGWAY_LAYOUT_VERSION == ringway_core::layout::ABI_VERSION);

/// The library's version, `"MAJOR.MINOR.PATCH"` (static; never freed).
#[no_mangle]
pub extern "C" fn ringway_version() -> *const c_char {
    boundary("ringway_version", || {
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
    })
}

/// The library's C ABI version; equal to `RINGWAY_ABI_VERSION` when the
/// header and the library match.
#[no_mangle]
pub extern "C" fn ringway_abi_version() -> u32 {
    boundary("ringway_abi_version", || RINGWAY_ABI_VERSION)
}

/// The shared-memory layout version this library creates and accepts;
/// equal to `RINGWAY_LAYOUT_VERSION`.
#[no_mangle]
pub extern "C" fn ringway_layout_version() -> u32 {
    boundary("ringway_layout_version", || {
        ringway_core::layout::ABI_VERSION
    })
}
