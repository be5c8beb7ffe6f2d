//! SPSC in process: ringway against rtrb, crossbeam `ArrayQueue` and
//! crossbeam-channel `bounded`, in the same run.
//!
//! Each benchmark moves `iters` messages from a producer thread to a
//! consumer (the benchmark thread) through a fresh queue of 1024 slots; the
//! time runs from before the producer starts to the consumer's last
//! message, so criterion reports time per message. Every side busy-polls
//! its non-blocking calls (`try_push`/`try_pop`, `try_send`/`try_recv`), so
//! all peers wait the same way.
//!
//! Correctness first: before any timing, every peer moves 200,000 messages
//! of each type and the consumer checks each sequence number; inside the
//! timed runs the consumer keeps checking (the same compare for every peer)
//! and the sample is refused if one is out of order.
//!
//! `ringway` is an SPSC ring with the default, contiguous slots; `ringway
//! stamped` one created with `RingBuilder::stamped(true)` (a readiness stamp
//! in each slot; see `ringway::spsc`).
//!
//! Batched: ringway `push_slice`/`pop_into` and rtrb
//! `push_partial_slice`/`pop_partial_slice`, 64 messages per call. `ArrayQueue`
//! and the channel have no batch calls; compare them with the single rows.
//!
//! The consumer (the benchmark thread) is pinned to the first allowed CPU
//! and every producer thread to the second, so a sample never measures two
//! threads time-sharing one core (on Linux; elsewhere they float).
//!
//! `cargo bench -p ringway-benches --bench spsc` runs it (about 40 s);
//! `cargo test --benches -p ringway-benches` runs each benchmark once.

use std::hint::spin_loop;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ringway::{spsc, Kind, RingBuilder};

const CAPACITY: usize = 1024;
const BATCH: usize = 64;

/// The CPUs this process may use, read once before any thread is pinned
/// (a pinned thread's spawned threads inherit its one-CPU mask).
#[cfg(target_os = "linux")]
fn allowed_cpus() -> &'static [usize] {
    static CPUS: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    CPUS.get_or_init(|| {
        // SAFETY: cpu_set_t is plain data (all-zero is the empty set);
        // sched_getaffinity writes a set of the size given; CPU_ISSET reads
        // our local set with indices below CPU_SETSIZE.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
                return Vec::new();
            }
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &set))
                .collect()
        }
    })
}

/// Pins the calling thread to the `which`-th CPU this process may use
/// (best effort: nothing happens with fewer CPUs or off Linux).
fn pin(which: usize) {
    #[cfg(target_os = "linux")]
    if let Some(&cpu) = allowed_cpus().get(which) {
        // SAFETY: as in `allowed_cpus`; CPU_SET writes bit `cpu` (below
        // CPU_SETSIZE) of our local set, sched_setaffinity reads it.
        unsafe {
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = which;
}

/// A message that carries its sequence number.
trait Message: ringway::bytemuck::Pod + Send + 'static {
    const NAME: &'static str;
    fn new(seq: u64) -> Self;
    fn seq(&self) -> u64;
}

impl Message for u64 {
    const NAME: &'static str = "u64";
    #[inline]
    fn new(seq: u64) -> Self {
        seq
    }
    #[inline]
    fn seq(&self) -> u64 {
        *self
    }
}

/// 64 bytes: the sequence number, then 56 bytes of payload.
impl Message for [u64; 8] {
    const NAME: &'static str = "64B";
    #[inline]
    fn new(seq: u64) -> Self {
        [seq, 1, 2, 3, 4, 5, 6, 7]
    }
    #[inline]
    fn seq(&self) -> u64 {
        self[0]
    }
}

/// The consumer's check: counts messages out of sequence.
#[derive(Default)]
struct Check {
    next: u64,
    bad: u64,
}

impl Check {
    #[inline]
    fn take<M: Message>(&mut self, m: &M) {
        self.bad += u64::from(m.seq() != self.next);
        self.next += 1;
    }

    fn done(self, n: u64, peer: &str) {
        assert_eq!(self.bad, 0, "{peer}: {} messages out of sequence", self.bad);
        assert_eq!(self.next, n, "{peer}: wrong message count");
    }
}

/// The queues under test.
#[derive(Clone, Copy, Debug)]
enum Peer {
    Ringway,
    RingwayStamped,
    Rtrb,
    ArrayQueue,
    Channel,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Ringway => "ringway",
            Peer::RingwayStamped => "ringway stamped",
            Peer::Rtrb => "rtrb",
            Peer::ArrayQueue => "crossbeam ArrayQueue",
            Peer::Channel => "crossbeam-channel bounded",
        }
    }
}

