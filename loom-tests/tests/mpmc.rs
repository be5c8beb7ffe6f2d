// mutation: mpmc_publish_relaxed mpmc
// mutation: mpmc_read_ready_relaxed mpmc
// mutation: mpmc_release_relaxed mpmc
// mutation: mpmc_read_free_relaxed mpmc
// mutation: mpmc_read_head_relaxed mpmc
// mutation: mpmc_head_cas_relaxed mpmc
// mutation: mpmc_read_tail_relaxed mpmc
// mutation: mpmc_tail_cas_relaxed mpmc
// mutation: mpmc_claimed_relaxed mpmc
//! loom models of the MPMC protocol, over the real `ringway::mpmc` code:
//! per-slot stamps, claims of one or more positions with one CAS, skipped
//! positions, and the blocking calls.
//!
//! Every model uses 2 slots and 2-3 messages (more positions when some are
//! skipped), so that a wrap happens: a slot's second lap needs the release of
//! its first. Each checks that every message is received exactly once and
//! that each producer's messages arrive in the order it pushed them.
//!
//! At most one thread of a model waits by spinning (`try_*` and
//! `yield_now`); the others wait by parking in the ring's blocking calls.
//! loom's scheduler is not fair: two threads that spin waiting on a third
//! which was preempted (say, between its claim and its publish) are switched
//! between forever and the model exceeds its branch limit
//! (tokio-rs/loom#53). Each model says why it has a single spinner.
//!
//! The `// mutation:` lines above are read by `scripts/loom-mutations.sh`:
//! each names an ordering of `ring/src/mpmc/` that a build with
//! `--cfg ringway_mutation="NAME"` weakens to Relaxed, and these models must
//! then fail.
//!
//! Run: `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p ringway-loom-tests --release --test mpmc`
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

/// Message `i` of producer `p`.
fn message(p: u64, i: u64) -> u64 {
    p * 10 + i
}

/// A payload that must never reach a consumer (written to slots that are
/// then skipped).
const JUNK: u64 = 99;

/// Pushes one message, retrying while `try_push` says full or busy (a
/// consumer's claim holds the slot at the tail, or `MAX_ATTEMPTS` races
/// were lost).
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

/// A consumer that waits by parking on `data_event`.
fn parking_consumer(ring: &Ring) -> Consumer<u64> {
    let mut rx = Consumer::<u64>::attach(ring).unwrap();
    rx.set_wait_strategy(WaitStrategy::Park);
    rx
}

/// Pops one message, retrying while `try_pop` says empty (or busy: a
/// producer's claim holds the head).
fn pop(rx: &mut Consumer<u64>) -> u64 {
    loop {
        match rx.try_pop() {
            Ok(v) => return v,
            Err(PopError::Empty | PopError::Busy) => thread::yield_now(),
            Err(e) => panic!("{e:?}"),
        }
    }
}

/// Pushes all of `values` in order with `push_slice` (one CAS per call),
/// retrying while the ring is full.
fn push_all(tx: &mut Producer<u64>, values: &[u64]) {
    let mut sent = 0;
    while sent < values.len() {
        let n = tx.push_slice(&values[sent..]).unwrap();
        if n == 0 {
            thread::yield_now();
        }
        sent += n;
    }
}

/// Receives `count` messages with batch claims (`pop_into`, up to two at a
/// time, never more than are still wanted); when the ring is empty, parks
/// for one in `pop_blocking` instead of spinning.
fn pop_batches(rx: &mut Consumer<u64>, count: usize) -> Vec<u64> {
    let mut received = Vec::new();
    while received.len() < count {
        let mut buf = [JUNK; 2];
        let want = (count - received.len()).min(buf.len());
        let n = rx.pop_into(&mut buf[..want]).unwrap();
        if n == 0 {
            received.push(rx.pop_blocking().unwrap());
        }
        received.extend_from_slice(&buf[..n]);
    }
    received
}

/// Checks what one consumer received from producers `0..producers`, each of
/// which pushed `message(p, 0..)`: each producer's messages in order, none
/// twice (a consumer receives in position order, so this holds per
/// consumer). Returns how many of each producer's it got.
fn check_order(received: &[u64], producers: usize) -> Vec<u64> {
    let mut next = vec![0u64; producers];
    for &v in received {
        assert_ne!(v, JUNK, "a skipped slot was shown: {received:?}");
        let (p, i) = ((v / 10) as usize, v % 10);
        assert_eq!(i, next[p], "producer {p} out of order: {received:?}");
        next[p] += 1;
    }
    next
}

