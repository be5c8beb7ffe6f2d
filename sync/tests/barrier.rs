//! The asymmetric barrier: on a kernel with `membarrier`, notifies make no
//! hardware fence and a parked waiter is still woken, also by a notifier in a
//! child forked after this process registered (which must register again).
//! The pairings across processes (and with a process that cannot register)
//! are tested over real rings in `ring/tests/barrier.rs`.
#![cfg(all(not(loom), target_os = "linux"))]

use std::time::{Duration, Instant};

use ringway_sync::{Barrier, Event, WaitStrategy};

/// Whether the kernel offers `MEMBARRIER_CMD_GLOBAL_EXPEDITED`.
fn kernel_has_global_expedited() -> bool {
    // SAFETY: MEMBARRIER_CMD_QUERY takes no pointers.
    let mask = unsafe { libc::syscall(libc::SYS_membarrier, 0, 0, 0) };
    mask > 0 && mask & (1 << 1) != 0
}

#[test]
fn the_mode_follows_the_kernel() {
    assert_eq!(ringway_sync::asymmetric(), kernel_has_global_expedited());
}

#[test]
fn the_mode_round_trips_through_its_raw_value() {
    for b in [Barrier::Symmetric, Barrier::Asymmetric] {
        assert_eq!(Barrier::from_raw(b.as_raw()), Some(b));
    }
    assert_eq!(Barrier::from_raw(0), None);
    assert_eq!(Barrier::from_raw(3), None);
    assert!(Barrier::Symmetric.available());
    assert_eq!(Barrier::Asymmetric.available(), ringway_sync::asymmetric());
}

#[test]
fn a_child_forked_after_registration_wakes_its_parent() {
    forked_notifier_wakes_its_parent(false);
}

#[test]
fn a_forked_child_that_cannot_register_wakes_its_parent_with_a_full_fence() {
    // The notifier of an asymmetric handshake that is not registered falls
    // back to `fence(SeqCst)`, which pairs with the waiter's own fence.
    forked_notifier_wakes_its_parent(true);
}

/// A child forked after this process registered publishes and notifies an
/// asymmetric handshake while the parent is parked; with `unregistered`, the
/// child first makes its own registration fail (`RINGWAY_BARRIER=symmetric`).
fn forked_notifier_wakes_its_parent(unregistered: bool) {
    // Register this process first, so that the child inherits the mode word
    // but not the registration.
    let _ = ringway_sync::asymmetric();
    // SAFETY: a fresh anonymous shared mapping of one page.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(mem, libc::MAP_FAILED);
    let event = mem.cast::<Event>();
    // SAFETY: the page is zeroed; an all-zero Event is valid.
    let event: &Event = unsafe { &*event };
    // SAFETY: the flag lives in the same page, after the Event, 4-aligned.
    let flag: &std::sync::atomic::AtomicU32 = unsafe {
        &*(mem
            .cast::<u8>()
            .add(64)
            .cast::<std::sync::atomic::AtomicU32>())
    };
    let before = ringway_sync::stats();
    // SAFETY: the child only sleeps, stores, notifies and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        if unregistered {
            std::env::set_var(ringway_sync::BARRIER_ENV, "symmetric");
            if ringway_sync::asymmetric() {
                // SAFETY: leaves the child at once, reporting failure.
                unsafe { libc::_exit(3) };
            }
        }
        std::thread::sleep(Duration::from_millis(100));
        // Release: pairs with the parent's Acquire load in `ready`.
        flag.store(1, std::sync::atomic::Ordering::Release);
        event.notify_in(Barrier::Asymmetric);
        // SAFETY: leaves the child at once.
        unsafe { libc::_exit(0) };
    }
    let start = Instant::now();
    let got = event.wait_in(
        Barrier::Asymmetric,
        WaitStrategy::Park,
        Some(start + Duration::from_secs(10)),
        || {
            // Acquire: pairs with the child's Release store.
            (flag.load(std::sync::atomic::Ordering::Acquire) == 1).then_some(())
        },
    );
    let mut status = 0;
    // SAFETY: our own child; `status` is a valid out pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert_eq!(status, 0);
    assert_eq!(got, Ok(()));
    if kernel_has_global_expedited() {
        assert!(ringway_sync::stats().since(before).barrier_syscalls > 0);
    }
    // SAFETY: unmapping the page mapped above; nothing refers to it any more.
    unsafe { libc::munmap(mem, 4096) };
}

/// Makes every later `membarrier` of this (single-threaded, forked) process
/// fail with `EPERM`, as a seccomp sandbox would.
fn forbid_membarrier() -> bool {
    let filter = [
        // Load the syscall number (offset 0 of `struct seccomp_data`).
        libc::sock_filter {
            code: (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: libc::SYS_membarrier as u32,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
        },
        libc::sock_filter {
            code: (libc::BPF_RET | libc::BPF_K) as u16,
            jt: 0,
            jf: 0,
            k: libc::SECCOMP_RET_ALLOW,
        },
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers; PR_SET_SECCOMP reads the
    // program, which lives on this stack frame for the call.
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog,
            ) == 0
    }
}

#[test]
fn a_waiter_whose_membarrier_fails_rechecks_within_a_slice() {
    // The pairing "registered light notifier, waiter whose membarrier fails
    // at run time": the waiter cannot drain the notifier, so it must not
    // sleep longer than SYMMETRIC_SLICE. Shown in its worst case: the
    // publisher never notifies at all, and the parked waiter still sees the
    // publication, after several slices, long before its own deadline.
    if !kernel_has_global_expedited() {
        eprintln!("membarrier unavailable: nothing to fail");
        return;
    }
    let _ = ringway_sync::asymmetric();
    // SAFETY: a fresh anonymous shared mapping of one page.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(mem, libc::MAP_FAILED);
    // SAFETY: the page is zeroed; an all-zero Event is valid.
    let event: &Event = unsafe { &*mem.cast::<Event>() };
    // SAFETY: the flag lives in the same page, after the Event, 4-aligned.
    let flag: &std::sync::atomic::AtomicU32 = unsafe {
        &*(mem
            .cast::<u8>()
            .add(64)
            .cast::<std::sync::atomic::AtomicU32>())
    };
    // SAFETY: the child only installs a filter, waits and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0);
    if pid == 0 {
        let code = if !forbid_membarrier() {
            10
        } else {
            let before = ringway_sync::stats();
            let start = Instant::now();
            let got = event.wait_in(
                Barrier::Asymmetric,
                WaitStrategy::Park,
                Some(start + Duration::from_secs(30)),
                || {
                    // Acquire: pairs with the parent's Release store.
                    (flag.load(std::sync::atomic::Ordering::Acquire) == 1).then_some(())
                },
            );
            let used = ringway_sync::stats().since(before);
            if got.is_err() {
                11
            } else if start.elapsed() > Duration::from_secs(10) {
                12
            } else if used.barrier_syscalls != 1 || used.wait_syscalls < 2 {
                13
            } else {
                0
            }
        };
        // SAFETY: leaves the child at once.
        unsafe { libc::_exit(code) };
    }
    std::thread::sleep(Duration::from_millis(200));
    // Release: pairs with the child's Acquire load. No notify, on purpose.
    flag.store(1, std::sync::atomic::Ordering::Release);
    let mut status = 0;
    // SAFETY: our own child; `status` is a valid out pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child exit code (see the test)"
    );
    // SAFETY: unmapping the page mapped above; nothing refers to it any more.
    unsafe { libc::munmap(mem, 4096) };
}
