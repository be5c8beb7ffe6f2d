//! Helpers shared by the integration tests: unique names that are removed on
//! drop, and child processes that re-run this test binary.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

fn unique(tag: &str) -> String {
    format!(
        "ringway-test-{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A shm name unique to this process and call, unlinked on drop.
pub struct ShmName(pub String);

impl ShmName {
    pub fn new(tag: &str) -> ShmName {
        ShmName(format!("/{}", unique(tag)))
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = ringway::Ring::remove_shm(&self.0);
    }
}

/// A file path in the temp dir unique to this process and call, removed on drop.
pub struct TempPath(pub PathBuf);

impl TempPath {
    pub fn new(tag: &str) -> TempPath {
        TempPath(std::env::temp_dir().join(unique(tag)))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Environment variable that tells a re-run test binary which child to be.
pub const CHILD_ENV: &str = "RINGWAY_TEST_CHILD";

/// Starts this test binary again running only the ignored test `entry`, with
/// `CHILD_ENV` set to `role` and the given extra variables.
pub fn spawn_child(entry: &str, role: &str, vars: &[(&str, String)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        entry,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, role);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    // The child's own test summary would read like ours: keep its stdout out
    // of the log; its stderr (panic messages) stays.
    cmd.stdout(std::process::Stdio::null());
    cmd.spawn().expect("spawn child test process")
}

/// Waits for a child and asserts that it succeeded.
pub fn reap(mut child: Child, what: &str) -> ExitStatus {
    let status = child.wait().expect("wait for child");
    assert!(status.success(), "{what} failed: {status}");
    status
}
