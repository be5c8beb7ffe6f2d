//! SPSC behaviour within one process: FIFO order, full and empty, wraps,
//! chunks, roles, and bytes rings.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway::spsc::{BytesConsumer, BytesProducer, Consumer, Producer};
use ringway::{HandleError, Kind, PopError, PushError, Ring, RingBuilder, Role};

fn ring_u64(capacity: u64) -> Ring {
    RingBuilder::new(Kind::Spsc)
        .capacity(capacity)
        .message::<u64>()
        .create_anonymous()
        .unwrap()
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
    assert_eq!(ring.snapshot().len, 4);
    for i in 0..4 {
        assert_eq!(rx.try_pop(), Ok(i));
    }
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
}

#[test]
fn order_is_kept_across_many_wraps() {
    let ring = ring_u64(8);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    let mut next_in = 0u64;
    let mut next_out = 0u64;
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
    assert_eq!(ring.snapshot().head, next_out);
    assert!(next_out >= 1000);
}

#[test]
fn chunks_split_at_the_wrap_and_commit_partially() {
    let ring = ring_u64(8);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    // Move the cursors to 6 so that a chunk of 5 wraps after 2 slots.
    assert_eq!(tx.push_slice(&[0, 1, 2, 3, 4, 5]).unwrap(), 6);
    let mut out = [0u64; 6];
    assert_eq!(rx.pop_into(&mut out).unwrap(), 6);
    assert_eq!(out, [0, 1, 2, 3, 4, 5]);

    let mut chunk = tx.write_chunk(5).unwrap();
    assert_eq!(chunk.len(), 5);
    let (a, b) = chunk.as_mut_slices();
    assert_eq!((a.len(), b.len()), (2, 3));
    a.copy_from_slice(&[10, 11]);
    b.copy_from_slice(&[12, 13, 14]);
    chunk.commit(4); // the fifth stays unpublished

    let chunk = rx.read_chunk(10).unwrap();
    assert_eq!(chunk.len(), 4);
    let (a, b) = chunk.as_slices();
    assert_eq!(a, &[10, 11]);
    assert_eq!(b, &[12, 13]);
    chunk.release(1);
    assert_eq!(rx.peek(), Ok(&11));
    assert_eq!(rx.try_pop(), Ok(11));
    // A dropped chunk releases nothing.
    let _ = rx.read_chunk(1).unwrap();
    assert_eq!(rx.try_pop(), Ok(12));
}

#[test]
fn a_chunk_is_bounded_by_the_free_space() {
    let ring = ring_u64(4);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let _rx = Consumer::<u64>::attach(&ring).unwrap();
    tx.try_push(1).unwrap();
    assert_eq!(tx.write_chunk(100).unwrap().len(), 3);
    assert_eq!(tx.push_slice(&[2, 3, 4, 5, 6]).unwrap(), 3);
    assert!(tx.write_chunk(1).unwrap().is_empty());
    assert_eq!(tx.free_slots().unwrap(), 0);
}

#[test]
fn each_role_is_taken_once_and_freed_on_drop() {
    let ring = ring_u64(4);
    let tx = Producer::<u64>::attach(&ring).unwrap();
    let me = std::process::id();
    assert_eq!(
        Producer::<u64>::attach(&ring).unwrap_err(),
        HandleError::RoleTaken {
            role: Role::Producer,
            pid: me
        }
    );
    assert!(matches!(
        BytesProducer::attach(&ring),
        Err(HandleError::RoleTaken { .. })
    ));
    let rx = Consumer::<u64>::attach(&ring).unwrap();
    assert!(matches!(
        Consumer::<u64>::attach(&ring),
        Err(HandleError::RoleTaken {
            role: Role::Consumer,
            ..
        })
    ));
    assert_eq!(ring.snapshot().producer_owner, me);
    drop(tx);
    drop(rx);
    assert_eq!(ring.snapshot().producer_owner, 0);
    Producer::<u64>::attach(&ring).unwrap();
    Consumer::<u64>::attach(&ring).unwrap();
}

#[test]
fn a_live_role_holder_is_not_reclaimed() {
    let ring = ring_u64(4);
    let _tx = Producer::<u64>::attach(&ring).unwrap();
    assert!(matches!(
        ring.reclaim_role(Role::Producer),
        Err(HandleError::RoleTaken { .. })
    ));
    assert_eq!(ring.reclaim_role(Role::Consumer), Ok(false));
}

#[test]
fn a_type_that_does_not_fit_the_slots_is_refused() {
    let ring = ring_u64(4);
    assert!(matches!(
        Producer::<u32>::attach(&ring),
        Err(HandleError::TypeMismatch { .. })
    ));
    assert!(matches!(
        Consumer::<[u8; 16]>::attach(&ring),
        Err(HandleError::TypeMismatch { .. })
    ));
    // Same size, weaker alignment: fine.
    Consumer::<[u8; 8]>::attach(&ring).unwrap();
}

