//! The cross-process 2-producer, 2-consumer MPMC row (`ringway-mpmc-2p2c`):
//! one MPMC ring of `u64`, two producer threads in the peer, two consumer
//! threads in the bench, all busy-polling non-blocking calls.
//!
//! | word | meaning |
//! |---|---|
//! | bit 63 clear | a message: producer index in bits 56-62, its sequence in bits 0-55 |
//! | bit 63 set | a producer's end mark: its index, and how many messages it sent |
//!
//! Checks: each consumer sees each producer's sequence strictly increase (the
//! MPMC ring keeps each producer's order), and over both consumers each
//! producer's messages add up to its end mark's count and its sequence sum
//! to `n(n-1)/2`: nothing lost, nothing duplicated. The time runs from the
//! first message any consumer took to the second end mark.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ringway::mpmc::{Consumer, Producer};
use ringway::Ring;

use super::ringio::{U64Rx, U64Tx};
use super::work::Stream;
use super::Watch;
use crate::failure::{fail, Failure};

/// Producer threads in the peer, and consumer threads in the bench.
pub(crate) const THREADS: usize = 2;
const END_TAG: u64 = 1 << 63;
const INDEX_SHIFT: u32 = 56;
const SEQ_MASK: u64 = (1 << INDEX_SHIFT) - 1;

fn spin(spins: &mut u32, watch: &Watch) -> Result<(), Failure> {
    *spins = spins.wrapping_add(1);
    if *spins % 4096 == 0 {
        watch.check("waiting on the 2P2C ring")?;
    }
    std::hint::spin_loop();
    Ok(())
}

/// Joins scoped worker threads, turning a panic into a failure.
fn join_all<T>(
    handles: Vec<std::thread::ScopedJoinHandle<'_, Result<T, Failure>>>,
) -> Result<Vec<T>, Failure> {
    handles
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Failure("a 2P2C worker thread panicked".into())))
        })
        .collect()
}

/// Peer side: `THREADS` producers, each sending its tagged sequence for
/// `dur` (`batch` per call), then its end mark.
pub(crate) fn send(ring: &Ring, batch: usize, dur: Duration, watch: &Watch) -> Result<(), Failure> {
    std::thread::scope(|s| {
        let handles = (0..THREADS as u64)
            .map(|p| s.spawn(move || produce(ring, p, batch, dur, watch)))
            .collect();
        join_all(handles).map(drop)
    })
}

fn produce(
    ring: &Ring,
    index: u64,
    batch: usize,
    dur: Duration,
    watch: &Watch,
) -> Result<(), Failure> {
    let mut tx = Producer::<u64>::attach(ring)?;
    let tag = index << INDEX_SHIFT;
    let start = Instant::now();
    let mut seq = 0u64;
    let mut vals = vec![0u64; batch];
    let mut spins = 0u32;
    loop {
        for (i, v) in vals.iter_mut().enumerate() {
            *v = tag | (seq + i as u64);
        }
        let mut sent = 0;
        while sent < batch {
            let n = if batch == 1 {
                usize::from(U64Tx::try_push(&mut tx, vals[0])?)
            } else {
                U64Tx::push_slice(&mut tx, &vals[sent..])?
            };
            if n == 0 {
                spin(&mut spins, watch)?;
            }
            sent += n;
        }
        seq += batch as u64;
        if seq % 64 < batch as u64 && start.elapsed() >= dur {
            break;
        }
    }
    while !U64Tx::try_push(&mut tx, END_TAG | tag | seq)? {
        spin(&mut spins, watch)?;
    }
    Ok(())
}

/// What the consumers share.
struct Shared {
    /// End marks taken so far.
    ends: AtomicU32,
    /// Each producer's count, from its end mark.
    sent: [AtomicU64; THREADS],
    /// When the last end mark was taken.
    done: Mutex<Option<Instant>>,
}

