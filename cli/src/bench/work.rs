//! The workloads, both sides: round trips (the bench pings, the peer echoes)
//! and one-way streams (the peer sends, the bench receives and times). Every
//! message carries its sequence number, checked on arrival before any timing
//! is trusted; messages of 16 bytes or more also carry it, scrambled, in
//! their last 8 bytes, so a torn or misplaced message is caught.

use std::time::{Duration, Instant};

use ringway::WaitStrategy;

use super::chan::{carry, Endpoint};
use super::ringio::{BytesRx, BytesTx, U64Rx, U64Tx};
use super::Watch;
use crate::failure::{fail, Failure};

/// Sequence number that ends a stream or a ping-pong.
pub(crate) const END: u64 = u64::MAX;
const SCRAMBLE: u64 = 0xa5a5_5a5a_c3c3_3c3c;

/// Writes `seq` into a message.
#[inline]
pub(crate) fn stamp(msg: &mut [u8], seq: u64) {
    msg[..8].copy_from_slice(&seq.to_le_bytes());
    let n = msg.len();
    if n >= 16 {
        msg[n - 8..].copy_from_slice(&(seq ^ SCRAMBLE).to_le_bytes());
    }
}

/// Reads a message's sequence number, checking its trailer.
#[inline]
pub(crate) fn seq_of(msg: &[u8]) -> Result<u64, Failure> {
    let mut w = [0u8; 8];
    w.copy_from_slice(&msg[..8]);
    let seq = u64::from_le_bytes(w);
    let n = msg.len();
    if n >= 16 {
        w.copy_from_slice(&msg[n - 8..]);
        if u64::from_le_bytes(w) ^ SCRAMBLE != seq {
            fail!("message {seq}: trailer does not match (torn message)");
        }
    }
    Ok(seq)
}

/// Checks that `got` is the expected sequence number.
#[inline]
fn expect(got: u64, want: u64) -> Result<(), Failure> {
    if got != want {
        fail!("sequence broken: expected message {want}, got {got}");
    }
    Ok(())
}

/// Records round-trip samples (one clock read per round trip: each sample
/// is the time since the previous one), after `warm`.
#[derive(Debug)]
pub(crate) struct Clock<'a> {
    start: Instant,
    prev: Instant,
    warm: Duration,
    end: Duration,
    samples: &'a mut Vec<u32>,
}

impl<'a> Clock<'a> {
    pub(crate) fn new(warm: Duration, dur: Duration, samples: &'a mut Vec<u32>) -> Self {
        let now = Instant::now();
        Clock {
            start: now,
            prev: now,
            warm,
            end: warm + dur,
            samples,
        }
    }

    /// One round trip done; returns whether the measurement is over.
    #[inline]
    pub(crate) fn tick(&mut self) -> bool {
        let now = Instant::now();
        let since = now - self.start;
        if since >= self.warm && self.samples.len() < self.samples.capacity() {
            self.samples
                .push(u32::try_from((now - self.prev).as_nanos()).unwrap_or(u32::MAX));
        }
        self.prev = now;
        since >= self.end
    }
}

/// Bench side of a round trip over kernel endpoints.
pub(crate) fn rtt_ping(
    tx: &Endpoint,
    rx: &Endpoint,
    mut clock: Clock<'_>,
    watch: &Watch,
) -> Result<(), Failure> {
    let mut msg = [0u8; 8];
    let mut back = [0u8; 8];
    let mut seq = 0;
    loop {
        stamp(&mut msg, seq);
        tx.send(&msg, watch)?;
        rx.recv(&mut back, watch)?;
        expect(seq_of(&back)?, seq)?;
        seq += 1;
        if clock.tick() {
            break;
        }
    }
    stamp(&mut msg, END);
    tx.send(&msg, watch)
}

/// Peer side of a round trip over kernel endpoints.
pub(crate) fn rtt_echo(rx: &Endpoint, tx: &Endpoint, watch: &Watch) -> Result<(), Failure> {
    let mut msg = [0u8; 8];
    let mut want = 0;
    loop {
        rx.recv(&mut msg, watch)?;
        let seq = seq_of(&msg)?;
        if seq == END {
            return Ok(());
        }
        expect(seq, want)?;
        want += 1;
        tx.send(&msg, watch)?;
    }
}

/// How a ring round trip waits: busy-polling `try_*`, or the blocking calls
/// with a wait strategy.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RingWait {
    /// `try_push` / `try_pop` in a loop.
    Spin,
    /// `push_deadline` / `pop_deadline` with this strategy on both handles.
    Block(WaitStrategy),
}

