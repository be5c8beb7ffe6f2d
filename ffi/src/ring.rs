//! `ringway_ring`: creating, opening, inspecting and removing rings.
//!
//! A `ringway_ring` is a mapped, validated ring. Calls taking a
//! `const ringway_ring *` may run on several threads at once. Producer and
//! consumer handles keep the mapping alive, so a ring may be freed before its
//! handles.

use std::ffi::{c_char, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use ringway_core::{layout, Barrier, Kind, OpenOptions, Ring, RingBuilder};

use crate::boundary::{arg_cstr, arg_out, arg_ref, arg_str, boundary, call};
use crate::error::{remove_error, Error};
use crate::result::ringway_result;

/// A ring kind: `RINGWAY_KIND_SPSC`, `RINGWAY_KIND_MPMC`,
/// `RINGWAY_KIND_RECORD` or `RINGWAY_KIND_BROADCAST` (and
/// `RINGWAY_KIND_ANY` when opening).
#[allow(non_camel_case_types)]
pub type ringway_kind = u32;

/// When opening: accept a ring of either kind.
pub const RINGWAY_KIND_ANY: ringway_kind = 0;
/// One producer, one consumer.
pub const RINGWAY_KIND_SPSC: ringway_kind = 1;
/// Any number of producers and consumers.
pub const RINGWAY_KIND_MPMC: ringway_kind = 2;
/// Variable-size records in a byte ring: any number of producers, one
/// consumer (`ringway_record_producer`, `ringway_record_consumer`).
/// `capacity` counts bytes.
pub const RINGWAY_KIND_RECORD: ringway_kind = 3;
/// Variable-size records from one producer to any number of subscribers,
/// each with its own cursor (`ringway_broadcast_producer`,
/// `ringway_broadcast_subscriber`). `capacity` counts bytes.
pub const RINGWAY_KIND_BROADCAST: ringway_kind = 4;

/// `ringway_params.flags`: remove the ring's name (shm) or file when the
/// ring and its last handle are freed in the creating process.
pub const RINGWAY_CREATE_UNLINK_ON_DROP: u32 = 1;
/// `ringway_params.flags`: create the ring with the symmetric barrier (a
/// full fence on both sides of every wait/notify handshake; parking costs
/// other CPUs nothing). Any process can attach to such a ring. At most one
/// of the two barrier flags; with neither, the ring gets the best mode this
/// process can honour (asymmetric where it can register for `membarrier`).
pub const RINGWAY_CREATE_SYMMETRIC_BARRIER: u32 = 1 << 4;
/// `ringway_params.flags`: create the ring with the asymmetric barrier
/// (notifies pay no hardware fence; a waiter about to sleep pays one
/// `membarrier`, which interrupts the CPUs running ringway processes).
/// Creation fails with `RINGWAY_ERR_UNSUPPORTED` in a process that cannot
/// register for `membarrier`, and so does attaching from one.
pub const RINGWAY_CREATE_ASYMMETRIC_BARRIER: u32 = 1 << 5;

/// The barrier flags (any kind).
const BARRIER_FLAGS: u32 = RINGWAY_CREATE_SYMMETRIC_BARRIER | RINGWAY_CREATE_ASYMMETRIC_BARRIER;

/// A ring's barrier mode, fixed at its creation (`ringway_ring_barrier`).
#[allow(non_camel_case_types)]
pub type ringway_barrier = u32;

/// `fence(SeqCst)` on both sides of the wait/notify handshake.
pub const RINGWAY_BARRIER_SYMMETRIC: ringway_barrier = 1;
/// A compiler fence for notifiers; one `membarrier` per sleep for waiters.
pub const RINGWAY_BARRIER_ASYMMETRIC: ringway_barrier = 2;

const _: () = assert!(RINGWAY_BARRIER_SYMMETRIC == Barrier::Symmetric as u32);
const _: () = assert!(RINGWAY_BARRIER_ASYMMETRIC == Barrier::Asymmetric as u32);

/// `ringway_params.flags`, broadcast rings only: the producer waits for the
/// slowest live subscriber (dead ones are evicted) instead of lapping slow
/// subscribers (the default, *lossy*: a lapped subscriber counts what it
/// missed).
pub const RINGWAY_CREATE_GATED: u32 = 2;

/// `ringway_params.flags`, record rings only: every record carries a CRC32C
/// of its position, length and payload, checked on read and by
/// `ringway_ring_scan` / `ringway_ring_recover` (create durable file rings
/// with it).
pub const RINGWAY_CREATE_CHECKSUMS: u32 = 4;

/// `ringway_params.flags`, SPSC rings only: stamped slots, each a readiness
/// stamp then the payload, so a consumer learns of a message from the
/// message's own cache line (the lowest round-trip latency). Its chunks are
/// scattered (`ringway_chunk.first` is NULL: use `ringway_producer_slot` and
/// `ringway_consumer_slot`); without the flag the slots are contiguous and
/// chunks give two runs of slots. (MPMC slots always carry a stamp.)
pub const RINGWAY_CREATE_STAMPED: u32 = 8;

const _: () = assert!(RINGWAY_KIND_SPSC == Kind::Spsc as u32);
const _: () = assert!(RINGWAY_KIND_MPMC == Kind::Mpmc as u32);
const _: () = assert!(RINGWAY_KIND_RECORD == Kind::Record as u32);
const _: () = assert!(RINGWAY_KIND_BROADCAST == Kind::Broadcast as u32);

/// Parameters of a new ring. Zero means "default" for every field but
/// `kind`, `capacity` and `slot_size`, so a C99 designated initializer that
/// names those three is complete. Record and broadcast rings are byte
/// rings: `capacity` is their size in bytes and `slot_size` and
/// `slot_align` must be 0.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ringway_params {
    /// `RINGWAY_KIND_SPSC`, `_MPMC`, `_RECORD` or `_BROADCAST`.
    pub kind: ringway_kind,
    /// Payload bytes per slot (1 to 2^24); every message is exactly this long.
    /// 0 for record and broadcast rings.
    pub slot_size: u32,
    /// Number of slots: a power of two from 2 to 2^32. Record and broadcast
    /// rings: bytes, a power of two from 64; the largest record is
    /// `capacity - RINGWAY_RECORD_HEADER` bytes.
    pub capacity: u64,
    /// Alignment of each slot, a power of two up to 4096 that divides
    /// `slot_size` for SPSC; 0 picks the largest power of two up to 8 that
    /// divides `slot_size`.
    pub slot_align: u32,
    /// Permission bits of a shm object or file; 0 means 0600.
    pub mode: u32,
    /// `RINGWAY_CREATE_*` flags (`_GATED` only for broadcast rings,
    /// `_CHECKSUMS` only for record rings).
    pub flags: u32,
    /// Must be 0.
    pub reserved: u32,
}

