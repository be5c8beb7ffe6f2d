//! MPMC behaviour within one process: full and empty, FIFO across wraps,
//! batches and chunks (commit, partial commit, drop), the producer table,
//! blocking calls, many producers and consumers on threads, an exact model
//! property test, and a peer that scribbles on stamps and cursors.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use std::collections::{HashSet, VecDeque};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use proptest::prelude::*;
use ringway::mpmc::{BytesConsumer, BytesProducer, Consumer, Producer};
use ringway::{
    HandleError, Kind, PopError, PopTimeoutError, PushError, PushTimeoutError, Ring, RingBuilder,
};

fn ring_u64(capacity: u64) -> Ring {
    RingBuilder::new(Kind::Mpmc)
        .capacity(capacity)
        .message::<u64>()
        .create_anonymous()
        .unwrap()
}

/// A one-message call that meets a peer in the middle of its step at its
/// cursor waits for it only a bounded time (`PEER_SPIN_ROUNDS`), then
/// reports `Busy`: on a push while a consumer holds the slot at `tail`
/// unreleased, on a pop while a producer holds the position at `head`
/// unpublished.
#[test]
fn a_peer_mid_step_costs_a_try_call_a_bounded_wait() {
    let ring = ring_u64(4);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    for i in 0..4 {
        tx.try_push(i).unwrap();
    }
    assert_eq!(tx.try_push(4), Err(PushError::Full(4)));
    // The consumer claimed position 0 (tail - head = 3 < capacity): the
    // slot at tail is being read, not full, and the producer waits for it,
    // a bounded time.
    let chunk = rx.read_chunk(1).unwrap();
    assert_eq!(chunk.len(), 1);
    assert_eq!(tx.try_push(4), Err(PushError::Busy(4)));
    drop(chunk);
    assert_eq!(tx.try_push(4), Ok(()));
    for i in 1..5 {
        assert_eq!(rx.try_pop(), Ok(i));
    }
    // The producer claimed position 5 and has not published it.
    let held = tx.write_chunk(1).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(rx.try_pop(), Err(PopError::Busy));
    held.commit(0);
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
}

#[test]
fn full_and_empty_are_results_not_panics() {
    let ring = ring_u64(4);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    for i in 0..4 {
        tx.try_push(i).unwrap();
    }
    assert_eq!(tx.try_push(99), Err(PushError::Full(99)));
    for i in 0..4 {
        assert_eq!(rx.try_pop(), Ok(i));
    }
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    let snap = ring.snapshot();
    assert_eq!((snap.tail, snap.head), (4, 4));
}

