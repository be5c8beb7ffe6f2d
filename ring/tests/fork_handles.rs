//! A `fork`ed copy of a handle refuses to be used, and the parent's ring
//! is untouched.
//!
//! A pre-fork server that attaches a handle and forks workers gives each
//! worker a copy of the parent's handle: its role, its entry, its claims.
//! Pushing through such a copy made two writers of an SPSC ring (or
//! records owned by the parent's pid on MPMC): torn messages, lost data,
//! `Corrupt` for the parent. Each handle now records its mapping's fork
//! count (`peer/fork.rs`, `sigbus.rs`), which the `fork` child handler
//! bumps, and every call that touches the ring refuses a copy with the
//! forked error (`CorruptError::is_forked`).
//!
//! Each test re-executes this binary as a child process (the house
//! pattern, `--test-threads=1`: one test runs, so no other test thread
//! holds a lock at the `fork`) which attaches handles, forks, and checks
//! in the grandchild that every call of the copies is refused, that
//! dropping them leaves the parent's roles and entries alone, and (MPMC)
//! that a handle of the child's own works, on the ring opened again by
//! name and on the inherited `Ring`. The grandchild reports with
//! its exit code (0: as expected; `n`: check `n` failed) through `_exit`.
//! The refused calls return before any shared access or allocation (one
//! atomic load); what the grandchild does besides (drop the copies, open
//! the ring) allocates and makes system calls, which is sound here: glibc
//! makes `malloc` usable in a child of `fork`, and the only other thread
//! of the process (libtest's main thread) waits for the test without
//! holding a lock the grandchild takes.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::time::{Duration, Instant};

use common::{reap, spawn_child, ShmName, CHILD_ENV};
use ringway::{
    broadcast, mpmc, record, spsc, CorruptError, HandleError, Kind, PopError, PopTimeoutError,
    PushError, PushTimeoutError, Ring, RingBuilder, Role,
};

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(60);
const SHORT: Duration = Duration::from_millis(1);

/// Drops the grandchild's copy of `value` (the original is never dropped
/// there: the grandchild leaves with `_exit`).
fn drop_copy<T>(value: &T) {
    // SAFETY: a bitwise copy of `value`, dropped once, in a process where
    // `value` itself is never used again nor dropped.
    drop(unsafe { core::ptr::read(value) });
}

fn push_forked<T>(r: Result<(), PushError<T>>) -> bool {
    matches!(r, Err(PushError::Corrupt(e)) if e.is_forked())
}

fn push_wait_forked<T>(r: Result<(), PushTimeoutError<T>>) -> bool {
    matches!(r, Err(PushTimeoutError::Corrupt(e)) if e.is_forked())
}

fn pop_forked<T>(r: Result<T, PopError>) -> bool {
    matches!(r, Err(PopError::Corrupt(e)) if e.is_forked())
}

fn pop_wait_forked<T>(r: Result<T, PopTimeoutError>) -> bool {
    matches!(r, Err(PopTimeoutError::Corrupt(e)) if e.is_forked())
}

fn corrupt_forked<T>(r: Result<T, CorruptError>) -> bool {
    matches!(r, Err(e) if e.is_forked())
}

/// The exit code for `checks`: 0 when all hold, else the first failing
/// one's number (from 1).
fn code(checks: &[bool]) -> i32 {
    checks.iter().position(|ok| !ok).map_or(0, |i| i as i32 + 1)
}

/// Forks; the grandchild runs `child` and leaves with its code (through
/// `_exit`: no harness, no destructors of the parent's objects); the
/// caller gets the code.
fn fork_and_wait(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: see the module docs for what the grandchild runs; it never
    // returns from this function.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child();
        // SAFETY: ends the grandchild without running the harness on.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: our own child; `status` is ours.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid");
    assert!(libc::WIFEXITED(status), "the grandchild died: {status:#x}");
    libc::WEXITSTATUS(status)
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap()
}

/// Runs the ignored test `entry` as a child process on the ring `name`.
fn in_child(entry: &str, name: &ShmName) {
    let child = spawn_child(entry, "forker", &[("RING", name.0.clone())]);
    reap(child, entry);
}

