//! The CLI against objects that are not rings, half-made rings, symlinks and
//! FIFOs: `rm` removes only what it can prove is a ring, `ls` neither follows
//! symlinks nor blocks, `info` never panics on a name.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{fails, ok, random_bytes, ringway, Name};
use ringway::layout::{ABI_VERSION, LAYOUT_HASH, MAGIC, STATE_INIT};

/// Foreign contents: text, zeros and random bytes of several sizes.
fn foreign() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("1 byte", b"x".to_vec()),
        ("5 KB text", b"remember the milk\n".repeat(290)),
        ("2 KiB zeros", vec![0; 2048]),
        ("8 KiB zeros", vec![0; 8192]),
        ("1 MiB zeros", vec![0; 1 << 20]),
        ("7 random bytes", random_bytes(7, 1)),
        ("8 KiB random", random_bytes(8192, 2)),
        ("64 KiB random", random_bytes(65536, 3)),
        ("a magic prefix", b"RING".to_vec()),
    ]
}

fn shm_path(name: &Name) -> String {
    format!("/dev/shm{}", name.as_str())
}

struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(tag: &str) -> TempFile {
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        TempFile(std::env::temp_dir().join(format!(
            "ringway-clitest-{}-{tag}-{}",
            std::process::id(),
            SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )))
    }
    fn s(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[test]
fn rm_refuses_every_foreign_object() {
    for (what, bytes) in foreign() {
        let name = Name::new("foreign");
        std::fs::write(shm_path(&name), &bytes).unwrap();
        let err = fails(&["rm", name.as_str()]);
        assert!(err.contains("not a ringway ring"), "{what}: {err}");
        assert_eq!(std::fs::read(shm_path(&name)).unwrap(), bytes, "{what}");

        let file = TempFile::new("foreign");
        std::fs::write(&file.0, &bytes).unwrap();
        let err = fails(&["rm", file.s()]);
        assert!(err.contains("not a ringway ring"), "{what}: {err}");
        assert_eq!(std::fs::read(&file.0).unwrap(), bytes, "{what}");
        // Nor does info take it for a ring.
        let err = fails(&["info", file.s()]);
        assert!(err.contains("not a ringway ring"), "{what}: {err}");
    }
}

#[test]
fn empty_objects_are_listed_and_not_removed() {
    let name = Name::new("empty");
    std::fs::write(shm_path(&name), b"").unwrap();
    let ls = ok(&["ls"]);
    let line = ls
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .unwrap_or_else(|| panic!("ls hides the empty object:\n{ls}"));
    assert!(line.contains("empty (0 bytes)"), "{line}");
    let err = fails(&["rm", name.as_str()]);
    assert!(err.contains("is empty"), "{err}");
    assert!(std::path::Path::new(&shm_path(&name)).exists());
}

/// Line 0 of a ring whose creator (`pid`, `start`) wrote it and stopped.
fn half_made(pid: u32, start: u64) -> Vec<u8> {
    let mut v = vec![0u8; 8192];
    v[0..8].copy_from_slice(&MAGIC.to_ne_bytes());
    v[8..12].copy_from_slice(&ABI_VERSION.to_ne_bytes());
    v[16..24].copy_from_slice(&LAYOUT_HASH.to_ne_bytes());
    v[80..84].copy_from_slice(&pid.to_ne_bytes());
    v[88..96].copy_from_slice(&start.to_ne_bytes());
    v[96..100].copy_from_slice(&STATE_INIT.to_ne_bytes());
    v
}

#[test]
fn a_ring_whose_creator_died_mid_setup_is_removed() {
    // A pid that is certainly gone: a child we started and reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let name = Name::new("halfmade");
    std::fs::write(shm_path(&name), half_made(dead, 1)).unwrap();
    let ls = ok(&["ls"]);
    assert!(
        ls.lines()
            .any(|l| l.starts_with(name.as_str()) && l.contains("initialising")),
        "{ls}"
    );
    let out = ok(&["rm", name.as_str()]);
    assert!(out.contains("creator died"), "{out}");
    assert!(!std::path::Path::new(&shm_path(&name)).exists());

    // One whose creator is alive (this process) is left alone.
    let name = Name::new("being-made");
    let me = std::process::id();
    let start = ringway::process::current_start_time();
    std::fs::write(shm_path(&name), half_made(me, start)).unwrap();
    let err = fails(&["rm", name.as_str()]);
    assert!(err.contains("being created by pid"), "{err}");
    assert!(std::path::Path::new(&shm_path(&name)).exists());
}

#[test]
fn rm_does_not_follow_a_symlink() {
    let target = TempFile::new("link-target");
    ok(&[
        "create",
        "--file",
        target.s(),
        "--capacity",
        "8",
        "--slot-size",
        "64",
    ]);
    let link = TempFile::new("link");
    std::os::unix::fs::symlink(&target.0, &link.0).unwrap();
    let err = fails(&["rm", link.s()]);
    assert!(err.contains("symbolic link"), "{err}");
    assert!(target.0.exists() && link.0.symlink_metadata().is_ok());
}

#[test]
fn ls_neither_follows_symlinks_nor_blocks_on_fifos() {
    let ring = TempFile::new("ls-target");
    ok(&[
        "create",
        "--file",
        ring.s(),
        "--capacity",
        "8",
        "--slot-size",
        "64",
    ]);
    let link = Name::new("ls-link");
    std::os::unix::fs::symlink(&ring.0, shm_path(&link)).unwrap();
    let fifo = Name::new("ls-fifo");
    let c = std::ffi::CString::new(shm_path(&fifo)).unwrap();
    // SAFETY: a NUL-terminated path; mkfifo only reads it.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut child = ringway()
        .arg("ls")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Generous: a blocked `ls` would wait for ever on the FIFO.
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            let _ = std::fs::remove_file(shm_path(&fifo));
            panic!("ringway ls blocked on a FIFO");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(shm_path(&fifo));
    let _ = std::fs::remove_file(shm_path(&link));
    assert!(out.status.success());
    let ls = String::from_utf8(out.stdout).unwrap();
    assert!(!ls.contains(link.as_str()), "ls followed a symlink:\n{ls}");
    assert!(!ls.contains(fifo.as_str()), "{ls}");
}

#[test]
fn info_takes_any_utf8_name_without_panicking() {
    for name in ["é", "/é", "日本", "é/x"] {
        let out = common::run(&["info", name]);
        assert!(!out.status.success(), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.starts_with("ringway: ") && !err.contains("panicked"),
            "{name}: {err}"
        );
    }
}
