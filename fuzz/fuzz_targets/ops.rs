//! A sequence of operations on both sides of a ring (SPSC contiguous, SPSC
//! stamped or MPMC, bytes)
//! while the fuzzer's bytes overwrite the header, the cursors, the slot
//! stamps, the futex words and the producer-table entries between
//! operations. Every operation must return a result or a typed error: no
//! panic (overflow checks are on), no out-of-bounds access, no hang (timed
//! calls use a zero timeout).
#![no_main]

use std::ptr::NonNull;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ringway::layout::{HEADER_SIZE, LINE};
use ringway::{mpmc, spsc, Kind, RingBuilder};

const CAPACITY: u64 = 8;
const SLOT: u32 = 16;

/// Offsets worth hitting: state, role owners, tail, head, the futex words,
/// a reserved line, and (added below) each slot's first word.
const HOT: [usize; 9] = [96, 100, 104, LINE, 2 * LINE, 3 * LINE, 3 * LINE + 4, 3 * LINE + 8, 4 * LINE];

struct Mem {
    words: Vec<u128>,
}

impl Mem {
    fn base(&mut self) -> *mut u8 {
        let base = self.words.as_mut_ptr() as usize;
        ((base + 127) & !127) as *mut u8
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, ops)) = data.split_first() else {
        return;
    };
    let kind = if first & 1 == 0 { Kind::Spsc } else { Kind::Mpmc };
    // Bit 1: SPSC stamped slots (ignored by MPMC).
    let builder = RingBuilder::new(kind)
        .stamped(first & 2 != 0)
        .capacity(CAPACITY)
        .slot_size(SLOT)
        .slot_align(8);
    let g = builder.geometry().unwrap();
    let len = g.total_len as usize;
    let mut mem = Mem {
        words: vec![0u128; len / 16 + 9],
    };
    let base = mem.base();
    // SAFETY: `base` is 128-aligned with `len` bytes inside `mem`, which
    // outlives the ring and every handle (dropped at the end of this call).
    let ring = unsafe { builder.create_in(NonNull::new(base).unwrap(), len) }.unwrap();
    let msg = [7u8; SLOT as usize];
    let mut buf = [0u8; SLOT as usize];
    let mut sp = spsc::BytesProducer::attach(&ring).ok();
    let mut sc = spsc::BytesConsumer::attach(&ring).ok();
    let mut mp = mpmc::BytesProducer::attach(&ring).ok();
    let mut mc = mpmc::BytesConsumer::attach(&ring).ok();
    let mut it = ops.iter().copied();
    while let Some(op) = it.next() {
        let arg = it.next().unwrap_or(0);
        match op % 12 {
            0 => {
                if let Some(p) = sp.as_mut() {
                    let _ = p.try_push(&msg);
                }
                if let Some(p) = mp.as_mut() {
                    let _ = p.try_push(&msg);
                }
            }
            1 => {
                if let Some(c) = sc.as_mut() {
                    let _ = c.try_pop(&mut buf);
                }
                if let Some(c) = mc.as_mut() {
                    let _ = c.try_pop(&mut buf);
                }
            }
            2 => {
                let n = usize::from(arg % 12);
                if let Some(p) = sp.as_mut() {
                    if let Ok(c) = p.write_chunk(n) {
                        let k = c.len().min(usize::from(arg >> 4));
                        c.commit(k);
                    }
                }
                if let Some(p) = mp.as_mut() {
                    if let Ok(c) = p.write_chunk(n) {
                        if arg & 0x80 == 0 {
                            let k = c.len().min(usize::from(arg >> 4));
                            c.commit(k);
                        } // else dropped: skipped
                    }
                }
            }
            3 => {
                let n = usize::from(arg % 12);
                if let Some(c) = sc.as_mut() {
                    if let Ok(ch) = c.read_chunk(n) {
                        let k = ch.len().min(usize::from(arg >> 4));
                        ch.release(k);
                    }
                }
                if let Some(c) = mc.as_mut() {
                    if let Ok(ch) = c.read_chunk(n) {
                        let _ = ch.len();
                    }
                }
            }
            4 => {
                if let Some(p) = sp.as_mut() {
                    let _ = p.push_timeout(&msg, Duration::ZERO);
                }
                if let Some(p) = mp.as_mut() {
                    let _ = p.push_timeout(&msg, Duration::ZERO);
                }
            }
            5 => {
                if let Some(c) = sc.as_mut() {
                    let _ = c.pop_timeout(&mut buf, Duration::ZERO);
                }
                if let Some(c) = mc.as_mut() {
                    let _ = c.pop_timeout(&mut buf, Duration::ZERO);
                }
            }
            6 => {
                // Re-attach: a handle of a side whose state was scribbled.
                match arg % 4 {
                    0 => sp = spsc::BytesProducer::attach(&ring).ok(),
                    1 => sc = spsc::BytesConsumer::attach(&ring).ok(),
                    2 => mp = mpmc::BytesProducer::attach(&ring).ok(),
                    _ => mc = mpmc::BytesConsumer::attach(&ring).ok(),
                }
            }
            7 => {
                let _ = ring.snapshot();
            }
            _ => {
                // Scribble: 8 bytes from the input at a hot offset, a slot's
                // stamp, or anywhere in the header.
                let mut value = [0u8; 8];
                for b in value.iter_mut() {
                    *b = it.next().unwrap_or(0);
                }
                let at = match op % 12 {
                    8 => HOT[usize::from(arg) % HOT.len()],
                    9 => {
                        let slot = u64::from(arg) % CAPACITY;
                        (g.slots_offset + slot * u64::from(g.stride)) as usize
                    }
                    10 => 4 * LINE + usize::from(arg) % 32 * 32 + 8 * usize::from(arg >> 6),
                    _ => usize::from(arg) * 8 % HEADER_SIZE,
                };
                let at = at.min(len - 8);
                // SAFETY: `at + 8 <= len`, inside our buffer; no other
                // thread touches it, and no reference to these bytes is
                // live across this write (the library holds none).
                unsafe { core::ptr::write_volatile(base.add(at).cast::<[u8; 8]>(), value) };
            }
        }
    }
});