/// Moves `n` messages through a fresh queue of `peer`, one message per call
/// (`batch` = 1) or `batch` per call; returns the elapsed time.
fn transfer<M: Message>(peer: Peer, n: u64, batch: usize) -> Duration {
    match (peer, batch) {
        (Peer::Ringway, 1) => ringway_single::<M>(n, false),
        (Peer::Ringway, _) => ringway_batched::<M>(n, false),
        (Peer::RingwayStamped, 1) => ringway_single::<M>(n, true),
        (Peer::RingwayStamped, _) => ringway_batched::<M>(n, true),
        (Peer::Rtrb, 1) => rtrb_single::<M>(n),
        (Peer::Rtrb, _) => rtrb_batched::<M>(n),
        (Peer::ArrayQueue, _) => array_queue::<M>(n),
        (Peer::Channel, _) => channel::<M>(n),
    }
}

fn ringway_pair<M: Message>(stamped: bool) -> (spsc::Producer<M>, spsc::Consumer<M>) {
    let ring = RingBuilder::new(Kind::Spsc)
        .stamped(stamped)
        .capacity(CAPACITY as u64)
        .message::<M>()
        .create_anonymous()
        .expect("anonymous ring");
    let tx = spsc::Producer::attach(&ring).expect("producer");
    let rx = spsc::Consumer::attach(&ring).expect("consumer");
    (tx, rx)
}

fn ringway_single<M: Message>(n: u64, stamped: bool) -> Duration {
    let (mut tx, mut rx) = ringway_pair::<M>(stamped);
    let start = Instant::now();
    let producer = thread::spawn(move || {
        pin(1);
        for i in 0..n {
            let mut m = M::new(i);
            while let Err(ringway::PushError::Full(back)) = tx.try_push(m) {
                m = back;
                spin_loop();
            }
        }
    });
    let mut check = Check::default();
    while check.next < n {
        match rx.try_pop() {
            Ok(m) => check.take(&m),
            Err(_) => spin_loop(),
        }
    }
    let elapsed = start.elapsed();
    producer.join().unwrap();
    check.done(n, "ringway");
    elapsed
}

fn ringway_batched<M: Message>(n: u64, stamped: bool) -> Duration {
    let (mut tx, mut rx) = ringway_pair::<M>(stamped);
    let start = Instant::now();
    let producer = thread::spawn(move || {
        pin(1);
        let mut buf = [M::new(0); BATCH];
        let mut i = 0;
        while i < n {
            let k = (n - i).min(BATCH as u64) as usize;
            for (j, m) in buf[..k].iter_mut().enumerate() {
                *m = M::new(i + j as u64);
            }
            let mut sent = 0;
            while sent < k {
                let pushed = tx.push_slice(&buf[sent..k]).expect("push_slice");
                if pushed == 0 {
                    spin_loop();
                }
                sent += pushed;
            }
            i += k as u64;
        }
    });
    let mut check = Check::default();
    let mut buf = [M::new(0); BATCH];
    while check.next < n {
        let got = rx.pop_into(&mut buf).expect("pop_into");
        if got == 0 {
            spin_loop();
        }
        for m in &buf[..got] {
            check.take(m);
        }
    }
    let elapsed = start.elapsed();
    producer.join().unwrap();
    check.done(n, "ringway batched");
    elapsed
}

fn rtrb_single<M: Message>(n: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<M>::new(CAPACITY);
    let start = Instant::now();
    let producer = thread::spawn(move || {
        pin(1);
        for i in 0..n {
            let mut m = M::new(i);
            while let Err(rtrb::PushError::Full(back)) = tx.push(m) {
                m = back;
                spin_loop();
            }
        }
    });
    let mut check = Check::default();
    while check.next < n {
        match rx.pop() {
            Ok(m) => check.take(&m),
            Err(_) => spin_loop(),
        }
    }
    let elapsed = start.elapsed();
    producer.join().unwrap();
    check.done(n, "rtrb");
    elapsed
}

