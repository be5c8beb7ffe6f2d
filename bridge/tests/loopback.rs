//! Two bridge processes on one machine, over `tcp/127.0.0.1:<free port>`
//! with scouting off: the messages a producer writes into a local ring come
//! out of another local ring complete, in order, byte for byte; a killed
//! and restarted `out` resumes where the receiver's acknowledgements left
//! off (SPSC: nothing lost, nothing written twice, and the receiver's report
//! of gaps matches what is missing); a full destination ring holds the
//! sender back without a drop.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use ringway::{Kind, PushTimeoutError, Ring, RingBuilder};
use ringway_bridge::ring_end::{DrainError, Sink, Source};
use ringway_bridge::wire::{Framing, PREFIX_LEN};
use ringway_test_support::ShmName;

/// How long any one wait in these tests may take before the test fails
/// (generous: the machine is shared).
const PATIENCE: Duration = Duration::from_secs(120);

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().unwrap().port()
}

/// A bridge process whose stdout lines arrive on a channel; killed and
/// reaped on drop.
struct Bridge {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Bridge {
    fn spawn(args: &[&str]) -> Bridge {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ringway-bridge"))
            .args(args)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("start ringway-bridge");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Bridge {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line starting with `prefix` and returns it.
    fn expect_line(&mut self, prefix: &str) -> String {
        if let Some(l) = self.seen.iter().find(|l| l.starts_with(prefix)) {
            return l.clone();
        }
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.starts_with(prefix) {
                        return line;
                    }
                }
                Err(e) => panic!("no line {prefix:?} ({e}); saw {:#?}", self.seen),
            }
        }
    }

    /// Waits for the process to exit on its own; returns its exit code and
    /// every line it printed.
    fn finish(mut self) -> (Option<i32>, Vec<String>) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The reader thread ends at EOF; collect what is left.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
                    self.seen.push(line);
                }
                return (status.code(), std::mem::take(&mut self.seen));
            }
            assert!(
                Instant::now() < deadline,
                "bridge did not exit; saw {:#?}",
                self.seen
            );
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every line printed so far.
    fn lines(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    /// Kills the process (SIGKILL) and reaps it.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Message `i`: 8 to 512 payload bytes, the index first, then a pattern.
fn message(i: u64) -> Vec<u8> {
    let len = 8 + ((i * 7919) % 505) as usize;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&i.to_le_bytes());
    m.extend((8..len).map(|j| (i as usize * 31 + j * 7) as u8));
    m
}

/// FNV-1a over a stream of messages.
#[derive(Default)]
struct Checksum(u64, u64);

