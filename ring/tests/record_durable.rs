//! Durable file-backed record rings: checksums catch damaged records, a
//! producer process SIGKILLed while writing loses nothing it flushed, and
//! copies of the file with random dirty pages dropped (a crash before the
//! page cache was written back) recover a valid prefix that holds every
//! flushed record.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::time::{Duration, Instant};

use common::{reap, spawn_child, TempPath, CHILD_ENV};
use ringway::record::{self, Consumer, Producer};
use ringway::{Kind, OpenOptions, PopError, Ring, RingBuilder};

const PAGE: usize = 4096;

/// Record `seq`: its number, then bytes derived from it.
fn record_bytes(seq: u32) -> Vec<u8> {
    let len = 4 + (seq as usize * 89) % 700;
    let mut v: Vec<u8> = (0..len)
        .map(|i| (seq as usize * 3 + i * 11) as u8)
        .collect();
    v[..4].copy_from_slice(&seq.to_le_bytes());
    v
}

fn create(path: &TempPath, capacity: u64) -> Ring {
    RingBuilder::new(Kind::Record)
        .capacity(capacity)
        .checksums(true)
        .create_file(&path.0)
        .unwrap()
}

fn open(path: &std::path::Path) -> Ring {
    OpenOptions::new()
        .kind(Kind::Record)
        .open_file(path)
        .unwrap()
}

/// Reads every record, checking they are records 0, 1, 2, ... in order.
fn drain_in_order(ring: &Ring) -> u32 {
    let mut rx = Consumer::attach(ring).unwrap();
    let mut next = 0u32;
    loop {
        match rx.try_read() {
            Ok(r) => {
                assert_eq!(*r, record_bytes(next)[..], "record {next}");
                next += 1;
            }
            Err(PopError::Empty) => return next,
            Err(e) => panic!("after {next} records: {e}"),
        }
    }
}

#[test]
fn a_damaged_record_fails_its_checksum() {
    let path = TempPath::new("rec-crc");
    let ring = create(&path, 1 << 14);
    let mut tx = Producer::attach(&ring).unwrap();
    tx.try_push(b"good record").unwrap();
    tx.try_push(b"bad record").unwrap();
    // Flip a payload byte of the second record (at 32 + 16) in the file.
    let data = ring.geometry().slots_offset as usize;
    let mut bytes = std::fs::read(&path.0).unwrap();
    bytes[data + 32 + 16] ^= 0xff;
    std::fs::write(&path.0, &bytes).unwrap();
    let mut rx = Consumer::attach(&ring).unwrap();
    assert_eq!(rx.try_pop_vec().unwrap(), b"good record");
    assert!(matches!(rx.try_read(), Err(PopError::Corrupt(e)) if e.what.contains("checksum")));
    let scan = record::scan(&ring).unwrap();
    assert_eq!((scan.head, scan.end, scan.records), (32, 32, 0));
    assert_eq!(scan.dropped(), 32);
}

/// The child: writes records until the ring is full, flushing every 16 and
/// recording how many are flushed in the file `FLUSHED`, then waits to be
/// killed.
#[test]
#[ignore = "child process of the tests in this file"]
fn durable_child() {
    let Ok(_) = std::env::var(CHILD_ENV) else {
        return;
    };
    let path = std::env::var("RING").unwrap();
    let flushed = std::env::var("FLUSHED").unwrap();
    let ring = open(path.as_ref());
    let mut tx = Producer::attach(&ring).unwrap();
    let mut seq = 0u32;
    while tx.try_push(&record_bytes(seq)).is_ok() {
        seq += 1;
        if seq % 16 == 0 {
            record::flush(&ring).unwrap();
            let tmp = format!("{flushed}.tmp");
            std::fs::write(&tmp, seq.to_string()).unwrap();
            std::fs::rename(&tmp, &flushed).unwrap();
        }
    }
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn sigkill_during_writes_loses_nothing_flushed() {
    let path = TempPath::new("rec-kill");
    let flushed = TempPath::new("rec-kill-flushed");
    drop(create(&path, 1 << 20));
    let mut child = spawn_child(
        "durable_child",
        "writer",
        &[
            ("RING", path.0.to_str().unwrap().to_string()),
            ("FLUSHED", flushed.0.to_str().unwrap().to_string()),
        ],
    );
    let start = Instant::now();
    let read_flushed = || {
        std::fs::read_to_string(&flushed.0)
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
    };
    while read_flushed().unwrap_or(0) < 160 {
        assert!(start.elapsed() < Duration::from_secs(120), "child stalled");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    let durable = read_flushed().unwrap();
    let _ = std::fs::remove_file(format!("{}.tmp", flushed.0.display()));
    let ring = open(&path.0);
    let found = record::recover(&ring).unwrap();
    assert!(found.durable_intact, "{found:?}");
    let got = drain_in_order(&ring);
    assert!(
        got >= durable,
        "recovered {got} records, {durable} were flushed"
    );
    eprintln!(
        "flushed {durable}, recovered {got}, dropped {} bytes",
        found.dropped()
    );
    drop(ring);
    let _ = reap; // children here are killed, not reaped for success
}

/// A tiny deterministic generator (xorshift), so failures replay.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn dropped_dirty_pages_recover_a_valid_prefix() {
    let path = TempPath::new("rec-pages");
    let ring = create(&path, 1 << 16);
    let mut tx = Producer::attach(&ring).unwrap();
    let mut seq = 0;
    while seq < 40 {
        tx.try_push(&record_bytes(seq)).unwrap();
        seq += 1;
    }
    let durable = record::flush(&ring).unwrap();
    let flushed = seq;
    let old = std::fs::read(&path.0).unwrap();
    while tx.try_push(&record_bytes(seq)).is_ok() && seq < 120 {
        seq += 1;
    }
    // Also dirty the header page after the flush.
    drop(tx);
    let new = std::fs::read(&path.0).unwrap();
    assert_eq!(old.len(), new.len());
    let dirty: Vec<usize> = (0..old.len() / PAGE)
        .filter(|&p| old[p * PAGE..(p + 1) * PAGE] != new[p * PAGE..(p + 1) * PAGE])
        .collect();
    assert!(dirty.len() > 4, "the second batch dirtied pages: {dirty:?}");
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut shorter = 0;
    for round in 0..24 {
        let mut image = new.clone();
        for &p in &dirty {
            if next(&mut state) % 2 == 0 {
                image[p * PAGE..(p + 1) * PAGE].copy_from_slice(&old[p * PAGE..(p + 1) * PAGE]);
            }
        }
        let copy = TempPath::new("rec-pages-copy");
        std::fs::write(&copy.0, &image).unwrap();
        let ring = open(&copy.0);
        let verified = record::scan(&ring).unwrap();
        let found = record::recover(&ring).unwrap();
        assert_eq!(verified, found, "round {round}: scan and recovery agree");
        assert!(found.end >= durable, "round {round}: {found:?}");
        let got = drain_in_order(&ring);
        assert!(got >= flushed, "round {round}: {got} < {flushed}");
        assert!(got <= seq);
        if got < seq {
            shorter += 1;
        }
    }
    assert!(shorter > 0, "some images lost unflushed records");
}
