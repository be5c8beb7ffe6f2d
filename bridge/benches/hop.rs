//! One hop ring → network → ring, through the bridge over Zenoh and through
//! a plain TCP socket, both over loopback, for 64 B and 4 KiB messages.
//!
//! ```text
//! cargo bench --bench hop            (in bridge/)
//! ```
//!
//! Setup per transport: ring A → sender thread → loopback → receiver thread
//! → ring B, all in this process (one clock). The sender and receiver of
//! the Zenoh hop are the bridge's own `out::run` and `inbound::run` over two
//! Zenoh sessions (one listens on `tcp/127.0.0.1:<port>`, the other connects,
//! scouting off). The TCP hop is the baseline a hand-written bridge would
//! be: the sender drains ring A into a `TcpStream` (`TCP_NODELAY`, a
//! `u32` length before each message, flushed whenever ring A is empty),
//! the receiver reads frames and pushes them into ring B.
//!
//! - latency: one message in flight; time from the push into A to the pop
//!   from B; median and 99th percentile over `LAT_N` messages after a warm-up.
//! - throughput: `TPUT_N` messages pushed into A as fast as A takes them,
//!   time until the last is popped from B.
//!
//! Every received message is checked (its index, in order) before a figure
//! is printed.

use std::io::{BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use ringway::{Kind, Ring, RingBuilder};
use ringway_bridge::acks::{Acker, Acks};
use ringway_bridge::inbound::{self, InOptions};
use ringway_bridge::out::{self, OutOptions};
use ringway_bridge::ring_end::{DrainError, Sink, Source};
use ringway_bridge::wire::Framing;
use ringway_bridge::zconf::{self, Endpoints};

const LAT_WARMUP: u64 = 200;
const LAT_N: u64 = 2_000;

/// A running hop: push into `tx`, pop from `rx`; `stop` ends its threads.
struct Hop {
    tx: Sink,
    rx: Source,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Hop {
    fn close(self) {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.tx);
        for t in self.threads {
            t.join().unwrap();
        }
    }
}

fn rings(size: usize) -> (Ring, Ring) {
    let make = || {
        RingBuilder::new(Kind::Spsc)
            .capacity(1024)
            .slot_size(size as u32)
            .create_anonymous()
            .unwrap()
    };
    (make(), make())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn zenoh_hop(size: usize, express: bool) -> Hop {
    let (a, b) = rings(size);
    let stop = Arc::new(AtomicBool::new(false));
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let key = "bench/hop";
    let rx_session = zconf::open(&Endpoints {
        listen: vec![endpoint.clone()],
        connect: vec![],
    })
    .unwrap();
    let subscriber = inbound::declare_subscriber(&rx_session, key, 256).unwrap();
    let tx_session = zconf::open(&Endpoints {
        listen: vec![],
        connect: vec![endpoint],
    })
    .unwrap();
    let publisher = out::declare_publisher(&tx_session, key, express).unwrap();
    let mut source = Source::attach(&a).unwrap();
    let mut sink = Sink::attach(&b).unwrap();
    let id = out::source_id(&source, &a, key);
    let acks = Acks::declare(&tx_session, key, id).unwrap();
    let mut acker = Acker::declare(&rx_session, key).unwrap();
    let s1 = stop.clone();
    let sender = thread::spawn(move || {
        let options = OutOptions {
            framing: Framing::Whole,
            batch: 64,
            count: None,
        };
        out::run(
            &mut source,
            id,
            &publisher,
            Some(&acks),
            &options,
            &s1,
            &mut |_| {},
        )
        .unwrap();
        drop(acks);
        drop(publisher);
        drop(tx_session);
    });
    let s2 = stop.clone();
    let receiver = thread::spawn(move || {
        let options = InOptions {
            count: None,
            stall_report: Duration::from_secs(1),
        };
        let stats = inbound::run(
            &mut sink,
            &subscriber,
            Some(&mut acker),
            &options,
            &s2,
            &mut |l| eprintln!("in: {l}"),
        )
        .unwrap();
        assert_eq!((stats.lost, stats.rejected), (0, 0));
        drop(acker);
        drop(subscriber);
        drop(rx_session);
    });
    Hop {
        tx: Sink::attach(&a).unwrap(),
        rx: Source::attach(&b).unwrap(),
        stop,
        threads: vec![sender, receiver],
    }
}

fn tcp_hop(size: usize) -> Hop {
    let (a, b) = rings(size);
    let stop = Arc::new(AtomicBool::new(false));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut source = Source::attach(&a).unwrap();
    let mut sink = Sink::attach(&b).unwrap();
    let s1 = stop.clone();
    let sender = thread::spawn(move || {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_nodelay(true).unwrap();
        let mut w = BufWriter::with_capacity(64 * 1024, stream);
        while !s1.load(Ordering::Relaxed) {
            let deadline = Instant::now() + Duration::from_millis(100);
            let n = source
                .drain(64, deadline, |m| {
                    w.write_all(&(m.len() as u32).to_le_bytes())?;
                    w.write_all(m)
                })
                .unwrap_or_else(|e| match e {
                    DrainError::Ring(e) => panic!("{e}"),
                    DrainError::Each(e) => panic!("{e}"),
                });
            if n < 64 {
                w.flush().unwrap();
            }
        }
    });
    let receiver = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        stream.set_nodelay(true).unwrap();
        let mut r = BufReader::with_capacity(64 * 1024, stream);
        let mut len = [0u8; 4];
        let mut buf = vec![0u8; size];
        while r.read_exact(&mut len).is_ok() {
            let n = u32::from_le_bytes(len) as usize;
            assert_eq!(n, size, "frame length");
            r.read_exact(&mut buf).unwrap();
            sink.push_deadline(&buf, Instant::now() + Duration::from_secs(60))
                .unwrap();
        }
    });
    Hop {
        tx: Sink::attach(&a).unwrap(),
        rx: Source::attach(&b).unwrap(),
        stop,
        threads: vec![sender, receiver],
    }
}