/// Checks what the consumers of one producer's `0..count` received: each in
/// increasing order (a consumer claims increasing positions), together all
/// of them exactly once.
fn check_split(received: Vec<Vec<u64>>, count: u64) {
    let mut all = Vec::new();
    for got in received {
        assert!(got.windows(2).all(|w| w[0] < w[1]), "out of order: {got:?}");
        all.extend(got);
    }
    all.sort_unstable();
    assert_eq!(all, (0..count).collect::<Vec<_>>());
}

/// Two producers, one consumer, single push/pop: producer 0 pushes two
/// messages and producer 1 one, through two slots; the consumer parks when
/// the ring is empty.
///
/// One spinner: a producer spins only on a full ring, which then holds two
/// positions; with three messages in all, the other producer has claimed
/// all of its own and is done or about to publish.
#[test]
fn two_producers_one_consumer() {
    loom::model(|| {
        let ring = ring();
        let mut rx = parking_consumer(&ring);
        let producers: Vec<_> = [2u64, 1]
            .into_iter()
            .enumerate()
            .map(|(p, count)| {
                let mut tx = Producer::<u64>::attach(&ring).unwrap();
                thread::spawn(move || {
                    for i in 0..count {
                        push(&mut tx, message(p as u64, i));
                    }
                })
            })
            .collect();
        let received: Vec<u64> = (0..3).map(|_| rx.pop_blocking().unwrap()).collect();
        assert_eq!(check_order(&received, 2), [2, 1]);
        for t in producers {
            t.join().unwrap();
        }
        assert_eq!(rx.try_pop(), Err(PopError::Empty));
    });
}

