//! Attach validation: copy the header's identity once, check the copy, derive
//! the geometry from it, and never read shared geometry again.
//!
//! Checks, in order (the first failure is reported):
//!
//! 1. the region holds a header (`TooSmall`);
//! 2. `state` is READY, loaded with Acquire so that the identity written
//!    before it is visible; if not, the magic tells a ring under construction
//!    (`NotReady`) from a foreign object (`BadMagic`);
//! 3. magic, ABI version, layout hash (`BadMagic`, `AbiMismatch`, `LayoutMismatch`);
//! 4. flags, kind, and the kind the caller asked for (`UnknownFlags`,
//!    `UnknownKind`, `WrongKind`), then the barrier mode and whether this
//!    process can honour it (`UnknownBarrier`, `BarrierUnavailable`: an
//!    asymmetric ring needs every peer registered for `membarrier`, see
//!    `ringway_sync::Barrier`);
//! 5. geometry: capacity, slot size and alignment in range, and the recorded
//!    stride, slot offset and total length equal to what [`Geometry::new`]
//!    computes from them (`BadGeometry`);
//! 6. total length within the region (`TooSmall`);
//! 7. the message type, for typed opens (`TypeMismatch`).

use crate::error::OpenError;
use crate::layout::{
    Geometry, Header, Identity, Kind, LayoutError, ABI_VERSION, HEADER_SIZE, LAYOUT_HASH, MAGIC,
    STATE_READY,
};
use crate::loom::Ordering;
use ringway_sync::Barrier;

/// Fingerprint of a message type: size, alignment, name hash (0 = unnamed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeFingerprint {
    /// `size_of::<T>()`.
    pub size: u32,
    /// `align_of::<T>()`.
    pub align: u32,
    /// Hash of the type's name, 0 to skip the name check.
    pub name_hash: u64,
}

/// What the opener expects of the ring.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Expect {
    pub(crate) kind: Option<Kind>,
    pub(crate) message: Option<TypeFingerprint>,
}

/// Validates the header at the start of a region of `region_len` bytes and
/// returns the copied identity and the geometry derived from it.
///
/// # Safety
/// `header` must point to at least `region_len` readable bytes, aligned to 128,
/// that stay mapped for the call.
pub(crate) unsafe fn validate(
    header: *const Header,
    region_len: u64,
    expect: &Expect,
) -> Result<(Identity, Geometry), OpenError> {
    if region_len < HEADER_SIZE as u64 {
        return Err(OpenError::TooSmall {
            need: HEADER_SIZE as u64,
            have: region_len,
        });
    }
    // SAFETY: the region holds a whole header (checked above) and is aligned
    // (the caller's promise); `state` is an atomic, so a concurrent writer is fine.
    let state = unsafe { &(*header).state }.load(Ordering::Acquire);
    // Acquire: pairs with the creator's Release store of READY in `Ring::init`,
    // so the identity read below is the one written before it.
    if state != STATE_READY {
        // Not READY: a ring under construction starts with the magic (its
        // creator's first write, see `layout.rs`); anything else is foreign
        // and is refused at once rather than waited for.
        // SAFETY: in bounds as above; a volatile copy of one word, which a
        // peer may be writing (any value is a valid u64).
        let magic = unsafe {
            core::ptr::read_volatile(core::ptr::addr_of!((*(*header).identity_ptr()).magic))
        };
        if magic != MAGIC {
            return Err(OpenError::BadMagic { found: magic });
        }
        return Err(OpenError::NotReady { state });
    }
    // SAFETY: in bounds as above. A volatile copy: a peer may scribble on the
    // identity at any time, and we read it exactly once, into our own memory.
    let id: Identity = unsafe { core::ptr::read_volatile((*header).identity_ptr()) };
    check_identity(&id, region_len, expect).map(|g| (id, g))
}

/// The checks on a copied identity (split out so tests can feed it directly).
pub(crate) fn check_identity(
    id: &Identity,
    region_len: u64,
    expect: &Expect,
) -> Result<Geometry, OpenError> {
    if id.magic != MAGIC {
        return Err(OpenError::BadMagic { found: id.magic });
    }
    if id.abi_version != ABI_VERSION {
        return Err(OpenError::AbiMismatch {
            found: id.abi_version,
            expected: ABI_VERSION,
        });
    }
    if id.layout_hash != LAYOUT_HASH {
        return Err(OpenError::LayoutMismatch {
            found: id.layout_hash,
            expected: LAYOUT_HASH,
        });
    }
    let kind = Kind::from_raw(id.kind).ok_or(OpenError::UnknownKind { found: id.kind })?;
    if id.flags & !kind.allowed_flags() != 0 {
        return Err(OpenError::UnknownFlags { flags: id.flags });
    }
    let barrier =
        Barrier::from_raw(id.barrier).ok_or(OpenError::UnknownBarrier { found: id.barrier })?;
    if !barrier.available() {
        return Err(OpenError::BarrierUnavailable { barrier });
    }
    if let Some(expected) = expect.kind {
        if kind != expected {
            return Err(OpenError::WrongKind {
                found: kind,
                expected,
            });
        }
    }
    let geometry = Geometry::with_flags(kind, id.flags, id.capacity, id.slot_size, id.slot_align)
        .map_err(|e| {
        let (field, found) = match e {
            LayoutError::Capacity(c) => ("capacity", c),
            LayoutError::SlotSize(s) => ("slot_size", u64::from(s)),
            LayoutError::SlotAlign(a) => ("slot_align", u64::from(a)),
            LayoutError::Unaligned { size, .. } => ("slot_size", u64::from(size)),
            LayoutError::TooLarge => ("capacity", id.capacity),
        };
        OpenError::BadGeometry {
            field,
            found,
            expected: None,
        }
    })?;
    let recorded = [
        (
            "slot_stride",
            u64::from(id.slot_stride),
            u64::from(geometry.stride),
        ),
        ("slots_offset", id.slots_offset, geometry.slots_offset),
        ("total_len", id.total_len, geometry.total_len),
    ];
    for (field, found, expected) in recorded {
        if found != expected {
            return Err(OpenError::BadGeometry {
                field,
                found,
                expected: Some(expected),
            });
        }
    }
    if geometry.total_len > region_len {
        return Err(OpenError::TooSmall {
            need: geometry.total_len,
            have: region_len,
        });
    }
    let recorded_type = (id.type_size, id.type_align, id.type_name_hash);
    if recorded_type != (0, 0, 0) && (id.type_size != id.slot_size || id.type_align > id.slot_align)
    {
        return Err(OpenError::BadGeometry {
            field: "type_size",
            found: u64::from(id.type_size),
            expected: Some(u64::from(id.slot_size)),
        });
    }
    if let Some(want) = expect.message {
        let names_differ =
            want.name_hash != 0 && id.type_name_hash != 0 && want.name_hash != id.type_name_hash;
        if want.size != id.slot_size || want.align > id.slot_align || names_differ {
            return Err(OpenError::TypeMismatch {
                found: (id.slot_size, id.slot_align, id.type_name_hash),
                expected: (want.size, want.align, want.name_hash),
            });
        }
    }
    Ok(geometry)
}