/// Builds a hop for one message size.
type MakeHop = fn(usize) -> Hop;

fn stamp(buf: &mut [u8], i: u64) {
    buf[..8].copy_from_slice(&i.to_le_bytes());
}

fn index(m: &[u8]) -> u64 {
    u64::from_le_bytes(m[..8].try_into().unwrap())
}

/// Pops exactly one message from `rx`, waiting at most a minute.
fn pop_one(rx: &mut Source) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut got = None;
        rx.drain(1, deadline, |m| {
            got = Some(index(m));
            Ok::<(), ()>(())
        })
        .unwrap();
        if let Some(i) = got {
            return i;
        }
        assert!(Instant::now() < deadline, "the hop lost a message");
    }
}

/// (median, p99) one-way latency in microseconds.
fn latency(hop: &mut Hop, size: usize) -> (f64, f64) {
    let mut buf = vec![0u8; size];
    let mut samples = Vec::with_capacity(LAT_N as usize);
    for i in 0..LAT_WARMUP + LAT_N {
        stamp(&mut buf, i);
        let t0 = Instant::now();
        hop.tx
            .push_deadline(&buf, t0 + Duration::from_secs(60))
            .unwrap();
        assert_eq!(pop_one(&mut hop.rx), i, "out of order");
        if i >= LAT_WARMUP {
            samples.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
    (at(0.5), at(0.99))
}

/// Messages per second over `n` messages streamed; `first` is the index of
/// the first one (the hop's numbering continues from the latency run).
fn throughput(hop: &mut Hop, size: usize, first: u64, n: u64) -> f64 {
    let mut tx = std::mem::replace(&mut hop.tx, Sink::attach(&dummy(size)).unwrap());
    let t0 = Instant::now();
    let producer = thread::spawn(move || {
        let mut buf = vec![0u8; size];
        for i in first..first + n {
            stamp(&mut buf, i);
            tx.push_deadline(&buf, Instant::now() + Duration::from_secs(60))
                .unwrap();
        }
        tx
    });
    let mut expect = first;
    let deadline = Instant::now() + Duration::from_secs(300);
    while expect < first + n {
        hop.rx
            .drain(256, Instant::now() + Duration::from_secs(1), |m| {
                assert_eq!(index(m), expect, "out of order");
                expect += 1;
                Ok::<(), ()>(())
            })
            .unwrap();
        assert!(Instant::now() < deadline, "the hop stalled");
    }
    let secs = t0.elapsed().as_secs_f64();
    hop.tx = producer.join().unwrap();
    n as f64 / secs
}

/// A throwaway ring to park a handle slot while the real one is lent out.
fn dummy(size: usize) -> Ring {
    RingBuilder::new(Kind::Spsc)
        .capacity(2)
        .slot_size(size as u32)
        .create_anonymous()
        .unwrap()
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects transports.
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    println!(
        "{:<14} {:>6} {:>12} {:>12} {:>14} {:>10}",
        "transport", "size", "p50 us", "p99 us", "msgs/s", "MB/s"
    );
    for &size in &[64usize, 4096] {
        let n = if size == 64 { 200_000 } else { 50_000 };
        let transports: [(&str, MakeHop); 3] = [
            ("zenoh", |s| zenoh_hop(s, false)),
            ("zenoh-express", |s| zenoh_hop(s, true)),
            ("tcp", tcp_hop),
        ];
        for (name, make) in transports {
            if !wanted(name) {
                continue;
            }
            let mut hop = make(size);
            let (p50, p99) = latency(&mut hop, size);
            let rate = throughput(&mut hop, size, LAT_WARMUP + LAT_N, n);
            println!(
                "{name:<14} {size:>6} {p50:>12.1} {p99:>12.1} {rate:>14.0} {:>10.1}",
                rate * size as f64 / 1e6
            );
            hop.close();
        }
    }
}
