//! The one handle layer: every call exists and means the same on every kind
//! (the counts and waits, bytes `pop_into`, chunk accessors, `AnyProducer`
//! and `AnyConsumer`), checked by running the same generic code on each.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use std::time::{Duration, Instant};

use ringway::handle::{Consumer, Producer};
use ringway::mpmc::Mpmc;
use ringway::spsc::Spsc;
use ringway::{
    with_any, AnyConsumer, AnyProducer, Bytes, Flavor, Kind, PopError, PopTimeoutError, PushError,
    PushTimeoutError, RingBuilder,
};

/// `stamped`: SPSC stamped slots (ignored by MPMC, whose slots always carry one).
fn typed_counts_and_waits<K: Flavor>(stamped: bool) {
    let ring = RingBuilder::new(K::KIND)
        .stamped(stamped)
        .capacity(4)
        .message::<u32>()
        .create_anonymous()
        .unwrap();
    let mut tx = Producer::<K, u32>::attach(&ring).unwrap();
    let mut rx = Consumer::<K, u32>::attach(&ring).unwrap();
    assert_eq!(tx.free_slots(), Ok(4));
    assert_eq!(rx.ready_slots(), Ok(0));
    let soon = Instant::now() + Duration::from_millis(5);
    assert_eq!(rx.wait_for_ready(1, soon), Err(PopTimeoutError::Timeout));
    assert_eq!(tx.push_slice(&[1, 2, 3]), Ok(3));
    assert_eq!(tx.free_slots(), Ok(1));
    assert_eq!(rx.ready_slots(), Ok(3));
    assert_eq!(rx.wait_for_ready(3, None), Ok(3));
    assert_eq!(tx.wait_for_free(1, None), Ok(1));
    let soon = Instant::now() + Duration::from_millis(5);
    assert_eq!(
        tx.wait_for_free(2, soon),
        Err(PushTimeoutError::Timeout(()))
    );
    tx.push_blocking(4).unwrap();
    let soon = Instant::now() + Duration::from_millis(5);
    // The message comes back on a timeout, on every kind.
    assert_eq!(tx.push_deadline(5, soon), Err(PushTimeoutError::Timeout(5)));
    assert_eq!(tx.try_push(6), Err(PushError::Full(6)));
    let mut out = [0u32; 8];
    assert_eq!(rx.pop_into(&mut out), Ok(4));
    assert_eq!(out[..4], [1, 2, 3, 4]);
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    assert_eq!(tx.free_slots(), Ok(4));
}

#[test]
fn counts_and_waits_are_the_same_on_every_kind() {
    typed_counts_and_waits::<Spsc>(false);
    typed_counts_and_waits::<Spsc>(true);
    typed_counts_and_waits::<Mpmc>(false);
}

fn bytes_calls<K: Flavor>(stamped: bool) {
    let ring = RingBuilder::new(K::KIND)
        .stamped(stamped)
        .capacity(4)
        .slot_size(3)
        .slot_align(1)
        .create_anonymous()
        .unwrap();
    let mut tx = Producer::<K, Bytes>::attach(&ring).unwrap();
    let mut rx = Consumer::<K, Bytes>::attach(&ring).unwrap();
    assert_eq!(tx.slot_size(), 3);
    // Only whole messages go: 7 bytes are 2 messages.
    assert_eq!(tx.push_slice(b"abcdefg"), Ok(2));
    let mut chunk = tx.write_chunk(2).unwrap();
    assert_eq!(chunk.len(), 2);
    for (i, slot) in chunk.iter_mut().enumerate() {
        slot.copy_from_slice(&[b'0' + i as u8; 3]);
    }
    chunk.commit(1); // the second slot is not published
    let chunk = rx.read_chunk(8).unwrap();
    assert_eq!(chunk.len(), 3);
    assert_eq!(chunk.get(0), Some(&b"abc"[..]));
    assert_eq!(chunk.get(2), Some(&b"000"[..]));
    assert_eq!(chunk.get(3), None);
    let all: Vec<&[u8]> = chunk.iter().collect();
    assert_eq!(all, [&b"abc"[..], b"def", b"000"]);
    chunk.release_all();
    tx.try_push(b"xyz").unwrap();
    let mut out = [0u8; 5];
    assert_eq!(rx.pop_into(&mut out), Ok(1));
    assert_eq!(&out[..3], b"xyz");
    assert_eq!(
        rx.pop_deadline(&mut out[..3], Instant::now()),
        Err(PopTimeoutError::Timeout)
    );
}

#[test]
fn bytes_handles_have_every_call_on_every_kind() {
    bytes_calls::<Spsc>(false);
    bytes_calls::<Spsc>(true);
    bytes_calls::<Mpmc>(false);
}

#[test]
fn any_handles_pick_the_kind_of_the_ring() {
    for (kind, stamped) in [(Kind::Spsc, false), (Kind::Spsc, true), (Kind::Mpmc, false)] {
        let ring = RingBuilder::new(kind)
            .stamped(stamped)
            .capacity(2)
            .slot_size(4)
            .slot_align(1)
            .create_anonymous()
            .unwrap();
        let mut tx = AnyProducer::<Bytes>::attach(&ring).unwrap();
        let mut rx = AnyConsumer::<Bytes>::attach(&ring).unwrap();
        assert_eq!(tx.kind(), kind);
        tx.try_push(b"ping").unwrap();
        with_any!(&mut tx, tx => tx.push_blocking(b"pong")).unwrap();
        assert_eq!(tx.try_push(b"full"), Err(PushError::Full(&b"full"[..])));
        let mut out = [0u8; 4];
        rx.try_pop(&mut out).unwrap();
        assert_eq!(&out, b"ping");
        let chunk = rx.read_chunk(2).unwrap();
        assert_eq!(chunk.get(0), Some(&b"pong"[..]));
        // Only contiguous slots lend slices.
        assert_eq!(chunk.slices().is_some(), kind == Kind::Spsc && !stamped);
        assert_eq!(chunk.releases_part(), kind == Kind::Spsc);
        chunk.release(1);
        let pair = AnyProducer::<Bytes>::attach(&ring).ok().zip(Some(rx));
        // A second SPSC producer is refused; MPMC takes any number.
        assert_eq!(pair.is_some(), kind == Kind::Mpmc);
    }
}

#[test]
fn handles_are_send() {
    fn send<T: Send>() {}
    send::<ringway::spsc::Producer<u64>>();
    send::<ringway::spsc::BytesConsumer>();
    send::<ringway::mpmc::Producer<u64>>();
    send::<ringway::mpmc::BytesConsumer>();
    send::<AnyProducer<Bytes>>();
}
