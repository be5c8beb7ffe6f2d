//! Copy-out reads: how bytes that a peer process may be writing are read.
//!
//! Slot bytes live in a mapping that other processes write. An honest peer
//! never writes a slot this process has claimed, but a buggy or hostile one
//! may write any byte at any time, and it is outside Rust's abstract
//! machine: the compiler knows nothing of its stores. So every read of slot
//! bytes that ringway makes on the caller's behalf goes through
//! [`copy_out`]: volatile loads, each done exactly once, whose values the
//! compiler may not assume anything about (the tool the language gives for
//! memory changed by something outside the program, as for MMIO). What the
//! caller receives is a private snapshot: it may be torn (some bytes from
//! before a peer's write, some after), never re-read behind the caller's
//! back, so a length checked in the copy is the length used.
//!
//! | read | how | what may go wrong |
//! |---|---|---|
//! | `try_pop` / `pop_*` (typed and bytes), `pop_into`, [`ReadChunk::copy_to`](crate::handle::ReadChunk::copy_to), [`ReadChunk::copy_message`](crate::handle::ReadChunk::copy_message) | `copy_out` into the caller's memory | a torn value (garbage, valid for any bit pattern) |
//! | `read_chunk` / `peek` / `get` / `iter` / `slices` (`&T`, `&[u8]` lent in place) | the caller reads through the reference | bytes may change under the reader: two reads of one byte may disagree, so nothing checked through the reference may be trusted when it is read again |
//!
//! Why lending in place is kept, and why it is not undefined behaviour in
//! practice for the types ringway lends: the element types are
//! [`bytemuck::Pod`] (no invalid bit pattern, no padding, no pointers), so
//! whatever bytes a peer leaves there are a valid value at every instant;
//! the reference comes from a raw pointer into a shared mapping, never from
//! an allocation the compiler tracked, and ringway itself never reads
//! through it. The residual risk is the caller's own double fetch: a
//! shared reference lets the compiler re-load a value instead of keeping the
//! copy it checked, so code that checks a length or index read through a
//! lent slot and then uses it (even through a `let` copy) may see a
//! different value than it checked. Strictly, memory behind a `&T` that
//! changes breaks the reference's promise (Rust's model has no "foreign
//! writer"), which is why the lent views are documented as "bytes may change
//! under you; copy before validating": pass them on (to `write(2)`, a hash,
//! a `memcpy`), and parse only from a copy made by the calls above.
//!
//! Why volatile and not per-word relaxed atomics (a byte-wise atomic memcpy,
//! C++ P1478): atomics order this program's threads among themselves; the
//! writer here is another process (often C, writing with plain stores), so
//! the in-language argument would not cover it anyway, and on the targets
//! ringway builds for both compile to the same plain loads. Volatile also
//! needs no `loom` facade entry (slot bytes are not atomics; loom witnesses
//! them through `SlotAccess`).
//!
//! Cost: 16-byte volatile loads on x86_64 (SSE2) and word-wide ones
//! elsewhere where the source is aligned, byte loads at the ends. A
//! one-word typed message is one load, as a `memcpy` of it would be; large
//! byte slots lose the wider vectors a `memcpy` would use. Measured with
//! `cargo run --release -p ringway --example fastpath` (one thread, the
//! best of 41 runs, load 11 on 2 shared cores, against the build before
//! this module, three runs each): a push and pop of a 4096-byte slot
//! 103-104 ns before, 133-134 ns after; of a 64-byte slot 9.5-9.6 ns,
//! 10.2-10.6 ns; batched `u64` (`pop_into`, 64 a call) 0.86-0.89 ns,
//! 1.01-1.04 ns per message; single `u64` SPSC 6.3-6.5 ns, 6.5-6.6 ns; MPMC
//! 16.6 ns, 17.1-17.2 ns. (8-byte volatile loads alone cost 3-4.5x on the
//! 4096-byte slot, hence the 16-byte path.)

use core::mem::size_of;

