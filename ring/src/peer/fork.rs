//! Liveness tokens across `fork`: a child must not keep its parent's
//! tokens alive.
//!
//! A token is an OFD lock held by an open file description (`token.rs`),
//! and `fork` gives the child a reference to every description of its
//! parent (close-on-exec does not apply to `fork`). The kernel drops the
//! lock when the *last* reference goes, so without this module a parent's
//! handles looked alive for as long as a child it forked lived: their
//! claims were never healed and `PeerGone` never reported.
//!
//! So every descriptor made for a token is listed here, and a
//! `pthread_atfork` child handler points each listed descriptor of the
//! child at `/dev/null` (`dup3`, close-on-exec): the child's reference to
//! the parent's description is gone, the lock stays the parent's (dropped
//! when the parent dies or drops the handle), and the number stays open
//! for the `File` that owns it in the child's copy of the handle, so
//! dropping that copy closes `/dev/null`, never an unrelated descriptor.
//!
//! ```text
//! GATE   u32          1 while a token is being opened/closed, or a fork is under way
//! TOKENS [u32; 4096]  fd + 1 of each listed token description, 0 = free slot
//!
//! thread opening a token   lock GATE | reopen, lock byte later | list fd   | unlock GATE
//! thread closing a token   lock GATE | unlist fd | close         | unlock GATE
//! fork (prepare)           lock GATE
//!      (parent)            unlock GATE
//!      (child)             dup3(/dev/null, fd) for each listed fd; clear TOKENS; unlock GATE
//! ```
//!
//! The gate makes "listed" and "open" one state for a fork: a descriptor
//! is never open and unlisted, nor listed and closed (which could make
//! the child overwrite a number reused by something else).
//!
//! # The fork count
//!
//! A forked copy of a handle is not a handle of the child: its entry, its
//! role and its claims are the parent's. So the child handler also moves
//! every mapping of the process to its next fork generation
//! (`sigbus::after_fork`), in the flags that hold each mapping's SIGBUS
//! poison flag: the count goes up, every generation's word is set, and the
//! child's own generation's word is cleared. A handle keeps the count it
//! attached at (`Ring::forks`, in its core's `Place` and its `Peer`) and its
//! generation's word; every call that touches the ring tests the word
//! first and, when it is set, compares the counts: the forked error
//! ([`CorruptError::is_forked`](crate::CorruptError::is_forked), C:
//! `RINGWAY_ERR_FORKED`) before it reads or writes anything shared. The
//! single push and pop test the word in the poison check they made anyway
//! (one load and a test for 0, as before); the other calls ask
//! `Side::check_fork` (the same word, then `Peer::check_fork`). The
//! parent's handles are untouched (its flags do not move); a handle the
//! child attaches, to the inherited `Ring` or to one it opens again, takes
//! the new count and its clear word, and works.
//!
//! ```text
//! sigbus Flags (per mapping, process memory)
//!   state     u32      POISONED (bit 31) | fork count (bits 0-30)
//!   fast[8]   u32      fast[g] == 0: handles attached at count g go on;
//!                      fast[7] is never 0 (generations 7 and later share it
//!                      and always take the slow path: right, slower)
//!   fork child handler count + 1; every fast word set; fast[count] = 0
//!                      (load/store: the child's only thread, before any code
//!                      of its own)
//!   SIGBUS handler     POISONED in state and in every fast word
//!   handle check       fast[g] != 0 -> slow: POISONED -> truncated;
//!                      count != g -> forked; else go on
//! ```
//!
//! Cost, `ring/examples/fastpath` (one thread, push then pop), before/after
//! interleaved in one run on the shared 2-core machine (load 2.3-2.6): SPSC
//! single 5.73-5.75 / 5.72-5.74 ns a message, within noise. Two placements
//! were measured and dropped: a static epoch compared above the seam (SPSC
//! +10%), and the count compared with the handle's own in the poison check
//! (SPSC +2-5%, MPMC +5%: the load of the handle's count); a test for 0 of
//! a word per generation costs what the poison flag's test did.
//!
//! Limits: a process with more than [`SLOTS`] tokens open at once leaves
//! the extra ones unlisted (a child keeps those alive, as before); a child
//! in which `/dev/null` cannot be opened keeps them all. A forked copy of a
//! handle neither leaves the entry (`Peer::leave`) nor frees its role
//! (`Ring::release_role`) nor takes reaping locks (`Peer::lock`) when it
//! is dropped, and its calls return the forked error. A child made without
//! the `pthread_atfork` handlers (a raw `clone`, glibc's `_Fork`, or a
//! process where `pthread_atfork` failed for lack of memory) does not bump
//! the count: its copies are not refused. A chunk or a record lent before
//! the fork still points into the ring in the child: the child's copy ends
//! nothing (commit, release and drop are refused), but its views of the
//! slots are plain memory, which the child should not write.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Once;