const _: () = assert!(core::mem::size_of::<ringway_params>() == 32);
const _: () = assert!(core::mem::align_of::<ringway_params>() == 8);
const _: () = assert!(core::mem::offset_of!(ringway_params, capacity) == 8);
const _: () = assert!(core::mem::offset_of!(ringway_params, reserved) == 28);

/// A ring's geometry and fill level at one moment. For record and
/// broadcast rings `slot_size` is 1, `capacity` and `len` count bytes (`len`:
/// bytes between the consumer's, or the oldest record's, position and the
/// producers' claims) and `slot_align` is 16, the records' alignment.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ringway_info {
    /// The ring's `RINGWAY_KIND_*`.
    pub kind: ringway_kind,
    /// Payload bytes per slot.
    pub slot_size: u32,
    /// Number of slots.
    pub capacity: u64,
    /// Messages in the ring when it was read (0 to `capacity`); informational,
    /// peers move it at any time.
    pub len: u64,
    /// Alignment of each slot.
    pub slot_align: u32,
    /// The layout flags the ring was created with, as `RINGWAY_CREATE_*`
    /// bits: `_STAMPED` (SPSC: a readiness stamp in front of each payload,
    /// so chunks are scattered: use `ringway_*_slot`), `_CHECKSUMS` (record:
    /// a CRC32C per record), `_GATED` (broadcast: the producer waits for
    /// subscribers). No other bit is ever set; the barrier mode has its own
    /// call, `ringway_ring_barrier`. Since C ABI 2 (`ringway_abi_version()`);
    /// a library of C ABI 1 wrote 0 here (the field was `reserved`).
    pub flags: u32,
    /// Bytes of the mapped region.
    pub map_len: u64,
}

const _: () = assert!(core::mem::size_of::<ringway_info>() == 40);
const _: () = assert!(core::mem::align_of::<ringway_info>() == 8);
const _: () = assert!(core::mem::offset_of!(ringway_info, flags) == 28);
const _: () = assert!(core::mem::offset_of!(ringway_info, map_len) == 32);

