//! Bad names, missing rings, bad parameters: one line on
//! stderr, `ringway: ...`, and a non-zero exit.

mod common;
use common::{fails, ok, Name};

#[test]
fn bad_names() {
    let long = format!("/{}", "x".repeat(300));
    for bad in ["/", "", long.as_str()] {
        let err = fails(&["info", bad]);
        assert!(err.contains("invalid ring name"), "{bad:?}: {err}");
    }
    let err = fails(&["create", "/", "--capacity", "8", "--slot-size", "64"]);
    assert!(err.contains("invalid ring name"), "{err}");
}

#[test]
fn missing_rings() {
    let name = Name::new("missing");
    for args in [
        vec!["info", name.as_str()],
        vec!["rm", name.as_str()],
        vec!["cat", name.as_str(), "--read"],
        vec!["cat", name.as_str(), "--write"],
    ] {
        let err = fails(&args);
        assert!(err.contains("no ring named"), "{args:?}: {err}");
    }
}

#[test]
fn bad_parameters() {
    let name = Name::new("params");
    let err = fails(&[
        "create",
        name.as_str(),
        "--capacity",
        "3",
        "--slot-size",
        "64",
    ]);
    assert!(err.contains("capacity"), "{err}");
    let err = fails(&[
        "create",
        name.as_str(),
        "--capacity",
        "8",
        "--slot-size",
        "0",
    ]);
    assert!(err.contains("slot"), "{err}");
    // Slots too small for cat's framing.
    ok(&[
        "create",
        name.as_str(),
        "--capacity",
        "8",
        "--slot-size",
        "8",
    ]);
    let err = fails(&["cat", name.as_str(), "--write"]);
    assert!(err.contains("at least 16"), "{err}");
}

#[test]
fn unknown_bench_mechanism() {
    let err = fails(&["bench", "--quick", "--only", "carrier-pigeon"]);
    assert!(err.contains("carrier-pigeon"), "{err}");
}
