//! The variable-size rows of `ringway bench`: records of mixed sizes (64 B
//! to 64 KiB) from this process to a peer process through a record ring,
//! a pipe (with a 4-byte length prefix: a pipe has no record boundaries)
//! and a UNIX datagram socket (one datagram per record); and one broadcast
//! ring (gated, so nothing is lost) to 1, 2 and 4 subscriber processes.
//!
//! Every receiver checks every record's length and its first and last
//! bytes against the sequence, and exits non-zero on a mismatch. Each peer
//! writes one byte to its stdout once it is attached (or bound, or about to
//! read its stdin), and a row's time runs from then (the first send) to the
//! exit of the last receiver: process start-up is not counted.

use std::io::{Read, Write};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringway::broadcast::{self, Start};
use ringway::record;
use ringway::{AnyReceiver, Kind, OpenOptions, Ring, RingBuilder};

use crate::failure::{fail, Failure};

/// The `--only` token of these rows.
pub(crate) const TOKEN: &str = "records";

/// Bytes of the record and broadcast rings.
const RING_BYTES: u64 = 1 << 21;
/// A guard against a stuck peer.
const PATIENCE: Duration = Duration::from_secs(60);

/// Size of record `i`: a power of two from 64 to 32768 picked
/// pseudo-randomly, plus up to as much again (so 64 B ..= 64 KiB).
pub(crate) fn size_of(i: u64) -> usize {
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x2545_f491_4f6c_dd1d;
    x ^= x >> 29;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 32;
    let base = 64usize << (x % 10);
    (base + (x >> 8) as usize % (base + 1)).min(1 << 16)
}

/// Fills record `i` (its first and last bytes are checked).
fn fill(buf: &mut [u8], i: u64) {
    let n = buf.len();
    buf[0] = i as u8;
    buf[n - 1] = (i >> 8) as u8 ^ n as u8;
}

/// Checks record `i`.
fn check(buf: &[u8], i: u64) -> Result<(), Failure> {
    let n = size_of(i);
    if buf.len() != n || buf[0] != i as u8 || buf[n - 1] != (i >> 8) as u8 ^ n as u8 {
        fail!("record {i}: wrong length or bytes ({} bytes)", buf.len());
    }
    Ok(())
}

fn peer(args: &[&str]) -> Result<Child, Failure> {
    let exe = std::env::current_exe()?;
    Ok(Command::new(exe)
        .arg("__record-peer")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?)
}

/// Waits for the peer's ready byte (see the module docs).
fn await_ready(child: &mut Child) -> Result<(), Failure> {
    let mut byte = [0u8];
    let got = match child.stdout.as_mut() {
        Some(out) => out.read_exact(&mut byte).is_ok(),
        None => false,
    };
    if !got || byte != *b"R" {
        fail!("a record peer did not get ready");
    }
    Ok(())
}

/// The peer's side of `await_ready`.
fn ready() -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(b"R")?;
    out.flush()?;
    Ok(())
}

fn reap(mut child: Child, what: &str) -> Result<(), Failure> {
    let status = child.wait()?;
    if !status.success() {
        fail!("{what} peer failed: {status}");
    }
    Ok(())
}

/// The peer side (`ringway __record-peer MODE WHERE COUNT`).
pub(crate) fn peer_main(mode: &str, place: &str, count: u64) -> Result<(), Failure> {
    let mut buf = Vec::with_capacity(1 << 16);
    match mode {
        "record" | "broadcast" => {
            let kind = if mode == "record" {
                Kind::Record
            } else {
                Kind::Broadcast
            };
            let ring = OpenOptions::new().kind(kind).open_shm(place)?;
            // One receiving path for both kinds; the copy into `buf` is the
            // one every other row makes.
            let mut rx = AnyReceiver::attach(&ring, Start::Oldest)?;
            ready()?;
            for i in 0..count {
                rx.recv_deadline_into(&mut buf, Instant::now() + PATIENCE)?;
                check(&buf, i)?;
            }
            if rx.missed() != 0 {
                fail!("a gated subscriber missed {} records", rx.missed());
            }
        }
        "pipe" => {
            let mut input = std::io::stdin().lock();
            ready()?;
            for i in 0..count {
                let mut len = [0u8; 4];
                input.read_exact(&mut len)?;
                buf.resize(u32::from_le_bytes(len) as usize, 0);
                input.read_exact(&mut buf)?;
                check(&buf, i)?;
            }
        }
        "dgram" => {
            let sock = UnixDatagram::bind(place)?;
            ready()?;
            buf.resize(1 << 17, 0);
            for i in 0..count {
                let n = sock.recv(&mut buf)?;
                check(&buf[..n], i)?;
            }
        }
        other => fail!("unknown record peer mode {other}"),
    }
    Ok(())
}

/// One row's result.
pub(crate) struct Row {
    name: String,
    records: u64,
    bytes: u64,
    secs: f64,
}

impl Row {
    /// The row for `--json`.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "row": self.name, "records": self.records, "bytes": self.bytes,
            "seconds": self.secs,
            "records_per_s": self.records as f64 / self.secs,
            "mb_per_s": self.bytes as f64 / self.secs / 1e6,
        })
    }
}

fn shm_name(tag: &str) -> String {
    format!("/ringway-bench-{tag}-{}", std::process::id())
}

/// Removes a shm name on drop.
struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = Ring::remove_shm(&self.0);
    }
}

