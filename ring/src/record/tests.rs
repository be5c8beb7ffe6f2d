//! Unit tests of the record ring over anonymous and caller memory, and a
//! proptest of random operations against a model that tracks positions.

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;

use super::{max_record_len, record_size, Consumer, Producer, RECORD_HEADER};
use crate::error::{HandleError, PopError, PopTimeoutError, PushError};
use crate::layout::{Geometry, Kind};
use crate::ring::{Ring, RingBuilder};

fn ring(capacity: u64) -> Ring {
    RingBuilder::new(Kind::Record)
        .capacity(capacity)
        .create_anonymous()
        .unwrap()
}

/// A record whose bytes say which record it is and how long it is.
fn pattern(seq: u64, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (seq.wrapping_mul(31).wrapping_add(i as u64 * 7) % 251) as u8)
        .collect()
}

#[test]
fn records_of_every_size_cross_many_wraps() {
    let ring = ring(1024);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut rx = Consumer::attach(&ring).unwrap();
    assert_eq!(tx.max_len(), 1024 - 16);
    let mut seq = 0u64;
    for round in 0..20usize {
        for len in [1, 7, 16, 17, 100, 300, 768, 0, 1008] {
            let len = (len + round) % (tx.max_len() + 1);
            let rec = pattern(seq, len);
            if tx.try_push(&rec) == Err(PushError::Full(())) {
                // A record longer than the rest of the lap published padding
                // and waits for the consumer to pass it.
                assert_eq!(rx.try_read().err(), Some(PopError::Empty));
                tx.try_push(&rec).unwrap();
            }
            assert_eq!(
                rx.try_pop_vec().unwrap(),
                rec,
                "record {seq} of {len} bytes"
            );
            seq += 1;
        }
    }
    assert!(rx.position() > 10 * 1024, "the ring wrapped many times");
    assert_eq!(rx.try_read().err(), Some(PopError::Empty));
}

#[test]
fn a_record_that_does_not_fit_before_the_end_waits_behind_padding() {
    let ring = ring(256);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut rx = Consumer::attach(&ring).unwrap();
    // 160 bytes in use from 0; a 192-byte record (3/4 of the ring) fits
    // neither after them nor, yet, at the start.
    tx.try_push(&pattern(0, 144)).unwrap();
    assert_eq!(record_size(144), Some(160));
    let big = pattern(1, 192 - 16);
    assert_eq!(tx.try_push(&big), Err(PushError::Full(())));
    // The padding (96 bytes, to the end) was published by the failed try, and
    // releasing the record before it skips it too.
    assert_eq!(rx.try_pop_vec().unwrap(), pattern(0, 144));
    assert_eq!(rx.position(), 256);
    tx.try_push(&big).unwrap();
    let r = rx.try_read().unwrap();
    assert_eq!(r.position(), 256, "the record starts the second lap");
    assert_eq!(&*r, &big[..]);
}

#[test]
fn full_size_and_abort() {
    let ring = ring(128);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut rx = Consumer::attach(&ring).unwrap();
    assert_eq!(
        tx.try_push(&[0; 113]),
        Err(PushError::Size {
            expected: 112,
            found: 113
        })
    );
    let mut r = tx.try_reserve(40).unwrap();
    r[0] = 9;
    r.abort();
    {
        let mut r = tx.try_reserve(8).unwrap();
        r.copy_from_slice(b"dropped!");
    } // dropped without commit: a tombstone
    tx.try_push(b"kept").unwrap();
    assert_eq!(tx.try_push(&[1; 20]), Err(PushError::Full(())));
    assert_eq!(rx.try_pop_vec().unwrap(), b"kept");
    assert_eq!(rx.try_read().err(), Some(PopError::Empty));
    // Reserved bytes start zeroed even where an aborted record wrote.
    let r = tx.try_reserve(40).unwrap();
    assert!(r.iter().all(|&b| b == 0));
    r.commit().unwrap();
    assert_eq!(rx.try_pop_vec().unwrap(), vec![0; 40]);
}

#[test]
fn values_round_trip_and_a_wrong_size_is_an_error() {
    let ring = ring(256);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut rx = Consumer::attach(&ring).unwrap();
    tx.try_push_value(0x1122_3344_5566_7788u64).unwrap();
    tx.try_push_value([1u32, 2, 3]).unwrap();
    assert_eq!(
        rx.try_pop_value::<u32>(),
        Err(PopError::Size {
            expected: 4,
            found: 8
        })
    );
    assert_eq!(rx.try_pop_value::<u64>(), Ok(0x1122_3344_5566_7788));
    assert_eq!(rx.try_pop_value::<[u32; 3]>(), Ok([1, 2, 3]));
    for i in 0..8u64 {
        tx.try_push_value(i).unwrap(); // 32 bytes each
    }
    assert_eq!(tx.try_push_value(99u64), Err(PushError::Full(99)));
}

