//! Who is this process, and is that one still alive.
//!
//! A pid alone is not an identity: pids are recycled. The ring records the pid
//! together with the process start time (field 22 of `/proc/PID/stat`, in clock
//! ticks since boot), and a recorded holder counts as alive only while a process
//! with that pid exists and started at that time.

use std::sync::atomic::{AtomicU64, Ordering};

/// Pid of this process.
pub fn current_pid() -> u32 {
    std::process::id()
}

/// Start time of process `pid` in clock ticks since boot, where the system
/// tells it (Linux `/proc`); `None` elsewhere or when there is no such process.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain anything,
    // so count fields from the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields after the name start at field 3 (state); start time is field 22.
    after.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// Whether process `pid` is a zombie (exited, not yet reaped by its parent) or
/// dead, as `/proc` tells it; `false` when it cannot tell.
pub fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|at| stat[at + 1..].split_whitespace().next());
    matches!(state, Some("Z" | "X" | "x"))
}

/// Identity of this process's pid namespace (the inode of
/// `/proc/self/ns/pid`), 0 where the system does not tell it. Two processes
/// may compare pids only when these are equal. Cached per pid.
pub fn current_pid_namespace() -> u64 {
    use std::os::unix::fs::MetadataExt;
    static PID: AtomicU64 = AtomicU64::new(0);
    static NS: AtomicU64 = AtomicU64::new(0);
    let key = (u64::from(current_pid()) << 1) | 1;
    if PID.load(Ordering::Acquire) == key {
        // Acquire pairs with the Release store of PID below.
        return NS.load(Ordering::Relaxed);
    }
    let ns = std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino());
    NS.store(ns, Ordering::Relaxed);
    // Release: publishes NS; pairs with the Acquire load above.
    PID.store(key, Ordering::Release);
    ns
}

/// Start time of this process, 0 where the system does not tell it. Cached,
/// and recomputed after a `fork` (the cache is keyed by pid).
pub fn current_start_time() -> u64 {
    // (pid << 32 | valid) and the time, cached separately; a stale pair after
    // fork is detected by the pid and recomputed. Relaxed: a racing thread at
    // worst computes the same value again.
    static PID: AtomicU64 = AtomicU64::new(0);
    static TIME: AtomicU64 = AtomicU64::new(0);
    let pid = current_pid();
    let key = (u64::from(pid) << 1) | 1;
    if PID.load(Ordering::Acquire) == key {
        // Acquire pairs with the Release store of PID below: TIME is the one for this pid.
        return TIME.load(Ordering::Relaxed);
    }
    let time = start_time(pid).unwrap_or(0);
    TIME.store(time, Ordering::Relaxed);
    // Release: publishes TIME; pairs with the Acquire load above.
    PID.store(key, Ordering::Release);
    time
}

/// Whether process `pid` exists and, if `start` is given and known, started at
/// that time. A pid we may not signal (EPERM) exists.
pub fn is_alive(pid: u32, start: Option<u64>) -> bool {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if raw <= 0 {
        return false;
    }
    // Miri interprets one process and cannot call kill(2): there the only
    // process that can exist is our own.
    #[cfg(miri)]
    let exists = pid == std::process::id();
    // SAFETY: kill with signal 0 only checks for existence and permission.
    #[cfg(not(miri))]
    let exists = unsafe { libc::kill(raw, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists || is_zombie(pid) {
        return false;
    }
    match (start, start_time(pid)) {
        (Some(want), Some(have)) if want != 0 => want == have,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_with_its_start_time() {
        let t = current_start_time();
        assert!(t > 0, "Linux /proc gives a start time");
        assert!(is_alive(current_pid(), Some(t)));
        assert!(!is_alive(current_pid(), Some(t + 1)));
    }

    #[test]
    fn a_reaped_child_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_alive(pid, None));
    }
}
