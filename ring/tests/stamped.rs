//! SPSC rings with stamped slots (`RingBuilder::stamped`): messages across
//! laps one at a time and in chunks, a stamp a hostile peer wrote is a typed
//! error or "not yet" (never trusted), a stamp a dead producer did not write
//! is found through `tail` and written again by the next producer, and a
//! producer process killed mid-stream loses nothing it published.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::fs::OpenOptions as FileOptions;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use common::{reap, spawn_child, ShmName, TempPath, CHILD_ENV};
use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, OpenOptions, PopError, Ring, RingBuilder};

fn stamped(capacity: u64) -> RingBuilder {
    RingBuilder::new(Kind::Spsc)
        .stamped(true)
        .capacity(capacity)
        .message::<u64>()
}

#[test]
fn the_layout_is_recorded_and_read_back() {
    let path = TempPath::new("stamped-layout");
    let ring = stamped(8).create_file(&path.0).unwrap();
    assert!(ring.geometry().stamped);
    assert_eq!(ring.geometry().payload_offset, 8);
    assert_eq!(ring.geometry().stride, 16);
    let again = OpenOptions::new()
        .message::<u64>()
        .open_file(&path.0)
        .unwrap();
    assert!(again.geometry().stamped, "an opener reads the layout");
    let plain = RingBuilder::new(Kind::Spsc)
        .capacity(8)
        .message::<u64>()
        .create_anonymous()
        .unwrap();
    assert!(!plain.geometry().stamped, "contiguous is the default");
}