#[test]
fn handles_are_send() {
    fn send<T: Send>() {}
    send::<Producer>();
    send::<Consumer>();
}

#[test]
fn roles_and_kinds() {
    let ring = ring(256);
    let _rx = Consumer::attach(&ring).unwrap();
    assert!(matches!(
        Consumer::attach(&ring),
        Err(HandleError::RoleTaken { .. })
    ));
    // Every handle holds a peer entry: the consumer one, the producers the rest.
    let producers: Vec<_> = (1..crate::peer::PEER_TABLE_LEN)
        .map(|_| Producer::attach(&ring).unwrap())
        .collect();
    assert_eq!(
        Producer::attach(&ring).err(),
        Some(HandleError::TooManyPeers)
    );
    drop(producers);
    Producer::attach(&ring).unwrap();
    let spsc = RingBuilder::new(Kind::Spsc).create_anonymous().unwrap();
    assert!(matches!(
        Producer::attach(&spsc),
        Err(HandleError::WrongKind { .. })
    ));
    assert!(matches!(
        crate::spsc::BytesProducer::attach(&ring),
        Err(HandleError::WrongKind { .. })
    ));
    drop(_rx);
    assert!(matches!(
        crate::spsc::BytesConsumer::attach(&ring),
        Err(HandleError::WrongKind { .. })
    ));
    assert!(matches!(
        crate::mpmc::BytesConsumer::attach(&ring),
        Err(HandleError::WrongKind { .. })
    ));
}

#[test]
fn blocking_calls_move_many_records_between_threads() {
    let ring = ring(4096);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut rx = Consumer::attach(&ring).unwrap();
    assert_eq!(
        rx.read_timeout(Duration::from_millis(5)).err(),
        Some(PopTimeoutError::Timeout)
    );
    let n = 3000u64;
    let sender = std::thread::spawn(move || {
        for seq in 0..n {
            let len = (seq as usize * 37) % 3000;
            tx.push_blocking(&pattern(seq, len)).unwrap();
        }
    });
    for seq in 0..n {
        let len = (seq as usize * 37) % 3000;
        let r = rx.read_blocking().unwrap();
        assert_eq!(&*r, &pattern(seq, len)[..], "record {seq}");
    }
    sender.join().unwrap();
}

#[test]
fn producers_on_threads_keep_their_own_order() {
    let ring = ring(2048);
    let mut rx = Consumer::attach(&ring).unwrap();
    let per = 2000u32;
    let senders: Vec<_> = (0..3u32)
        .map(|p| {
            let mut tx = Producer::attach(&ring).unwrap();
            std::thread::spawn(move || {
                for i in 0..per {
                    let len = 8 + (i as usize % 5) * 40;
                    let mut r = tx.reserve_blocking(len).unwrap();
                    r[..4].copy_from_slice(&p.to_le_bytes());
                    r[4..8].copy_from_slice(&i.to_le_bytes());
                    r.commit().unwrap();
                }
            })
        })
        .collect();
    let mut next = [0u32; 3];
    while next.iter().any(|&n| n < per) {
        let r = rx.read_timeout(Duration::from_secs(30)).unwrap();
        let p = u32::from_le_bytes(r[..4].try_into().unwrap()) as usize;
        let i = u32::from_le_bytes(r[4..8].try_into().unwrap());
        assert_eq!(i, next[p], "producer {p}");
        assert_eq!(r.len(), 8 + (i as usize % 5) * 40);
        next[p] += 1;
    }
    for s in senders {
        s.join().unwrap();
    }
}

/// Caller memory, so the test can scribble on the ring like a hostile peer.
struct Scribble {
    mem: Vec<u128>,
}

impl Scribble {
    fn new(capacity: u64) -> (Scribble, Ring) {
        let len = Geometry::new(Kind::Record, capacity, 1, 16)
            .unwrap()
            .total_len as usize;
        let mut s = Scribble {
            mem: vec![0u128; len / 16 + 8],
        };
        let base = (s.mem.as_mut_ptr() as usize + 127) & !127;
        // SAFETY: `base..base + len` is inside `mem`, which outlives the ring
        // (dropped after it in each test), and only the ring protocol and the
        // test's deliberate scribbles touch it.
        let ring = unsafe {
            RingBuilder::new(Kind::Record)
                .capacity(capacity)
                .create_in(core::ptr::NonNull::new(base as *mut u8).unwrap(), len)
                .unwrap()
        };
        (s, ring)
    }

    fn data(&mut self, ring: &Ring) -> *mut u8 {
        let _ = &mut self.mem;
        ring.shared.slot(0).0
    }
}

