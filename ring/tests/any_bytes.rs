//! `AnySender` / `AnyReceiver`: one bytes path over every kind of ring.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use std::time::{Duration, Instant};

use ringway::broadcast::Start;
use ringway::{AnyReceiver, AnySender, Kind, PopError, PopTimeoutError, PushError, RingBuilder};

fn ring(kind: Kind) -> ringway::Ring {
    let b = RingBuilder::new(kind);
    match kind {
        Kind::Spsc | Kind::Mpmc => b.capacity(8).slot_size(16),
        Kind::Record | Kind::Broadcast => b.capacity(1024).gated(true),
    }
    .create_anonymous()
    .unwrap()
}

#[test]
fn every_kind_moves_bytes_through_one_path() {
    for kind in [Kind::Spsc, Kind::Mpmc, Kind::Record, Kind::Broadcast] {
        let ring = ring(kind);
        let mut rx = AnyReceiver::attach(&ring, Start::Next).unwrap();
        let mut tx = AnySender::attach(&ring).unwrap();
        let fixed = tx.fixed_size();
        assert_eq!(fixed, matches!(kind, Kind::Spsc | Kind::Mpmc), "{kind}");
        assert_eq!(tx.max_len(), if fixed { 16 } else { 1008 }, "{kind}");
        let mut buf = Vec::new();
        assert!(matches!(rx.try_recv_into(&mut buf), Err(PopError::Empty)));
        let soon = Instant::now() + Duration::from_millis(1);
        assert!(matches!(
            rx.recv_deadline_into(&mut buf, soon),
            Err(PopTimeoutError::Timeout)
        ));
        for i in 0..100u8 {
            let len = if fixed { 16 } else { 1 + usize::from(i) * 3 };
            let msg: Vec<u8> = (0..len).map(|k| i ^ k as u8).collect();
            if i % 2 == 0 {
                tx.try_send(&msg).unwrap();
            } else {
                tx.send_deadline(&msg, None).unwrap();
            }
            let n = if i % 3 == 0 {
                rx.recv_deadline_into(&mut buf, Instant::now() + Duration::from_secs(5))
                    .unwrap()
            } else {
                rx.try_recv_into(&mut buf).unwrap()
            };
            assert_eq!((n, &buf), (len, &msg), "{kind} message {i}");
        }
        assert_eq!(rx.missed(), 0);
        let too_long = vec![0u8; tx.max_len() + 1];
        assert!(
            matches!(tx.try_send(&too_long), Err(PushError::Size { .. })),
            "{kind}"
        );
    }
}

#[test]
fn a_lapped_broadcast_receiver_reports_what_it_missed() {
    let ring = RingBuilder::new(Kind::Broadcast)
        .capacity(256)
        .create_anonymous()
        .unwrap();
    let mut rx = AnyReceiver::attach(&ring, Start::Next).unwrap();
    let mut tx = AnySender::attach(&ring).unwrap();
    for i in 0..100u8 {
        tx.try_send(&[i; 20]).unwrap(); // 48 bytes a record: 5 fit
    }
    let mut buf = Vec::new();
    let mut got = 0;
    while rx.try_recv_into(&mut buf).is_ok() {
        got += 1;
    }
    assert_eq!(buf, [99; 20]);
    assert_eq!(got + rx.missed(), 100);
    assert!(rx.missed() > 90, "{}", rx.missed());
}
