//! Unit tests of the broadcast ring over anonymous memory.

use std::time::Duration;

use super::{Producer, Start, Subscriber};
use crate::error::{HandleError, PopError, PushError, PushTimeoutError};
use crate::layout::Kind;
use crate::loom::Ordering;
use crate::ring::{Ring, RingBuilder};

fn ring(capacity: u64, gated: bool) -> Ring {
    RingBuilder::new(Kind::Broadcast)
        .capacity(capacity)
        .gated(gated)
        .create_anonymous()
        .unwrap()
}

/// Record `seq`: a length that varies with it, every byte equal to it, so
/// a torn record (bytes of two records) is visible.
fn record(seq: u32, max: usize) -> Vec<u8> {
    vec![seq as u8; 1 + (seq as usize * 37) % max]
}

fn pop(sub: &mut Subscriber) -> Option<(u32, Vec<u8>, u64)> {
    let mut buf = Vec::new();
    match sub.try_pop_into(&mut buf) {
        Ok(r) => {
            assert_eq!(r.len, buf.len());
            Some((r.seq, buf, r.missed))
        }
        Err(PopError::Empty) => None,
        Err(e) => panic!("{e:?}"),
    }
}

#[test]
fn every_subscriber_gets_every_record_across_wraps() {
    let ring = ring(1024, false);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut subs: Vec<_> = (0..3)
        .map(|_| Subscriber::attach(&ring, Start::Next).unwrap())
        .collect();
    for seq in 0..500u32 {
        tx.try_push(&record(seq, 300)).unwrap();
        for sub in &mut subs {
            let (got, bytes, missed) = pop(sub).unwrap();
            assert_eq!((got, missed), (seq, 0));
            assert_eq!(bytes, record(seq, 300));
        }
    }
    for sub in &mut subs {
        assert_eq!(pop(sub), None);
        assert_eq!(sub.missed(), 0);
    }
    assert!(subs[0].position() > 50 * 1024);
}

#[test]
fn a_lapped_subscriber_counts_exactly_what_it_missed() {
    let ring = ring(256, false);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut slow = Subscriber::attach(&ring, Start::Next).unwrap();
    for seq in 0..100u32 {
        tx.try_push(&[seq as u8; 16]).unwrap(); // 32 bytes each
    }
    let mut got = Vec::new();
    while let Some((seq, bytes, _)) = pop(&mut slow) {
        assert_eq!(bytes, vec![seq as u8; 16]);
        got.push(seq);
    }
    // The ring holds the last 256 / 32 = 8 records, less the one the
    // producer's last announcement retired.
    assert!(got.len() >= 7, "{got:?}");
    assert_eq!(*got.last().unwrap(), 99);
    assert!(got.windows(2).all(|w| w[1] == w[0] + 1), "{got:?}");
    assert_eq!(slow.missed() + got.len() as u64, 100);
}

#[test]
fn late_joiners_start_where_asked() {
    let ring = ring(1024, false);
    let mut tx = Producer::attach(&ring).unwrap();
    for seq in 0..10u32 {
        tx.try_push(&[seq as u8; 20]).unwrap();
    }
    let first = |start| {
        let mut sub = Subscriber::attach(&ring, start).unwrap();
        pop(&mut sub).map(|(seq, _, _)| seq)
    };
    assert_eq!(first(Start::Oldest), Some(0));
    assert_eq!(first(Start::Newest), Some(9));
    assert_eq!(first(Start::Back(3)), Some(7));
    assert_eq!(first(Start::Back(50)), Some(0));
    assert_eq!(first(Start::Next), None);
    // After the ring wrapped, Oldest is the oldest intact record.
    for seq in 10..100u32 {
        tx.try_push(&[seq as u8; 20]).unwrap();
    }
    let oldest = first(Start::Oldest).unwrap();
    assert!(oldest > 60 && oldest < 99, "{oldest}");
}

#[test]
fn gated_producer_waits_for_the_slowest_subscriber() {
    let ring = ring(256, true);
    let mut tx = Producer::attach(&ring).unwrap();
    assert!(tx.is_gated());
    let mut fast = Subscriber::attach(&ring, Start::Next).unwrap();
    let mut slow = Subscriber::attach(&ring, Start::Next).unwrap();
    let mut sent = 0u32;
    while tx.try_push(&[sent as u8; 16]).is_ok() {
        sent += 1;
        while pop(&mut fast).is_some() {}
    }
    assert_eq!(sent, 8, "256 bytes of 32-byte records");
    assert_eq!(
        tx.push_timeout(b"x", Duration::from_millis(5)),
        Err(PushTimeoutError::Timeout(()))
    );
    for seq in 0..8 {
        assert_eq!(pop(&mut slow).unwrap().0, seq);
    }
    tx.try_push(&[8; 16]).unwrap();
    assert_eq!(pop(&mut slow).unwrap(), (8, vec![8; 16], 0));
    assert_eq!(pop(&mut fast).unwrap().0, 8);
    drop(slow);
    // A subscriber that left does not hold the producer back.
    for seq in 9..40u32 {
        tx.try_push(&[seq as u8; 16]).unwrap();
        assert_eq!(pop(&mut fast).unwrap().0, seq);
    }
    assert_eq!(fast.missed(), 0);
}

