//! `create --kind record|broadcast`, `cat` over a record ring, `tail` of a
//! broadcast ring, `verify` of a record ring file.

mod common;
use std::io::{Read, Write};
use std::process::Stdio;

use common::{fails, ok, random_bytes, ringway, Name};
use ringway::broadcast::Producer;
use ringway::{Kind, OpenOptions};

#[test]
fn cat_through_a_record_ring_without_framing_of_its_own() {
    let name = Name::new("rec-cat");
    let out = ok(&[
        "create",
        name.as_str(),
        "--kind",
        "record",
        "--capacity",
        "65536",
    ]);
    assert!(out.contains("record, 65536 bytes"), "{out}");
    let info = ok(&["info", name.as_str()]);
    assert!(info.contains("record"), "{info}");
    let mut reader = ringway()
        .args(["cat", name.as_str(), "--read"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut writer = ringway()
        .args(["cat", name.as_str(), "--write"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let data = random_bytes(2 << 20, 3);
    let mut stdin = writer.stdin.take().unwrap();
    let input = data.clone();
    let feeder = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let mut got = Vec::new();
    reader.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    feeder.join().unwrap();
    assert!(writer.wait().unwrap().success());
    assert!(reader.wait().unwrap().success());
    assert!(got == data, "{} bytes out, {} in", got.len(), data.len());
    ok(&["rm", name.as_str()]);
}

#[test]
fn cat_through_a_gated_broadcast_ring() {
    let name = Name::new("bc-cat");
    ok(&[
        "create",
        name.as_str(),
        "--kind",
        "broadcast",
        "--capacity",
        "65536",
        "--gated",
    ]);
    let ring = OpenOptions::new()
        .kind(Kind::Broadcast)
        .open_shm(name.as_str())
        .unwrap();
    let mut reader = ringway()
        .args(["cat", name.as_str(), "--read"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // The writer must not start before the reader subscribed: a gated
    // producer waits only for subscribers it can see.
    let started = std::time::Instant::now();
    while !ring
        .peers()
        .iter()
        .any(|p| p.role == Some(ringway::Role::Consumer))
    {
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut writer = ringway()
        .args(["cat", name.as_str(), "--write"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let data = random_bytes(1 << 20, 5);
    let mut stdin = writer.stdin.take().unwrap();
    let input = data.clone();
    let feeder = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let mut got = Vec::new();
    reader.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    feeder.join().unwrap();
    assert!(writer.wait().unwrap().success());
    assert!(reader.wait().unwrap().success());
    assert!(got == data, "{} bytes out, {} in", got.len(), data.len());
    drop(ring);
    ok(&["rm", name.as_str()]);
}

#[test]
fn tail_prints_broadcast_records() {
    let name = Name::new("bc-tail");
    ok(&[
        "create",
        name.as_str(),
        "--kind",
        "broadcast",
        "--capacity",
        "4096",
    ]);
    let ring = OpenOptions::new()
        .kind(Kind::Broadcast)
        .open_shm(name.as_str())
        .unwrap();
    let mut tx = Producer::attach(&ring).unwrap();
    tx.try_push(b"first").unwrap();
    tx.try_push(b"second\n").unwrap();
    let info = ok(&["info", name.as_str()]);
    for want in [
        "capacity        4096 bytes (a byte ring of variable-size records",
        "mode            lossy: the producer never waits",
        "head (oldest)   0 (the oldest record still intact)",
        "tail (written)  64 ",
        &format!("producer        pid {} (alive)", std::process::id()),
        "subscribers     0 registered",
    ] {
        assert!(info.contains(want), "{want:?} not in\n{info}");
    }
    assert!(!info.contains("slot "), "{info}");
    let ls = ok(&["ls"]);
    let row = ls
        .lines()
        .find(|l| l.starts_with(&format!("{} ", name.as_str())))
        .unwrap_or_else(|| panic!("no row for {} in\n{ls}", name.as_str()));
    assert!(
        row.contains("broadcast         4096 B bytes  fill       64/4096"),
        "{row}"
    );
    assert!(row.contains("0 subscribers registered"), "{row}");
    let out = ok(&["tail", name.as_str(), "--back", "2", "--count", "2"]);
    assert_eq!(out, "first\nsecond\n");
    let line = fails(&["tail", "/ringway-clitest-no-such-ring", "--count", "1"]);
    assert!(line.contains("ringway-clitest-no-such-ring"), "{line}");
    drop((tx, ring));
    ok(&["rm", name.as_str()]);
}

#[test]
fn verify_reports_the_valid_prefix_of_a_record_file() {
    let path = std::env::temp_dir().join(format!("ringway-clitest-verify-{}", std::process::id()));
    let p = path.to_str().unwrap();
    ok(&[
        "create",
        "--file",
        p,
        "--kind",
        "record",
        "--capacity",
        "8192",
        "--checksums",
    ]);
    let ring = OpenOptions::new()
        .kind(Kind::Record)
        .open_file(&path)
        .unwrap();
    let mut tx = ringway::record::Producer::attach(&ring).unwrap();
    for i in 0..5u8 {
        tx.try_push(&[i; 40]).unwrap();
    }
    ringway::record::flush(&ring).unwrap();
    tx.try_push(&[9; 40]).unwrap(); // committed, not flushed
    let info = ok(&["info", p]);
    for want in [
        "capacity        8192 bytes",
        "largest record 8176 bytes",
        "mode            checksums: a CRC32C per record",
        "tail (claimed)  384 ",
        "head (read)     0 (the consumer's next record)",
        "durable         320 (records below it were flushed to the file)",
        "committed       6 records, 384 bytes from head; 0 bytes claimed",
        "consumer        free",
        "producers       1 registered",
        "no claim in flight",
    ] {
        assert!(info.contains(want), "{want:?} not in\n{info}");
    }
    let out = ok(&["verify", p]);
    assert!(out.contains("crc32c"), "{out}");
    assert!(out.contains("(6 records)"), "{out}");
    assert!(out.contains("would drop      0 bytes"), "{out}");
    // Damage the third record's payload (records are 64 bytes): the prefix
    // ends before it, below the durable cursor.
    let data = ring.geometry().slots_offset as usize;
    drop((tx, ring));
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[data + 2 * 64 + 20] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let line = fails(&["verify", p]);
    assert!(line.contains("damaged"), "{line}");
    std::fs::remove_file(&path).unwrap();
}
