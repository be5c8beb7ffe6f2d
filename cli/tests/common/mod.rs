//! Helpers shared by the CLI tests: run the built binary, unique names that
//! are removed at the end, deterministic random bytes.

#![allow(dead_code, unreachable_pub)]

use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The built `ringway`.
pub fn ringway() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ringway"))
}

/// Runs `ringway args...` to completion.
pub fn run(args: &[&str]) -> Output {
    ringway().args(args).output().expect("run ringway")
}

/// Stdout of a run that must succeed.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "ringway {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Asserts a run failed with exactly one `ringway: ...` line on stderr,
/// returns that line.
pub fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "ringway {args:?} should fail");
    let err = String::from_utf8(out.stderr).expect("utf-8 stderr");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line of error expected, got {err:?}");
    assert!(lines[0].starts_with("ringway: "), "{err:?}");
    lines[0].to_owned()
}

/// A unique shm name, removed (if it exists) when dropped.
pub struct Name(pub String);

impl Name {
    pub fn new(tag: &str) -> Name {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        Name(format!(
            "/ringway-clitest-{}-{tag}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = ringway::Ring::remove_shm(&self.0);
    }
}

/// `n` pseudo-random bytes (xorshift64*), the same for the same seed.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(n);
    out
}