#[test]
fn gated_producer_evicts_a_dead_subscriber() {
    let ring = ring(256, true);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    // A peer entry left by a subscriber process that died at position 0
    // (no liveness token: its pid tells, as for a caller-memory ring).
    let entry = &ring.shared.peers().entries[5];
    entry.pid.store(dead, Ordering::Relaxed);
    entry.claim_pos.store(0, Ordering::Relaxed);
    entry.info.store(
        crate::peer::ROLE_CONSUMER | 1 << crate::peer::GEN_SHIFT,
        Ordering::Release,
    );
    for seq in 0..8u32 {
        tx.try_push(&[seq as u8; 16]).unwrap();
    }
    assert_eq!(tx.try_push(&[0; 16]), Err(PushError::Full(())));
    tx.push_timeout(&[0; 16], Duration::from_secs(30)).unwrap();
    assert_eq!(entry.pid.load(Ordering::Relaxed), 0, "evicted");
}

#[test]
fn a_new_producer_continues_and_buries_a_half_written_record() {
    let ring = ring(512, false);
    let mut sub = Subscriber::attach(&ring, Start::Next).unwrap();
    let mut tx = Producer::attach(&ring).unwrap();
    assert!(matches!(
        Producer::attach(&ring),
        Err(HandleError::RoleTaken { .. })
    ));
    tx.try_push(b"one").unwrap();
    drop(tx);
    // A producer that announced 48 bytes and died before stamping them.
    let header = ring.shared.header();
    let tail = header.tail.load(Ordering::Relaxed);
    header.tail.store(tail + 48, Ordering::Relaxed);
    let mut tx = Producer::attach(&ring).unwrap();
    tx.try_push(b"two").unwrap();
    assert_eq!(pop(&mut sub).unwrap(), (0, b"one".to_vec(), 0));
    assert_eq!(pop(&mut sub).unwrap(), (1, b"two".to_vec(), 0));
    assert_eq!(pop(&mut sub), None);
}

#[test]
fn kinds_and_sizes() {
    let ring = ring(256, false);
    let mut tx = Producer::attach(&ring).unwrap();
    assert_eq!(
        tx.try_push(&[0; 241]),
        Err(PushError::Size {
            expected: 240,
            found: 241
        })
    );
    tx.try_push(&[7; 240]).unwrap();
    let mut sub = Subscriber::attach(&ring, Start::Oldest).unwrap();
    assert_eq!(pop(&mut sub).unwrap().1, vec![7; 240]);
    let record = RingBuilder::new(Kind::Record).create_anonymous().unwrap();
    assert!(matches!(
        Producer::attach(&record),
        Err(HandleError::WrongKind { .. })
    ));
    assert!(matches!(
        Subscriber::attach(&record, Start::Next),
        Err(HandleError::WrongKind { .. })
    ));
    assert!(matches!(
        crate::record::Producer::attach(&ring),
        Err(HandleError::WrongKind { .. })
    ));
}