#[test]
#[ignore = "child process of the test in this file"]
fn spsc_child() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    let name = var("RING");
    let ring = Ring::open_shm(&name).unwrap();
    let mut tx = spsc::Producer::<u64>::attach(&ring).unwrap();
    let mut rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    tx.try_push(1).unwrap();
    tx.try_push(2).unwrap();
    let parent = std::process::id();

    let code = fork_and_wait(|| {
        let checks = [
            push_forked(tx.try_push(99)),
            push_wait_forked(tx.push_timeout(99, SHORT)),
            push_wait_forked(tx.push_blocking(99)),
            corrupt_forked(tx.push_slice(&[99, 99])),
            corrupt_forked(tx.write_chunk(1).map(|_| ())),
            corrupt_forked(tx.free_slots()),
            push_wait_forked(tx.wait_for_free(1, None).map(|_| ())),
            pop_forked(rx.try_pop()),
            pop_wait_forked(rx.pop_timeout(SHORT)),
            pop_wait_forked(rx.pop_blocking()),
            pop_forked(rx.peek().map(|_| ())),
            corrupt_forked(rx.pop_into(&mut [0; 2])),
            corrupt_forked(rx.read_chunk(1).map(|_| ())),
            corrupt_forked(rx.ready_slots()),
            pop_wait_forked(rx.wait_for_ready(1, None)),
        ];
        // Dropping the copies leaves the parent's roles: a new handle in
        // the child finds them held by the parent.
        drop_copy(&tx);
        drop_copy(&rx);
        let ring = Ring::open_shm(&name).unwrap();
        let taken = |e| matches!(e, HandleError::RoleTaken { pid, .. } if pid == parent);
        let roles = [
            spsc::Producer::<u64>::attach(&ring)
                .err()
                .is_some_and(taken),
            spsc::Consumer::<u64>::attach(&ring)
                .err()
                .is_some_and(taken),
        ];
        code(&[code(&checks) == 0, code(&roles) == 0])
    });
    assert_eq!(code, 0, "a check of the grandchild failed");

    // The parent's handles work on, and its consumer sees exactly its
    // messages.
    tx.try_push(3).unwrap();
    for want in 1..=3 {
        assert_eq!(rx.try_pop(), Ok(want));
    }
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // Its roles are still its own.
    assert!(matches!(
        spsc::Producer::<u64>::attach(&ring),
        Err(HandleError::RoleTaken { role: Role::Producer, pid }) if pid == parent
    ));
}

#[test]
fn a_forked_spsc_handle_is_refused_and_the_parents_ring_is_untouched() {
    let name = ShmName::new("fork-spsc");
    let _ring = RingBuilder::new(Kind::Spsc)
        .capacity(8)
        .message::<u64>()
        .create_shm(&name.0)
        .unwrap();
    in_child("spsc_child", &name);
}

#[test]
#[ignore = "child process of the test in this file"]
fn mpmc_child() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    let name = var("RING");
    let ring = Ring::open_shm(&name).unwrap();
    let mut tx = mpmc::Producer::<u64>::attach(&ring).unwrap();
    let mut rx = mpmc::Consumer::<u64>::attach(&ring).unwrap();
    tx.try_push(1).unwrap();
    tx.try_push(2).unwrap();
    // A chunk held across the fork: the child's copy of it must not end
    // the parent's claim (an MPMC chunk dropped unfilled publishes its
    // slots as skipped, and the consumer would pass over them).
    let mut chunk = tx.write_chunk(1).unwrap();
    assert_eq!(chunk.len(), 1);
    assert_eq!(
        fork_and_wait(|| {
            drop_copy(&chunk);
            0
        }),
        0
    );
    assert_eq!(rx.try_pop(), Ok(1));
    assert_eq!(rx.try_pop(), Ok(2));
    assert_eq!(rx.try_pop(), Err(PopError::Busy), "the claim is still held");
    chunk.get_mut(0).map(|slot| *slot = 7).unwrap();
    chunk.commit_all();

    let code = fork_and_wait(|| {
        let checks = [
            push_forked(tx.try_push(99)),
            push_wait_forked(tx.push_timeout(99, SHORT)),
            push_wait_forked(tx.push_blocking(99)),
            corrupt_forked(tx.push_slice(&[99, 99])),
            corrupt_forked(tx.write_chunk(1).map(|_| ())),
            corrupt_forked(tx.free_slots()),
            push_wait_forked(tx.wait_for_free(1, None).map(|_| ())),
            pop_forked(rx.try_pop()),
            pop_wait_forked(rx.pop_timeout(SHORT)),
            pop_wait_forked(rx.pop_blocking()),
            corrupt_forked(rx.pop_into(&mut [0; 2])),
            corrupt_forked(rx.read_chunk(1).map(|_| ())),
            corrupt_forked(rx.ready_slots()),
            pop_wait_forked(rx.wait_for_ready(1, None)),
        ];
        drop_copy(&tx);
        drop_copy(&rx);
        // A producer of the child's own works as any other: on the ring
        // opened again, and on the `Ring` inherited from the parent.
        let push = |ring: &Ring, value| {
            mpmc::Producer::<u64>::attach(ring)
                .map(|mut tx| tx.try_push(value).is_ok())
                .unwrap_or(false)
        };
        let fresh = push(&Ring::open_shm(&name).unwrap(), 100);
        let inherited = push(&ring, 101);
        code(&[code(&checks) == 0, fresh, inherited])
    });
    assert_eq!(code, 0, "a check of the grandchild failed");

    tx.try_push(3).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    while got.len() < 4 {
        assert!(Instant::now() < deadline, "only {got:?} came");
        match rx.try_pop() {
            Ok(v) => got.push(v),
            Err(PopError::Empty | PopError::Busy) => std::thread::yield_now(),
            Err(e) => panic!("pop: {e}"),
        }
    }
    // The parent's messages and the new producer's, in position order;
    // nothing of the copies.
    assert_eq!(got, [7, 100, 101, 3]);
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // The fresh producer left its entry; the parent's two remain.
    let pids: Vec<u32> = ring.peers().iter().map(|p| p.pid).collect();
    assert_eq!(pids, [std::process::id(); 2]);
}