#[test]
fn hostile_headers_are_typed_errors() {
    let (mut mem, ring) = Scribble::new(256);
    let data = mem.data(&ring);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut rx = Consumer::attach(&ring).unwrap();
    tx.try_push(b"0123456789").unwrap();
    // A length that runs past the end of the ring.
    // SAFETY: bytes 8..12 of the first header, inside the ring.
    unsafe { data.add(8).cast::<u32>().write_unaligned(1000) };
    assert!(matches!(rx.try_read(), Err(PopError::Corrupt(e)) if e.value == 1000));
    // A stamp for another lap.
    // SAFETY: the first 8 bytes of the ring.
    unsafe { data.cast::<u64>().write_unaligned(256 | 1) };
    assert!(matches!(rx.try_read(), Err(PopError::Corrupt(_))));
    // An unknown type.
    // SAFETY: as above.
    unsafe { data.cast::<u64>().write_unaligned(7) };
    assert!(matches!(rx.try_read(), Err(PopError::Corrupt(_))));
    // A head that is not a multiple of 16 is refused at attach.
    drop(rx);
    ring.shared
        .header()
        .head
        .store(8, crate::loom::Ordering::Relaxed);
    assert!(matches!(
        Consumer::attach(&ring),
        Err(HandleError::Corrupt(_))
    ));
    // A tail that is not a multiple of 16 makes the producer fail, not write.
    ring.shared
        .header()
        .tail
        .store(40, crate::loom::Ordering::Relaxed);
    assert!(matches!(tx.try_push(b"x"), Err(PushError::Corrupt(_))));
    drop((tx, ring));
    drop(mem);
}

#[derive(Debug, Clone)]
enum Op {
    Push(usize),
    Pop,
    Abort(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..=240).prop_map(Op::Push),
        3 => Just(Op::Pop),
        1 => (0usize..=100).prop_map(Op::Abort),
    ]
}

#[derive(Debug)]
enum Entry {
    Data(Vec<u8>),
    Padding,
    Tombstone,
}

/// What the ring should hold: the positions and records.
struct Model {
    capacity: u64,
    head: u64,
    tail: u64,
    queue: VecDeque<(u64, u64, Entry)>,
}

impl Model {
    /// Claims a record of `size`, returning its position, or `None` for full
    /// (publishing padding as the ring does).
    fn claim(&mut self, size: u64) -> Option<u64> {
        loop {
            let room = self.capacity - self.tail % self.capacity;
            let need = if size > room { room } else { size };
            if self.tail - self.head + need > self.capacity {
                return None;
            }
            if size > room {
                self.queue.push_back((self.tail, need, Entry::Padding));
                self.tail += need;
                continue;
            }
            let pos = self.tail;
            self.tail += size;
            return Some(pos);
        }
    }

    fn pop(&mut self) -> Option<(u64, Vec<u8>)> {
        while let Some((pos, size, entry)) = self.queue.pop_front() {
            self.head = pos + size;
            if let Entry::Data(rec) = entry {
                // Releasing a record skips padding right behind it.
                if let Some(&(pad, size, Entry::Padding)) = self.queue.front() {
                    self.queue.pop_front();
                    self.head = pad + size;
                }
                return Some((pos, rec));
            }
        }
        None
    }
}

proptest! {
    #[test]
    fn random_operations_match_the_model(ops in proptest::collection::vec(op(), 1..200)) {
        let capacity = 256;
        let ring = ring(capacity);
        let mut tx = Producer::attach(&ring).unwrap();
        let mut rx = Consumer::attach(&ring).unwrap();
        let mut model = Model { capacity, head: 0, tail: 0, queue: VecDeque::new() };
        let mut seq = 0;
        for op in ops {
            match op {
                Op::Push(len) | Op::Abort(len) => {
                    let size = record_size(len).unwrap();
                    let expect = model.claim(size);
                    let got = tx.try_reserve(len);
                    match (expect, got) {
                        (Some(pos), Ok(mut r)) => {
                            prop_assert_eq!(r.position(), pos);
                            let rec = pattern(seq, len);
                            seq += 1;
                            r.copy_from_slice(&rec);
                            if matches!(op, Op::Push(_)) {
                                r.commit().unwrap();
                                model.queue.push_back((pos, size, Entry::Data(rec)));
                            } else {
                                r.abort();
                                model.queue.push_back((pos, size, Entry::Tombstone));
                            }
                        }
                        (None, Err(PushError::Full(()))) => {}
                        (expect, got) => prop_assert!(false, "model {:?}, ring {:?}", expect, got.map(|r| r.position())),
                    }
                }
                Op::Pop => {
                    let expect = model.pop();
                    let got = rx.try_read().map(|r| (r.position(), r.to_vec()));
                    match (expect, got) {
                        (Some(want), Ok(got)) => prop_assert_eq!(got, want),
                        (None, Err(PopError::Empty)) => {}
                        (m, r) => prop_assert!(false, "model {:?}, ring {:?}", m, r),
                    }
                    // The consumer skipped what the model skipped.
                    prop_assert_eq!(rx.position(), model.head);
                }
            }
        }
        prop_assert!(max_record_len(capacity) == (capacity - RECORD_HEADER) as usize);
    }
}

