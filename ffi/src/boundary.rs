//! The one boundary every export goes through: it catches panics, turns
//! errors into result codes, records the per-thread error message, and checks
//! pointer arguments for NULL.
//!
//! An export's body is a closure returning `Result<(), Error>`; [`call`] runs
//! it under [`boundary`] (`catch_unwind`) and maps the outcome to a
//! [`ringway_result`]. Exports that return something else (a string, a
//! length) call [`boundary`] directly. A panic never unwinds into C: it
//! becomes `RINGWAY_ERR_PANIC` (or the return type's fallback value) with the
//! panic message as the thread's last error. This relies on the library being
//! built with `panic = "unwind"` (the default; the workspace never sets
//! `abort`).
//!
//! Recording an error allocates only for messages that carry values; full,
//! empty and timeout results record a static message, so a producer spinning
//! on a full ring does not allocate.

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::Error;
use crate::result::ringway_result;

/// The last error of this thread: which export failed and why.
struct LastError {
    function: &'static str,
    message: Cow<'static, str>,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = const {
        RefCell::new(LastError { function: "", message: Cow::Borrowed("") })
    };
}

/// Makes `message` this thread's last error, reported as `function: message`.
fn record(function: &'static str, message: Cow<'static, str>) {
    // `try_with`: during thread teardown the slot may be gone; losing the
    // message then is better than panicking.
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            last.function = function;
            last.message = message;
        }
    });
}

/// Copies this thread's last error message into `out` (snprintf semantics);
/// returns its full length in bytes, without the NUL.
pub(crate) fn copy_last_error(out: Option<&mut [u8]>) -> usize {
    LAST_ERROR
        .try_with(|last| {
            let last = last.borrow();
            let parts: [&[u8]; 3] = if last.function.is_empty() {
                [b"", b"", last.message.as_bytes()]
            } else {
                [last.function.as_bytes(), b": ", last.message.as_bytes()]
            };
            let total = parts.iter().map(|p| p.len()).sum();
            if let Some(out) = out {
                if let Some(room) = out.len().checked_sub(1) {
                    let mut at = 0;
                    for part in parts {
                        let n = part.len().min(room - at);
                        out[at..at + n].copy_from_slice(&part[..n]);
                        at += n;
                    }
                    out[at] = 0;
                }
            }
            total
        })
        .unwrap_or(0)
}

/// What an export returns when its body panicked.
pub(crate) trait Outcome {
    /// The value returned after a caught panic.
    fn panicked() -> Self;
}

impl Outcome for ringway_result {
    fn panicked() -> Self {
        ringway_result::RINGWAY_ERR_PANIC
    }
}

impl Outcome for usize {
    fn panicked() -> Self {
        0
    }
}

impl Outcome for u32 {
    fn panicked() -> Self {
        0
    }
}

impl Outcome for () {
    fn panicked() -> Self {}
}

impl Outcome for *const c_char {
    fn panicked() -> Self {
        c"(ringway: panic)".as_ptr()
    }
}

/// Runs an export's body, catching any panic: the panic becomes `T`'s
/// fallback value and this thread's last error names `function`.
pub(crate) fn boundary<T: Outcome>(function: &'static str, body: impl FnOnce() -> T) -> T {
    // AssertUnwindSafe: after a panic the handle the body used may be in an
    // inconsistent state; the documentation tells C callers to free a handle
    // whose call returned RINGWAY_ERR_PANIC, and no state is shared otherwise.
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            record(function, Cow::Owned(panic_message(payload)));
            T::panicked()
        }
    }
}

/// The message of a panic payload. A payload that is not a string is leaked
/// rather than dropped: its destructor could panic again, outside any
/// `catch_unwind`.
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    let text = if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        std::mem::forget(payload);
        return "panic inside ringway (non-string payload); free the handle".to_owned();
    };
    format!("panic inside ringway: {text}; free the handle")
}

/// Runs an export whose body returns `Result<(), Error>`: `Ok` is
/// `RINGWAY_OK`; an error's code is returned and its message recorded.
pub(crate) fn call(
    function: &'static str,
    body: impl FnOnce() -> Result<(), Error>,
) -> ringway_result {
    boundary(function, || match body() {
        Ok(()) => ringway_result::RINGWAY_OK,
        Err(e) => {
            record(function, e.message);
            e.code
        }
    })
}

/// A shared reference from a pointer argument, or `RINGWAY_ERR_NULL`.
///
/// # Safety
/// `ptr` is NULL or valid for reads of a `T` for `'a`, with no mutable
/// reference to it alive during `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, name: &'static str) -> Result<&'a T, Error> {
    // SAFETY: the caller's promise; `as_ref` checks NULL.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::null(name))
}

