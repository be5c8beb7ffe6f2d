//! create / info / ls / rm round trip, on shm names and on files.

mod common;
use common::{fails, ok, Name};

#[test]
fn create_info_ls_rm_round_trip() {
    let name = Name::new("admin");
    let n = name.as_str();
    let out = ok(&[
        "create",
        n,
        "--kind",
        "spsc",
        "--capacity",
        "64",
        "--slot-size",
        "128",
    ]);
    assert!(
        out.contains("created") && out.contains("64 slots of 128 bytes"),
        "{out}"
    );

    let info = ok(&["info", n]);
    for want in [
        "kind            spsc",
        "capacity        64 slots",
        "slot            128 bytes",
        "tail (written)  0",
        "head (read)     0",
        "fill            0 of 64",
        "producer        free",
        "consumer        free",
        "peers           0 registered, 0 reaped so far, 0 messages lost with dead consumers",
        "waiters         0 for data, 0 for space",
    ] {
        assert!(info.contains(want), "info lacks {want:?}:\n{info}");
    }
    // The name without its slash means the same ring.
    assert_eq!(ok(&["info", &n[1..]]), info);

    let ls = ok(&["ls"]);
    let line = ls
        .lines()
        .find(|l| l.split_whitespace().next() == Some(n))
        .unwrap_or_else(|| panic!("ls does not list {n}:\n{ls}"));
    assert!(line.contains("spsc") && line.contains("64"), "{line}");

    // Creating it again is refused.
    let err = fails(&["create", n, "--capacity", "64", "--slot-size", "128"]);
    assert!(err.contains("already exists"), "{err}");

    assert!(ok(&["rm", n]).contains("removed"));
    assert!(!ok(&["ls"]).lines().any(|l| l.starts_with(&format!("{n} "))));
    let err = fails(&["info", n]);
    assert!(err.contains("no ring named"), "{err}");
}

#[test]
fn mpmc_rings_show_their_kind() {
    let name = Name::new("mpmc");
    ok(&[
        "create",
        name.as_str(),
        "--kind",
        "mpmc",
        "--capacity",
        "16",
        "--slot-size",
        "64",
    ]);
    let info = ok(&["info", name.as_str()]);
    assert!(info.contains("kind            mpmc"), "{info}");
    ok(&["rm", name.as_str()]);
}

#[test]
fn the_barrier_mode_is_chosen_at_create_and_shown_by_info() {
    let name = Name::new("barrier");
    ok(&["create", name.as_str(), "--barrier", "symmetric"]);
    let info = ok(&["info", name.as_str()]);
    assert!(info.contains("barrier         symmetric"), "{info}");
    ok(&["rm", name.as_str()]);
}

#[test]
fn file_backed_rings() {
    let dir = std::env::temp_dir().join(format!("ringway-clitest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.ring");
    let p = path.to_str().unwrap();
    ok(&[
        "create",
        "--file",
        p,
        "--capacity",
        "8",
        "--slot-size",
        "64",
    ]);
    assert!(ok(&["info", p]).contains("capacity        8 slots"));
    ok(&["rm", p]);
    assert!(!path.exists());
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn ls_skips_objects_that_are_not_rings() {
    let name = Name::new("notring");
    let path = format!("/dev/shm{}", name.as_str());
    std::fs::write(&path, b"not a ring at all").unwrap();
    assert!(!ok(&["ls"]).contains(name.as_str()));
    let err = fails(&["rm", name.as_str()]);
    assert!(err.contains("not a ringway ring"), "{err}");
    assert!(
        std::path::Path::new(&path).exists(),
        "rm must not remove a non-ring"
    );
}
