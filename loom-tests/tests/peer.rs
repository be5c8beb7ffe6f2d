// mutation: reaping_unmarked peer
// mutation: unreport_missing peer
//! loom models of peers that die, over the real `ringway` code: a death is a
//! handle that stops mid-claim (its chunk and the handle forgotten, never
//! dropped), and the reaper runs once the model knows it stopped, as the real
//! reaper runs once the kernel dropped the holder's liveness token (a
//! process's lock goes only after its last thread exited, so a "dead"
//! holder never writes again). The reaper then races the live peers.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ringway-loom-tests --release --test peer`
#![cfg(loom)]

use loom::thread;
use ringway::mpmc::{Consumer, Producer};
use ringway::{Kind, PopError, PushError, Ring, RingBuilder, WaitStrategy};

fn ring() -> Ring {
    RingBuilder::new(Kind::Mpmc)
        .capacity(2)
        .message::<u64>()
        .create_heap()
}

/// Pushes one message, retrying while `try_push` says full.
fn push(tx: &mut Producer<u64>, mut value: u64) {
    loop {
        match tx.try_push(value) {
            Ok(()) => return,
            Err(PushError::Full(back) | PushError::Busy(back)) => {
                value = back;
                thread::yield_now();
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// A producer dies between claim and publish (its first slot stamped
/// `CLAIMED`, which the consumer sees as `Busy`) while another producer pushes
/// two messages (wrapping the 2-slot ring) and a parked consumer waits at
/// the dead claim. The reaper tombstones it, racing the live producer's
/// claims and publishes: the consumer gets both live messages, in order,
/// and nothing else.
#[test]
fn a_producer_dies_between_claim_and_publish() {
    producer_dies_holding_a_claim(false, PopError::Busy);
}

/// A producer dies between its claim (the CAS of `tail`) and the
/// `CLAIMED` stamp of its first slot: the slot still says `FREE` for its
/// lap. Consumers waiting there see `Empty` (not `Busy`), and the reaper
/// tombstones the `FREE` stamp as it does a `CLAIMED` one, racing the live
/// producer, whose second message needs the healed slot.
#[test]
fn a_producer_dies_between_claim_and_claimed_stamp() {
    producer_dies_holding_a_claim(true, PopError::Empty);
}

/// The two models above: entry 0 claims position 0 with a write chunk and
/// dies (neither the chunk nor the handle is ever dropped), before its
/// `CLAIMED` stamp when `before_marking`; a consumer then sees `seen` at
/// that position. (Claimed before the others start, so that the live
/// producer's second message needs the healed slot.)
fn producer_dies_holding_a_claim(before_marking: bool, seen: PopError) {
    loom::model(move || {
        let ring = ring();
        let mut dying = Producer::<u64>::attach(&ring).unwrap(); // entry 0
        let mut live = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        rx.set_wait_strategy(WaitStrategy::Park);
        if before_marking {
            dying.loom_stop_before_marking();
        }
        let chunk = dying.write_chunk(1).unwrap();
        assert_eq!(chunk.len(), 1);
        core::mem::forget(chunk);
        core::mem::forget(dying);
        assert_eq!(rx.try_pop(), Err(seen));
        let producer = thread::spawn(move || {
            // The only spinner: it waits for space only.
            push(&mut live, 7);
            push(&mut live, 8);
        });
        let consumer = thread::spawn(move || {
            let a = rx.pop_blocking().unwrap();
            let b = rx.pop_blocking().unwrap();
            (a, b, rx)
        });
        assert!(ring.reap_as_dead(0), "the dead producer's entry is reaped");
        producer.join().unwrap();
        let (a, b, mut rx) = consumer.join().unwrap();
        assert_eq!((a, b), (7, 8));
        assert_eq!(rx.try_pop(), Err(PopError::Empty));
        assert_eq!(ring.lost(), 0);
    });
}

/// A consumer dies holding a claimed message while a producer waits (parked)
/// for its slot on the next lap and another consumer pops. The reaper frees
/// the slot, racing both: the producer gets through, the other consumer gets
/// every other message once, and the dead one's message is counted lost.
#[test]
fn a_consumer_dies_between_claim_and_release() {
    loom::model(|| {
        let ring = ring();
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        tx.set_wait_strategy(WaitStrategy::Park);
        let mut dying = Consumer::<u64>::attach(&ring).unwrap(); // entry 1
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        push(&mut tx, 1);
        push(&mut tx, 2);
        // Claims position 0 and dies (before the others start, so that the
        // producer's third message needs the healed slot).
        let chunk = dying.read_chunk(1).unwrap();
        assert_eq!(chunk.len(), 1);
        core::mem::forget(chunk);
        core::mem::forget(dying);
        let producer = thread::spawn(move || {
            tx.push_blocking(3).unwrap();
            tx.push_blocking(4).unwrap();
        });
        let consumer = thread::spawn(move || {
            // The only spinner.
            let mut got = Vec::new();
            while got.len() < 3 {
                match rx.try_pop() {
                    Ok(v) => got.push(v),
                    Err(PopError::Empty | PopError::Busy) => thread::yield_now(),
                    Err(e) => panic!("{e:?}"),
                }
            }
            got
        });
        assert!(ring.reap_as_dead(1), "the dead consumer's entry is reaped");
        producer.join().unwrap();
        let got = consumer.join().unwrap();
        // The dead consumer took 1 (the first claim), the live one the rest.
        assert_eq!(got, vec![2, 3, 4]);
        assert_eq!(ring.lost(), 1);
    });
}

/// Pops until the ring says empty or busy; returns what it got.
fn drain(rx: &mut Consumer<u64>, got: &mut Vec<u64>) {
    loop {
        match rx.try_pop() {
            Ok(v) => got.push(v),
            Err(PopError::Empty | PopError::Busy) => return,
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// The last producer dies between claim and publish (one message
/// published before), and the consumer asks whether its producers are gone
/// while the reaper reaps it, then again after. The reaper marks the entry
/// `REAPING` before it counts the death, and may be descheduled after
/// counting it, still holding the entry (as the real reaper holds the
/// entry's byte, whose `F_OFD_GETLK` looks like a live holder; under loom
/// the dead holder's pid is this process's, alive, to the same effect).
/// The death is reported exactly once, and only once the consumer drained
/// the published message and the tombstone: a look that sees the entry
/// mid-reaping must not take the counted death for old news (`REAPING`),
/// and a report taken back because reaping made the head claimable must be
/// made again once drained (`Peer::unreport`).
#[test]
fn the_last_producer_dies_and_the_consumer_learns_it_once_drained() {
    loom::model(|| {
        let ring = ring();
        let mut dying = Producer::<u64>::attach(&ring).unwrap(); // entry 0
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        push(&mut dying, 1);
        let chunk = dying.write_chunk(1).unwrap();
        assert_eq!(chunk.len(), 1);
        core::mem::forget(chunk);
        core::mem::forget(dying);
        let reaper = {
            let ring = ring.clone();
            thread::spawn(move || assert!(ring.reap_as_dead(0)))
        };
        let mut got = Vec::new();
        let mut reports = 0;
        // Looks while the reaper works (the peer-table words are not
        // tracked: the yields are where loom may run the reaper, up to its
        // own yield after counting the death, before each look). Whatever
        // they say must be consistent with what follows.
        for _ in 0..2 {
            thread::yield_now();
            if rx.loom_peer_gone() {
                reports += 1;
            }
        }
        reaper.join().unwrap();
        // The reaper is done: look first (the tombstone may still be at
        // the head), then drain, three times.
        for _ in 0..3 {
            if rx.loom_peer_gone() {
                reports += 1;
            }
            drain(&mut rx, &mut got);
        }
        assert_eq!(got, vec![1]);
        assert_eq!(reports, 1, "the death is reported exactly once");
        assert_eq!(rx.try_pop(), Err(PopError::Empty));
    });
}