use crate::loom::untracked::AtomicU32;
use core::sync::atomic::Ordering;

/// Token descriptors listed at once, at most.
pub(crate) const SLOTS: usize = 4096;

/// 1 while someone holds the gate (see the module docs).
static GATE: AtomicU32 = AtomicU32::new(0);
/// `fd + 1` of each listed token description; 0 is a free slot.
static TOKENS: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
static HANDLERS: Once = Once::new();

/// Installs the `fork` handlers, for a handle about to attach (a ring in
/// caller memory has no token, so `open_listed` may never have run): a
/// child of this process then sees its handles' fork count moved.
pub(crate) fn install_handlers() {
    HANDLERS.call_once(install);
}

fn lock_gate() {
    // Acquire: pairs with the Release in `unlock_gate`; what the last
    // holder listed or closed comes before what we do.
    while GATE
        .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::thread::yield_now();
    }
}

fn unlock_gate() {
    // Release: pairs with the Acquire CAS in `lock_gate`.
    GATE.store(0, Ordering::Release);
}

/// Runs `open` (which makes a token's description) with the gate held and
/// lists the descriptor it returns, so no `fork` sees it open and unlisted.
///
/// # Errors
/// `open`'s.
pub(crate) fn open_listed(open: impl FnOnce() -> io::Result<File>) -> io::Result<File> {
    install_handlers();
    lock_gate();
    let file = open();
    if let Ok(file) = &file {
        let value = file.as_raw_fd() as u32 + 1;
        // Relaxed: the gate orders the table for every reader.
        let _ = TOKENS.iter().any(|slot| {
            slot.compare_exchange(0, value, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        });
    }
    unlock_gate();
    file
}

/// Unlists `file`'s descriptor and closes it, with the gate held.
pub(crate) fn close_listed(file: File) {
    lock_gate();
    let value = file.as_raw_fd() as u32 + 1;
    // Relaxed: as in `open_listed`. Not found: a forked copy (the child
    // handler cleared the table) or a full table; closing is right for both.
    let _ = TOKENS.iter().any(|slot| {
        slot.compare_exchange(value, 0, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    });
    drop(file);
    unlock_gate();
}

fn install() {
    // SAFETY: the three handlers are `extern "C"` functions without
    // arguments that only touch atomics and make async-signal-safe calls
    // (`open`, `dup3`, `close`), as a handler run after `fork` must.
    let rc = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) };
    // ENOMEM: no handler; a child then keeps tokens alive, as before.
    let _ = rc;
}

extern "C" fn prepare() {
    lock_gate();
}

extern "C" fn parent() {
    unlock_gate();
}

extern "C" fn child() {
    // SAFETY: a NUL-terminated path; `open` is async-signal-safe.
    let null = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    for slot in &TOKENS {
        // Relaxed: we hold the gate (taken in `prepare`), alone in the child.
        let value = slot.swap(0, Ordering::Relaxed);
        if value == 0 || null < 0 {
            continue;
        }
        // SAFETY: `value - 1` is a descriptor a token of our copy of the
        // parent's memory owns; replacing it keeps it open, on another file.
        unsafe { libc::dup3(null, (value - 1) as i32, libc::O_CLOEXEC) };
    }
    if null >= 0 {
        // SAFETY: our own descriptor from `open` above.
        unsafe { libc::close(null) };
    }
    // Every handle inherited from the parent now fails its check.
    crate::sigbus::after_fork();
    unlock_gate();
}