/// Copies `len` bytes from `src`, which a peer may be writing, to `dst`,
/// with volatile loads (each source byte is read exactly once).
///
/// # Safety
/// `src..src + len` is inside a live mapping and readable; `dst..dst + len`
/// is writable memory of the caller's that nothing else accesses during the
/// call; the two do not overlap.
#[inline]
pub(crate) unsafe fn copy_out(src: *const u8, dst: *mut u8, len: usize) {
    const W: usize = size_of::<usize>();
    // Bytes before the first word-aligned source address (all of them when
    // `align_offset` cannot say).
    let head = src.align_offset(W).min(len);
    let mut i = 0;
    while i < head {
        // SAFETY: i < len; the caller's promise for both ranges.
        unsafe { dst.add(i).write(src.add(i).read_volatile()) };
        i += 1;
    }
    // x86_64: 16-byte volatile loads (SSE2, always present there) once the
    // source is 16-aligned: one instruction each, twice the width of a word.
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::__m128i;
        if (src as usize).wrapping_add(i) % 16 != 0 && len - i >= 16 + W {
            // SAFETY: src + i is word-aligned (head above), i + W <= len.
            unsafe {
                let word = src.add(i).cast::<usize>().read_volatile();
                dst.add(i).cast::<usize>().write_unaligned(word);
            }
            i += W;
        }
        if (src as usize).wrapping_add(i) % 16 == 0 {
            while len - i >= 16 {
                // SAFETY: src + i is 16-aligned (checked above, and i moves
                // by 16), i + 16 <= len; the destination may be unaligned.
                unsafe {
                    let v = src.add(i).cast::<__m128i>().read_volatile();
                    dst.add(i).cast::<__m128i>().write_unaligned(v);
                }
                i += 16;
            }
        }
    }
    while len - i >= W {
        // SAFETY: src + i is word-aligned (head above) and i + W <= len;
        // the destination may be unaligned, hence `write_unaligned`.
        unsafe {
            let word = src.add(i).cast::<usize>().read_volatile();
            dst.add(i).cast::<usize>().write_unaligned(word);
        }
        i += W;
    }
    while i < len {
        // SAFETY: i < len; the caller's promise.
        unsafe { dst.add(i).write(src.add(i).read_volatile()) };
        i += 1;
    }
}

/// [`copy_out`] of `n` elements of a [`bytemuck::Pod`] type into `out`.
///
/// # Safety
/// `src` points at `out.len()` elements' bytes inside a live, readable
/// mapping that does not overlap `out`.
#[inline]
pub(crate) unsafe fn copy_out_elems<E: bytemuck::Pod>(src: *const u8, out: &mut [E]) {
    // One small message (a typed single pop): one volatile load of `E`
    // (one instruction for a word; still each byte read once), without
    // `copy_out`'s alignment steps. Typed slots are aligned for `E`
    // (checked on attach); the check keeps any other caller on the general
    // path.
    if let [one] = out {
        if size_of::<E>() <= 16 && src.cast::<E>().is_aligned() {
            // SAFETY: the caller's promise for `src` (size_of::<E>() bytes,
            // readable), aligned as just checked; any bytes are a valid `E`.
            *one = unsafe { src.cast::<E>().read_volatile() };
            return;
        }
    }
    let len = core::mem::size_of_val(out);
    // SAFETY: the caller's promise for `src`; `out` is the caller's own,
    // borrowed mutably for the call; any bytes are a valid `E` (Pod).
    unsafe { copy_out(src, out.as_mut_ptr().cast::<u8>(), len) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_at_every_alignment() {
        let src: Vec<u8> = (0..=255u8).cycle().take(300).collect();
        for start in 0..33 {
            for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200] {
                let mut dst = vec![0xAAu8; len + 2];
                // SAFETY: start + len <= 300 and dst holds len + 2 bytes.
                unsafe { copy_out(src.as_ptr().add(start), dst.as_mut_ptr().add(1), len) };
                assert_eq!(&dst[1..=len], &src[start..start + len], "{start}+{len}");
                assert_eq!((dst[0], dst[len + 1]), (0xAA, 0xAA), "no write outside");
            }
        }
    }

    #[test]
    fn copies_typed_elements() {
        let src = [1u64, u64::MAX, 42];
        let mut out = [0u64; 3];
        // SAFETY: 3 u64s of `src`, not overlapping `out`.
        unsafe { copy_out_elems(src.as_ptr().cast(), &mut out) };
        assert_eq!(out, src);
    }

    #[test]
    fn copies_one_element_aligned_or_not() {
        // One element: the single-load path when aligned, `copy_out` when
        // not (a source at every offset of a 16-byte window).
        let bytes: Vec<u8> = (1..=40u8).collect();
        for start in 0..16 {
            let src = &bytes[start..start + 16];
            let mut one = [0u64];
            // SAFETY: 8 readable bytes at `src`, not overlapping `one`.
            unsafe { copy_out_elems(src.as_ptr(), &mut one) };
            assert_eq!(
                one[0],
                u64::from_ne_bytes(src[..8].try_into().unwrap()),
                "{start}"
            );
            let mut wide = [[0u32; 4]];
            // SAFETY: 16 readable bytes at `src`, not overlapping `wide`.
            unsafe { copy_out_elems(src.as_ptr(), &mut wide) };
            assert_eq!(bytemuck::bytes_of(&wide), src, "{start}");
        }
    }
}