/// Bench side of a ring round trip.
pub(crate) fn ring_ping(
    tx: &mut impl U64Tx,
    rx: &mut impl U64Rx,
    wait: RingWait,
    mut clock: Clock<'_>,
    watch: &Watch,
) -> Result<(), Failure> {
    let mut seq = 0;
    if let RingWait::Block(s) = wait {
        tx.set_strategy(s);
        rx.set_strategy(s);
    }
    loop {
        let got = match wait {
            RingWait::Spin => {
                push_spin(tx, seq, watch)?;
                pop_spin(rx, watch)?
            }
            RingWait::Block(_) => {
                tx.push_deadline(seq, watch.deadline)?;
                rx.pop_deadline(watch.deadline)?
            }
        };
        expect(got, seq)?;
        seq += 1;
        if clock.tick() {
            break;
        }
    }
    push_spin(tx, END, watch)
}

/// Peer side of a ring round trip.
pub(crate) fn ring_echo(
    rx: &mut impl U64Rx,
    tx: &mut impl U64Tx,
    wait: RingWait,
    watch: &Watch,
) -> Result<(), Failure> {
    let mut want = 0;
    if let RingWait::Block(s) = wait {
        tx.set_strategy(s);
        rx.set_strategy(s);
    }
    loop {
        let seq = match wait {
            RingWait::Spin => pop_spin(rx, watch)?,
            RingWait::Block(_) => rx.pop_deadline(watch.deadline)?,
        };
        if seq == END {
            return Ok(());
        }
        expect(seq, want)?;
        want += 1;
        match wait {
            RingWait::Spin => push_spin(tx, seq, watch)?,
            RingWait::Block(_) => tx.push_deadline(seq, watch.deadline)?,
        }
    }
}

// The spin helpers are always inlined: out of line (what `#[inline]` got),
// the received value and its `Result` went through memory on every round
// trip, on the round trip's critical path (see the commit that added this).
#[inline(always)]
fn push_spin(tx: &mut impl U64Tx, v: u64, watch: &Watch) -> Result<(), Failure> {
    let mut spins = 0u32;
    while !tx.try_push(v)? {
        spin(&mut spins, watch)?;
    }
    Ok(())
}

#[inline(always)]
fn pop_spin(rx: &mut impl U64Rx, watch: &Watch) -> Result<u64, Failure> {
    let mut spins = 0u32;
    loop {
        if let Some(v) = rx.try_pop()? {
            return Ok(v);
        }
        spin(&mut spins, watch)?;
    }
}

#[inline(always)]
fn spin(spins: &mut u32, watch: &Watch) -> Result<(), Failure> {
    *spins = spins.wrapping_add(1);
    if *spins % 4096 == 0 {
        watch.check("waiting on the ring")?;
    }
    std::hint::spin_loop();
    Ok(())
}

/// What the receiving side of a stream measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stream {
    /// Messages received between the first and the end mark, checked.
    pub(crate) messages: u64,
    /// From the first message to the end mark.
    pub(crate) elapsed: Duration,
}

/// Tracks the received sequence and the time window.
#[derive(Debug)]
struct Receipt {
    want: u64,
    first: Option<Instant>,
}

impl Receipt {
    fn new() -> Self {
        Receipt {
            want: 0,
            first: None,
        }
    }

    /// Checks one message; returns true at the end mark.
    #[inline]
    fn take(&mut self, seq: u64) -> Result<bool, Failure> {
        if seq == END {
            return Ok(true);
        }
        expect(seq, self.want)?;
        if self.want == 0 {
            self.first = Some(Instant::now());
        }
        self.want += 1;
        Ok(false)
    }

    fn finish(self) -> Result<Stream, Failure> {
        let Some(first) = self.first else {
            fail!("the stream carried no message");
        };
        Ok(Stream {
            messages: self.want - 1,
            elapsed: first.elapsed(),
        })
    }
}

/// Peer side of a stream over a kernel endpoint: `dur` of messages, then END.
pub(crate) fn stream_send(
    tx: &Endpoint,
    size: usize,
    batch: usize,
    dur: Duration,
    watch: &Watch,
) -> Result<(), Failure> {
    let mut buf = vec![0x5au8; size * batch];
    let start = Instant::now();
    let mut seq = 0u64;
    loop {
        if batch == 1 {
            stamp(&mut buf, seq);
            tx.send(&buf, watch)?;
            seq += 1;
        } else {
            for m in buf.chunks_exact_mut(size) {
                stamp(m, seq);
                seq += 1;
            }
            tx.send_batch(&buf, size, watch)?;
        }
        if seq % 64 < batch as u64 && start.elapsed() >= dur {
            break;
        }
    }
    stamp(&mut buf[..size], END);
    tx.send(&buf[..size], watch)
}