#[test]
fn order_is_kept_across_many_wraps() {
    let ring = ring_u64(8);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    let (mut next_in, mut next_out) = (0u64, 0u64);
    while next_out < 1000 {
        for _ in 0..5 {
            if tx.try_push(next_in).is_ok() {
                next_in += 1;
            }
        }
        for _ in 0..3 {
            if let Ok(v) = rx.try_pop() {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
    }
}

#[test]
fn spsc_rings_are_refused() {
    let ring = RingBuilder::new(Kind::Spsc)
        .message::<u64>()
        .create_anonymous()
        .unwrap();
    assert!(matches!(
        Producer::<u64>::attach(&ring),
        Err(HandleError::WrongKind { .. })
    ));
    assert!(matches!(
        Consumer::<u64>::attach(&ring),
        Err(HandleError::WrongKind { .. })
    ));
    let mpmc = ring_u64(4);
    assert!(matches!(
        Producer::<u32>::attach(&mpmc),
        Err(HandleError::TypeMismatch { .. })
    ));
}

#[test]
fn batches_of_every_size_cross_the_wrap_in_order() {
    for capacity in [2u64, 8, 64] {
        let ring = ring_u64(capacity);
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let (mut next_in, mut next_out) = (0u64, 0u64);
        let mut out = vec![0u64; capacity as usize * 2];
        for round in 0..(capacity as usize * 40) {
            let k = 1 + round % (capacity as usize + 3);
            let values: Vec<u64> = (next_in..next_in + k as u64).collect();
            let pushed = tx.push_slice(&values).unwrap();
            assert!(pushed <= k);
            next_in += pushed as u64;
            let want = 1 + (round * 7) % (capacity as usize + 2);
            let popped = rx.pop_into(&mut out[..want]).unwrap();
            for &v in &out[..popped] {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        while next_out < next_in {
            let popped = rx.pop_into(&mut out).unwrap();
            assert!(popped > 0);
            for &v in &out[..popped] {
                assert_eq!(v, next_out);
                next_out += 1;
            }
        }
        assert!(next_in > capacity * 10, "the test wrapped many times");
    }
}

#[test]
fn chunks_write_and_read_in_place() {
    let ring = ring_u64(8);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    // Move the cursors so that the chunks cross the wrap.
    tx.push_slice(&[0; 5]).unwrap();
    assert_eq!(rx.pop_into(&mut [0; 5]).unwrap(), 5);

    let mut chunk = tx.write_chunk(20).unwrap();
    assert_eq!(chunk.len(), 8);
    for (i, slot) in chunk.iter_mut().enumerate() {
        *slot = 100 + i as u64;
    }
    *chunk.get_mut(7).unwrap() = 777;
    assert!(chunk.get_mut(8).is_none());
    chunk.commit_all();
    assert!(tx.write_chunk(1).unwrap().is_empty());

    let chunk = rx.read_chunk(3).unwrap();
    assert_eq!(chunk.len(), 3);
    assert_eq!(
        chunk.iter().copied().collect::<Vec<_>>(),
        vec![100, 101, 102]
    );
    assert_eq!(chunk.get(2), Some(&102));
    assert_eq!(chunk.get(3), None);
    chunk.release_all();
    let chunk = rx.read_chunk(10).unwrap();
    assert_eq!(
        chunk.iter().copied().collect::<Vec<_>>(),
        vec![103, 104, 105, 106, 777]
    );
    drop(chunk); // dropping releases
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    assert_eq!(tx.push_slice(&[1; 8]).unwrap(), 8);
}

#[test]
fn uncommitted_slots_are_skipped_by_consumers() {
    let ring = ring_u64(8);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    tx.try_push(1).unwrap();
    {
        let mut chunk = tx.write_chunk(3).unwrap();
        *chunk.get_mut(0).unwrap() = 666;
        // dropped uncommitted: three skipped slots
    }
    let mut chunk = tx.write_chunk(3).unwrap();
    for slot in chunk.iter_mut() {
        *slot = 2;
    }
    *chunk.get_mut(1).unwrap() = 3;
    chunk.commit(2); // 2, 3 published, the third skipped
    tx.try_push(4).unwrap();
    assert_eq!(ring.snapshot().tail, 8);

    // A chunk claims skipped positions but shows only messages.
    // Positions: 1, skip, skip, skip, 2, 3, skip, 4.
    let chunk = rx.read_chunk(5).unwrap();
    assert_eq!(chunk.len(), 2);
    assert_eq!(chunk.iter().copied().collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(chunk.get(1), Some(&2));
    assert_eq!(chunk.get(2), None);
    chunk.release_all();
    // try_pop passes over the skipped slot.
    assert_eq!(rx.try_pop(), Ok(3));
    assert_eq!(rx.try_pop(), Ok(4));
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    assert_eq!(ring.snapshot().head, 8);
    // Every slot is free again.
    assert_eq!(tx.push_slice(&[9; 8]).unwrap(), 8);
}

#[test]
fn bytes_rings_have_their_own_handles() {
    let ring = RingBuilder::new(Kind::Mpmc)
        .capacity(4)
        .slot_size(5)
        .slot_align(1)
        .create_anonymous()
        .unwrap();
    let mut tx = BytesProducer::attach(&ring).unwrap();
    let mut rx = BytesConsumer::attach(&ring).unwrap();
    assert_eq!(
        tx.try_push(b"abc"),
        Err(PushError::Size {
            expected: 5,
            found: 3
        })
    );
    tx.try_push(b"hello").unwrap();
    let mut chunk = tx.write_chunk(2).unwrap();
    chunk.get_mut(0).unwrap().copy_from_slice(b"world");
    for slot in chunk.iter_mut().skip(1) {
        slot.copy_from_slice(b"12345");
    }
    chunk.commit_all();
    let mut out = [0u8; 5];
    rx.try_pop(&mut out).unwrap();
    assert_eq!(&out, b"hello");
    let chunk = rx.read_chunk(4).unwrap();
    assert_eq!(chunk.iter().collect::<Vec<_>>(), vec![b"world", b"12345"]);
    assert_eq!(chunk.get(1), Some(&b"12345"[..]));
    drop(chunk);
    assert_eq!(rx.try_pop(&mut out), Err(PopError::Empty));
    assert_eq!(
        rx.try_pop(&mut [0; 4]),
        Err(PopError::Size {
            expected: 5,
            found: 4
        })
    );
}

#[test]
fn peer_table_registers_and_frees_entries() {
    use ringway::peer::{Liveness, PEER_TABLE_LEN};
    let ring = ring_u64(4);
    let mut producers: Vec<_> = (0..PEER_TABLE_LEN - 2)
        .map(|_| Producer::<u64>::attach(&ring).unwrap())
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|_| Consumer::<u64>::attach(&ring).unwrap())
        .collect();
    assert!(matches!(
        Producer::<u64>::attach(&ring),
        Err(HandleError::TooManyPeers)
    ));
    assert!(matches!(
        Consumer::<u64>::attach(&ring),
        Err(HandleError::TooManyPeers)
    ));
    let snap = ring.snapshot();
    assert_eq!(snap.peers.len(), PEER_TABLE_LEN);
    let pid = std::process::id();
    assert!(snap
        .peers
        .iter()
        .all(|p| p.pid == pid && p.claim.1 == 0 && p.liveness == Liveness::Alive));
    assert!(
        snap.peers.iter().all(|p| p.ofd_token),
        "an memfd ring has OFD tokens"
    );
    // A chunk in flight is recorded, and cleared on commit.
    {
        let mut chunk = producers[0].write_chunk(3).unwrap();
        for slot in chunk.iter_mut() {
            *slot = 7;
        }
        let snap = ring.snapshot();
        assert!(snap.peers.iter().any(|p| p.claim == (0, 3)));
        chunk.commit_all();
    }
    assert!(ring.snapshot().peers.iter().all(|p| p.claim.1 == 0));
    producers.truncate(10);
    assert_eq!(ring.snapshot().peers.len(), 12);
    producers.push(Producer::<u64>::attach(&ring).unwrap());
    drop(producers);
    drop(consumers);
    assert!(ring.snapshot().peers.is_empty());
}

#[test]
fn blocking_calls_time_out_and_hand_back() {
    let ring = ring_u64(2);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    assert_eq!(
        rx.pop_timeout(Duration::from_millis(5)),
        Err(PopTimeoutError::Timeout)
    );
    tx.push_blocking(1).unwrap();
    tx.push_timeout(2, Duration::from_millis(5)).unwrap();
    assert_eq!(
        tx.push_timeout(3, Duration::from_millis(5)),
        Err(PushTimeoutError::Timeout(3))
    );
    assert_eq!(rx.pop_blocking(), Ok(1));
    assert_eq!(rx.pop_timeout(Duration::from_millis(5)), Ok(2));
}

#[test]
fn blocking_calls_wake_across_threads() {
    use ringway::WaitStrategy;
    const N: u64 = 20_000;
    let ring = ring_u64(4);
    for strategy in [WaitStrategy::Park, WaitStrategy::default()] {
        let consumers: Vec<_> = (0..2)
            .map(|_| {
                let mut rx = Consumer::<u64>::attach(&ring).unwrap();
                rx.set_wait_strategy(strategy);
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    loop {
                        match rx.pop_blocking().unwrap() {
                            u64::MAX => return got,
                            v => got.push(v),
                        }
                    }
                })
            })
            .collect();
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let mut tx = Producer::<u64>::attach(&ring).unwrap();
                tx.set_wait_strategy(strategy);
                std::thread::spawn(move || {
                    for i in 0..N {
                        tx.push_blocking(p << 32 | i).unwrap();
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        tx.push_blocking(u64::MAX).unwrap();
        tx.push_blocking(u64::MAX).unwrap();
        let mut all = Vec::new();
        for c in consumers {
            let got = c.join().unwrap();
            check_per_producer_order(&got);
            all.extend(got);
        }
        all.sort_unstable();
        let expected: Vec<u64> = (0..2u64)
            .flat_map(|p| (0..N).map(move |i| p << 32 | i))
            .collect();
        assert_eq!(all, expected);
    }
}

/// Messages are `producer << 32 | sequence`; within one consumer's list each
/// producer's sequences must be strictly increasing.
fn check_per_producer_order(got: &[u64]) {
    let mut last = std::collections::HashMap::<u64, u64>::new();
    for &v in got {
        let (p, s) = (v >> 32, v & 0xffff_ffff);
        if let Some(&prev) = last.get(&p) {
            assert!(s > prev, "producer {p}: {s} after {prev}");
        }
        last.insert(p, s);
    }
}

/// 4 producers x 4 consumers, 10^7 messages in all (10^6 in debug builds,
/// which are ~20x slower; run `cargo test --release` for the full count).
/// Producers alternate single pushes and batches; consumers alternate
/// single pops and batches. Each consumer checks every producer's order;
/// the union is checked for loss and duplicates.
#[test]
fn four_producers_four_consumers() {
    const PRODUCERS: u64 = 4;
    const CONSUMERS: usize = 4;
    let total: u64 = if cfg!(debug_assertions) {
        1_000_000
    } else {
        10_000_000
    };
    let per_producer = total / PRODUCERS;
    let ring = ring_u64(1024);
    let done = std::sync::Arc::new(AtomicU64::new(0));

    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|c| {
            let mut rx = Consumer::<u64>::attach(&ring).unwrap();
            let done = done.clone();
            std::thread::spawn(move || {
                let mut got = Vec::with_capacity((total / CONSUMERS as u64 * 2) as usize);
                let mut buf = [0u64; 32];
                let mut round = 0usize;
                while done.load(Ordering::Relaxed) < total {
                    round += 1;
                    let n = if (round + c) % 2 == 0 {
                        match rx.try_pop() {
                            Ok(v) => {
                                got.push(v);
                                1
                            }
                            Err(PopError::Empty | PopError::Busy) => 0,
                            Err(e) => panic!("{e}"),
                        }
                    } else {
                        let want = 1 + round % 32;
                        let n = rx.pop_into(&mut buf[..want]).unwrap();
                        got.extend_from_slice(&buf[..n]);
                        n
                    };
                    if n == 0 {
                        std::thread::yield_now();
                    } else {
                        done.fetch_add(n as u64, Ordering::Relaxed);
                    }
                }
                got
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let mut tx = Producer::<u64>::attach(&ring).unwrap();
            std::thread::spawn(move || {
                let mut seq = 0u64;
                let mut round = 0usize;
                let mut batch = Vec::with_capacity(64);
                while seq < per_producer {
                    round += 1;
                    let pushed = if round % 3 == 0 {
                        match tx.try_push(p << 32 | seq) {
                            Ok(()) => 1,
                            Err(PushError::Full(_) | PushError::Busy(_)) => 0,
                            Err(e) => panic!("{e}"),
                        }
                    } else {
                        let k = (1 + round % 64).min((per_producer - seq) as usize);
                        batch.clear();
                        batch.extend((seq..seq + k as u64).map(|s| p << 32 | s));
                        tx.push_slice(&batch).unwrap()
                    };
                    if pushed == 0 {
                        std::thread::yield_now();
                    }
                    seq += pushed as u64;
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    let mut seen = vec![0u8; total as usize];
    let mut count = 0u64;
    for c in consumers {
        let got = c.join().unwrap();
        check_per_producer_order(&got);
        for v in got {
            let (p, s) = (v >> 32, v & 0xffff_ffff);
            assert!(p < PRODUCERS && s < per_producer, "garbage message {v:#x}");
            let i = (p * per_producer + s) as usize;
            assert_eq!(seen[i], 0, "duplicate {p}/{s}");
            seen[i] = 1;
            count += 1;
        }
    }
    assert_eq!(count, total, "lost messages");
    let snap = ring.snapshot();
    assert_eq!((snap.tail, snap.head), (total, total));
}

/// One operation of the model test.
#[derive(Clone, Debug)]
enum Op {
    /// Producer `p` pushes one message.
    Push(usize),
    /// Producer `p` pushes a slice of `k`.
    PushSlice(usize, usize),
    /// Producer `p` claims `k`, writes them, commits `c` (the rest skipped;
    /// `c > k` means drop without commit).
    Chunk(usize, usize, usize),
    /// Consumer `c` pops one.
    Pop(usize),
    /// Consumer `c` pops up to `k`.
    PopInto(usize, usize),
    /// Consumer `c` reads a chunk of up to `k`, then releases or drops it.
    ReadChunk(usize, usize, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize).prop_map(Op::Push),
        (0..3usize, 0..12usize).prop_map(|(p, k)| Op::PushSlice(p, k)),
        (0..3usize, 0..12usize, 0..14usize).prop_map(|(p, k, c)| Op::Chunk(p, k, c)),
        (0..2usize).prop_map(Op::Pop),
        (0..2usize, 0..12usize).prop_map(|(c, k)| Op::PopInto(c, k)),
        (0..2usize, 0..12usize, any::<bool>()).prop_map(|(c, k, r)| Op::ReadChunk(c, k, r)),
    ]
}

proptest! {
    /// Single-threaded, the ring is exactly a bounded FIFO of positions, some
    /// of them skipped: check every result against that model. This covers
    /// the ordering guarantee (claim order = delivery order), batch claims
    /// across wraps, partial commits and drops.
    #[test]
    fn matches_a_fifo_of_positions(ops in proptest::collection::vec(op(), 1..200), cap_log in 1u32..4) {
        let capacity = 1u64 << cap_log;
        let ring = ring_u64(capacity);
        let mut tx: Vec<_> = (0..3).map(|_| Producer::<u64>::attach(&ring).unwrap()).collect();
        let mut rx: Vec<_> = (0..2).map(|_| Consumer::<u64>::attach(&ring).unwrap()).collect();
        let mut model: VecDeque<Option<u64>> = VecDeque::new();
        let mut seq = [0u64; 3];
        let next = |p: usize, seq: &mut [u64; 3]| { seq[p] += 1; (p as u64) << 32 | seq[p] };
        let room = |model: &VecDeque<Option<u64>>| capacity as usize - model.len();
        // Model of a consumer claim of up to k positions: the messages in it.
        let take = |model: &mut VecDeque<Option<u64>>, k: usize| -> Vec<u64> {
            let n = k.min(model.len());
            model.drain(..n).flatten().collect()
        };
        for op in ops {
            match op {
                Op::Push(p) => {
                    let v = next(p, &mut seq);
                    let r = tx[p].try_push(v);
                    if room(&model) > 0 {
                        prop_assert_eq!(r, Ok(()));
                        model.push_back(Some(v));
                    } else {
                        prop_assert_eq!(r, Err(PushError::Full(v)));
                        seq[p] -= 1;
                    }
                }
                Op::PushSlice(p, k) => {
                    let n = k.min(room(&model));
                    let values: Vec<u64> = (0..k).map(|_| next(p, &mut seq)).collect();
                    prop_assert_eq!(tx[p].push_slice(&values).unwrap(), n);
                    model.extend(values[..n].iter().copied().map(Some));
                    seq[p] -= (k - n) as u64;
                }
                Op::Chunk(p, k, c) => {
                    let n = k.min(room(&model));
                    let mut chunk = tx[p].write_chunk(k).unwrap();
                    prop_assert_eq!(chunk.len(), n);
                    let values: Vec<u64> = (0..n).map(|_| next(p, &mut seq)).collect();
                    for (slot, v) in chunk.iter_mut().zip(&values) {
                        *slot = *v;
                    }
                    if c <= n {
                        chunk.commit(c);
                        model.extend(values[..c].iter().copied().map(Some));
                        model.extend((c..n).map(|_| None));
                        seq[p] -= (n - c) as u64;
                    } else {
                        drop(chunk);
                        model.extend((0..n).map(|_| None));
                        seq[p] -= n as u64;
                    }
                }
                Op::Pop(c) => {
                    while model.front() == Some(&None) {
                        model.pop_front();
                    }
                    match model.pop_front() {
                        Some(Some(v)) => prop_assert_eq!(rx[c].try_pop(), Ok(v)),
                        _ => prop_assert_eq!(rx[c].try_pop(), Err(PopError::Empty)),
                    }
                }
                Op::PopInto(c, k) => {
                    let mut out = vec![0u64; k];
                    let expected = take(&mut model, k);
                    let n = rx[c].pop_into(&mut out).unwrap();
                    prop_assert_eq!(&out[..n], &expected[..]);
                }
                Op::ReadChunk(c, k, release) => {
                    let expected = take(&mut model, k);
                    let chunk = rx[c].read_chunk(k).unwrap();
                    prop_assert_eq!(chunk.len(), expected.len());
                    prop_assert_eq!(chunk.iter().copied().collect::<Vec<_>>(), expected.clone());
                    for (i, v) in expected.iter().enumerate() {
                        prop_assert_eq!(chunk.get(i), Some(v));
                    }
                    if release { chunk.release_all() } else { drop(chunk) }
                }
            }
        }
        let snap = ring.snapshot();
        prop_assert_eq!(snap.tail - snap.head, model.len() as u64);
    }
}

/// A ring in memory we own, so the test can scribble on it like a hostile
/// peer would.
struct OwnedRing {
    ring: Option<Ring>,
    mem: NonNull<u8>,
    layout: std::alloc::Layout,
}

impl OwnedRing {
    fn new(capacity: u64) -> OwnedRing {
        let builder = RingBuilder::new(Kind::Mpmc)
            .capacity(capacity)
            .message::<u64>();
        let len = builder.geometry().unwrap().total_len as usize;
        let layout = std::alloc::Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: the layout has a nonzero size. Filled with garbage so that
        // `create_in` must initialise the stamps itself.
        let mem = unsafe { std::alloc::alloc(layout) };
        let mem = NonNull::new(mem).unwrap();
        // SAFETY: `mem` is valid for `len` bytes.
        unsafe { mem.as_ptr().write_bytes(0xa5, len) };
        // SAFETY: `mem` outlives the ring (dropped first in `Drop`), and only
        // the ring protocol and the atomic scribbles below touch it.
        let ring = unsafe { builder.create_in(mem, len) }.unwrap();
        OwnedRing {
            ring: Some(ring),
            mem,
            layout,
        }
    }

    fn ring(&self) -> &Ring {
        self.ring.as_ref().unwrap()
    }

    fn word(&self, offset: u64) -> &AtomicU64 {
        assert!(offset + 8 <= self.layout.size() as u64 && offset % 8 == 0);
        // SAFETY: in bounds and 8-aligned (checked above); the ring accesses
        // these words only atomically.
        unsafe { AtomicU64::from_ptr(self.mem.as_ptr().add(offset as usize).cast()) }
    }

    fn stamp(&self, idx: u64) -> &AtomicU64 {
        let g = self.ring().geometry();
        self.word(g.slots_offset + idx * u64::from(g.stride))
    }

    fn tail(&self) -> &AtomicU64 {
        self.word(128)
    }

    fn head(&self) -> &AtomicU64 {
        self.word(256)
    }
}

impl Drop for OwnedRing {
    fn drop(&mut self) {
        self.ring = None;
        // SAFETY: allocated in `new` with this layout; the ring is gone.
        unsafe { std::alloc::dealloc(self.mem.as_ptr(), self.layout) };
    }
}

#[test]
fn caller_memory_gets_zero_stamps() {
    let owned = OwnedRing::new(8);
    let mut tx = Producer::<u64>::attach(owned.ring()).unwrap();
    let mut rx = Consumer::<u64>::attach(owned.ring()).unwrap();
    assert_eq!(tx.push_slice(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap(), 8);
    let mut out = [0u64; 8];
    assert_eq!(rx.pop_into(&mut out).unwrap(), 8);
    assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8]);
}

/// A consumer tells `Busy` from `Empty` by the stamp at `head` alone
/// (`CLAIMED`, stored by a producer right after its claim), never by
/// `tail`: while the ring is empty, polling consumers leave `tail`'s line to
/// the producers. A write chunk stamps only its first slot.
#[test]
fn busy_is_told_by_the_claimed_stamp_not_by_tail() {
    let owned = OwnedRing::new(8);
    let mut tx = Producer::<u64>::attach(owned.ring()).unwrap();
    let mut rx = Consumer::<u64>::attach(owned.ring()).unwrap();
    const CLAIMED: u64 = 3;
    // A chunk of three: its first slot says CLAIMED, the others FREE.
    let mut chunk = tx.write_chunk(3).unwrap();
    assert_eq!(chunk.len(), 3);
    assert_eq!(owned.stamp(0).load(Ordering::SeqCst), CLAIMED);
    assert_eq!(owned.stamp(1).load(Ordering::SeqCst), 0);
    assert_eq!(rx.try_pop(), Err(PopError::Busy));
    for (i, v) in [1, 2, 3].into_iter().enumerate() {
        *chunk.get_mut(i).unwrap() = v;
    }
    chunk.commit_all();
    let mut out = [0u64; 8];
    assert_eq!(rx.pop_into(&mut out).unwrap(), 3);
    assert_eq!(out[..3], [1, 2, 3]);
    assert_eq!(rx.try_pop(), Err(PopError::Empty));

    // `tail` moved with no stamp yet: a producer between its CAS and its
    // CLAIMED store (or one that died there). Its push is not done: Empty.
    owned.tail().store(4, Ordering::SeqCst);
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    owned.stamp(3).store(CLAIMED, Ordering::SeqCst);
    assert_eq!(rx.try_pop(), Err(PopError::Busy));
    // Published (the payload word after the stamp, then READY).
    let g = owned.ring().geometry();
    owned
        .word(g.slots_offset + 3 * u64::from(g.stride) + u64::from(g.payload_offset))
        .store(40, Ordering::SeqCst);
    owned.stamp(3).store(1, Ordering::SeqCst);
    assert_eq!(rx.try_pop(), Ok(40));
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
}

#[test]
fn impossible_stamps_and_cursors_are_corrupt() {
    let owned = OwnedRing::new(8);
    let mut tx = Producer::<u64>::attach(owned.ring()).unwrap();
    let mut rx = Consumer::<u64>::attach(owned.ring()).unwrap();
    // `CLAIMED` at position 0 with no claim made (`tail == 0`): for a
    // producer, a stamp ahead of a cursor that does not move. A consumer
    // does not read `tail`, so it cannot tell it from a producer between
    // its claim and its publish: `Busy`, as for a live producer that stalls.
    owned.stamp(0).store(3, Ordering::SeqCst);
    assert!(matches!(tx.try_push(1), Err(PushError::Corrupt(_))));
    assert_eq!(rx.try_pop(), Err(PopError::Busy));
    // `CLAIMED` of the lap before position 0: the consumer of that lap would
    // have seen it published, so no honest peer leaves it.
    owned.stamp(0).store(u64::MAX, Ordering::SeqCst);
    assert!(matches!(rx.try_pop(), Err(PopError::Corrupt(_))));
    owned.stamp(0).store(0, Ordering::SeqCst);
    // A stamp ahead of a cursor that does not move.
    owned.stamp(0).store(5 << 2 | 1, Ordering::SeqCst);
    assert!(matches!(tx.try_push(1), Err(PushError::Corrupt(_))));
    assert!(matches!(rx.try_pop(), Err(PopError::Corrupt(_))));
    assert!(tx.write_chunk(4).is_err());
    assert!(rx.read_chunk(4).is_err());
    owned.stamp(0).store(0, Ordering::SeqCst);
    // A cursor far ahead of the stamps.
    owned.tail().store(1 << 40, Ordering::SeqCst);
    owned.head().store(1 << 40, Ordering::SeqCst);
    assert!(matches!(tx.try_push(1), Err(PushError::Corrupt(_))));
    assert!(matches!(rx.try_pop(), Err(PopError::Corrupt(_))));
    assert!(matches!(
        tx.push_timeout(1, Duration::from_secs(60)),
        Err(PushTimeoutError::Corrupt(_))
    ));
    assert!(matches!(
        rx.pop_timeout(Duration::from_secs(60)),
        Err(PopTimeoutError::Corrupt(_))
    ));
    // Cursors at the very end of the u64 range wrap, they do not overflow.
    owned.tail().store(u64::MAX, Ordering::SeqCst);
    owned.head().store(u64::MAX, Ordering::SeqCst);
    let _ = tx.push_slice(&[1, 2, 3]);
    let _ = rx.pop_into(&mut [0; 3]);
}

#[test]
fn scribbled_stamps_and_cursors_never_panic() {
    let owned = OwnedRing::new(8);
    let mut tx = Producer::<u64>::attach(owned.ring()).unwrap();
    let mut rx = Consumer::<u64>::attach(owned.ring()).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rand = move || {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut outcomes = HashSet::new();
    for _ in 0..20_000 {
        let r = rand();
        // Scribble: a random stamp or cursor gets a random or near-valid value.
        let value = match r % 4 {
            0 => rand(),
            1 => rand() % 64,
            2 => (rand() % 8) << 2 | (rand() % 4),
            _ => u64::MAX - rand() % 16,
        };
        match (r >> 8) % 10 {
            0 => owned.tail().store(value, Ordering::Relaxed),
            1 => owned.head().store(value, Ordering::Relaxed),
            2..=5 => owned.stamp(rand() % 8).store(value, Ordering::Relaxed),
            _ => {}
        }
        let k = (rand() % 12) as usize;
        let outcome = match rand() % 6 {
            0 => format!("{:?}", tx.try_push(r).map_err(|e| e.to_string())),
            1 => format!("{:?}", rx.try_pop().map(|_| ()).map_err(|e| e.to_string())),
            2 => format!(
                "{:?}",
                tx.push_slice(&vec![r; k]).map_err(|e| e.to_string())
            ),
            3 => format!(
                "{:?}",
                rx.pop_into(&mut vec![0; k]).map_err(|e| e.to_string())
            ),
            4 => match tx.write_chunk(k) {
                Ok(mut c) => {
                    let n = c.len();
                    for s in c.iter_mut() {
                        *s = r;
                    }
                    c.commit(n / 2);
                    format!("chunk {n}")
                }
                Err(e) => e.to_string(),
            },
            _ => match rx.read_chunk(k) {
                Ok(c) => format!("read {} {}", c.len(), c.iter().count()),
                Err(e) => e.to_string(),
            },
        };
        outcomes.insert(outcome.split(" (value").next().unwrap().to_owned());
    }
    assert!(
        outcomes.iter().any(|o| o.contains("corrupt")),
        "the scribbles were noticed: {outcomes:?}"
    );
}

#[test]
fn handles_are_send() {
    fn send<T: Send>() {}
    send::<Producer<u64>>();
    send::<Consumer<u64>>();
    send::<BytesProducer>();
    send::<BytesConsumer>();
}