#[test]
fn messages_cross_many_laps_singly_and_in_chunks() {
    let ring = stamped(4).create_anonymous().unwrap();
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    let (mut next_in, mut next_out) = (0u64, 0u64);
    for round in 0..200u64 {
        // Vary the batch so that chunks start at every slot and wrap.
        let n = (round % 4) as usize + 1;
        if round % 2 == 0 {
            for _ in 0..n {
                if tx.try_push(next_in).is_ok() {
                    next_in += 1;
                }
            }
        } else {
            let mut chunk = tx.write_chunk(n).unwrap();
            assert!(chunk.slices_mut().is_none(), "stamped slots are scattered");
            let len = chunk.len() as u64;
            for (i, slot) in chunk.iter_mut().enumerate() {
                *slot = next_in + i as u64;
            }
            chunk.commit_all();
            next_in += len;
        }
        if round % 3 == 0 {
            let chunk = rx.read_chunk(8).unwrap();
            assert!(chunk.slices().is_none());
            let got: Vec<u64> = chunk.iter().copied().collect();
            let len = got.len();
            assert_eq!(got, (next_out..next_out + len as u64).collect::<Vec<_>>());
            // Release part of it: the rest stays ready, in order.
            chunk.release(len.min(1));
            next_out += len.min(1) as u64;
        }
        while let Ok(v) = rx.try_pop() {
            assert_eq!(v, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in, "everything pushed was popped");
    }
    assert!(next_in > 3 * 4 * 10, "many laps");
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
}

#[test]
#[should_panic(expected = "stamped SPSC ring")]
fn as_slices_refuses_a_stamped_ring() {
    let ring = stamped(4).create_anonymous().unwrap();
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut chunk = tx.write_chunk(2).unwrap();
    let _ = chunk.as_mut_slices();
}

/// Writes `value` over the stamp of slot `idx` of the file ring at `path`.
fn poke_stamp(ring: &Ring, path: &TempPath, idx: u64, value: u64) {
    let g = ring.geometry();
    let at = g.slots_offset + idx * u64::from(g.stride);
    let f = FileOptions::new().write(true).open(&path.0).unwrap();
    f.write_all_at(&value.to_le_bytes(), at).unwrap();
}

#[test]
fn a_hostile_stamp_is_classified_never_trusted() {
    let path = TempPath::new("stamped-hostile");
    let ring = stamped(4).create_file(&path.0).unwrap();
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    // Two laps through slot 0, so its stamp is now 5 (position 4 + 1).
    for v in 0..5 {
        tx.try_push(v).unwrap();
        assert_eq!(rx.try_pop(), Ok(v));
    }
    // The consumer is at position 5 (slot 1), whose stamp is 2: "not yet".
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // A stamp of a later position of this slot: no honest producer wrote it.
    poke_stamp(&ring, &path, 1, 10);
    let e = rx.try_pop().unwrap_err();
    assert!(matches!(&e, PopError::Corrupt(c) if c.value == 10), "{e:?}");
    // A stamp of another slot's position.
    poke_stamp(&ring, &path, 1, 5);
    assert!(matches!(rx.try_pop(), Err(PopError::Corrupt(_))));
    // The stamp of an earlier position of this slot (two laps back) is
    // "not yet", as 0 is.
    poke_stamp(&ring, &path, 1, 2);
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    poke_stamp(&ring, &path, 1, 0);
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // "Ready" beyond tail: the consumer takes the slot's (stale) bytes, as
    // with any peer that lies about its data, and the lie shows at the next
    // look at tail.
    poke_stamp(&ring, &path, 1, 6);
    assert_eq!(rx.try_pop(), Ok(1), "the bytes left in slot 1");
    assert_eq!(rx.ready_slots().unwrap_err().what, "tail moved backwards");
    assert_eq!(tx.free_slots().unwrap_err().what, "head is ahead of tail");
}

/// A producer that died between its `tail` store and its stamp stores: the
/// message is published but not stamped. The next producer writes the stamp
/// again on attach; before that, the consumer gets it through `tail`.
#[test]
fn a_missing_stamp_is_restored_by_the_next_producer_or_found_through_tail() {
    let path = TempPath::new("stamped-missing");
    let ring = stamped(4).create_file(&path.0).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    {
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        tx.try_push(7).unwrap();
        tx.try_push(8).unwrap();
    }
    poke_stamp(&ring, &path, 0, 0);
    poke_stamp(&ring, &path, 1, 0);
    // A one-message poll looks only at the stamp.
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // The next producer stamps what is still in the ring again.
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    assert_eq!(rx.try_pop(), Ok(7));
    assert_eq!(rx.try_pop(), Ok(8));
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // Without a new producer, a look at tail finds the message.
    tx.try_push(9).unwrap();
    poke_stamp(&ring, &path, 2, 0);
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    assert_eq!(rx.ready_slots(), Ok(1));
    assert_eq!(rx.try_pop(), Ok(9));
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
}

fn shm_ring(name: &ShmName, capacity: u64) -> Ring {
    stamped(capacity).create_shm(&name.0).unwrap()
}

/// Entry point of the child processes.
#[test]
#[ignore = "entry point of the child processes the other tests spawn"]
fn stamped_child() {
    let role = std::env::var(CHILD_ENV).expect("run by a parent test");
    let name = std::env::var("RINGWAY_TEST_SHM").unwrap();
    let count: u64 = std::env::var("RINGWAY_TEST_COUNT")
        .unwrap()
        .parse()
        .unwrap();
    let ring = OpenOptions::new()
        .kind(Kind::Spsc)
        .message::<u64>()
        .open_shm(&name)
        .unwrap();
    assert!(ring.geometry().stamped);
    assert_eq!(role, "producer");
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut next = 0u64;
    while next < count {
        // Single pushes and chunks, so both publish paths run.
        if next % 5 < 2 {
            if tx.try_push(next).is_ok() {
                next += 1;
            }
            continue;
        }
        let mut chunk = tx.write_chunk(((count - next) as usize).min(7)).unwrap();
        let n = chunk.len() as u64;
        for (i, slot) in chunk.iter_mut().enumerate() {
            *slot = next + i as u64;
        }
        chunk.commit_all();
        next += n;
    }
}

/// Pops one message at a time (the stamp path) until `until` is true,
/// checking the sequence; returns the next expected value.
fn pop_in_order(
    rx: &mut Consumer<u64>,
    mut next: u64,
    until: impl Fn(u64, &PopError) -> bool,
) -> u64 {
    loop {
        match rx.try_pop() {
            Ok(v) => {
                assert_eq!(v, next, "out of order, lost or duplicated");
                next += 1;
            }
            Err(e) if until(next, &e) => return next,
            Err(PopError::Empty) => std::hint::spin_loop(),
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[test]
fn a_producer_process_streams_through_stamps() {
    const COUNT: u64 = 1_000_000;
    let name = ShmName::new("stamped-xproc");
    let ring = shm_ring(&name, 64);
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    let child = spawn_child(
        "stamped_child",
        "producer",
        &[
            ("RINGWAY_TEST_SHM", name.0.clone()),
            ("RINGWAY_TEST_COUNT", COUNT.to_string()),
        ],
    );
    let next = pop_in_order(&mut rx, 0, |next, _| next == COUNT);
    assert_eq!(next, COUNT);
    reap(child, "producer process");
}

#[test]
fn a_producer_process_killed_mid_stream_loses_nothing_it_published() {
    let name = ShmName::new("stamped-kill");
    let ring = shm_ring(&name, 64);
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    let mut child = spawn_child(
        "stamped_child",
        "producer",
        &[
            ("RINGWAY_TEST_SHM", name.0.clone()),
            ("RINGWAY_TEST_COUNT", u64::MAX.to_string()),
        ],
    );
    // Let it run a while, then kill it wherever it is.
    let mut next = pop_in_order(&mut rx, 0, |next, _| next >= 100_000);
    child.kill().unwrap();
    child.wait().unwrap();
    // Everything it published arrives, in order, then PeerGone.
    let deadline = Instant::now() + Duration::from_secs(30);
    next = pop_in_order(&mut rx, next, |_, e| {
        assert!(Instant::now() < deadline, "no PeerGone within 30 s");
        matches!(e, PopError::PeerGone)
    });
    assert_eq!(ring.snapshot().tail, next, "all of tail was delivered");
    // A new producer continues the stream where the dead one stopped.
    let mut tx = Producer::<u64>::attach(&ring).expect("takeover");
    for v in next..next + 200 {
        tx.push_blocking(v).unwrap();
        assert_eq!(rx.try_pop(), Ok(v));
    }
}