#[test]
fn bytes_rings_move_fixed_size_messages() {
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(4)
        .slot_size(24)
        .slot_align(1)
        .create_anonymous()
        .unwrap();
    let mut tx = BytesProducer::attach(&ring).unwrap();
    let mut rx = BytesConsumer::attach(&ring).unwrap();
    assert_eq!(
        tx.try_push(b"short"),
        Err(PushError::Size {
            expected: 24,
            found: 5
        })
    );
    let msg = *b"twenty-four bytes long!!";
    tx.try_push(&msg).unwrap();
    assert_eq!(rx.peek().unwrap(), &msg);
    let mut out = [0u8; 24];
    let mut small = [0u8; 8];
    assert_eq!(
        rx.try_pop(&mut small),
        Err(PopError::Size {
            expected: 24,
            found: 8
        })
    );
    rx.try_pop(&mut out).unwrap();
    assert_eq!(out, msg);

    let mut chunk = tx.write_chunk(2).unwrap();
    let (a, b) = chunk.as_mut_slices();
    assert_eq!((a.len(), b.len()), (48, 0));
    a.fill(7);
    chunk.commit_all();
    let chunk = rx.read_chunk(2).unwrap();
    assert_eq!(chunk.as_slices().0, &[7u8; 48][..]);
    chunk.release_all();
}

#[test]
fn handles_move_between_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Producer<u64>>();
    assert_send::<Consumer<u64>>();
    assert_send::<BytesProducer>();
    assert_send::<BytesConsumer>();
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Ring>();

    let ring = ring_u64(64);
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    const N: u64 = 200_000;
    let t = std::thread::spawn(move || {
        let mut i = 0;
        while i < N {
            let mut chunk = tx.write_chunk(16).unwrap();
            let n = chunk.len();
            let (a, b) = chunk.as_mut_slices();
            for (k, slot) in a.iter_mut().chain(b.iter_mut()).enumerate() {
                *slot = i + k as u64;
            }
            chunk.commit_all();
            i += n as u64;
        }
    });
    let mut expected = 0;
    while expected < N {
        if let Ok(v) = rx.try_pop() {
            assert_eq!(v, expected);
            expected += 1;
        }
    }
    t.join().unwrap();
}

mod model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    #[derive(Clone, Debug)]
    enum Op {
        Push,
        PushSlice(usize),
        WriteChunk(usize, usize),
        Pop,
        PopInto(usize),
        ReadChunk(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            Just(Op::Push),
            (0usize..40).prop_map(Op::PushSlice),
            (0usize..40, 0usize..40).prop_map(|(n, k)| Op::WriteChunk(n, k)),
            Just(Op::Pop),
            (0usize..40).prop_map(Op::PopInto),
            (0usize..40, 0usize..40).prop_map(|(n, k)| Op::ReadChunk(n, k)),
        ]
    }

    proptest! {
        /// Any interleaving of single, batch and chunk operations behaves
        /// like a bounded FIFO queue, across any number of wraps.
        #[test]
        fn the_ring_is_a_bounded_fifo(cap_log in 1u32..6, ops in proptest::collection::vec(op(), 1..200)) {
            let cap = 1u64 << cap_log;
            let ring = ring_u64(cap);
            let mut tx = Producer::<u64>::attach(&ring).unwrap();
            let mut rx = Consumer::<u64>::attach(&ring).unwrap();
            let mut model = VecDeque::new();
            let mut next = 0u64;
            for op in ops {
                let free = cap as usize - model.len();
                match op {
                    Op::Push => match tx.try_push(next) {
                        Ok(()) => { prop_assert!(free > 0); model.push_back(next); next += 1; }
                        Err(PushError::Full(v)) => { prop_assert_eq!(free, 0); prop_assert_eq!(v, next); }
                        Err(e) => prop_assert!(false, "{e:?}"),
                    },
                    Op::PushSlice(n) => {
                        let vals: Vec<u64> = (next..next + n as u64).collect();
                        let pushed = tx.push_slice(&vals).unwrap();
                        prop_assert_eq!(pushed, n.min(free));
                        model.extend(&vals[..pushed]);
                        next += pushed as u64;
                    }
                    Op::WriteChunk(n, k) => {
                        let mut chunk = tx.write_chunk(n).unwrap();
                        prop_assert_eq!(chunk.len(), n.min(free));
                        let k = k.min(chunk.len());
                        let (a, b) = chunk.as_mut_slices();
                        for (i, slot) in a.iter_mut().chain(b.iter_mut()).enumerate() {
                            *slot = next + i as u64;
                        }
                        chunk.commit(k);
                        model.extend(next..next + k as u64);
                        next += k as u64;
                    }
                    Op::Pop => prop_assert_eq!(rx.try_pop().ok(), model.pop_front()),
                    Op::PopInto(n) => {
                        let mut out = vec![0u64; n];
                        let got = rx.pop_into(&mut out).unwrap();
                        prop_assert_eq!(got, n.min(model.len()));
                        let want: Vec<u64> = model.drain(..got).collect();
                        prop_assert_eq!(&out[..got], &want[..]);
                    }
                    Op::ReadChunk(n, k) => {
                        let chunk = rx.read_chunk(n).unwrap();
                        prop_assert_eq!(chunk.len(), n.min(model.len()));
                        let (a, b) = chunk.as_slices();
                        let seen: Vec<u64> = a.iter().chain(b).copied().collect();
                        let want: Vec<u64> = model.iter().take(seen.len()).copied().collect();
                        prop_assert_eq!(seen, want);
                        let k = k.min(chunk.len());
                        chunk.release(k);
                        model.drain(..k);
                    }
                }
                prop_assert_eq!(ring.snapshot().len, model.len() as u64);
            }
        }
    }
}