fn total_bytes(count: u64) -> u64 {
    (0..count).map(|i| size_of(i) as u64).sum()
}

fn record_row(count: u64) -> Result<Row, Failure> {
    let name = shm_name("rec");
    let ring = RingBuilder::new(Kind::Record)
        .capacity(RING_BYTES)
        .create_shm(&name)?;
    let _unlink = Unlink(name.clone());
    let mut tx = record::Producer::attach(&ring)?;
    let mut child = peer(&["record", &name, &count.to_string()])?;
    await_ready(&mut child)?;
    let mut src = vec![0u8; 1 << 16];
    let start = Instant::now();
    for i in 0..count {
        let n = size_of(i);
        fill(&mut src[..n], i);
        let mut r = tx.reserve_timeout(n, PATIENCE)?;
        r.copy_from_slice(&src[..n]);
        r.commit()?;
    }
    reap(child, "record")?;
    Ok(Row {
        name: "record ring".into(),
        records: count,
        bytes: total_bytes(count),
        secs: start.elapsed().as_secs_f64(),
    })
}

fn pipe_row(count: u64) -> Result<Row, Failure> {
    let mut child = peer(&["pipe", "-", &count.to_string()])?;
    let mut stdin = child.stdin.take().ok_or(Failure("no pipe".into()))?;
    await_ready(&mut child)?;
    let mut src = vec![0u8; (1 << 16) + 4];
    let start = Instant::now();
    for i in 0..count {
        let n = size_of(i);
        src[..4].copy_from_slice(&(n as u32).to_le_bytes());
        fill(&mut src[4..4 + n], i);
        stdin.write_all(&src[..4 + n])?;
    }
    drop(stdin);
    reap(child, "pipe")?;
    Ok(Row {
        name: "pipe (length-prefixed)".into(),
        records: count,
        bytes: total_bytes(count),
        secs: start.elapsed().as_secs_f64(),
    })
}

fn dgram_row(count: u64) -> Result<Row, Failure> {
    let path: PathBuf =
        std::env::temp_dir().join(format!("ringway-bench-dgram-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let place = path.to_str().ok_or(Failure("temp path".into()))?.to_owned();
    let mut child = peer(&["dgram", &place, &count.to_string()])?;
    await_ready(&mut child)?;
    let sock = UnixDatagram::unbound()?;
    let waited = Instant::now();
    while sock.connect(&path).is_err() {
        if waited.elapsed() > PATIENCE {
            fail!("the datagram peer did not bind {place}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut src = vec![0u8; 1 << 16];
    let start = Instant::now();
    for i in 0..count {
        let n = size_of(i);
        fill(&mut src[..n], i);
        sock.send(&src[..n])?;
    }
    let result = reap(child, "datagram");
    let _ = std::fs::remove_file(&path);
    result?;
    Ok(Row {
        name: "UNIX datagram socket".into(),
        records: count,
        bytes: total_bytes(count),
        secs: start.elapsed().as_secs_f64(),
    })
}

fn broadcast_row(count: u64, subscribers: usize) -> Result<Row, Failure> {
    let name = shm_name(&format!("bc{subscribers}"));
    let ring = RingBuilder::new(Kind::Broadcast)
        .capacity(RING_BYTES)
        .gated(true)
        .create_shm(&name)?;
    let _unlink = Unlink(name.clone());
    let mut tx = broadcast::Producer::attach(&ring)?;
    let mut children = (0..subscribers)
        .map(|_| peer(&["broadcast", &name, &count.to_string()]))
        .collect::<Result<Vec<_>, _>>()?;
    for c in &mut children {
        await_ready(c)?;
    }
    let mut src = vec![0u8; 1 << 16];
    let start = Instant::now();
    for i in 0..count {
        let n = size_of(i);
        fill(&mut src[..n], i);
        tx.push_timeout(&src[..n], PATIENCE)?;
    }
    for c in children {
        reap(c, "broadcast")?;
    }
    Ok(Row {
        name: format!("broadcast, gated, {subscribers} subscriber process(es)"),
        records: count,
        bytes: total_bytes(count),
        secs: start.elapsed().as_secs_f64(),
    })
}

/// Runs the rows and prints their table; returns the rows.
pub(crate) fn run(quick: bool) -> Result<Vec<Row>, Failure> {
    let count = if quick { 200 } else { 20_000 };
    println!(
        "\nvariable-size records, one producer process to peer processes: {count} records of \
         64 B..64 KiB ({:.1} MB), each checked by every receiver; rings of {} KiB. \
         `vs record ring`: the row's time over the record ring's (above 1 is slower).",
        total_bytes(count) as f64 / 1e6,
        RING_BYTES >> 10
    );
    println!(
        "  {:<44} {:>12} {:>10} {:>10} {:>15}",
        "mechanism", "records/s", "MB/s", "time", "vs record ring"
    );
    let rows = vec![
        record_row(count)?,
        pipe_row(count)?,
        dgram_row(count)?,
        broadcast_row(count, 1)?,
        broadcast_row(count, 2)?,
        broadcast_row(count, 4)?,
    ];
    let base = rows[0].secs;
    for r in &rows {
        println!(
            "  {:<44} {:>12.0} {:>10.0} {:>9.3}s {:>14.2}x",
            r.name,
            r.records as f64 / r.secs,
            r.bytes as f64 / r.secs / 1e6,
            r.secs,
            r.secs / base
        );
    }
    Ok(rows)
}
