//! MPMC across processes: 2 producer processes and 2 consumer processes
//! through a named shm ring. The children are this test binary re-executed
//! with `RINGWAY_MPMC_CHILD` naming their role; each consumer writes what it
//! received to a file, and the parent checks every producer's order per
//! consumer, and the union for loss and duplicates.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use ringway::mpmc::{Consumer, Producer};
use ringway::{Kind, OpenOptions, PopTimeoutError, Ring, RingBuilder};

const ROLE_VAR: &str = "RINGWAY_MPMC_CHILD";
const PER_PRODUCER: u64 = 500_000;
const STOP: u64 = u64::MAX;
/// A guard against hangs, not a timing assertion: a child that waits this
/// long for one message has lost its peers.
const PATIENCE: Duration = Duration::from_secs(120);

/// Removes the shm name and output files, and kills and reaps children
/// still running, even when the test fails.
struct Cleanup {
    name: String,
    files: Vec<PathBuf>,
    children: Vec<Child>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = Ring::remove_shm(&self.name);
        for f in &self.files {
            let _ = std::fs::remove_file(f);
        }
    }
}

fn spawn(role: &str, name: &str, arg: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "mpmc_child", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, format!("{role}|{name}|{arg}"))
        // The child's own test summary would read like ours: keep its stdout
        // out of the log; its stderr (panic messages) stays.
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

fn wait_ok(child: &mut Child, what: &str) {
    let status = child.wait().unwrap();
    assert!(status.success(), "{what} exited with {status}");
}

#[test]
fn two_producer_and_two_consumer_processes() {
    let pid = std::process::id();
    let name = format!("/ringway-mpmc-xp-{pid}");
    let files: Vec<PathBuf> = (0..2)
        .map(|c| std::env::temp_dir().join(format!("ringway-mpmc-xp-{pid}-consumer{c}.bin")))
        .collect();
    let mut cleanup = Cleanup {
        name: name.clone(),
        files: files.clone(),
        children: Vec::new(),
    };
    let ring = RingBuilder::new(Kind::Mpmc)
        .capacity(256)
        .message::<u64>()
        .create_shm(&name)
        .unwrap();

    for f in &files {
        cleanup
            .children
            .push(spawn("consumer", &name, f.to_str().unwrap()));
    }
    for p in 0..2 {
        cleanup
            .children
            .push(spawn("producer", &name, &p.to_string()));
    }
    let (consumers, producers) = cleanup.children.split_at_mut(2);
    for (p, child) in producers.iter_mut().enumerate() {
        wait_ok(child, &format!("producer {p}"));
    }
    // Every message precedes the stops in position order, and each consumer
    // exits at its first stop, so each takes exactly one.
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    for _ in 0..2 {
        tx.push_timeout(STOP, PATIENCE).unwrap();
    }
    for (c, child) in consumers.iter_mut().enumerate() {
        wait_ok(child, &format!("consumer {c}"));
    }
    cleanup.children.clear();

    let mut seen = vec![false; 2 * PER_PRODUCER as usize];
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        let mut next = [0u64; 2];
        for word in bytes.chunks_exact(8) {
            let v = u64::from_le_bytes(word.try_into().unwrap());
            let (p, s) = ((v >> 32) as usize, v & 0xffff_ffff);
            assert!(p < 2 && s < PER_PRODUCER, "garbage message {v:#x}");
            assert!(s >= next[p], "producer {p}: {s} after {}", next[p]);
            next[p] = s + 1;
            let i = p * PER_PRODUCER as usize + s as usize;
            assert!(!seen[i], "duplicate {p}/{s}");
            seen[i] = true;
        }
    }
    let missing = seen.iter().filter(|s| !**s).count();
    assert_eq!(missing, 0, "lost messages");
    let snap = ring.snapshot();
    assert_eq!(snap.tail, snap.head);
    let producers = snap
        .peers
        .iter()
        .filter(|p| p.role == Some(ringway::Role::Producer))
        .count();
    assert_eq!(producers, 1, "children freed their entries");
}

/// The child roles; passes trivially when run as an ordinary test.
#[test]
fn mpmc_child() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let mut parts = role.splitn(3, '|');
    let (role, name, arg) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let ring = OpenOptions::new()
        .kind(Kind::Mpmc)
        .message::<u64>()
        .open_shm(name)
        .unwrap();
    match role {
        "producer" => produce(&ring, arg.parse().unwrap()),
        "consumer" => consume(&ring, arg),
        _ => panic!("unknown role {role}"),
    }
}

fn produce(ring: &Ring, id: u64) {
    let mut tx = Producer::<u64>::attach(ring).unwrap();
    let mut seq = 0;
    let mut batch = Vec::new();
    let mut round = 0usize;
    while seq < PER_PRODUCER {
        round += 1;
        if round % 4 == 0 {
            tx.push_timeout(id << 32 | seq, PATIENCE).unwrap();
            seq += 1;
            continue;
        }
        let k = (1 + round % 48).min((PER_PRODUCER - seq) as usize);
        batch.clear();
        batch.extend((seq..seq + k as u64).map(|s| id << 32 | s));
        let n = tx.push_slice(&batch).unwrap();
        if n == 0 {
            std::thread::yield_now();
        }
        seq += n as u64;
    }
}

fn consume(ring: &Ring, out: &str) {
    let mut rx = Consumer::<u64>::attach(ring).unwrap();
    let mut got: Vec<u8> = Vec::new();
    let mut round = 0usize;
    'outer: loop {
        round += 1;
        if round % 3 == 0 {
            match rx.pop_timeout(PATIENCE) {
                Ok(STOP) => break,
                Ok(v) => got.extend_from_slice(&v.to_le_bytes()),
                Err(PopTimeoutError::Timeout) => panic!("no message for {PATIENCE:?}"),
                Err(e) => panic!("{e}"),
            }
            continue;
        }
        // A chunk, read in place. The stops are the last two positions, so
        // nothing follows a stop; a chunk that took both hands one back for
        // the other consumer.
        let chunk = rx.read_chunk(1 + round % 40).unwrap();
        if chunk.is_empty() {
            drop(chunk);
            std::thread::yield_now();
            continue;
        }
        let mut stops = 0;
        for &v in chunk.iter() {
            assert!(v == STOP || stops == 0, "a message after the stop");
            if v == STOP {
                stops += 1;
            } else {
                got.extend_from_slice(&v.to_le_bytes());
            }
        }
        chunk.release_all();
        if stops > 0 {
            let mut tx = Producer::<u64>::attach(ring).unwrap();
            for _ in 1..stops {
                tx.push_timeout(STOP, PATIENCE).unwrap();
            }
            break 'outer;
        }
    }
    std::fs::write(out, got).unwrap();
}