/// The `RINGWAY_CREATE_*` bits of `ringway_info.flags` for a ring's layout
/// flags (`Identity::flags`, whose bits differ from the C ones).
fn info_flags(ring: &Ring) -> u32 {
    let flags = ring.identity().flags;
    [
        (layout::FLAG_STAMPED, RINGWAY_CREATE_STAMPED),
        (layout::FLAG_CRC32C, RINGWAY_CREATE_CHECKSUMS),
        (layout::FLAG_GATED, RINGWAY_CREATE_GATED),
    ]
    .into_iter()
    .filter(|&(bit, _)| flags & bit != 0)
    .fold(0, |out, (_, c)| out | c)
}

/// A mapped, validated ring (opaque).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct ringway_ring {
    pub(crate) ring: Ring,
}

fn kind_of(raw: ringway_kind) -> Result<Kind, Error> {
    Kind::from_raw(raw).ok_or_else(|| {
        Error::invalid(format!(
            "kind {raw} is none of RINGWAY_KIND_SPSC (1), _MPMC (2), _RECORD (3), _BROADCAST (4)"
        ))
    })
}

fn builder(params: &ringway_params) -> Result<RingBuilder, Error> {
    if params.reserved != 0 {
        return Err(Error::invalid("ringway_params.reserved must be 0"));
    }
    let kind = kind_of(params.kind)?;
    let known = RINGWAY_CREATE_UNLINK_ON_DROP
        | BARRIER_FLAGS
        | match kind {
            Kind::Broadcast => RINGWAY_CREATE_GATED,
            Kind::Record => RINGWAY_CREATE_CHECKSUMS,
            Kind::Spsc => RINGWAY_CREATE_STAMPED,
            Kind::Mpmc => 0,
        };
    let unknown = params.flags & !known;
    if unknown != 0 {
        return Err(Error::invalid(format!(
            "flags {unknown:#x} are unknown or do not apply to this kind"
        )));
    }
    let mode = match params.mode {
        0 => 0o600,
        m => m,
    };
    let builder = RingBuilder::new(kind)
        .capacity(params.capacity)
        .mode(mode)
        .unlink_on_drop(params.flags & RINGWAY_CREATE_UNLINK_ON_DROP != 0);
    let builder = match barrier_of(params.flags)? {
        Some(barrier) => builder.barrier(barrier),
        None => builder,
    };
    if matches!(kind, Kind::Record | Kind::Broadcast) {
        if params.slot_size != 0 || params.slot_align != 0 {
            return Err(Error::invalid(
                "record and broadcast rings are byte rings: slot_size and slot_align must be 0",
            ));
        }
        return Ok(builder
            .gated(params.flags & RINGWAY_CREATE_GATED != 0)
            .checksums(params.flags & RINGWAY_CREATE_CHECKSUMS != 0));
    }
    let align = match params.slot_align {
        0 => 1 << params.slot_size.trailing_zeros().min(3),
        a => a,
    };
    Ok(builder
        .slot_size(params.slot_size)
        .slot_align(align)
        .stamped(params.flags & RINGWAY_CREATE_STAMPED != 0))
}

/// The barrier mode the creation flags ask for (`None`: the builder's
/// default); both flags at once are refused.
fn barrier_of(flags: u32) -> Result<Option<Barrier>, Error> {
    const BOTH: u32 = RINGWAY_CREATE_SYMMETRIC_BARRIER | RINGWAY_CREATE_ASYMMETRIC_BARRIER;
    match flags & BOTH {
        0 => Ok(None),
        RINGWAY_CREATE_SYMMETRIC_BARRIER => Ok(Some(Barrier::Symmetric)),
        RINGWAY_CREATE_ASYMMETRIC_BARRIER => Ok(Some(Barrier::Asymmetric)),
        _ => Err(Error::invalid(
            "invalid barrier mode: RINGWAY_CREATE_SYMMETRIC_BARRIER and \
             RINGWAY_CREATE_ASYMMETRIC_BARRIER are exclusive",
        )),
    }
}

fn open_options(kind: ringway_kind) -> Result<OpenOptions, Error> {
    let options = OpenOptions::new();
    Ok(match kind {
        RINGWAY_KIND_ANY => options,
        k => options.kind(kind_of(k)?),
    })
}

/// Writes a new ring handle to `out`.
///
/// # Safety
/// `out` is valid for writes of a pointer.
unsafe fn emit(ring: Ring, out: *mut *mut ringway_ring) {
    let handle = Box::into_raw(Box::new(ringway_ring { ring }));
    // SAFETY: `out` was checked non-null; the caller promises it is writable.
    unsafe { out.write(handle) };
}

fn path_of(path: &std::ffi::CStr) -> &Path {
    Path::new(OsStr::from_bytes(path.to_bytes()))
}

