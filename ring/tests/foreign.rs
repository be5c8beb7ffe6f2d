//! Foreign objects are not rings: whatever a file or shm object holds, if it
//! does not start with the ring magic it opens as `BadMagic` at once (never
//! `NotReady`, never waited for by `wait_for_creator`), and it is never
//! mapped. A ring whose creator died mid-setup still says what it is.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use common::{ShmName, TempPath};
use ringway::layout::{Identity, ABI_VERSION, HEADER_SIZE, LAYOUT_HASH, MAGIC, STATE_INIT};
use ringway::probe::{probe, Probe};
use ringway::{Kind, OpenError, OpenOptions, RingBuilder};

/// Foreign contents of many shapes and sizes: text, zeros, random bytes.
fn foreign_contents() -> Vec<(&'static str, Vec<u8>)> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = |n: usize| {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>()
    };
    let text = b"remember the milk\n".repeat(300);
    vec![
        ("one byte", b"x".to_vec()),
        ("short text", b"hello\n".to_vec()),
        ("5 KB text", text),
        ("zeros 2 KiB", vec![0; HEADER_SIZE]),
        ("zeros 8 KiB", vec![0; 8192]),
        ("zeros 1 MiB", vec![0; 1 << 20]),
        ("random 100 B", random(100)),
        ("random 8 KiB", random(8192)),
        ("0xAB 8 KiB", vec![0xAB; 8192]),
        // A READY state word but no magic: still foreign.
        ("ready without magic", {
            let mut v = vec![0u8; 8192];
            v[96..100].copy_from_slice(b"REDY");
            v
        }),
    ]
}

fn is_bad_magic(r: Result<ringway::Ring, OpenError>) -> bool {
    matches!(r, Err(OpenError::BadMagic { .. }))
}

#[test]
fn a_foreign_file_opens_as_bad_magic_at_once() {
    for (what, bytes) in foreign_contents() {
        let path = TempPath::new("foreign-file");
        std::fs::write(&path.0, &bytes).unwrap();
        let started = Instant::now();
        let r = OpenOptions::new()
            .wait_for_creator(Duration::from_secs(20))
            .open_file(&path.0);
        assert!(is_bad_magic(r), "{what}");
        // Not waited for: generous bound, far below the 20 s timeout.
        assert!(started.elapsed() < Duration::from_secs(5), "{what} waited");
        assert!(
            matches!(
                probe(&std::fs::File::open(&path.0).unwrap()).unwrap(),
                Probe::Foreign { .. }
            ),
            "{what}"
        );
        assert_eq!(std::fs::read(&path.0).unwrap(), bytes, "{what}: modified");
    }
}

#[test]
fn a_foreign_shm_object_opens_as_bad_magic_at_once() {
    for (what, bytes) in foreign_contents() {
        let name = ShmName::new("foreign-shm");
        std::fs::write(format!("/dev/shm{}", name.0), &bytes).unwrap();
        let started = Instant::now();
        let r = OpenOptions::new()
            .wait_for_creator(Duration::from_secs(20))
            .open_shm(&name.0);
        assert!(is_bad_magic(r), "{what}");
        assert!(started.elapsed() < Duration::from_secs(5), "{what} waited");
    }
}

/// What a creator that died right after its first write leaves behind.
fn creation_line_of(pid: u32, start_time: u64) -> Vec<u8> {
    let id = Identity {
        magic: MAGIC,
        abi_version: ABI_VERSION,
        layout_hash: LAYOUT_HASH,
        creator_pid: pid,
        creator_start_time: start_time,
        ..Identity::default()
    };
    let mut v = vec![0u8; 128];
    v[0..8].copy_from_slice(&id.magic.to_ne_bytes());
    v[8..12].copy_from_slice(&id.abi_version.to_ne_bytes());
    v[16..24].copy_from_slice(&id.layout_hash.to_ne_bytes());
    v[80..84].copy_from_slice(&pid.to_ne_bytes());
    v[88..96].copy_from_slice(&start_time.to_ne_bytes());
    v[96..100].copy_from_slice(&STATE_INIT.to_ne_bytes());
    v
}

#[test]
fn a_ring_under_construction_is_not_ready_and_is_ours() {
    let path = TempPath::new("init");
    let mut bytes = creation_line_of(std::process::id(), ringway::process::current_start_time());
    bytes.resize(8192, 0);
    std::fs::write(&path.0, &bytes).unwrap();
    let r = OpenOptions::new().open_file(&path.0);
    assert!(
        matches!(r, Err(OpenError::NotReady { state: STATE_INIT })),
        "{r:?}"
    );
    let Probe::Initialising(copy) = probe(&std::fs::File::open(&path.0).unwrap()).unwrap() else {
        panic!("not initialising")
    };
    assert!(copy.creator_alive(), "we are its creator");
}

#[test]
fn a_created_ring_starts_with_the_magic_before_it_is_ready() {
    // Catch the creator's line 0 on disk: a ring's file that lost its READY
    // state still carries magic, ABI and creator.
    let path = TempPath::new("line0");
    RingBuilder::new(Kind::Spsc)
        .capacity(8)
        .message::<u64>()
        .create_file(&path.0)
        .unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path.0)
        .unwrap();
    f.write_all_at(&STATE_INIT.to_ne_bytes(), 96).unwrap();
    match probe(&f).unwrap() {
        Probe::Initialising(copy) => {
            assert_eq!(copy.identity().creator_pid, std::process::id());
            assert!(copy.creator_alive());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn wait_for_creator_accepts_duration_max() {
    let name = ShmName::new("wait-max");
    let _ring = RingBuilder::new(Kind::Spsc)
        .capacity(8)
        .message::<u64>()
        .create_shm(&name.0)
        .unwrap();
    let ring = OpenOptions::new()
        .wait_for_creator(Duration::MAX)
        .open_shm(&name.0)
        .unwrap();
    assert_eq!(ring.capacity(), 8);
    // And a foreign object is still refused at once under Duration::MAX.
    let path = TempPath::new("wait-max-foreign");
    std::fs::write(&path.0, b"not a ring at all").unwrap();
    assert!(is_bad_magic(
        OpenOptions::new()
            .wait_for_creator(Duration::MAX)
            .open_file(&path.0)
    ));
}

#[test]
fn unusable_modes_are_refused() {
    for mode in [
        0o4600, 0o2600, 0o1600, 0o100600, 0o400, 0o200, 0o000, 0o1000000,
    ] {
        let path = TempPath::new("mode");
        let e = RingBuilder::new(Kind::Spsc)
            .capacity(8)
            .message::<u64>()
            .mode(mode)
            .create_file(&path.0)
            .unwrap_err();
        assert!(
            matches!(e, ringway::CreateError::InvalidMode { mode: m } if m == mode),
            "{mode:#o}: {e:?}"
        );
        assert!(!path.0.exists(), "{mode:#o}: left a file");
        let name = ShmName::new("mode");
        let e = RingBuilder::new(Kind::Spsc)
            .capacity(8)
            .message::<u64>()
            .mode(mode)
            .create_shm(&name.0)
            .unwrap_err();
        assert!(
            matches!(e, ringway::CreateError::InvalidMode { .. }),
            "{e:?}"
        );
    }
    for mode in [0o600, 0o640, 0o666] {
        let path = TempPath::new("mode-ok");
        RingBuilder::new(Kind::Spsc)
            .capacity(8)
            .message::<u64>()
            .mode(mode)
            .create_file(&path.0)
            .unwrap();
    }
}