/// One producer, two consumers, single push/pop: three messages; consumer 0
/// takes two and consumer 1 one, in whatever positions. Both consumers park
/// on `data_event` when the ring is empty, so this is also the model of
/// blocking pops woken by pushes (two sleepers, `wake_all`); a lost wakeup
/// is a loom deadlock.
///
/// One spinner: the producer.
#[test]
fn one_producer_two_consumers() {
    loom::model(|| {
        let ring = ring();
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let consumers: Vec<_> = [2usize, 1]
            .into_iter()
            .map(|count| {
                let mut rx = parking_consumer(&ring);
                thread::spawn(move || {
                    (0..count)
                        .map(|_| rx.pop_blocking().unwrap())
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        for i in 0..3 {
            push(&mut tx, message(0, i));
        }
        check_split(
            consumers.into_iter().map(|t| t.join().unwrap()).collect(),
            3,
        );
        assert_eq!(ring.snapshot().data_waiters, 0);
    });
}

/// Two producers, one consumer, batch claims: producer 0 pushes two
/// messages with one `push_slice` call when both slots are free, producer 1
/// one, and the consumer takes up to two per `pop_into` (parking when
/// empty).
///
/// One spinner: as in `two_producers_one_consumer`.
#[test]
fn batch_two_producers_one_consumer() {
    loom::model(|| {
        let ring = ring();
        let mut rx = parking_consumer(&ring);
        let producers: Vec<_> = [2u64, 1]
            .into_iter()
            .enumerate()
            .map(|(p, count)| {
                let mut tx = Producer::<u64>::attach(&ring).unwrap();
                thread::spawn(move || {
                    let values: Vec<u64> = (0..count).map(|i| message(p as u64, i)).collect();
                    push_all(&mut tx, &values);
                })
            })
            .collect();
        let received = pop_batches(&mut rx, 3);
        assert_eq!(check_order(&received, 2), [2, 1]);
        for t in producers {
            t.join().unwrap();
        }
    });
}

/// One producer, two consumers, batch claims: the producer pushes three
/// messages with `push_slice`; consumer 0 takes two through read chunks,
/// in place (both with one CAS when both are ready), consumer 1 one; they
/// race for `head`. Both park when the ring is empty.
///
/// One spinner: the producer.
#[test]
fn batch_one_producer_two_consumers() {
    loom::model(|| {
        let ring = ring();
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx0 = parking_consumer(&ring);
        let c0 = thread::spawn(move || {
            let mut got = Vec::new();
            while got.len() < 2 {
                let chunk = rx0.read_chunk(2 - got.len()).unwrap();
                if chunk.is_empty() {
                    drop(chunk);
                    got.push(rx0.pop_blocking().unwrap());
                    continue;
                }
                got.extend(chunk.iter().copied());
                chunk.release_all();
            }
            got
        });
        let mut rx1 = parking_consumer(&ring);
        let c1 = thread::spawn(move || vec![rx1.pop_blocking().unwrap()]);
        push_all(&mut tx, &[0, 1, 2]);
        check_split(vec![c0.join().unwrap(), c1.join().unwrap()], 3);
    });
}

/// The producer cursor on the third lap. Producer 0 has pushed two
/// messages before the threads start; it pushes two more with
/// `push_slice` (parking when the ring is full) while producer 1 tries
/// once to push one (`Full` is a fine answer, `Corrupt` is not) and the
/// consumer takes them all.
///
/// Position 4 is slot 0's third lap, so a producer that reads `tail` as 4
/// must see slot 0's stamp of lap 1 or later: lap 0 there is impossible
/// (`Corrupt`). It does through the Acquire load of `tail`, which pairs
/// with the Release half of the CAS that wrote 4. When producer 0 claims
/// positions 2 and 3 with one CAS (2 to 4), that Release is what carries
/// the stamps it read (slot 0 freed for lap 1) to producer 1: the
/// `fence(SeqCst)` of producer 0's last `notify` came before it read them.
/// (A claim of one position, or a consumer that also produces, would hide
/// a Relaxed CAS behind that fence.) The models above, with three
/// positions, never reach a third lap.
///
/// One spinner: the consumer.
#[test]
fn producer_cursor_on_the_third_lap() {
    loom::model(|| {
        let ring = ring();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let mut tx0 = Producer::<u64>::attach(&ring).unwrap();
        tx0.set_wait_strategy(WaitStrategy::Park);
        let mut tx1 = Producer::<u64>::attach(&ring).unwrap();
        assert_eq!(tx0.push_slice(&[message(0, 0), message(0, 1)]), Ok(2));
        let p0 = thread::spawn(move || {
            let values = [message(0, 2), message(0, 3)];
            let mut sent = 0;
            while sent < values.len() {
                match tx0.push_slice(&values[sent..]).unwrap() {
                    0 => {
                        tx0.push_blocking(values[sent]).unwrap();
                        sent += 1;
                    }
                    n => sent += n,
                }
            }
        });
        let p1 = thread::spawn(move || match tx1.try_push(message(1, 0)) {
            Ok(()) => 1,
            Err(PushError::Full(_) | PushError::Busy(_)) => 0,
            Err(e) => panic!("{e:?}"),
        });
        let mut received = Vec::new();
        while check_order(&received, 2)[0] < 4 {
            received.push(pop(&mut rx));
        }
        p0.join().unwrap();
        let pushed = p1.join().unwrap();
        if check_order(&received, 2)[1] < pushed {
            received.push(pop(&mut rx));
        }
        assert_eq!(check_order(&received, 2), [4, pushed]);
        assert_eq!(rx.try_pop(), Err(PopError::Empty));
    });
}

/// Write chunks that are not fully committed: producer 0 drops a claimed
/// chunk without committing it (its slot is published as skipped), then
/// pushes one message; producer 1 claims up to two slots and commits only
/// the first (the second, when it got one, is skipped). The consumer must
/// pass over the skipped positions, freeing them, and receive exactly the
/// two messages, never the junk written into skipped slots.
///
/// One spinner: a producer spins only on a full ring, whose two positions
/// are then claimed; the producer that waits holds at most one of them
/// (its skipped one), so the other producer has claimed all it will.
#[test]
fn uncommitted_write_chunks_are_skipped() {
    loom::model(|| {
        let ring = ring();
        let mut rx = parking_consumer(&ring);
        let mut tx0 = Producer::<u64>::attach(&ring).unwrap();
        let mut tx1 = Producer::<u64>::attach(&ring).unwrap();
        let p0 = thread::spawn(move || {
            loop {
                let mut chunk = tx0.write_chunk(1).unwrap();
                if let Some(slot) = chunk.get_mut(0) {
                    *slot = JUNK;
                    break; // dropped uncommitted
                }
                drop(chunk);
                thread::yield_now();
            }
            push(&mut tx0, message(0, 0));
        });
        let p1 = thread::spawn(move || loop {
            let mut chunk = tx1.write_chunk(2).unwrap();
            if chunk.is_empty() {
                drop(chunk);
                thread::yield_now();
                continue;
            }
            for slot in chunk.iter_mut() {
                *slot = JUNK;
            }
            *chunk.get_mut(0).unwrap() = message(1, 0);
            chunk.commit(1);
            return;
        });
        let received: Vec<u64> = (0..2).map(|_| rx.pop_blocking().unwrap()).collect();
        assert_eq!(check_order(&received, 2), [1, 1]);
        p0.join().unwrap();
        p1.join().unwrap();
        // Whatever skipped positions are left are passed over: still empty.
        assert_eq!(rx.try_pop(), Err(PopError::Empty));
    });
}

/// A producer parks on `space_event` for a slot of a full ring; a
/// consumer's pop must wake it, and the message must arrive after the two
/// already in the ring.
#[test]
fn parked_producer_is_woken() {
    loom::model(|| {
        let ring = ring();
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        tx.set_wait_strategy(WaitStrategy::Park);
        tx.try_push(message(0, 0)).unwrap();
        tx.try_push(message(0, 1)).unwrap();
        let producer = thread::spawn(move || tx.push_blocking(message(0, 2)).unwrap());
        let first = pop(&mut rx);
        producer.join().unwrap();
        let received = [first, pop(&mut rx), pop(&mut rx)];
        assert_eq!(check_order(&received, 1), [3]);
        assert_eq!(ring.snapshot().space_waiters, 0);
    });
}

/// A consumer that finds a claim in progress at `head` says `Busy`, from
/// the `CLAIMED` stamp alone, and never `Empty` after that until it gets
/// the message (once it has read `CLAIMED`, it reads that stamp or a later
/// one). First without threads: a held write chunk is `Busy`. Then a
/// producer pushes through a write chunk while the consumer polls.
///
/// One spinner: the consumer.
#[test]
fn a_consumer_sees_a_claim_in_progress() {
    loom::model(|| {
        let ring = ring();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        let mut chunk = tx.write_chunk(1).unwrap();
        *chunk.get_mut(0).unwrap() = message(0, 0);
        assert_eq!(rx.try_pop(), Err(PopError::Busy));
        chunk.commit_all();
        assert_eq!(rx.try_pop(), Ok(message(0, 0)));

        let producer = thread::spawn(move || {
            let mut chunk = tx.write_chunk(1).unwrap();
            *chunk.get_mut(0).unwrap() = message(0, 1);
            chunk.commit_all();
        });
        let mut busy = false;
        loop {
            match rx.try_pop() {
                Ok(v) => {
                    assert_eq!(v, message(0, 1));
                    break;
                }
                Err(PopError::Busy) => busy = true,
                Err(PopError::Empty) => assert!(!busy, "Empty after Busy at one head"),
                Err(e) => panic!("{e:?}"),
            }
            thread::yield_now();
        }
        producer.join().unwrap();
        assert_eq!(rx.try_pop(), Err(PopError::Empty));
    });
}

/// Two producers race for one position: producer 0 claims it with a write
/// chunk (stamping it `CLAIMED`) and commits, producer 1 pushes once. A
/// producer that read `tail` before producer 0's claim, then finds the
/// `CLAIMED` stamp of that position, must see the claim when it reloads
/// `tail` (the `CLAIMED` store is Release; its scan's stamp load is
/// Acquire), or it takes the stamp for corruption. No spinner.
#[test]
fn a_producer_finds_a_claimed_stamp_ahead_of_its_tail() {
    loom::model(|| {
        let ring = ring();
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        let mut tx0 = Producer::<u64>::attach(&ring).unwrap();
        let mut tx1 = Producer::<u64>::attach(&ring).unwrap();
        let p1 = thread::spawn(move || match tx1.try_push(message(1, 0)) {
            Ok(()) => 1,
            Err(PushError::Full(_) | PushError::Busy(_)) => 0,
            Err(e) => panic!("{e:?}"),
        });
        let mut chunk = tx0.write_chunk(1).unwrap();
        assert_eq!(chunk.len(), 1);
        *chunk.get_mut(0).unwrap() = message(0, 0);
        chunk.commit_all();
        let pushed = p1.join().unwrap();
        let received: Vec<u64> = (0..1 + pushed).map(|_| pop(&mut rx)).collect();
        assert_eq!(check_order(&received, 2), [1, pushed]);
        assert_eq!(rx.try_pop(), Err(PopError::Empty));
    });
}
