//! Helpers shared by the integration tests: unique shm names removed on
//! drop, child processes that re-run this test binary, a small PRNG.
#![allow(dead_code, unreachable_pub)]

use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A shm name unique to this process and call, unlinked on drop.
pub struct ShmName(pub String);

impl ShmName {
    pub fn new(tag: &str) -> ShmName {
        ShmName(format!(
            "/ringway-test-{tag}-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = ringway::Ring::remove_shm(&self.0);
    }
}

/// Environment variable that tells a re-run test binary which child to be.
pub const CHILD_ENV: &str = "RINGWAY_TEST_CHILD";

/// Starts this test binary again running only the ignored test `entry`, with
/// `CHILD_ENV` set to `role` and the given extra variables. The child is
/// killed by the kernel if this process dies first.
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
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
