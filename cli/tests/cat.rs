//! `cat --write | cat --read` through a ring: bytes out exactly as in,
//! including an empty input, with the end of stream carried by the ring.

mod common;
use std::io::{Read, Write};
use std::process::Stdio;

use common::{ok, random_bytes, ringway, Name};

/// Pipes `data` through ring `name` with a reader and a writer process.
fn through(name: &str, data: &[u8]) -> Vec<u8> {
    let mut reader = ringway()
        .args(["cat", name, "--read"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut writer = ringway()
        .args(["cat", name, "--write"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = writer.stdin.take().unwrap();
    let input = data.to_vec();
    let feeder = std::thread::spawn(move || {
        stdin.write_all(&input).unwrap();
        // Dropping stdin closes it: the writer sees EOF and sends EOS.
    });
    let mut out = Vec::new();
    reader.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    feeder.join().unwrap();
    assert!(writer.wait().unwrap().success(), "writer failed");
    assert!(reader.wait().unwrap().success(), "reader failed");
    out
}

#[test]
fn megabytes_of_random_bytes_arrive_exactly() {
    let name = Name::new("cat");
    ok(&[
        "create",
        name.as_str(),
        "--capacity",
        "64",
        "--slot-size",
        "4096",
    ]);
    let data = random_bytes(3 << 20, 7);
    let out = through(name.as_str(), &data);
    assert_eq!(out.len(), data.len());
    assert!(out == data, "bytes differ");
    // The ring is drained and reusable: an empty stream comes out empty.
    assert!(through(name.as_str(), &[]).is_empty());
    // Sizes around the slot payload (4096 - 8), binary zeros and newlines.
    for n in [1, 4087, 4088, 4089, 100_000] {
        let mut data = random_bytes(n, n as u64);
        data[0] = b'\n';
        data[n / 2] = 0;
        assert!(through(name.as_str(), &data) == data, "size {n}");
    }
    ok(&["rm", name.as_str()]);
}

#[test]
fn small_slots_and_a_tiny_ring() {
    let name = Name::new("cat-small");
    ok(&[
        "create",
        name.as_str(),
        "--capacity",
        "2",
        "--slot-size",
        "16",
    ]);
    let data = random_bytes(200_000, 3);
    assert!(through(name.as_str(), &data) == data);
    ok(&["rm", name.as_str()]);
}

#[test]
fn the_writer_may_finish_before_the_reader_starts() {
    let name = Name::new("cat-late");
    ok(&[
        "create",
        name.as_str(),
        "--capacity",
        "64",
        "--slot-size",
        "256",
    ]);
    let data = random_bytes(5000, 11);
    let mut writer = ringway()
        .args(["cat", name.as_str(), "--write"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writer.stdin.take().unwrap().write_all(&data).unwrap();
    assert!(writer.wait().unwrap().success());
    let out = ringway()
        .args(["cat", name.as_str(), "--read"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out.stdout == data);
    ok(&["rm", name.as_str()]);
}

/// `cat` reaches any kind through the one handle layer: an MPMC ring carries
/// a stream the same way (one writer, one reader).
#[test]
fn an_mpmc_ring_carries_the_stream_too() {
    let name = Name::new("cat-mpmc");
    ok(&[
        "create",
        name.as_str(),
        "--kind",
        "mpmc",
        "--capacity",
        "8",
        "--slot-size",
        "64",
    ]);
    let data = random_bytes(100_000, 11);
    assert!(through(name.as_str(), &data) == data, "bytes differ");
    ok(&["rm", name.as_str()]);
}