impl Checksum {
    fn add(&mut self, bytes: &[u8]) {
        if self.1 == 0 {
            self.0 = 0xcbf2_9ce4_8422_2325;
        }
        self.1 += 1;
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Slot size for length-prefixed messages of up to 512 bytes (rounded up to
/// the slot alignment, 8).
const SLOT: u32 = ((PREFIX_LEN + 512 + 7) & !7) as u32;

fn create(kind: Kind, name: &ShmName, capacity: u64) -> Ring {
    RingBuilder::new(kind)
        .capacity(capacity)
        .slot_size(SLOT)
        .create_shm(&name.0)
        .expect("create ring")
}

/// Writes messages `0..n` into `ring` (length-prefixed) from a thread.
fn produce(ring: &Ring, n: u64) -> thread::JoinHandle<()> {
    let mut sink = Sink::attach(ring).expect("producer");
    thread::spawn(move || {
        let mut slot = vec![0u8; SLOT as usize];
        for i in 0..n {
            Framing::LenPrefixed
                .to_slot(&message(i), &mut slot)
                .unwrap();
            // A killed `out` is reported as a timeout before the deadline
            // (`Sink::push_deadline` maps `PeerGone` to it, once per
            // death): push again, the restarted `out` drains the ring.
            let deadline = Instant::now() + PATIENCE;
            loop {
                match sink.push_deadline(&slot, deadline) {
                    Ok(()) => break,
                    Err(PushTimeoutError::Timeout(())) if Instant::now() < deadline => {}
                    Err(e) => panic!("the source ring drains: {e:?}"),
                }
            }
        }
    })
}

/// What the destination ring held.
struct Received {
    indices: Vec<u64>,
    checksum: Checksum,
}

/// Reads the destination ring until `done()` says the writer has finished
/// and the ring is empty, checking every message's bytes. Calls
/// `at(count, last index)` after each batch.
fn consume(
    source: &mut Source,
    mut done: impl FnMut() -> bool,
    mut at: impl FnMut(usize, u64),
) -> Result<Received, String> {
    let mut got = Received {
        indices: Vec::new(),
        checksum: Checksum::default(),
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let finished = done();
        let n = source
            .drain(64, Instant::now() + Duration::from_millis(50), |slot| {
                let payload = Framing::LenPrefixed
                    .from_slot(slot)
                    .map_err(|e| e.to_string())?;
                let i = u64::from_le_bytes(payload[..8].try_into().unwrap());
                if payload != message(i).as_slice() {
                    return Err(format!("message {i} arrived altered"));
                }
                got.checksum.add(payload);
                got.indices.push(i);
                Ok::<(), String>(())
            })
            .unwrap_or_else(|e| match e {
                DrainError::Ring(e) => panic!("destination ring: {e}"),
                DrainError::Each(e) => panic!("{e}"),
            });
        if n > 0 {
            at(got.indices.len(), *got.indices.last().unwrap());
        } else if finished {
            return Ok(got);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the destination ring stalled after {} messages",
                got.indices.len()
            ));
        }
    }
}

/// The value of `key=` in a summary line.
fn field(line: &str, key: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

/// The seqs a receiver reported lost: lines `gap source S lost seq A..=B (N messages)`.
fn reported_lost(lines: &[String]) -> BTreeSet<u64> {
    let mut lost = BTreeSet::new();
    for l in lines.iter().filter(|l| l.starts_with("in: gap ")) {
        let range = l.split_whitespace().nth(6).expect("a range");
        let (a, b) = range.split_once("..=").expect("A..=B");
        lost.extend(a.parse::<u64>().unwrap()..=b.parse::<u64>().unwrap());
    }
    lost
}

#[test]
fn spsc_100k_mixed_sizes_exactly_once_across_a_killed_out() {
    const N: u64 = 100_000;
    let (src_name, dst_name) = (ShmName::new("src"), ShmName::new("dst"));
    let src = create(Kind::Spsc, &src_name, 1024);
    let dst = create(Kind::Spsc, &dst_name, 1024);
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let count = N.to_string();

    let mut inbound = Bridge::spawn(&[
        "in",
        &dst_name.0,
        "--key",
        "test/spsc",
        "--listen",
        &endpoint,
        "--count",
        &count,
    ]);
    inbound.expect_line("in: ready");
    let out_args = [
        "out",
        &src_name.0,
        "--key",
        "test/spsc",
        "--connect",
        &endpoint,
        "--framing",
        "len-prefixed",
    ];
    let mut out = Some(Bridge::spawn(&out_args));
    let producer = produce(&src, N);

    let mut source = Source::attach(&dst).expect("consumer");
    let mut restarted: Option<Bridge> = None;
    let mut in_exit = None;
    let received = consume(
        &mut source,
        || {
            if in_exit.is_none() {
                in_exit = inbound.child.try_wait().unwrap();
            }
            in_exit.is_some()
        },
        |count, _| {
            // A third of the way in, kill `out` without warning and start
            // another one on the same ring.
            if count >= 30_000 && out.is_some() {
                out.take().unwrap().kill();
                restarted = Some(Bridge::spawn(&out_args));
            }
        },
    )
    .unwrap_or_else(|e| panic!("{e}; in: {:#?}", inbound.lines()));
    producer.join().unwrap();
    let (code, lines) = inbound.finish();
    let mut restarted = restarted.expect("out was restarted");
    let resumed = restarted.expect_line("out: source ");
    restarted.kill();

    let summary = lines.iter().find(|l| l.starts_with("in: summary")).unwrap();
    let (delivered, lost) = (field(summary, "delivered"), field(summary, "lost"));
    eprintln!("{resumed}\n{}", lines.join("\n"));

    // The restarted `out` resumed mid-stream, from the ring's position.
    let resumed_at: u64 = resumed
        .split_whitespace()
        .last()
        .and_then(|v| v.parse().ok())
        .expect("a seq");
    // (the last acknowledged position: at most what `in` had written).
    assert!((1..N).contains(&resumed_at), "resumed at {resumed_at}");
    // Count: everything is accounted for, as delivered or reported lost...
    assert_eq!(received.indices.len() as u64, delivered);
    assert_eq!(delivered + lost, N);
    // ...and for an SPSC source nothing is lost: what the killed `out` had
    // sent but `in` had not acknowledged was still in the ring and resent.
    assert_eq!(lost, 0, "lost {lost}");
    // Order: strictly increasing (no duplicate reached the ring).
    assert!(received.indices.windows(2).all(|w| w[0] < w[1]));
    // What was lost is exactly what the receiver reported.
    let got: BTreeSet<u64> = received.indices.iter().copied().collect();
    let missing: BTreeSet<u64> = (0..N).filter(|i| !got.contains(i)).collect();
    assert_eq!(missing, reported_lost(&lines));
    assert_eq!(code, Some(if lost > 0 { 3 } else { 0 }));
    // Checksum over the bytes received against the bytes sent.
    let mut expected = Checksum::default();
    for &i in &received.indices {
        expected.add(&message(i));
    }
    assert_eq!(
        (received.checksum.0, received.checksum.1),
        (expected.0, expected.1)
    );
}

#[test]
fn mpmc_full_ring_holds_the_sender_back_and_loses_nothing() {
    const N: u64 = 5_000;
    let (src_name, dst_name) = (ShmName::new("msrc"), ShmName::new("mdst"));
    let src = create(Kind::Mpmc, &src_name, 256);
    // A small destination that its consumer leaves full for a while.
    let dst = create(Kind::Mpmc, &dst_name, 16);
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let count = N.to_string();

    // This time `out` listens and `in` connects.
    let mut out = Bridge::spawn(&[
        "out",
        &src_name.0,
        "--key",
        "test/mpmc",
        "--listen",
        &endpoint,
        "--count",
        &count,
        "--framing",
        "len-prefixed",
    ]);
    out.expect_line("out: ready");
    let mut inbound = Bridge::spawn(&[
        "in",
        &dst_name.0,
        "--key",
        "test/mpmc",
        "--connect",
        &endpoint,
        "--count",
        &count,
        "--queue",
        "8",
    ]);
    inbound.expect_line("in: ready");
    let producer = produce(&src, N);

    // The consumer starts only once the receiver has said the ring is full.
    let stall = inbound.expect_line("in: ring full for");
    let mut source = Source::attach(&dst).expect("consumer");
    let mut in_exit = None;
    let received = consume(
        &mut source,
        || {
            if in_exit.is_none() {
                in_exit = inbound.child.try_wait().unwrap();
            }
            in_exit.is_some()
        },
        |_, _| {},
    )
    .unwrap_or_else(|e| panic!("{e}; in: {:#?}; out: {:#?}", inbound.lines(), out.lines()));
    producer.join().unwrap();
    let (code, lines) = inbound.finish();
    let (out_code, out_lines) = out.finish();
    eprintln!("{stall}\n{}\n{}", lines.join("\n"), out_lines.join("\n"));

    let summary = lines.iter().find(|l| l.starts_with("in: summary")).unwrap();
    assert_eq!(field(summary, "lost"), 0);
    assert_eq!(field(summary, "rejected"), 0);
    assert_eq!(code, Some(0));
    assert_eq!(out_code, Some(0));
    assert_eq!(received.indices, (0..N).collect::<Vec<_>>());
    let mut expected = Checksum::default();
    (0..N).for_each(|i| expected.add(&message(i)));
    assert_eq!(
        (received.checksum.0, received.checksum.1),
        (expected.0, expected.1)
    );
}

#[test]
fn spsc_killed_in_resumes_from_its_last_ack() {
    const N: u64 = 50_000;
    let (src_name, dst_name) = (ShmName::new("ksrc"), ShmName::new("kdst"));
    let src = create(Kind::Spsc, &src_name, 1024);
    let dst = create(Kind::Spsc, &dst_name, 1024);
    let endpoint = format!("tcp/127.0.0.1:{}", free_port());
    let in_args = [
        "in",
        &dst_name.0,
        "--key",
        "test/kill-in",
        "--listen",
        &endpoint,
    ];
    let mut inbound = Some(Bridge::spawn(&in_args));
    inbound.as_mut().unwrap().expect_line("in: ready");
    let _out = Bridge::spawn(&[
        "out",
        &src_name.0,
        "--key",
        "test/kill-in",
        "--connect",
        &endpoint,
        "--framing",
        "len-prefixed",
    ]);
    let producer = produce(&src, N);

    let mut source = Source::attach(&dst).expect("consumer");
    let finished = std::cell::Cell::new(false);
    let mut restarted: Option<Bridge> = None;
    let received = consume(
        &mut source,
        || finished.get(),
        |count, last| {
            // A third of the way in, kill `in` without warning and start
            // another one on the same ring and port.
            if count >= 15_000 && inbound.is_some() {
                inbound.take().unwrap().kill();
                restarted = Some(Bridge::spawn(&in_args));
            }
            finished.set(last == N - 1);
        },
    )
    .unwrap_or_else(|e| {
        panic!(
            "{e}; in: {:#?}",
            restarted.as_mut().map(|b| b.lines().to_vec())
        )
    });
    producer.join().unwrap();
    let mut restarted = restarted.expect("in was restarted");
    let first = restarted.expect_line("in: source ");
    eprintln!("{first}");
    let resumed_at: u64 = first
        .split_whitespace()
        .last()
        .and_then(|v| v.parse().ok())
        .unwrap();

    // Nothing lost: every message arrived, in order except for one step back
    // to where the new `in` resumed: the last position the killed one had
    // acknowledged. What it wrote after that is written again (it cannot
    // know), and nothing else is.
    let idx = &received.indices;
    let steps_back: Vec<usize> = (1..idx.len()).filter(|&k| idx[k] <= idx[k - 1]).collect();
    assert!(
        steps_back.len() <= 1,
        "more than one rewind: {steps_back:?}"
    );
    let got: BTreeSet<u64> = idx.iter().copied().collect();
    assert_eq!(got.len() as u64, N, "messages missing");
    if let Some(&k) = steps_back.first() {
        assert_eq!(idx[k], resumed_at);
        let rewritten = idx[k - 1] + 1 - resumed_at;
        assert_eq!(idx.len() as u64, N + rewritten);
        eprintln!("resumed at {resumed_at}; {rewritten} messages written twice");
    } else {
        assert_eq!(idx.len() as u64, N);
    }
}