/// Bench side of a stream over a kernel endpoint.
pub(crate) fn stream_recv(
    rx: &Endpoint,
    size: usize,
    batch: usize,
    watch: &Watch,
) -> Result<Stream, Failure> {
    let mut buf = vec![0u8; size * batch];
    let mut lens = Vec::with_capacity(batch);
    let mut receipt = Receipt::new();
    let mut held = 0;
    loop {
        let have = if batch == 1 {
            rx.recv(&mut buf, watch)?;
            size
        } else {
            rx.recv_batch(&mut buf, held, size, &mut lens, watch)?
        };
        let whole = have - have % size;
        for m in buf[..whole].chunks_exact(size) {
            if receipt.take(seq_of(m)?)? {
                return receipt.finish();
            }
        }
        held = carry(&mut buf, whole, have);
    }
}

/// Peer side of a typed u64 ring stream.
pub(crate) fn ring_send_u64(
    tx: &mut impl U64Tx,
    batch: usize,
    dur: Duration,
    watch: &Watch,
) -> Result<(), Failure> {
    let start = Instant::now();
    let mut seq = 0u64;
    let mut vals = vec![0u64; batch];
    let mut spins = 0u32;
    loop {
        if batch == 1 {
            push_spin(tx, seq, watch)?;
            seq += 1;
        } else {
            for (i, v) in vals.iter_mut().enumerate() {
                *v = seq + i as u64;
            }
            let mut sent = 0;
            while sent < batch {
                let n = tx.push_slice(&vals[sent..])?;
                if n == 0 {
                    spin(&mut spins, watch)?;
                }
                sent += n;
            }
            seq += batch as u64;
        }
        if seq % 64 < batch as u64 && start.elapsed() >= dur {
            break;
        }
    }
    push_spin(tx, END, watch)
}

/// Bench side of a typed u64 ring stream.
pub(crate) fn ring_recv_u64(
    rx: &mut impl U64Rx,
    batch: usize,
    watch: &Watch,
) -> Result<Stream, Failure> {
    let mut receipt = Receipt::new();
    let mut vals = vec![0u64; batch];
    let mut spins = 0u32;
    loop {
        if batch == 1 {
            if receipt.take(pop_spin(rx, watch)?)? {
                return receipt.finish();
            }
        } else {
            let n = rx.pop_into(&mut vals)?;
            if n == 0 {
                spin(&mut spins, watch)?;
            }
            for &v in &vals[..n] {
                if receipt.take(v)? {
                    return receipt.finish();
                }
            }
        }
    }
}

/// Peer side of a bytes ring stream: each message copied from a buffer into
/// its slot (single: `try_push`; batched: one write chunk per batch).
pub(crate) fn ring_send_bytes(
    tx: &mut impl BytesTx,
    batch: usize,
    dur: Duration,
    watch: &Watch,
) -> Result<(), Failure> {
    let size = tx.slot_size();
    let mut msg = vec![0x5au8; size];
    let start = Instant::now();
    let mut seq = 0u64;
    let mut spins = 0u32;
    loop {
        if batch == 1 {
            stamp(&mut msg, seq);
            while !tx.try_push(&msg)? {
                spin(&mut spins, watch)?;
            }
            seq += 1;
        } else {
            let mut left = batch;
            while left > 0 {
                let n = tx.push_batch(left, |s| {
                    stamp(&mut msg, seq);
                    s.copy_from_slice(&msg);
                    seq += 1;
                })?;
                if n == 0 {
                    spin(&mut spins, watch)?;
                }
                left -= n;
            }
        }
        if seq % 64 < batch as u64 && start.elapsed() >= dur {
            break;
        }
    }
    stamp(&mut msg, END);
    while !tx.try_push(&msg)? {
        spin(&mut spins, watch)?;
    }
    Ok(())
}

/// Bench side of a bytes ring stream: each message copied out of its slot
/// into the receiver's buffer, as `read(2)` would, then checked.
pub(crate) fn ring_recv_bytes(
    rx: &mut impl BytesRx,
    batch: usize,
    watch: &Watch,
) -> Result<Stream, Failure> {
    let size = rx.slot_size();
    let mut buf = vec![0u8; size * batch];
    let mut receipt = Receipt::new();
    let mut spins = 0u32;
    loop {
        let n = if batch == 1 {
            usize::from(rx.try_pop(&mut buf)?)
        } else {
            rx.pop_batch(&mut buf)?
        };
        if n == 0 {
            spin(&mut spins, watch)?;
            continue;
        }
        // Every byte was delivered: the compiler may not trim the copy to
        // the 16 bytes the check reads.
        std::hint::black_box(&buf[..n * size]);
        for m in buf[..n * size].chunks_exact(size) {
            if receipt.take(seq_of(m)?)? {
                return receipt.finish();
            }
        }
    }
}