/// A dead process's pid (a child spawned and reaped).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

/// Makes peer entry `i` look like a handle of role bits `role` held by
/// process `pid` (no liveness token: its pid and start time tell), with the
/// record `pos, len` in flight. Returns its `info`.
fn fake_entry(ring: &Ring, i: usize, pid: u32, role: u32, pos: u64, len: u64) -> u32 {
    use crate::loom::Ordering::{Relaxed, Release};
    let e = &ring.shared.peers().entries[i];
    e.pid.store(pid, Relaxed);
    e.start_time
        .store(crate::process::current_start_time(), Relaxed);
    e.claim_pos.store(pos, Relaxed);
    e.claim_len.store(len, Relaxed);
    let info = role | 1 << crate::peer::GEN_SHIFT;
    e.info.store(info, Release);
    info
}

/// What only the consumer may bury, and when it may not: a dead producer's
/// claim is buried unless a live producer's record names its position, or
/// two dead records name it with different lengths (the winner of the CAS
/// is unknown). A reaper that is not the consumer leaves it.
#[test]
fn the_consumer_buries_a_dead_claim_only_when_it_is_decided() {
    use crate::loom::Ordering::Relaxed;
    use crate::mpmc::heal::PENDING;
    use crate::peer::ROLE_PRODUCER;
    let ring = ring(1024);
    let mut rx = Consumer::attach(&ring).unwrap();
    let mut tx = Producer::attach(&ring).unwrap();
    // A claim of 32 bytes at 0 that nobody committed, then a record.
    ring.shared.header().tail.store(32, Relaxed);
    tx.try_push(b"after").unwrap();
    assert_eq!(rx.try_read().err(), Some(PopError::Empty));
    let dead = dead_pid();
    fake_entry(&ring, 40, dead, ROLE_PRODUCER, 0, 32 | PENDING);
    fake_entry(&ring, 41, dead, ROLE_PRODUCER, 0, 48 | PENDING);
    assert_eq!(rx.heal_dead_producers(), Ok(0), "two lengths: undecided");
    assert_eq!(rx.has_record(), Ok(false));
    // 41's record names a claim that never happened (at or past tail); a
    // live producer's record names the stalled one.
    ring.shared.peers().entries[41]
        .claim_pos
        .store(4096, Relaxed);
    fake_entry(
        &ring,
        42,
        std::process::id(),
        ROLE_PRODUCER,
        0,
        32 | PENDING,
    );
    assert_eq!(rx.heal_dead_producers(), Ok(1), "41 only");
    assert_eq!(rx.has_record(), Ok(false), "the live one may own it");
    // The live one goes away; a reaper that is not the consumer leaves the
    // claim alone.
    ring.shared.peers().entries[42].pid.store(0, Relaxed);
    assert_eq!(ring.reap_dead(), 0);
    assert_eq!(rx.has_record(), Ok(false));
    assert_eq!(rx.heal_dead_producers(), Ok(1), "40, buried");
    assert_eq!(rx.try_read().unwrap().to_vec(), b"after");
    assert_eq!(rx.try_read().err(), Some(PopError::Empty));
}

/// A consumer killed while zeroing a record it read (its stamp already 0,
/// `head` not moved) stalled the next consumer at a record that would never
/// be committed again. Its entry says what it was freeing: taking its role
/// over finishes the release.
#[test]
fn taking_over_finishes_a_dead_consumers_release() {
    use crate::loom::Ordering::Relaxed;
    use crate::peer::ROLE_CONSUMER;
    let ring = ring(1024);
    let mut tx = Producer::attach(&ring).unwrap();
    for i in 0..3u8 {
        tx.try_push(&[i; 20]).unwrap(); // 48 bytes each
    }
    super::frame::Frame::of(&ring.shared, 0)
        .stamp
        .store(0, Relaxed);
    let info = fake_entry(&ring, 40, dead_pid(), ROLE_CONSUMER, 0, 48);
    ring.shared
        .header()
        .consumer_owner
        .store(crate::peer::role_word(40, info), Relaxed);
    let mut rx = Consumer::attach(&ring).expect("takes the dead consumer's role");
    assert_eq!(rx.position(), 48);
    assert_eq!(rx.try_read().unwrap().to_vec(), [1; 20]);
    assert_eq!(rx.try_read().unwrap().to_vec(), [2; 20]);
}
