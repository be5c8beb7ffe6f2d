//! A `fork`ed child does not keep its parent's handles alive.
//!
//! A handle's liveness token is an OFD lock held by its own open file
//! description, and a forked child inherits a reference to every
//! description. Before the `pthread_atfork` handler of `peer/fork.rs`, a
//! parent that died while a child it forked lived kept looking alive: its
//! role was never freed and its claims never healed. Here a child process
//! attaches a producer and a consumer, forks a grandchild that drops its
//! copy of the consumer, keeps its copy of the producer and lives on, and
//! is killed: both entries must be seen dead (and the producer role taken
//! over) while the grandchild still runs.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::time::{Duration, Instant};

use common::{spawn_child, ShmName, TempPath, CHILD_ENV};
use ringway::peer::Liveness;
use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, OpenOptions, RingBuilder, Role};

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);

fn var(name: &str) -> String {
    std::env::var(name).unwrap()
}

/// The child: attach a producer and a consumer, fork a grandchild that
/// drops its copy of the consumer and lives until `STOP` exists (or `PATIENCE`), write the
/// grandchild's pid to `OUT`, and wait to be killed.
#[test]
#[ignore = "child process of the test in this file"]
fn fork_child() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    let ring = OpenOptions::new()
        .kind(Kind::Spsc)
        .message::<u64>()
        .open_shm(&var("RING"))
        .unwrap();
    let tx = Producer::<u64>::attach(&ring).unwrap();
    let rx = Consumer::<u64>::attach(&ring).unwrap();
    // SAFETY: the grandchild only drops a copy of a handle, sleeps and
    // looks for a file, then leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // A forked copy of the consumer: dropping it must leave the
        // parent's entry alone. The copy of the producer is kept (as a
        // child that never drops what it inherited would).
        drop(rx);
        let start = Instant::now();
        while start.elapsed() < PATIENCE && !std::path::Path::new(&var("STOP")).exists() {
            std::thread::sleep(Duration::from_millis(10));
        }
        // SAFETY: ends the grandchild without running the test harness on.
        unsafe { libc::_exit(0) };
    }
    std::fs::write(var("OUT"), pid.to_string()).unwrap();
    let _keep = (tx, rx);
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Kills the grandchild (not ours to reap: it is reparented when the child
/// dies) and removes the stop file on the way out.
struct Grandchild(i32);

impl Drop for Grandchild {
    fn drop(&mut self) {
        // SAFETY: a pid the child reported; SIGKILL to it is harmless if it
        // already exited (the child's pid namespace is ours).
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

#[test]
fn a_forked_child_does_not_keep_a_dead_parent_alive() {
    let name = ShmName::new("fork-live");
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(8)
        .message::<u64>()
        .create_shm(&name.0)
        .unwrap();
    let out = TempPath::new("fork-out");
    let stop = TempPath::new("fork-stop");
    let mut child = spawn_child(
        "fork_child",
        "forker",
        &[
            ("RING", name.0.clone()),
            ("OUT", out.0.to_str().unwrap().to_string()),
            ("STOP", stop.0.to_str().unwrap().to_string()),
        ],
    );
    let start = Instant::now();
    let grandchild = loop {
        if let Some(pid) = std::fs::read_to_string(&out.0)
            .ok()
            .and_then(|t| t.parse::<i32>().ok())
        {
            break Grandchild(pid);
        }
        assert!(start.elapsed() < PATIENCE, "the child never forked");
        assert!(child.try_wait().unwrap().is_none(), "the child failed");
        std::thread::sleep(Duration::from_millis(5));
    };
    let holder = |ring: &ringway::Ring, role| {
        ring.peers()
            .into_iter()
            .find(|p| p.role == Some(role))
            .unwrap_or_else(|| panic!("no {role:?} entry"))
    };
    // The grandchild has dropped its copy of the consumer: the child's
    // entries are still registered and alive.
    for role in [Role::Producer, Role::Consumer] {
        let entry = holder(&ring, role);
        assert_eq!(entry.pid, child.id());
        assert_eq!(entry.liveness, Liveness::Alive, "{role:?}");
        assert!(entry.ofd_token, "the entry has an OFD token");
    }

    child.kill().unwrap();
    child.wait().unwrap();
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(grandchild.0, 0) };
    assert_eq!(alive, 0, "the grandchild lives on");
    for role in [Role::Producer, Role::Consumer] {
        let entry = holder(&ring, role);
        assert_eq!(entry.pid, child.id());
        assert_eq!(
            entry.liveness,
            Liveness::Dead,
            "{role:?}: the child is dead, but the grandchild it forked keeps its token"
        );
    }
    // So a new producer takes the role over (it was RoleTaken before).
    let tx = Producer::<u64>::attach(&ring).unwrap();
    drop(tx);
    std::fs::write(&stop.0, b"stop").unwrap();
    drop(grandchild);
}