/// What one consumer took.
struct Taken {
    count: [u64; THREADS],
    sum: [u128; THREADS],
    first: Option<Instant>,
}

/// Bench side: `THREADS` consumers (`batch` per call) until both end marks
/// are in and the ring is empty; checks everything (module docs).
pub(crate) fn recv(ring: &Ring, batch: usize, watch: &Watch) -> Result<Stream, Failure> {
    let shared = Shared {
        ends: AtomicU32::new(0),
        sent: [AtomicU64::new(0), AtomicU64::new(0)],
        done: Mutex::new(None),
    };
    let taken = std::thread::scope(|s| {
        let handles = (0..THREADS)
            .map(|_| s.spawn(|| consume(ring, batch, &shared, watch)))
            .collect();
        join_all(handles)
    })?;
    let mut messages = 0;
    for p in 0..THREADS {
        // Relaxed: the consumer threads that stored it have been joined.
        let sent = shared.sent[p].load(Ordering::Relaxed);
        let count: u64 = taken.iter().map(|t| t.count[p]).sum();
        let sum: u128 = taken.iter().map(|t| t.sum[p]).sum();
        let want = u128::from(sent) * u128::from(sent.saturating_sub(1)) / 2;
        if count != sent || sum != want {
            fail!("producer {p} sent {sent} messages, the consumers took {count} (sequence sum {sum}, want {want})");
        }
        messages += count;
    }
    let first = taken.iter().filter_map(|t| t.first).min();
    let done = *shared
        .done
        .lock()
        .map_err(|_| Failure("2P2C lock poisoned".into()))?;
    let (Some(first), Some(done)) = (first, done) else {
        fail!("the 2P2C stream carried no message");
    };
    Ok(Stream {
        messages,
        elapsed: done.saturating_duration_since(first),
    })
}

fn consume(ring: &Ring, batch: usize, shared: &Shared, watch: &Watch) -> Result<Taken, Failure> {
    let mut rx = Consumer::<u64>::attach(ring)?;
    let mut last: [Option<u64>; THREADS] = [None; THREADS];
    let mut taken = Taken {
        count: [0; THREADS],
        sum: [0; THREADS],
        first: None,
    };
    let mut vals = vec![0u64; batch];
    let mut spins = 0u32;
    loop {
        let n = if batch == 1 {
            match U64Rx::try_pop(&mut rx)? {
                Some(v) => {
                    vals[0] = v;
                    1
                }
                None => 0,
            }
        } else {
            U64Rx::pop_into(&mut rx, &mut vals)?
        };
        if n == 0 {
            // Acquire: pairs with the AcqRel increments below; both end
            // marks taken and the ring empty means every message is taken
            // (each producer's end mark comes after all its messages).
            if shared.ends.load(Ordering::Acquire) as usize == THREADS {
                return Ok(taken);
            }
            spin(&mut spins, watch)?;
            continue;
        }
        for &v in &vals[..n] {
            let p = ((v & !END_TAG) >> INDEX_SHIFT) as usize;
            if p >= THREADS {
                fail!("a 2P2C message names producer {p}");
            }
            let seq = v & SEQ_MASK;
            if v & END_TAG != 0 {
                // Relaxed: read after the join, or after the Acquire above.
                shared.sent[p].store(seq, Ordering::Relaxed);
                // AcqRel: publishes the count above to the other consumer.
                if shared.ends.fetch_add(1, Ordering::AcqRel) as usize + 1 == THREADS {
                    *shared
                        .done
                        .lock()
                        .map_err(|_| Failure("2P2C lock poisoned".into()))? = Some(Instant::now());
                }
                continue;
            }
            if last[p].is_some_and(|l| seq <= l) {
                fail!(
                    "producer {p}'s messages out of order: {seq} after {:?}",
                    last[p]
                );
            }
            last[p] = Some(seq);
            taken.count[p] += 1;
            taken.sum[p] += u128::from(seq);
            taken.first.get_or_insert_with(Instant::now);
        }
    }
}
