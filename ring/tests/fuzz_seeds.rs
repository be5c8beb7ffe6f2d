//! The ring seeds of the fuzz `open` target (`fuzz/corpus/open/*-ring`) are
//! rings of today's ABI. A seed of an older ABI is refused at the version
//! check, so the fuzzer would spend its time in front of that check (this
//! happened: after three ABI bumps the target's coverage fell from 822 to
//! 187). When this test fails after an ABI bump, run `scripts/fuzz-seeds.sh`.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use std::path::PathBuf;

use ringway::{Kind, Ring};

fn seed(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus/open")
        .join(name)
}

#[test]
fn the_fuzz_seeds_open_as_rings_of_their_kind() {
    let dir = std::env::temp_dir().join(format!("ringway-fuzz-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, kind, stamped) in [
        ("spsc-ring", Kind::Spsc, false),
        ("mpmc-ring", Kind::Mpmc, false),
        ("stamped-ring", Kind::Spsc, true),
        ("record-ring", Kind::Record, false),
        ("broadcast-ring", Kind::Broadcast, false),
    ] {
        // A private copy: opening may register in the ring's tables.
        let copy = dir.join(name);
        std::fs::copy(seed(name), &copy).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ring = Ring::open_file(&copy).unwrap_or_else(|e| {
            panic!("fuzz seed {name} no longer opens ({e}): run scripts/fuzz-seeds.sh")
        });
        assert_eq!(ring.kind(), kind, "{name}");
        assert_eq!(ring.geometry().stamped, stamped, "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
