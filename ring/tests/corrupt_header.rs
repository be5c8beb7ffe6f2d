//! Shared memory is untrusted: every header field mutated in turn gives the
//! right `OpenError`, a short file is an error rather than a SIGBUS, corrupt
//! cursors give `CorruptError`, and random garbage never panics.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::fs::OpenOptions as FileOptions;
use std::os::unix::fs::FileExt;

use common::TempPath;
use proptest::prelude::*;
use ringway::layout::{Identity, ABI_VERSION, HEADER_SIZE, LINE};
use ringway::spsc::{BytesConsumer, BytesProducer, Consumer, Producer};
use ringway::{
    CorruptError, HandleError, Kind, OpenError, OpenOptions, PopError, PushError, RingBuilder,
};

const CAPACITY: u64 = 16;

/// A fresh typed u64 ring in a file; the file handle writes into it.
fn ring_file(tag: &str) -> TempPath {
    let path = TempPath::new(tag);
    RingBuilder::new(Kind::Spsc)
        .capacity(CAPACITY)
        .message::<u64>()
        .create_file(&path.0)
        .unwrap();
    path
}

fn poke(path: &TempPath, offset: u64, bytes: &[u8]) {
    let f = FileOptions::new().write(true).open(&path.0).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

fn open_typed(path: &TempPath) -> Result<ringway::Ring, OpenError> {
    OpenOptions::new().message::<u64>().open_file(&path.0)
}

macro_rules! field_offset {
    ($f:ident) => {
        std::mem::offset_of!(Identity, $f) as u64
    };
}

#[test]
fn an_intact_ring_opens() {
    let path = ring_file("intact");
    let ring = open_typed(&path).unwrap();
    assert_eq!(ring.capacity(), CAPACITY);
    assert_eq!(ring.identity().abi_version, ABI_VERSION);
}

/// Each identity field mutated in turn, with the error it must give.
#[test]
fn each_identity_field_is_checked() {
    type Check = fn(&OpenError) -> bool;
    let cases: Vec<(&str, u64, Vec<u8>, Check)> = vec![
        (
            "magic",
            field_offset!(magic),
            b"NOTARING".to_vec(),
            |e| matches!(e, OpenError::BadMagic { found } if *found == u64::from_le_bytes(*b"NOTARING")),
        ),
        (
            "abi newer",
            field_offset!(abi_version),
            (ABI_VERSION + 1).to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::AbiMismatch { found, expected: ABI_VERSION } if *found == ABI_VERSION + 1
                )
            },
        ),
        (
            "abi 1 (before the barrier mode and the peer table)",
            field_offset!(abi_version),
            1u32.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::AbiMismatch {
                        found: 1,
                        expected: ABI_VERSION
                    }
                )
            },
        ),
        (
            "abi older",
            field_offset!(abi_version),
            (ABI_VERSION - 1).to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::AbiMismatch {
                        found,
                        expected: ABI_VERSION
                    } if *found == ABI_VERSION - 1
                )
            },
        ),
        (
            "abi newer",
            field_offset!(abi_version),
            (ABI_VERSION + 1).to_le_bytes().to_vec(),
            |e| matches!(e, OpenError::AbiMismatch { found, .. } if *found == ABI_VERSION + 1),
        ),
        (
            "barrier zero",
            field_offset!(barrier),
            0u32.to_le_bytes().to_vec(),
            |e| matches!(e, OpenError::UnknownBarrier { found: 0 }),
        ),
        (
            "barrier unknown",
            field_offset!(barrier),
            9u32.to_le_bytes().to_vec(),
            |e| matches!(e, OpenError::UnknownBarrier { found: 9 }),
        ),
        (
            "kind unknown",
            field_offset!(kind),
            7u32.to_le_bytes().to_vec(),
            |e| matches!(e, OpenError::UnknownKind { found: 7 }),
        ),
        (
            "kind flipped",
            field_offset!(kind),
            2u32.to_le_bytes().to_vec(),
            |e| {
                // An SPSC layout read as MPMC: the recorded stride is wrong for MPMC.
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "slot_stride",
                        ..
                    }
                )
            },
        ),
        (
            "layout hash",
            field_offset!(layout_hash),
            1u64.to_le_bytes().to_vec(),
            |e| matches!(e, OpenError::LayoutMismatch { found: 1, .. }),
        ),
        (
            "capacity not a power of two",
            field_offset!(capacity),
            24u64.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "capacity",
                        found: 24,
                        expected: None
                    }
                )
            },
        ),
        (
            "capacity doubled",
            field_offset!(capacity),
            (CAPACITY * 2).to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "total_len",
                        ..
                    }
                )
            },
        ),
        (
            "capacity huge",
            field_offset!(capacity),
            (1u64 << 40).to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "capacity",
                        ..
                    }
                )
            },
        ),
        (
            "slot size zero",
            field_offset!(slot_size),
            0u32.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "slot_size",
                        found: 0,
                        ..
                    }
                )
            },
        ),
        (
            "slot size changed",
            field_offset!(slot_size),
            16u32.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "slot_stride",
                        ..
                    }
                )
            },
        ),
        (
            "slot align",
            field_offset!(slot_align),
            3u32.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "slot_align",
                        found: 3,
                        ..
                    }
                )
            },
        ),
        (
            "slot stride",
            field_offset!(slot_stride),
            9u32.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "slot_stride",
                        found: 9,
                        expected: Some(8)
                    }
                )
            },
        ),
        (
            "type size",
            field_offset!(type_size),
            4u32.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "type_size",
                        ..
                    }
                )
            },
        ),
        (
            "type align",
            field_offset!(type_align),
            16u32.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "type_size",
                        ..
                    }
                )
            },
        ),
        (
            "flags",
            field_offset!(flags),
            1u32.to_le_bytes().to_vec(),
            |e| matches!(e, OpenError::UnknownFlags { flags: 1 }),
        ),
        (
            "flags: an unknown bit next to stamped",
            field_offset!(flags),
            (ringway::layout::FLAG_STAMPED | 8).to_le_bytes().to_vec(),
            |e| matches!(e, OpenError::UnknownFlags { flags: 12 }),
        ),
        (
            // A contiguous ring (stride 8) claiming stamped slots (stride 16).
            "flags: stamped over contiguous slots",
            field_offset!(flags),
            ringway::layout::FLAG_STAMPED.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "slot_stride",
                        found: 8,
                        expected: Some(16)
                    }
                )
            },
        ),
        (
            "type name",
            field_offset!(type_name_hash),
            5u64.to_le_bytes().to_vec(),
            |e| matches!(e, OpenError::TypeMismatch { .. }),
        ),
        (
            "slots offset",
            field_offset!(slots_offset),
            4096u64.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "slots_offset",
                        found: 4096,
                        ..
                    }
                )
            },
        ),
        (
            "total len",
            field_offset!(total_len),
            u64::MAX.to_le_bytes().to_vec(),
            |e| {
                matches!(
                    e,
                    OpenError::BadGeometry {
                        field: "total_len",
                        found: u64::MAX,
                        ..
                    }
                )
            },
        ),
        ("state", 96, 0u32.to_le_bytes().to_vec(), |e| {
            matches!(e, OpenError::NotReady { state: 0 })
        }),
    ];
    for (what, offset, bytes, check) in cases {
        let path = ring_file("field");
        poke(&path, offset, &bytes);
        match open_typed(&path) {
            Ok(_) => panic!("{what}: a corrupt header was accepted"),
            Err(e) => {
                assert!(check(&e), "{what}: wrong error {e:?}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

#[test]
fn informational_fields_do_not_matter() {
    for (offset, bytes) in [
        (field_offset!(creator_pid), 1u32.to_le_bytes().to_vec()),
        (
            field_offset!(creator_start_time),
            1u64.to_le_bytes().to_vec(),
        ),
    ] {
        let path = ring_file("info-field");
        poke(&path, offset, &bytes);
        open_typed(&path).unwrap();
    }
}

#[test]
fn the_asked_for_kind_and_type_are_checked() {
    let path = ring_file("kind");
    let e = OpenOptions::new()
        .kind(Kind::Mpmc)
        .open_file(&path.0)
        .unwrap_err();
    assert!(
        matches!(
            e,
            OpenError::WrongKind {
                found: Kind::Spsc,
                expected: Kind::Mpmc
            }
        ),
        "{e:?}"
    );
    let e = OpenOptions::new()
        .message::<u32>()
        .open_file(&path.0)
        .unwrap_err();
    assert!(
        matches!(
            e,
            OpenError::TypeMismatch {
                found: (8, 8, _),
                expected: (4, 4, _)
            }
        ),
        "{e:?}"
    );
    let e = OpenOptions::new()
        .message::<i64>()
        .open_file(&path.0)
        .unwrap_err();
    assert!(
        matches!(e, OpenError::TypeMismatch { .. }),
        "same size, other name: {e:?}"
    );
    // A bytes open accepts a typed ring.
    OpenOptions::new().open_file(&path.0).unwrap();
}

#[test]
fn a_short_file_is_an_error_not_a_signal() {
    let path = ring_file("short");
    let full = std::fs::metadata(&path.0).unwrap().len();
    for len in [
        full - 1,
        HEADER_SIZE as u64 + 8,
        HEADER_SIZE as u64,
        HEADER_SIZE as u64 - 1,
        100,
        0,
    ] {
        let f = FileOptions::new().write(true).open(&path.0).unwrap();
        f.set_len(len).unwrap();
        let e = open_typed(&path).unwrap_err();
        assert!(
            matches!(e, OpenError::TooSmall { have, .. } if have == len),
            "len {len}: {e:?}"
        );
    }
}

#[test]
fn a_foreign_file_is_not_a_ring() {
    let path = TempPath::new("foreign");
    std::fs::write(&path.0, vec![0xAB; 8192]).unwrap();
    // No magic: foreign, whatever the state word says (see tests/foreign.rs).
    assert!(matches!(open_typed(&path), Err(OpenError::BadMagic { .. })));
    let missing = TempPath::new("missing");
    assert!(matches!(
        open_typed(&missing),
        Err(OpenError::NotFound { .. })
    ));
}

#[test]
fn a_symlink_is_refused() {
    let target = ring_file("link-target");
    let link = TempPath::new("link");
    std::os::unix::fs::symlink(&target.0, &link.0).unwrap();
    let e = open_typed(&link).unwrap_err();
    assert!(matches!(e, OpenError::NotRegularFile { .. }), "{e:?}");
}

#[test]
fn impossible_cursors_are_corrupt_errors() {
    let tail_at = LINE as u64;
    let head_at = 2 * LINE as u64;
    // On attach: tail more than capacity ahead of head.
    let path = ring_file("cursor-attach");
    poke(&path, tail_at, &(CAPACITY + 1).to_le_bytes());
    let ring = open_typed(&path).unwrap();
    assert!(matches!(
        Producer::<u64>::attach(&ring),
        Err(HandleError::Corrupt(_))
    ));
    assert!(matches!(
        Consumer::<u64>::attach(&ring),
        Err(HandleError::Corrupt(_))
    ));
    // A failed attach leaves the role free.
    assert_eq!(ring.snapshot().producer_owner, 0);

    // During use: the peer's cursor jumps.
    let path = ring_file("cursor-use");
    let ring = open_typed(&path).unwrap();
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    tx.try_push(1).unwrap();
    poke(&path, tail_at, &(1000u64).to_le_bytes());
    assert!(matches!(
        rx.try_pop(),
        Err(PopError::Corrupt(CorruptError { value: 1000, .. }))
    ));
    poke(&path, tail_at, &(1u64).to_le_bytes());
    assert_eq!(rx.try_pop(), Ok(1));
    // The consumer's cursor moves backwards, or ahead of the producer's.
    for _ in 0..CAPACITY {
        let _ = tx.try_push(2);
    }
    poke(&path, head_at, &0u64.to_le_bytes());
    assert!(matches!(tx.try_push(3), Err(PushError::Corrupt(_))));
    poke(&path, head_at, &(u64::MAX).to_le_bytes());
    assert!(matches!(tx.try_push(3), Err(PushError::Corrupt(_))));
}

#[test]
fn a_garbage_role_word_names_no_holder_and_is_taken_over() {
    let path = ring_file("roles");
    poke(&path, 100, &u32::MAX.to_le_bytes());
    let ring = open_typed(&path).unwrap();
    // u32::MAX points at no peer entry: no live holder, so attach takes over.
    let tx = Producer::<u64>::attach(&ring).unwrap();
    assert!(matches!(
        Producer::<u64>::attach(&ring),
        Err(HandleError::RoleTaken { .. })
    ));
    drop(tx);
    poke(&path, 100, &u32::MAX.to_le_bytes());
    assert_eq!(ring.reclaim_role(ringway::Role::Producer), Ok(true));
    Producer::<u64>::attach(&ring).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Random bytes written anywhere in the first three header lines: opening
    /// and using the ring gives errors or garbage values, never a panic or a
    /// fault.
    #[test]
    fn random_header_garbage_never_panics(
        writes in proptest::collection::vec((0u64..(3 * LINE as u64), any::<u64>()), 1..6)
    ) {
        let path = ring_file("fuzz");
        for (offset, value) in &writes {
            poke(&path, *offset, &value.to_le_bytes());
        }
        if let Ok(ring) = OpenOptions::new().open_file(&path.0) {
            if let Ok(mut tx) = BytesProducer::attach(&ring) {
                let msg = vec![1u8; tx.slot_size()];
                for _ in 0..(CAPACITY + 2) {
                    let _ = tx.try_push(&msg);
                }
                if let Ok(mut c) = tx.write_chunk(4) {
                    let (a, b) = c.as_mut_slices();
                    a.fill(2);
                    b.fill(2);
                    c.commit_all();
                }
            }
            if let Ok(mut rx) = BytesConsumer::attach(&ring) {
                let mut out = vec![0u8; rx.slot_size()];
                for _ in 0..(CAPACITY + 2) {
                    let _ = rx.try_pop(&mut out);
                }
            }
        }
    }
}
