//! Rings in memory the caller provides (`RingBuilder::create_in`,
//! `OpenOptions::open_in`): the path that Miri can run, since it needs no
//! mapping. `scripts/miri.sh` runs this file under Miri.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ptr::NonNull;

use ringway::spsc::{BytesConsumer, BytesProducer, Consumer, Producer};
use ringway::{CreateError, Kind, OpenError, OpenOptions, RingBuilder, WaitStrategy};

/// 128-aligned heap memory, freed on drop.
struct Memory {
    ptr: NonNull<u8>,
    layout: Layout,
}

impl Memory {
    fn new(len: usize) -> Memory {
        let layout = Layout::from_size_align(len, 128).unwrap();
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc_zeroed(layout) }).expect("allocation");
        Memory { ptr, layout }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: allocated above with this layout.
        unsafe { dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

const MESSAGES: u64 = if cfg!(miri) { 300 } else { 100_000 };

#[test]
fn threads_share_a_ring_in_caller_memory() {
    let builder = RingBuilder::new(Kind::Spsc).capacity(8).message::<u64>();
    let len = builder.geometry().unwrap().total_len as usize;
    let mem = Memory::new(len);
    // SAFETY: `mem` outlives both rings and every handle (they are dropped at
    // the end of this function, before `mem`).
    let ring = unsafe { builder.create_in(mem.ptr, len) }.unwrap();
    // A second attach over the same memory, as a peer would.
    // SAFETY: as above.
    let peer = unsafe { OpenOptions::new().message::<u64>().open_in(mem.ptr, len) }.unwrap();
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&peer).unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut next = 0;
            while next < MESSAGES {
                if next % 2 == 0 {
                    tx.push_blocking(next).unwrap();
                    next += 1;
                } else {
                    let mut chunk = tx.write_chunk(3).unwrap();
                    let (a, b) = chunk.as_mut_slices();
                    let mut k = 0;
                    for slot in a.iter_mut().chain(b.iter_mut()) {
                        if next + k < MESSAGES {
                            *slot = next + k;
                            k += 1;
                        }
                    }
                    chunk.commit(k as usize);
                    next += k;
                }
            }
        });
        rx.set_wait_strategy(WaitStrategy::Yield);
        for expected in 0..MESSAGES {
            assert_eq!(rx.pop_blocking().unwrap(), expected);
        }
    });
}

/// Stamped slots (`RingBuilder::stamped`): the consumer pops one message at
/// a time, so it reads each from its slot's stamp (an atomic inside the
/// caller's memory); the producer alternates single pushes and chunks.
#[test]
fn threads_share_a_stamped_ring_in_caller_memory() {
    let builder = RingBuilder::new(Kind::Spsc)
        .stamped(true)
        .capacity(4)
        .message::<u64>();
    let len = builder.geometry().unwrap().total_len as usize;
    let mem = Memory::new(len);
    // SAFETY: `mem` outlives the rings and every handle (dropped at the end
    // of this function, before `mem`).
    let ring = unsafe { builder.create_in(mem.ptr, len) }.unwrap();
    // SAFETY: as above.
    let peer = unsafe { OpenOptions::new().message::<u64>().open_in(mem.ptr, len) }.unwrap();
    assert!(peer.geometry().stamped);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&peer).unwrap();
    // Both sides poll: keep Miri's share short (CI budget).
    const MESSAGES: u64 = if cfg!(miri) { 60 } else { 100_000 };
    std::thread::scope(|s| {
        s.spawn(move || {
            let mut next = 0;
            while next < MESSAGES {
                if next % 2 == 0 {
                    if tx.try_push(next).is_ok() {
                        next += 1;
                    } else {
                        std::thread::yield_now();
                    }
                } else {
                    let mut chunk = tx.write_chunk(3).unwrap();
                    let mut k = 0;
                    for slot in chunk.iter_mut() {
                        if next + k < MESSAGES {
                            *slot = next + k;
                            k += 1;
                        }
                    }
                    chunk.commit(k as usize);
                    next += k;
                }
            }
        });
        let mut expected = 0;
        while expected < MESSAGES {
            match rx.try_pop() {
                Ok(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                }
                Err(ringway::PopError::Empty) => std::thread::yield_now(),
                Err(e) => panic!("{e:?}"),
            }
        }
    });
}

#[test]
fn bytes_ring_in_caller_memory() {
    let builder = RingBuilder::new(Kind::Spsc)
        .capacity(4)
        .slot_size(5)
        .slot_align(1);
    let len = builder.geometry().unwrap().total_len as usize;
    let mem = Memory::new(len);
    // SAFETY: `mem` outlives the ring and its handles.
    let ring = unsafe { builder.create_in(mem.ptr, len) }.unwrap();
    let mut tx = BytesProducer::attach(&ring).unwrap();
    let mut rx = BytesConsumer::attach(&ring).unwrap();
    for round in 0..10u8 {
        tx.try_push(&[round; 5]).unwrap();
        let mut out = [0u8; 5];
        rx.try_pop(&mut out).unwrap();
        assert_eq!(out, [round; 5]);
    }
}

#[test]
fn caller_memory_is_checked() {
    let builder = RingBuilder::new(Kind::Spsc).capacity(8).message::<u64>();
    let len = builder.geometry().unwrap().total_len as usize;
    let mem = Memory::new(len + 128);
    // SAFETY: in bounds of `mem`, which outlives the calls.
    let short = unsafe { builder.create_in(mem.ptr, len - 1) };
    assert!(matches!(short, Err(CreateError::RegionTooSmall { .. })));
    // SAFETY: one byte into `mem`, `len` bytes still inside it.
    let shifted = unsafe { NonNull::new_unchecked(mem.ptr.as_ptr().add(1)) };
    // SAFETY: as above.
    let misaligned = unsafe { builder.create_in(shifted, len) };
    assert!(matches!(misaligned, Err(CreateError::Misaligned { .. })));
    // Zeroed memory is not a ring.
    // SAFETY: `mem` outlives the call.
    let zero = unsafe { OpenOptions::new().open_in(mem.ptr, len) };
    assert!(matches!(zero, Err(OpenError::BadMagic { found: 0 })));
}