/// Creates a ring in a new POSIX shared-memory object `name` (`"/name"`),
/// failing if the name exists.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_INVALID_NAME`, `_EXISTS`, `_INVALID_ARGUMENT` (bad
/// parameters, both barrier flags), `_UNSUPPORTED` (an asymmetric barrier
/// this process cannot honour), `_NO_SPACE`, `_IO`.
///
/// # Safety
/// `name` is a NUL-terminated string; `params` points to a `ringway_params`;
/// `out` is writable. Each may be NULL (an error).
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_create_shm(
    name: *const c_char,
    params: *const ringway_params,
    out: *mut *mut ringway_ring,
) -> ringway_result {
    call("ringway_ring_create_shm", || {
        // SAFETY: the caller's promise on `name`.
        let name = unsafe { arg_str(name, "name", ringway_result::RINGWAY_ERR_INVALID_NAME) }?;
        // SAFETY: the caller's promise on `params`.
        let params = unsafe { arg_ref(params, "params") }?;
        let out = arg_out(out, "out")?;
        let ring = builder(params)?.create_shm(name)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { emit(ring, out) };
        Ok(())
    })
}

/// Creates a ring in a new file at `path` (never following a symlink),
/// failing if the path exists.
///
/// # Errors
/// As `ringway_ring_create_shm`.
///
/// # Safety
/// As `ringway_ring_create_shm`.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_create_file(
    path: *const c_char,
    params: *const ringway_params,
    out: *mut *mut ringway_ring,
) -> ringway_result {
    call("ringway_ring_create_file", || {
        // SAFETY: the caller's promise on `path`.
        let path = unsafe { arg_cstr(path, "path") }?;
        // SAFETY: the caller's promise on `params`.
        let params = unsafe { arg_ref(params, "params") }?;
        let out = arg_out(out, "out")?;
        let ring = builder(params)?.create_file(path_of(path))?;
        // SAFETY: `out` is non-null and writable.
        unsafe { emit(ring, out) };
        Ok(())
    })
}

/// Creates a ring in an anonymous shared mapping, for threads of this process
/// and for children `fork`ed afterwards. `params.mode` and
/// `RINGWAY_CREATE_UNLINK_ON_DROP` are ignored; the barrier flags are not.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_INVALID_ARGUMENT`, `_UNSUPPORTED` (an asymmetric
/// barrier this process cannot honour), `_IO`.
///
/// # Safety
/// `params` points to a `ringway_params`; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_create_anonymous(
    params: *const ringway_params,
    out: *mut *mut ringway_ring,
) -> ringway_result {
    call("ringway_ring_create_anonymous", || {
        // SAFETY: the caller's promise on `params`.
        let params = unsafe { arg_ref(params, "params") }?;
        let out = arg_out(out, "out")?;
        let ring = builder(params)?.create_anonymous()?;
        // SAFETY: `out` is non-null and writable.
        unsafe { emit(ring, out) };
        Ok(())
    })
}

/// Opens the shm ring `name`, validating its header. `kind` is
/// `RINGWAY_KIND_ANY` or the kind the ring must have.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_INVALID_NAME`, `_NOT_FOUND`, `_WRONG_KIND`,
/// `_NOT_REGULAR_FILE`, `_WRONG_OWNER`, `_TOO_SMALL`, `_BAD_MAGIC`,
/// `_ABI_MISMATCH`, `_LAYOUT_MISMATCH`, `_NOT_READY`, `_BAD_HEADER`,
/// `_UNSUPPORTED` (an asymmetric ring, and this process cannot register for
/// `membarrier`), `_IO`.
///
/// # Safety
/// `name` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_open_shm(
    name: *const c_char,
    kind: ringway_kind,
    out: *mut *mut ringway_ring,
) -> ringway_result {
    call("ringway_ring_open_shm", || {
        // SAFETY: the caller's promise on `name`.
        let name = unsafe { arg_str(name, "name", ringway_result::RINGWAY_ERR_INVALID_NAME) }?;
        let out = arg_out(out, "out")?;
        let ring = open_options(kind)?.open_shm(name)?;
        // SAFETY: `out` is non-null and writable.
        unsafe { emit(ring, out) };
        Ok(())
    })
}

/// Opens the file-backed ring at `path` (never following a symlink).
///
/// # Errors
/// As `ringway_ring_open_shm`.
///
/// # Safety
/// `path` is a NUL-terminated string; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_open_file(
    path: *const c_char,
    kind: ringway_kind,
    out: *mut *mut ringway_ring,
) -> ringway_result {
    call("ringway_ring_open_file", || {
        // SAFETY: the caller's promise on `path`.
        let path = unsafe { arg_cstr(path, "path") }?;
        let out = arg_out(out, "out")?;
        let ring = open_options(kind)?.open_file(path_of(path))?;
        // SAFETY: `out` is non-null and writable.
        unsafe { emit(ring, out) };
        Ok(())
    })
}

