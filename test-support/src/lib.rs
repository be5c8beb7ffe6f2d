//! Helpers shared by the integration tests of `ringway`, `ringway-async`,
//! `ringway-rpc` and `ringway-bridge` (a dev-dependency of each, the bridge's
//! by path from its own workspace; tests name it
//! `use ringway_test_support as common;`).
//!
//! | helper | what it does |
//! |---|---|
//! | [`ShmName`], [`TempPath`] | a shm name / temp file path unique to this process and call, removed on drop |
//! | [`spawn_child`], [`reap`], [`CHILD_ENV`] | run this test binary again as a child (one ignored test, a role in `CHILD_ENV`), killed by the kernel if the spawning thread dies; wait for it and assert success |
//! | [`Rng`] | xorshift64*: reproducible pauses without a dependency |

use std::ffi::CString;
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
#[derive(Debug)]
pub struct ShmName(pub String);

impl ShmName {
    /// A new name, `/ringway-test-{tag}-{pid}-{n}`.
    pub fn new(tag: &str) -> ShmName {
        ShmName(format!("/{}", unique(tag)))
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        if let Ok(name) = CString::new(self.0.as_str()) {
            // SAFETY: `name` is NUL-terminated; an error (already removed) is ignored.
            unsafe { libc::shm_unlink(name.as_ptr()) };
        }
    }
}

/// A file path in the temp dir unique to this process and call, removed on drop.
#[derive(Debug)]
pub struct TempPath(pub PathBuf);

impl TempPath {
    /// A new path in the temp dir.
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
/// `CHILD_ENV` set to `role` and the given extra variables. The child is
/// killed by the kernel if the spawning thread dies first (a failed test
/// leaves no child behind).
pub fn spawn_child(entry: &str, role: &str, vars: &[(&str, String)]) -> Child {
    use std::os::unix::process::CommandExt;
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
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn().expect("spawn child test process")
}

/// Waits for a child and asserts that it succeeded.
pub fn reap(mut child: Child, what: &str) -> ExitStatus {
    let status = child.wait().expect("wait for child");
    assert!(status.success(), "{what} failed: {status}");
    status
}

/// xorshift64*: reproducible pauses without a dependency.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next value.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