fn rtrb_batched<M: Message>(n: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<M>::new(CAPACITY);
    let start = Instant::now();
    let producer = thread::spawn(move || {
        pin(1);
        let mut buf = [M::new(0); BATCH];
        let mut i = 0;
        while i < n {
            let k = (n - i).min(BATCH as u64) as usize;
            for (j, m) in buf[..k].iter_mut().enumerate() {
                *m = M::new(i + j as u64);
            }
            let mut rest: &[M] = &buf[..k];
            while !rest.is_empty() {
                let (pushed, left) = tx.push_partial_slice(rest);
                if pushed.is_empty() {
                    spin_loop();
                }
                rest = left;
            }
            i += k as u64;
        }
    });
    let mut check = Check::default();
    let mut buf = [M::new(0); BATCH];
    while check.next < n {
        let (got, _) = rx.pop_partial_slice(&mut buf);
        if got.is_empty() {
            spin_loop();
        }
        for m in got.iter() {
            check.take(m);
        }
    }
    let elapsed = start.elapsed();
    producer.join().unwrap();
    check.done(n, "rtrb batched");
    elapsed
}

fn array_queue<M: Message>(n: u64) -> Duration {
    let q = Arc::new(crossbeam_queue::ArrayQueue::<M>::new(CAPACITY));
    let tq = Arc::clone(&q);
    let start = Instant::now();
    let producer = thread::spawn(move || {
        pin(1);
        for i in 0..n {
            let mut m = M::new(i);
            while let Err(back) = tq.push(m) {
                m = back;
                spin_loop();
            }
        }
    });
    let mut check = Check::default();
    while check.next < n {
        match q.pop() {
            Some(m) => check.take(&m),
            None => spin_loop(),
        }
    }
    let elapsed = start.elapsed();
    producer.join().unwrap();
    check.done(n, "ArrayQueue");
    elapsed
}

fn channel<M: Message>(n: u64) -> Duration {
    let (tx, rx) = crossbeam_channel::bounded::<M>(CAPACITY);
    let start = Instant::now();
    let producer = thread::spawn(move || {
        pin(1);
        for i in 0..n {
            let mut m = M::new(i);
            while let Err(crossbeam_channel::TrySendError::Full(back)) = tx.try_send(m) {
                m = back;
                spin_loop();
            }
        }
    });
    let mut check = Check::default();
    while check.next < n {
        match rx.try_recv() {
            Ok(m) => check.take(&m),
            Err(_) => spin_loop(),
        }
    }
    let elapsed = start.elapsed();
    producer.join().unwrap();
    check.done(n, "crossbeam-channel");
    elapsed
}

const SINGLE: [Peer; 5] = [
    Peer::Ringway,
    Peer::RingwayStamped,
    Peer::Rtrb,
    Peer::ArrayQueue,
    Peer::Channel,
];
const BATCHED: [Peer; 3] = [Peer::Ringway, Peer::RingwayStamped, Peer::Rtrb];

/// Every peer, every message type, every mode: 200,000 messages in order.
fn check_everyone() {
    for batch in [1, BATCH] {
        let peers: &[Peer] = if batch == 1 { &SINGLE } else { &BATCHED };
        for &peer in peers {
            transfer::<u64>(peer, 200_000, batch);
            transfer::<[u64; 8]>(peer, 200_000, batch);
        }
    }
}

fn group<M: Message>(c: &mut Criterion, batch: usize) {
    let mode = if batch == 1 { "single" } else { "batched" };
    let mut g = c.benchmark_group(format!("spsc/{}/{mode}", M::NAME));
    g.throughput(Throughput::Elements(1));
    let peers: &[Peer] = if batch == 1 { &SINGLE } else { &BATCHED };
    for &peer in peers {
        g.bench_function(BenchmarkId::from_parameter(peer.name()), |b| {
            b.iter_custom(|iters| transfer::<M>(peer, iters.max(1), batch));
        });
    }
    g.finish();
}

fn spsc(c: &mut Criterion) {
    #[cfg(target_os = "linux")]
    allowed_cpus();
    pin(0);
    check_everyone();
    group::<u64>(c, 1);
    group::<u64>(c, BATCH);
    group::<[u64; 8]>(c, 1);
    group::<[u64; 8]>(c, BATCH);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = spsc
}
criterion_main!(benches);