/// Removes the shm name `name`. Processes that have the ring open keep
/// using it; new opens fail with `RINGWAY_ERR_NOT_FOUND`.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_INVALID_NAME`, `_NOT_FOUND`, `_IO`.
///
/// # Safety
/// `name` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_remove_shm(name: *const c_char) -> ringway_result {
    call("ringway_ring_remove_shm", || {
        // SAFETY: the caller's promise on `name`.
        let name = unsafe { arg_str(name, "name", ringway_result::RINGWAY_ERR_INVALID_NAME) }?;
        Ring::remove_shm(name).map_err(|e| remove_error(name, e))
    })
}

/// Removes the file of a file-backed ring (`unlink`); as for shm, processes
/// that have it open keep using it.
///
/// # Errors
/// `RINGWAY_ERR_NULL`, `_NOT_FOUND`, `_IO`.
///
/// # Safety
/// `path` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_remove_file(path: *const c_char) -> ringway_result {
    call("ringway_ring_remove_file", || {
        // SAFETY: the caller's promise on `path`.
        let path = path_of(unsafe { arg_cstr(path, "path") }?);
        std::fs::remove_file(path).map_err(|e| remove_error(&path.display().to_string(), e))
    })
}

/// Reads the ring's kind, geometry, layout flags and fill level into `*out`.
///
/// # Errors
/// `RINGWAY_ERR_NULL`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_info(
    ring: *const ringway_ring,
    out: *mut ringway_info,
) -> ringway_result {
    call("ringway_ring_info", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        let g = ring.geometry();
        let info = ringway_info {
            kind: g.kind as u32,
            slot_size: g.slot_size,
            capacity: g.capacity,
            len: ring.snapshot().len,
            slot_align: g.slot_align,
            flags: info_flags(ring),
            map_len: g.total_len,
        };
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(info) };
        Ok(())
    })
}

/// Writes the ring's barrier mode, fixed when it was created, to `*out`:
/// `RINGWAY_BARRIER_SYMMETRIC` or `RINGWAY_BARRIER_ASYMMETRIC`.
///
/// # Errors
/// `RINGWAY_ERR_NULL`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_barrier(
    ring: *const ringway_ring,
    out: *mut ringway_barrier,
) -> ringway_result {
    call("ringway_ring_barrier", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(ring.barrier().as_raw()) };
        Ok(())
    })
}

/// Cleans up after every handle of the ring whose process died: undoes its
/// waiter registration, heals its MPMC claim (a producer's unpublished
/// slots are skipped, a consumer's unreleased slots freed and counted as
/// lost) and frees its SPSC role. Blocking and full/empty calls do this on
/// their own; this is for tools. Writes how many were reaped to `*out`.
///
/// # Errors
/// `RINGWAY_ERR_NULL`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_reap_dead(
    ring: *const ringway_ring,
    out: *mut u32,
) -> ringway_result {
    call("ringway_ring_reap_dead", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        let reaped = u32::try_from(ring.reap_dead()).unwrap_or(u32::MAX);
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(reaped) };
        Ok(())
    })
}

/// Writes to `*out` how many MPMC messages were lost because a consumer
/// died between claiming and releasing them.
///
/// # Errors
/// `RINGWAY_ERR_NULL`.
///
/// # Safety
/// `ring` is a live ring handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_lost(
    ring: *const ringway_ring,
    out: *mut u64,
) -> ringway_result {
    call("ringway_ring_lost", || {
        // SAFETY: the caller's promise on `ring`.
        let ring = &unsafe { arg_ref(ring, "ring") }?.ring;
        let out = arg_out(out, "out")?;
        // SAFETY: `out` is non-null and writable.
        unsafe { out.write(ring.lost()) };
        Ok(())
    })
}

/// Frees a ring handle (unmapping the ring once its producer and consumer
/// handles are freed too). `NULL` is a no-op.
///
/// # Safety
/// `ring` is NULL or a ring handle not yet freed; it is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn ringway_ring_free(ring: *mut ringway_ring) {
    boundary("ringway_ring_free", || {
        if !ring.is_null() {
            // SAFETY: a handle from `emit` (Box::into_raw), freed once.
            drop(unsafe { Box::from_raw(ring) });
        }
    })
}