#[test]
fn a_forked_mpmc_handle_is_refused_and_a_fresh_one_works() {
    let name = ShmName::new("fork-mpmc");
    let _ring = RingBuilder::new(Kind::Mpmc)
        .capacity(8)
        .message::<u64>()
        .create_shm(&name.0)
        .unwrap();
    in_child("mpmc_child", &name);
}

#[test]
#[ignore = "child process of the test in this file"]
fn record_child() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    let ring = Ring::open_shm(&var("RING")).unwrap();
    let mut tx = record::Producer::attach(&ring).unwrap();
    let mut rx = record::Consumer::attach(&ring).unwrap();
    tx.try_push(b"one").unwrap();
    let code = fork_and_wait(|| {
        let checks = [
            push_forked(tx.try_push(b"child")),
            push_forked(tx.try_reserve(4).map(|_| ())),
            push_wait_forked(tx.push_timeout(b"child", SHORT)),
            pop_forked(rx.try_read().map(|_| ())),
            pop_forked(rx.try_pop_vec()),
            pop_wait_forked(rx.read_timeout(SHORT).map(|_| ())),
            corrupt_forked(rx.has_record()),
            corrupt_forked(rx.heal_dead_producers()),
        ];
        code(&checks)
    });
    assert_eq!(code, 0, "a check of the grandchild failed");
    tx.try_push(b"two").unwrap();
    assert_eq!(rx.try_pop_vec().unwrap(), b"one");
    assert_eq!(rx.try_pop_vec().unwrap(), b"two");
    assert_eq!(rx.try_pop_vec(), Err(PopError::Empty));
}

#[test]
fn a_forked_record_handle_is_refused() {
    let name = ShmName::new("fork-rec");
    let _ring = RingBuilder::new(Kind::Record)
        .capacity(1024)
        .create_shm(&name.0)
        .unwrap();
    in_child("record_child", &name);
}

#[test]
#[ignore = "child process of the test in this file"]
fn broadcast_child() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    let ring = Ring::open_shm(&var("RING")).unwrap();
    let mut tx = broadcast::Producer::attach(&ring).unwrap();
    let mut sub = broadcast::Subscriber::attach(&ring, broadcast::Start::Oldest).unwrap();
    tx.try_push(b"one").unwrap();
    let code = fork_and_wait(|| {
        let mut buf = Vec::with_capacity(64);
        let checks = [
            push_forked(tx.try_push(b"child")),
            push_wait_forked(tx.push_timeout(b"child", SHORT)),
            pop_forked(sub.try_pop_into(&mut buf)),
            pop_wait_forked(sub.pop_timeout_into(&mut buf, SHORT)),
        ];
        code(&checks)
    });
    assert_eq!(code, 0, "a check of the grandchild failed");
    tx.try_push(b"two").unwrap();
    let mut buf = Vec::new();
    for want in [&b"one"[..], b"two"] {
        sub.try_pop_into(&mut buf).unwrap();
        assert_eq!(buf, want);
    }
    assert_eq!(sub.try_pop_into(&mut buf), Err(PopError::Empty));
}

#[test]
fn a_forked_broadcast_handle_is_refused() {
    let name = ShmName::new("fork-bc");
    let _ring = RingBuilder::new(Kind::Broadcast)
        .capacity(1024)
        .gated(true)
        .create_shm(&name.0)
        .unwrap();
    in_child("broadcast_child", &name);
}
