//! What a handle carries: a [`Pod`] type `T`, one value per slot, or
//! [`Bytes`], `slot_size` bytes per slot. Both are a run of `Elem` per slot
//! (one `T`, or `slot_size` bytes), so the handles move messages with one
//! copy routine and differ only in the type of a push argument and of a
//! chunk's slot.

use bytemuck::Pod;

use crate::error::HandleError;
use crate::ring::{check_message, Ring};

/// Byte messages of the ring's slot size (for C and other non-Rust peers):
/// the `M` of [`Producer<K, Bytes>`](super::Producer) and the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bytes {}

mod sealed {
    pub trait Sealed {}
    impl<T: bytemuck::Pod> Sealed for T {}
    impl Sealed for super::Bytes {}
}

/// The message format of a handle: any [`Pod`] type, or [`Bytes`]. Sealed.
pub trait Message: sealed::Sealed + 'static {
    /// The element of a slot: `T`, or `u8`.
    type Elem: Pod;
    /// What a push takes (and hands back on failure): `T`, or `&[u8]`.
    type In<'a>;
    /// A slot lent for reading: `&T`, or `&[u8]`.
    type Ref<'a>;
    /// A slot lent for writing: `&mut T`, or `&mut [u8]`.
    type Mut<'a>;

    /// Checks that the format fits `ring`; returns the elements per slot.
    #[doc(hidden)]
    fn per_slot(ring: &Ring) -> Result<usize, HandleError>;
    /// Elements per slot, known statically where it can be (1 for `T`).
    #[doc(hidden)]
    fn elems(stored: usize) -> usize;
    /// The elements of a push argument.
    #[doc(hidden)]
    fn as_elems<'b>(m: &'b Self::In<'_>) -> &'b [Self::Elem];
    /// A slot of `per_slot` elements at `p`, for reading.
    ///
    /// # Safety
    /// `p` is aligned for `Elem` and `per_slot` elements there are readable
    /// and not written for `'a`.
    #[doc(hidden)]
    unsafe fn slot_ref<'a>(p: *const u8, per_slot: usize) -> Self::Ref<'a>;
    /// A slot of `per_slot` elements at `p`, for writing.
    ///
    /// # Safety
    /// As `slot_ref`, and nothing else reads or writes them for `'a`.
    #[doc(hidden)]
    unsafe fn slot_mut<'a>(p: *mut u8, per_slot: usize) -> Self::Mut<'a>;
}

impl<T: Pod> Message for T {
    type Elem = T;
    type In<'a> = T;
    type Ref<'a> = &'a T;
    type Mut<'a> = &'a mut T;

    fn per_slot(ring: &Ring) -> Result<usize, HandleError> {
        check_message::<T>(ring).map(|()| 1)
    }
    #[inline]
    fn elems(_: usize) -> usize {
        1
    }
    #[inline]
    fn as_elems(m: &T) -> &[T] {
        core::slice::from_ref(m)
    }
    #[inline]
    unsafe fn slot_ref<'a>(p: *const u8, _: usize) -> &'a T {
        // SAFETY: the caller's promise.
        unsafe { &*p.cast::<T>() }
    }
    #[inline]
    unsafe fn slot_mut<'a>(p: *mut u8, _: usize) -> &'a mut T {
        // SAFETY: the caller's promise.
        unsafe { &mut *p.cast::<T>() }
    }
}

impl Message for Bytes {
    type Elem = u8;
    type In<'a> = &'a [u8];
    type Ref<'a> = &'a [u8];
    type Mut<'a> = &'a mut [u8];

    fn per_slot(ring: &Ring) -> Result<usize, HandleError> {
        Ok(ring.slot_size())
    }
    #[inline]
    fn elems(stored: usize) -> usize {
        stored
    }
    #[inline]
    fn as_elems<'b>(m: &'b &[u8]) -> &'b [u8] {
        m
    }
    #[inline]
    unsafe fn slot_ref<'a>(p: *const u8, per_slot: usize) -> &'a [u8] {
        // SAFETY: the caller's promise.
        unsafe { core::slice::from_raw_parts(p, per_slot) }
    }
    #[inline]
    unsafe fn slot_mut<'a>(p: *mut u8, per_slot: usize) -> &'a mut [u8] {
        // SAFETY: the caller's promise.
        unsafe { core::slice::from_raw_parts_mut(p, per_slot) }
    }
}