/// A lossy producer thread against a subscriber thread that reads slowly:
/// every record it returns is whole (one byte value, the right length), in
/// order, and what it got plus what it was told it missed is everything.
#[test]
fn a_slow_subscriber_never_sees_a_torn_record() {
    let ring = ring(1024, false);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut sub = Subscriber::attach(&ring, Start::Next).unwrap();
    let total = 20_000u32;
    let producer = std::thread::spawn(move || {
        for seq in 0..total {
            tx.try_push(&record(seq, 200)).unwrap();
            if seq % 64 == 0 {
                std::thread::yield_now();
            }
        }
        tx.try_push(b"end").unwrap();
    });
    let mut buf = Vec::new();
    let mut got = 0u64;
    let mut last = None;
    loop {
        let r = sub
            .pop_timeout_into(&mut buf, Duration::from_secs(30))
            .unwrap();
        if buf == b"end" {
            break;
        }
        assert_eq!(buf, record(r.seq, 200), "record {} is torn", r.seq);
        if let Some(l) = last {
            assert!(r.seq > l, "order");
        }
        last = Some(r.seq);
        got += 1;
        if got % 16 == 0 {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    producer.join().unwrap();
    assert_eq!(got + sub.missed(), u64::from(total));
    eprintln!("received {got}, missed {}", sub.missed());
}

#[test]
fn a_join_walk_facing_cursors_more_than_a_lap_apart_is_an_error_not_a_hang() {
    // Found by the fuzz `open` target: with tail more than a lap ahead of
    // oldest (no producer leaves that), every step of the join walk reads as
    // lapped and the walk restarted forever.
    let ring = ring(512, false);
    let mut tx = Producer::attach(&ring).unwrap();
    tx.try_push(b"one").unwrap();
    drop(tx);
    let header = ring.shared.header();
    let head = header.head.load(Ordering::Relaxed);
    header.tail.store(head + 4 * 512, Ordering::Relaxed);
    for start in [Start::Oldest, Start::Newest, Start::Back(3), Start::Next] {
        match Subscriber::attach(&ring, start) {
            Err(HandleError::Corrupt(e)) => {
                assert!(e.to_string().contains("lapped"), "{e}")
            }
            other => panic!("{start:?}: {other:?}"),
        }
    }
}

#[test]
fn positions_near_the_end_of_u64_are_an_error_not_an_overflow() {
    let ring = ring(512, false);
    let header = ring.shared.header();
    header.head.store(u64::MAX - 15, Ordering::Relaxed);
    header.tail.store(u64::MAX - 15, Ordering::Relaxed);
    // Whatever the walk makes of it, it returns (an error or a subscriber)
    // instead of panicking on an overflow or hanging.
    let _ = Subscriber::attach(&ring, Start::Oldest);
    let _ = Subscriber::attach(&ring, Start::Next);
}

/// A parked subscriber is woken by padding, not only by data: in a gated
/// ring the record after the padding may overwrite it, so the producer
/// waits for the subscriber to step over the padding, and the subscriber
/// must be woken to do it. (Before the fix only a data record notified
/// `data_event`: the pair waited on each other until the subscriber's
/// 25 ms slice ran out, and for good where the wait is not sliced; the
/// `ringway cat` of a gated broadcast ring hung that way.) The waiter here
/// is the subscriber's own condition on an unsliced wait, so only a
/// notify can end it before its deadline.
#[test]
fn padding_wakes_a_parked_subscriber() {
    use super::words::stamp;
    use ringway_sync::WaitStrategy;
    use std::time::Instant;

    let ring = ring(64, true);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut sub = Subscriber::attach(&ring, Start::Next).unwrap();
    tx.try_push(&[1; 16]).unwrap(); // bytes 0..32
    assert_eq!(pop(&mut sub).map(|r| r.0), Some(0));
    assert_eq!(sub.position(), 32);
    let waiter = {
        let ring = ring.clone();
        std::thread::spawn(move || {
            ring.data_event().wait(
                WaitStrategy::Park,
                Some(Instant::now() + Duration::from_secs(60)),
                || {
                    let s = stamp(&ring.shared, 32).load(Ordering::Acquire);
                    (s & !15 == 32 && s != 32).then_some(())
                },
            )
        })
    };
    let started = Instant::now();
    while ring.data_event().waiters() == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "never parked");
        std::thread::sleep(Duration::from_millis(1));
    }
    // 48 bytes do not fit in the 32 left of the lap: padding at 32..64,
    // then the record at 64..112 would overwrite the padding (ring bytes
    // 0..48), which the subscriber at 32 has not passed: Full.
    assert_eq!(tx.try_push(&[2; 32]), Err(PushError::Full(())));
    // The notify makes this immediate; the bound only keeps a failure
    // from hanging the suite.
    let woken = Instant::now();
    while !waiter.is_finished() {
        assert!(
            woken.elapsed() < Duration::from_secs(20),
            "the padding did not wake the parked subscriber"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(waiter.join().unwrap(), Ok(()));
    // The subscriber steps over the padding, and the record then fits.
    assert_eq!(pop(&mut sub), None);
    assert_eq!(sub.position(), 64);
    tx.try_push(&[2; 32]).unwrap();
    assert_eq!(pop(&mut sub).map(|r| (r.0, r.1)), Some((1, vec![2; 32])));
}

/// A gated producer parked on a lagging subscriber is woken when that
/// subscriber drops its handle (before, it noticed only at its next 20 ms
/// liveness period). The waiter is the producer's condition, through the
/// public peer table, on an unsliced wait: only a notify ends it early.
#[test]
fn a_leaving_subscriber_wakes_a_parked_gated_producer() {
    use crate::error::Role;
    use ringway_sync::WaitStrategy;
    use std::time::Instant;

    let ring = ring(64, true);
    let mut tx = Producer::attach(&ring).unwrap();
    let lagging = Subscriber::attach(&ring, Start::Next).unwrap();
    tx.try_push(&[1; 16]).unwrap();
    tx.try_push(&[2; 16]).unwrap();
    // The ring is full for the subscriber at 0: the next record needs it
    // past byte 32.
    assert_eq!(tx.try_push(&[3; 16]), Err(PushError::Full(())));
    let waiter = {
        let ring = ring.clone();
        std::thread::spawn(move || {
            ring.space_event().wait(
                WaitStrategy::Park,
                Some(Instant::now() + Duration::from_secs(60)),
                || {
                    ring.peers()
                        .iter()
                        .all(|p| p.role != Some(Role::Consumer) || p.claim.0 >= 32)
                        .then_some(())
                },
            )
        })
    };
    let started = Instant::now();
    while ring.space_event().waiters() == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "never parked");
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(lagging);
    let left = Instant::now();
    while !waiter.is_finished() {
        assert!(
            left.elapsed() < Duration::from_secs(20),
            "the leaving subscriber did not wake the parked producer"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(waiter.join().unwrap(), Ok(()));
    tx.try_push(&[3; 16]).unwrap();
}