/// A mutable reference from a pointer argument, or `RINGWAY_ERR_NULL`.
///
/// # Safety
/// `ptr` is NULL or valid for reads and writes of a `T` for `'a`, with no
/// other reference to it alive during `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &'static str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller's promise; `as_mut` checks NULL.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::null(name))
}

/// Checks an output pointer for NULL; the caller writes it only on success.
pub(crate) fn arg_out<T>(ptr: *mut T, name: &'static str) -> Result<*mut T, Error> {
    if ptr.is_null() {
        Err(Error::null(name))
    } else {
        Ok(ptr)
    }
}

/// `len` bytes at `ptr` (NULL is refused even when `len` is 0).
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes for `'a`, not written
/// during `'a`.
pub(crate) unsafe fn arg_bytes<'a>(
    ptr: *const core::ffi::c_void,
    len: usize,
    name: &'static str,
) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: non-null, and the caller's promise covers `len` bytes.
    Ok(unsafe { core::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// `len` writable bytes at `ptr` (NULL is refused even when `len` is 0).
///
/// # Safety
/// `ptr` is NULL or valid for writes of `len` bytes for `'a`, with no other
/// access during `'a`.
pub(crate) unsafe fn arg_bytes_mut<'a>(
    ptr: *mut core::ffi::c_void,
    len: usize,
    name: &'static str,
) -> Result<&'a mut [u8], Error> {
    if ptr.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: non-null, and the caller's promise covers `len` bytes.
    Ok(unsafe { core::slice::from_raw_parts_mut(ptr.cast::<u8>(), len) })
}

/// A NUL-terminated string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that lives and is not
/// written during `'a`.
pub(crate) unsafe fn arg_cstr<'a>(
    ptr: *const c_char,
    name: &'static str,
) -> Result<&'a CStr, Error> {
    if ptr.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: non-null and NUL-terminated by the caller's promise.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// A NUL-terminated UTF-8 string argument; invalid UTF-8 is `invalid_code`.
///
/// # Safety
/// As [`arg_cstr`].
pub(crate) unsafe fn arg_str<'a>(
    ptr: *const c_char,
    name: &'static str,
    invalid_code: ringway_result,
) -> Result<&'a str, Error> {
    // SAFETY: forwarded from the caller.
    let cstr = unsafe { arg_cstr(ptr, name) }?;
    cstr.to_str().map_err(|_| {
        Error::new(
            invalid_code,
            format!("argument `{name}` is not valid UTF-8"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last() -> String {
        let n = copy_last_error(None);
        let mut buf = vec![0u8; n + 1];
        assert_eq!(copy_last_error(Some(&mut buf)), n);
        assert_eq!(buf[n], 0);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn a_panic_becomes_err_panic_with_its_message() {
        let rc = call("ringway_test", || panic!("boom {}", 42));
        assert_eq!(rc, ringway_result::RINGWAY_ERR_PANIC);
        assert_eq!(
            last(),
            "ringway_test: panic inside ringway: boom 42; free the handle"
        );
        let s: *const c_char = boundary("ringway_test_str", || panic!("static"));
        assert!(!s.is_null());
        assert_eq!(
            last(),
            "ringway_test_str: panic inside ringway: static; free the handle"
        );
        let n: usize = boundary("ringway_test_len", || std::panic::panic_any(7u8));
        assert_eq!(n, 0);
        assert!(last().contains("non-string payload"));
    }

    #[test]
    fn errors_are_recorded_per_thread_and_truncated_like_snprintf() {
        let rc = call("ringway_x", || {
            Err(Error::fixed(
                ringway_result::RINGWAY_ERR_FULL,
                "ring is full",
            ))
        });
        assert_eq!(rc, ringway_result::RINGWAY_ERR_FULL);
        assert_eq!(last(), "ringway_x: ring is full");
        let mut small = [0xffu8; 5];
        assert_eq!(copy_last_error(Some(&mut small)), 23);
        assert_eq!(&small, b"ring\0");
        let mut empty: [u8; 0] = [];
        assert_eq!(copy_last_error(Some(&mut empty)), 23);
        std::thread::spawn(|| assert_eq!(copy_last_error(None), 0))
            .join()
            .unwrap();
        // Success leaves the last error alone (like errno).
        assert_eq!(call("ringway_y", || Ok(())), ringway_result::RINGWAY_OK);
        assert_eq!(last(), "ringway_x: ring is full");
    }

    #[test]
    fn null_arguments_are_named() {
        // SAFETY: NULL is always accepted.
        let e = unsafe { arg_ref::<u8>(core::ptr::null(), "ring") }.unwrap_err();
        assert_eq!(e.code, ringway_result::RINGWAY_ERR_NULL);
        assert_eq!(e.message, "argument `ring` is NULL");
    }
}
