//! The peer registry: who is attached to a ring, and whether they still live.
//!
//! Every attached handle of every kind (SPSC, MPMC, record and broadcast;
//! producers, consumers and subscribers) holds an entry of a table mapped
//! right after the header
//! ([`table`](self) for the layout). The entry says who holds it and what it
//! holds in flight, so that a survivor can clean up after a holder that died:
//!
//! ```text
//! region offset 2048: PeerTable (4096 B)
//!   +0    producer_left u32, consumer_left u32   how the last holder of each role left
//!   +8    lost u64                               MPMC messages lost with dead consumers
//!   +16   reaped u64                             dead entries cleaned up so far
//!   +24   producer_deaths u32, consumer_deaths u32  holders of each role found dead
//!   +128  entries[62] x 64 B:
//!           pid u32 | info u32 (role, token, waiter bits, generation << 8)
//!           start_time u64 | pid_ns u64 | claim_pos u64 | claim_len u64 | reserved
//! ```
//!
//! What `claim_pos`/`claim_len` hold by kind: MPMC, the claim in flight
//! (`mpmc::heal`); record producer, the claim in flight, record consumer,
//! the bytes it is freeing (`record::heal`); broadcast subscriber, its
//! cursor in `claim_pos` (read by a gated producer); SPSC, nothing.
//!
//! The single roles (both SPSC roles, the record consumer, the broadcast
//! producer: `single_role`) are named by a role word in the header that
//! holds a registration, `generation << 8 | (index + 1)`, and are taken over
//! from a dead holder on attach.
//!
//! # Identity
//!
//! `pid` + process start time (field 22 of `/proc/PID/stat`) + the pid
//! namespace's inode + a 24-bit generation bumped by each registration of the
//! entry. An SPSC role word holds `generation << 8 | (index + 1)`, so a role
//! points at one registration, never at a pid that may have been recycled.
//!
//! # Liveness token
//!
//! Each handle write-locks the byte of its entry with an open-file-description
//! lock (`F_OFD_SETLK`) on its own description of the ring object
//! (`token.rs`). The kernel drops that lock when the holder's last thread is
//! gone, and anyone who maps the object tests it with `F_OFD_GETLK` through
//! another description, from any pid namespace that shares the object. So
//! "dead" is the kernel's word, not a guess from a pid: no false "alive"
//! after pid reuse, no false "dead" across namespaces, and no late write
//! from a "dead" holder (its threads are gone).
//!
//! Alternatives measured or considered: a pidfd per peer needs the peer's
//! pid in our namespace and a descriptor per peer per observer; `kill(pid,
//! 0)` plus the start time is a signal probe and a read of `/proc` per
//! check, wrong across namespaces, for zombies and for a recycled pid whose
//! start time `/proc` cannot give. Measured (`examples/liveness_cost.rs`,
//! release, 2-core machine under load 15): the OFD test 1.9 µs per check,
//! pid + `/proc` 87 µs, the clock read that rate-limits the checks of the
//! non-blocking calls 33 ns (`Instant::now`; since then the coarse clock,
//! ~5 ns: [`CLOCK_EVERY`]). The OFD test is made only on slow
//! paths: when a call would otherwise report empty/full (at most once per
//! [`CHECK_INTERVAL`] per handle, looking at the clock every
//! [`CLOCK_EVERY`]-th such call), by blocking waits once per
//! [`LIVENESS_SLICE`] per handle (one schedule across calls, `wait.rs`),
//! on attach and in inspection tools. The push and pop fast paths never
//! make it.
//!
//! **Fallbacks.** Anonymous rings are memfds: the token works on them. Rings in
//! caller memory (`create_in`/`open_in`) have no object to lock: entries
//! record no token bit and liveness falls back to pid + start time (and not a
//! zombie), trusted only between processes of the same pid namespace (a
//! holder from another namespace is assumed alive).
//!
//! **`fork`.** A forked child inherits a reference to each of its parent's
//! descriptions, which kept a dead parent's locks, so its handles looked
//! alive for as long as the child lived. Every token description is
//! therefore listed (`fork.rs`) and a `pthread_atfork` child handler
//! points the child's descriptors at `/dev/null`: the locks stay the
//! parent's alone (`tests/fork_liveness.rs`). A forked copy of a handle
//! belongs to the parent: the child may drop it (which neither leaves the
//! entry, nor frees its role, nor unlocks), it takes no reaping locks, and
//! every call of it that would touch the ring returns the forked error
//! ([`CorruptError::is_forked`](crate::CorruptError::is_forked)): each
//! registration copies its mapping's fork count, which the `fork` child
//! handler bumps (`fork.rs`), and `Peer::check_fork` (and the cores' poison
//! check) compares; the child attaches handles of its own
//! (`tests/fork_handles.rs`). `exec`
//! closes the descriptions anyway (close-on-exec).
//!
//! # Registration and reaping
//!
//! | step | who | what |
//! |---|---|---|
//! | take entry `i` | attaching handle | OFD-lock byte `i` (fails: alive holder, next); if `pid != 0`, reap it first; CAS `pid` to ours; write start time, namespace, claim 0, then `info` |
//! | leave | handle drop | clear `claim_len`, set `*_left = DETACHED`, store `pid = 0` (Release), then close the description (unlock) |
//! | reap entry `i` | any survivor that found it dead | OFD-lock byte `i` (exclusive with registrants and other reapers; fails: alive), re-read `pid` (0: left cleanly, nothing to do), set `REAPING` in `info` and undo waiter registrations (one RMW), heal the claim in flight (MPMC: `mpmc::heal`; record: `record::heal`, a producer's claim only by the consumer), free its single role, set `*_left = DIED`, count the death, wake the sleepers of both events, store `pid = 0`, clear `REAPING`, unlock |
//!
//! While a reaper holds byte `i`, `F_OFD_GETLK` reports it locked exactly as
//! for a live holder; `REAPING` (set before the death is counted, Release)
//! is how the others tell: an entry with it is dead (`liveness`). Without
//! it a handle that looked in that window counted the dying entry as a live
//! peer and acknowledged the death as old news, so it never reported
//! `PeerGone` (the torture test's intermittent 30 s consumer stall).
//!
//! A holder stores `pid = 0` before it unlocks, and a registrant locks before
//! it stores its pid, so "locked byte" covers "pid set" for every live holder:
//! whoever holds the lock on a byte whose `pid` is set knows its holder died.
//!
//! # Waiter registrations
//!
//! A handle about to park sets `WAIT_DATA`/`WAIT_SPACE` in its `info` before it
//! registers in the event and clears it after it deregisters
//! (`Event::wait_noting`). A reaper that clears a set bit undoes one
//! registration (`Event::forget_waiter`), so a consumer killed while parked
//! costs later pushes no wake syscall. A death between setting the bit and
//! registering makes the reaper take away a registration that was never
//! made; a live waiter may then miss one wake and sleep until the end of its
//! slice: every wait of a ring is sliced ([`LIVENESS_SLICE`]), so this costs
//! latency, never a hang.
//!
//! # Peer gone
//!
//! A side learns that its peer is gone when no holder of the other role is
//! alive, the last one to leave died (`*_left == DIED`, set by the reaper),
//! and that death came after this handle attached (or after it last saw a
//! live peer): `*_deaths` moved past the count the handle acknowledged. A
//! clean detach is not "gone": a new peer may attach and the ring goes on;
//! and a handle attached after a crash (a restarted reader, say) waits for a
//! new peer instead of reporting the old death (attach reaps every dead
//! entry first, then takes the count). Each death is reported once per
//! handle: after `PeerGone` the handle's calls wait (or say empty/full)
//! until a new peer attaches or another one dies, so a pipeline whose peer
//! restarts goes on with the same handle.
//! A consumer reports it only once the ring is drained at its cursor, a
//! producer only when it would otherwise wait for space.

//! # How soon a death is seen
//!
//! A survivor reports a death in three steps, each with its own bound:
//!
//! | step | bound | who is at fault when it is late |
//! |---|---|---|
//! | SIGKILL -> the kernel drops the token | the killed process must run its exit (`exit_files` after `exit_mm`; a file-backed process may close other files first) | the scheduler: the dying process waits for a CPU |
//! | token dropped -> the survivor looks | a blocking call: [`LIVENESS_SLICE`] after its last look (not after the wait began: `wait.rs`); a non-blocking call that keeps finding nothing: [`CHECK_INTERVAL`] plus a coarse clock tick, counted in its own calls | the ring, up to the slice; beyond it, the scheduler: the survivor's timer fired and it waits for a CPU |
//! | look -> the call returns | one `fcntl`, the reaping (a few µs; MPMC healing: the claim's slots) | - |
//!
//! A death that another handle finds first (another consumer of an MPMC
//! ring, a restarted peer's attach, `ringway gc`) ends the slice at once:
//! the reaper that counts it wakes the ring's sleepers, whose waits watch
//! the death count of their peer's role (`wait.rs`), and they look (a
//! parked SPSC consumer returned `PeerGone` 0.1-3.7 ms after a tool reaped
//! its producer, `tests/peers_die.rs`). A hint, not a protocol a peer must
//! follow: a sleeper that a reaper of an older build does not wake still
//! looks within its slice, so the layout and the ABI are unchanged.
//!
//! So what is guaranteed is **the slice after the kernel drops the token,
//! plus what the scheduler adds on both sides**: 25 ms on a machine with a
//! CPU to spare. `tests/torture.rs` prints each detection split that way
//! (the exit from `waitid`, both sides' run delays from `schedstat`).
//! Measured on the 2-core development machine, shared with other work
//! (`scripts/torture.sh`, release, 2,000 kills each; p50 / p99 / max of
//! SIGKILL -> `PeerGone`, shm and file rings):
//!
//! | survivor | before `Looks`, load 3.3-5.3 | after, load 4.3-5.1 |
//! |---|---|---|
//! | SPSC consumer, blocking | 25.1 / 28.7-35.6 / 35.8-50.2 ms | 18.8-19.7 / 24.8-24.9 / 25.2-25.4 ms |
//! | SPSC consumer, busy `try_pop` | 7.5-8.6 / 30.7 / 31.0 ms | 7.0 / 15.1-26.8 / 19.1-34.5 ms |
//! | SPSC producer, blocked on a full ring | 25.1 / 25.5-35.0 / 25.6-43.0 ms | 7.1-7.4 / 25.8-26.0 / 26.2-29.0 ms |
//! | MPMC producer healing a dead consumer's claim | 25.2 / 26.5-27.6 / 28.4-31.0 ms | 8.8-11.4 / 25.4-25.6 / 27.3-29.6 ms |
//!
//! On a quiet machine (load 1.0-1.4, 2,000 kills, after the merge with
//! ABI 9) every scenario's longest detection was 24.9-25.5 ms (p99
//! 24.7-25.2), the slice, and the longest MPMC consumer stall 26.3 ms.
//! The whole `scripts/torture.sh` (10,004 kills, load 4.0-5.5, after):
//! p99 at most 28.7 ms in every scenario, the longest 84.1 ms (a busy
//! poller whose killed producer took 83.9 ms to exit, 76 ms of it blocked
//! in its exit, while the poller waited 52 ms for a CPU). With four more
//! busy loops (800 kills, load 5.4-10.3 before, 9.7-9.9 after) the
//! longest was 75.8 ms before and 57.4 ms after. Past the
//! slice, the longest detections are made of the exit (the child waiting
//! for a CPU, or blocked in its exit: its main thread waiting for its
//! other threads, or closing files) and of the survivor's own run delay;
//! the torture prints the split of each scenario's longest. The blocking
//! consumer's p50 stays near 20 ms because of the test: its last look is
//! the previous death's report, 5 ms or so before the next producer is up
//! and killed. A parked waiter pays one wake-up and
//! one look per slice while its peer lives: 34-43 µs of CPU per wake-up
//! (`examples/parked_cost.rs`), 0.14-0.17% of a core at 25 ms (47-54 µs
//! and 0.19-0.22% before `Looks`, which spun again at every slice); a
//! 10 ms slice costs 0.31-0.35%. Neither a shorter slice nor pidfd readiness
//! (which a futex sleeper cannot wait on together with its futex) removes
//! the scheduler's part.

mod fork;
mod table;
#[cfg(all(test, not(loom)))]
mod tests;
mod token;
mod wait;
pub(crate) use wait::{wait_sliced, Looks};

pub(crate) use token::{reopen, Token};

use std::fs::File;
use std::time::Duration;

#[cfg(not(loom))]
pub(crate) use table::LAYOUT_FIELDS;
pub use table::{
    PeerEntry, PeerTable, LEFT_DETACHED, LEFT_DIED, LEFT_NONE, PEERS_OFFSET, PEER_TABLE_LEN,
    PEER_TABLE_SIZE,
};
pub(crate) use table::{
    GEN_SHIFT, REAPING, ROLE_CONSUMER, ROLE_MASK, ROLE_PRODUCER, TOKEN_OFD, WAIT_DATA, WAIT_SPACE,
};

use crate::error::{CorruptError, HandleError, Role};
use crate::layout::Kind;
use crate::loom::Ordering;
use crate::process;
use crate::ring::{Ring, Shared};

/// Longest time a waiting handle goes between two looks at its peer's
/// liveness: a parked side learns of its peer's death within this after
/// the kernel drops the dead peer's token (plus one check, plus the time
/// it waits for a CPU: see "How soon a death is seen").
pub const LIVENESS_SLICE: Duration = Duration::from_millis(25);

/// Least time between two liveness checks made by the non-blocking calls of
/// one handle that find the ring empty or full.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(10);

/// The non-blocking calls that find the ring empty or full look at the
/// clock (for [`CHECK_INTERVAL`]) on every this many-th call: a poller that
/// calls once per millisecond learns of a death within ~16 ms (plus the
/// coarse clock's tick, see `coarse_now_ns`), and a busy poll pays a
/// fraction of a nanosecond per empty result for the clock.
pub const CLOCK_EVERY: u32 = 16;

/// Monotonic nanoseconds of the clock that rate-limits the liveness checks
/// of the non-blocking calls: Linux's `CLOCK_MONOTONIC_COARSE` (the time of
/// the last timer tick: 1-10 ms resolution as `CONFIG_HZ` says, 4 ms on the
/// development machine), read through the vDSO in ~5 ns where
/// `Instant::now` (`CLOCK_MONOTONIC`) takes ~25 ns. So a check comes at
/// most [`CHECK_INTERVAL`] plus one tick after the last; busy polls (every
/// [`CLOCK_EVERY`]-th empty result reads it) pay ~0.3 ns a call instead of
/// ~1.5. Elsewhere, `CLOCK_MONOTONIC`.
fn coarse_now_ns() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC_COARSE;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is ours and writable; clock_gettime only writes it.
    if unsafe { libc::clock_gettime(CLOCK, &mut ts) } != 0 {
        // Not expected for a monotonic clock; "late" makes every look a
        // check, never a missed one.
        return u64::MAX;
    }
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

/// What the registry says about an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Nobody holds the entry.
    Free,
    /// Its holder lives (or cannot be shown dead).
    Alive,
    /// Its holder died and the entry was not cleaned up yet.
    Dead,
}

/// One registered handle as an inspection tool sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// Index in the table.
    pub index: usize,
    /// Pid of the holder (in its namespace).
    pub pid: u32,
    /// Start time of the holder process.
    pub start_time: u64,
    /// Generation of the registration.
    pub generation: u32,
    /// Producer or consumer.
    pub role: Option<Role>,
    /// Whether the holder keeps an OFD lock (otherwise pid-checked).
    pub ofd_token: bool,
    /// Whether it is registered as a waiter.
    pub waiting: bool,
    /// MPMC claim in flight: first position and length.
    pub claim: (u64, u64),
    /// Alive, or dead and not yet reaped.
    pub liveness: Liveness,
}

fn role_bits(role: Role) -> u32 {
    match role {
        Role::Producer => ROLE_PRODUCER,
        Role::Consumer => ROLE_CONSUMER,
    }
}

fn other(role: Role) -> Role {
    match role {
        Role::Producer => Role::Consumer,
        Role::Consumer => Role::Producer,
    }
}

fn role_of(info: u32) -> Option<Role> {
    match info & ROLE_MASK {
        ROLE_PRODUCER => Some(Role::Producer),
        ROLE_CONSUMER => Some(Role::Consumer),
        _ => None,
    }
}

/// Whether `role` of a `kind` ring has one holder at a time, named by the
/// header's role word (`producer_owner` / `consumer_owner`): both SPSC
/// roles, the record ring's consumer and the broadcast ring's producer.
/// The other roles (MPMC, record producers, broadcast subscribers) are held
/// by any number of handles and have no role word.
pub(crate) fn single_role(kind: Kind, role: Role) -> bool {
    matches!(
        (kind, role),
        (Kind::Spsc, _) | (Kind::Record, Role::Consumer) | (Kind::Broadcast, Role::Producer)
    )
}

/// The role word of a registration (see [`single_role`]).
pub(crate) fn role_word(index: usize, info: u32) -> u32 {
    ((info >> GEN_SHIFT) << 8) | (index as u32 + 1)
}

impl Shared {
    /// The mapped peer table.
    #[inline]
    pub(crate) fn peers(&self) -> &PeerTable {
        // SAFETY: `peers` points to a whole, aligned table inside the region
        // (total_len covers it, checked at create/open), which lives as long
        // as `self`; every byte of it is atomic or never read.
        unsafe { self.peers_ptr().as_ref() }
    }

    fn left_word(&self, role: Role) -> &crate::loom::untracked::AtomicU32 {
        match role {
            Role::Producer => &self.peers().producer_left,
            Role::Consumer => &self.peers().consumer_left,
        }
    }

    fn deaths_word(&self, role: Role) -> &crate::loom::untracked::AtomicU32 {
        match role {
            Role::Producer => &self.peers().producer_deaths,
            Role::Consumer => &self.peers().consumer_deaths,
        }
    }

    /// Holders of `role` found dead so far.
    pub(crate) fn deaths(&self, role: Role) -> u32 {
        // Acquire: pairs with the reaper's Release increment (its clean-up
        // is visible).
        self.deaths_word(role).load(Ordering::Acquire)
    }

    /// Whether the holder of entry `index` lives.
    pub(crate) fn liveness(&self, index: usize) -> Liveness {
        let Some(entry) = self.peers().entries.get(index) else {
            return Liveness::Free;
        };
        // Acquire: pairs with the holder's Release store of its pid, so its
        // `info` and identity are visible.
        let pid = entry.pid.load(Ordering::Acquire);
        if pid == 0 {
            return Liveness::Free;
        }
        // Acquire: as above.
        let info = entry.info.load(Ordering::Acquire);
        if info & REAPING != 0 {
            // A reaper holds the byte: the holder died (see `REAPING`).
            return Liveness::Dead;
        }
        if info & TOKEN_OFD != 0 {
            if let Some(file) = self.region_file() {
                match token::is_locked(file, PeerTable::lock_offset(index)) {
                    Ok(true) => return Liveness::Alive,
                    Ok(false) => {
                        // A holder clears its pid before it unlocks: a pid
                        // still here after the unlock was seen is a death.
                        // Acquire: as above.
                        return if entry.pid.load(Ordering::Acquire) == pid {
                            Liveness::Dead
                        } else {
                            Liveness::Free
                        };
                    }
                    Err(_) => {}
                }
            }
        }
        pid_liveness(entry, pid)
    }

    /// Reaps entry `index` if its holder is dead, using `lock` (a description
    /// of our own) for the exclusive OFD lock where the entry has a token.
    /// Returns whether it reaped.
    pub(crate) fn reap(&self, index: usize, lock: Option<&File>) -> bool {
        self.reap_in(index, lock, None)
    }

    /// [`reap`](Self::reap), by the record ring's consumer at `record_head`
    /// when it is `Some`: only that consumer heals a dead record producer's
    /// claim (`record::heal`).
    pub(crate) fn reap_in(
        &self,
        index: usize,
        lock: Option<&File>,
        record_head: Option<u64>,
    ) -> bool {
        let Some(entry) = self.peers().entries.get(index) else {
            return false;
        };
        // Acquire: as in `liveness`.
        let pid = entry.pid.load(Ordering::Acquire);
        if pid == 0 {
            return false;
        }
        // Acquire: as in `liveness`.
        let info = entry.info.load(Ordering::Acquire);
        let offset = PeerTable::lock_offset(index);
        match lock {
            Some(file) if info & TOKEN_OFD != 0 => {
                if !matches!(token::try_lock(file, offset), Ok(true)) {
                    return false;
                }
                // We hold the byte: no live holder, no other reaper or registrant.
                // Acquire: the dead holder's last stores (its exit ordered them).
                let pid = entry.pid.load(Ordering::Acquire);
                let reaped = pid != 0
                    && self.clean_up(index, entry, record_head)
                    // Release: our clean-up comes before the next registrant's
                    // Acquire CAS of the pid.
                    && entry
                        .pid
                        .compare_exchange(pid, 0, Ordering::Release, Ordering::Relaxed)
                        .is_ok();
                if reaped {
                    // The entry is free (pid 0): drop the mark before the
                    // byte, so the next registrant starts clean. Release:
                    // after the pid store, so an observer that sees the mark
                    // gone sees the pid gone too.
                    entry.info.fetch_and(!REAPING, Ordering::Release);
                }
                token::unlock(file, offset);
                reaped
            }
            _ => {
                if pid_liveness(entry, pid) != Liveness::Dead {
                    return false;
                }
                // No token to make us exclusive: each clean-up step is an
                // atomic that only one reaper wins (see `clean_up`).
                // Release: as above.
                self.clean_up(index, entry, record_head)
                    && entry
                        .pid
                        .compare_exchange(pid, 0, Ordering::Release, Ordering::Relaxed)
                        .is_ok()
            }
        }
    }

    /// Undoes what a dead holder left: waiter registrations, the MPMC claim in
    /// flight, its SPSC role. Each step takes its state with one atomic RMW
    /// (or a stamp CAS), so two racing reapers (pid fallback) do each step
    /// once. `false` when the claim cannot be healed yet (see `mpmc::heal`):
    /// the entry stays for a later reaping, with its waiter bits undone.
    fn clean_up(&self, index: usize, entry: &PeerEntry, record_head: Option<u64>) -> bool {
        let h = self.header();
        // Our exclusive lock on the entry's byte (if any) now looks like a
        // live holder to `F_OFD_GETLK`: mark the entry as being reaped first,
        // so that nobody who reads the death count we bump below takes the
        // entry for a live peer (`Peer::gone` would then acknowledge the
        // death without reporting it: the torture test's 30 s stall).
        // AcqRel: takes the bits; pairs with the holder's RMWs of `info`,
        // and the Release half orders REAPING before our increment of the
        // death count (an observer that reads the count with Acquire sees it).
        let info = entry
            .info
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |i| {
                // (`ringway_mutation` leaves the mark out, to prove the loom
                // model `peer.rs` notices a death taken for old news.)
                let mark = if cfg!(ringway_mutation = "reaping_unmarked") {
                    0
                } else {
                    REAPING
                };
                Some((i & !(WAIT_DATA | WAIT_SPACE)) | mark)
            })
            .unwrap_or_else(|i| i);
        if info & WAIT_DATA != 0 {
            h.data_event.forget_waiter();
        }
        if info & WAIT_SPACE != 0 {
            h.space_event.forget_waiter();
        }
        let role = role_of(info);
        if self.geometry().kind == Kind::Record
            && !self.heal_record(index, entry, role, record_head)
        {
            return false;
        }
        if self.geometry().kind == Kind::Mpmc {
            // Acquire: pairs with the holder's Release stores of its record.
            let len = entry.claim_len.load(Ordering::Acquire);
            // Relaxed: stored before `claim_len`.
            let pos = entry.claim_pos.load(Ordering::Relaxed);
            if len != 0 {
                let bits = info & ROLE_MASK;
                let healed = match role {
                    Some(Role::Producer) => {
                        crate::mpmc::heal::tombstone(self, index, bits, pos, len)
                    }
                    Some(Role::Consumer) => {
                        match crate::mpmc::heal::free_claimed(self, index, bits, pos, len) {
                            Some(lost) => {
                                // Relaxed: a counter.
                                self.peers().lost.fetch_add(lost, Ordering::Relaxed);
                                true
                            }
                            None => false,
                        }
                    }
                    None => true,
                };
                if !healed {
                    return false;
                }
                // AcqRel: one reaper takes the healed record.
                if entry
                    .claim_len
                    .compare_exchange(len, 0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
                {
                    return false;
                }
            }
        }
        if let Some(role) = role {
            // A single role (see `single_role`): only the holder of the role
            // is a peer; a registrant that died before taking it is reaped
            // without a word.
            // AcqRel: frees the role if this registration holds it; pairs
            // with the next holder's Acquire CAS.
            let held = !single_role(self.geometry().kind, role)
                || self
                    .role_word(role)
                    .compare_exchange(
                        role_word(index, info),
                        0,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    )
                    .is_ok();
            if !held {
                // Relaxed: a counter.
                self.peers().reaped.fetch_add(1, Ordering::Relaxed);
                return true;
            }
            // Release: a side that reads DIED (Acquire) sees the clean-up.
            self.left_word(role).store(LEFT_DIED, Ordering::Release);
            // Release: as above.
            self.deaths_word(role).fetch_add(1, Ordering::Release);
            // The news wakes every sleeper of the ring (their waits watch
            // the death count, `wait.rs`), so that those we found it for do
            // not sleep out their slice. A hint: a sleeper that misses it
            // still looks within its slice.
            h.data_event.notify_in(self.barrier);
            h.space_event.notify_in(self.barrier);
        }
        // Relaxed: a counter.
        self.peers().reaped.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The record-ring part of `clean_up`: a dead producer's claim is
    /// buried by the consumer at `record_head` only (anyone else leaves the
    /// entry for it: `false`); a dead consumer's release in progress is
    /// finished. See `record::heal`.
    fn heal_record(
        &self,
        me: usize,
        entry: &PeerEntry,
        role: Option<Role>,
        record_head: Option<u64>,
    ) -> bool {
        // Acquire: pairs with the holder's stores of its record (and the
        // kernel's ordering of a dead holder's last stores before our lock).
        let len = entry.claim_len.load(Ordering::Acquire);
        if len == 0 {
            return true;
        }
        // Relaxed: stored before `claim_len`.
        let pos = entry.claim_pos.load(Ordering::Relaxed);
        match role {
            Some(Role::Producer) => {
                let Some(head) = record_head else {
                    return false;
                };
                if !crate::record::heal::bury(self, me, pos, len, head) {
                    return false;
                }
                // AcqRel: one reaper takes the healed record.
                entry
                    .claim_len
                    .compare_exchange(len, 0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            }
            Some(Role::Consumer) => {
                // AcqRel: take the job first, so that of two racing reapers
                // (pid fallback) one finishes the release.
                if entry
                    .claim_len
                    .compare_exchange(len, 0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
                {
                    return false;
                }
                crate::record::heal::finish_release(self, pos, len);
                true
            }
            None => true,
        }
    }

    /// Reaps every dead entry; returns how many.
    pub(crate) fn reap_all(&self, lock: Option<&File>) -> usize {
        (0..PEER_TABLE_LEN)
            .filter(|&i| self.liveness(i) == Liveness::Dead && self.reap(i, lock))
            .count()
    }

    /// Whether no holder of `role` lives and the last one to leave died;
    /// reaps the dead holders it finds on the way. (The caller also checks
    /// that the death is news to it.)
    pub(crate) fn role_gone(
        &self,
        role: Role,
        lock: Option<&File>,
        record_head: Option<u64>,
    ) -> bool {
        let want = role_bits(role);
        let mut alive = false;
        for (i, entry) in self.peers().entries.iter().enumerate() {
            // Relaxed pre-filter; `liveness` re-reads with Acquire.
            if entry.pid.load(Ordering::Relaxed) == 0
                || entry.info.load(Ordering::Relaxed) & ROLE_MASK != want
            {
                continue;
            }
            match self.liveness(i) {
                Liveness::Alive => alive = true,
                Liveness::Dead => {
                    if !self.reap_in(i, lock, record_head) && self.liveness(i) == Liveness::Alive {
                        alive = true;
                    }
                }
                Liveness::Free => {}
            }
        }
        // Acquire: pairs with the reaper's Release store of DIED.
        !alive && self.left_word(role).load(Ordering::Acquire) == LEFT_DIED
    }

    /// The registrations, for inspection tools.
    pub(crate) fn peer_infos(&self) -> Vec<PeerInfo> {
        let mut out = Vec::new();
        for (index, entry) in self.peers().entries.iter().enumerate() {
            // Relaxed throughout: informational.
            let pid = entry.pid.load(Ordering::Relaxed);
            if pid == 0 {
                continue;
            }
            let info = entry.info.load(Ordering::Relaxed);
            out.push(PeerInfo {
                index,
                pid,
                start_time: entry.start_time.load(Ordering::Relaxed),
                generation: info >> GEN_SHIFT,
                role: role_of(info),
                ofd_token: info & TOKEN_OFD != 0,
                waiting: info & (WAIT_DATA | WAIT_SPACE) != 0,
                claim: {
                    let pos = entry.claim_pos.load(Ordering::Relaxed);
                    let len = entry.claim_len.load(Ordering::Relaxed);
                    if self.geometry().kind == Kind::Mpmc {
                        // A one-position record stays after its claim ended.
                        let producer = role_of(info) == Some(Role::Producer);
                        crate::mpmc::heal::in_flight(self, producer, pos, len)
                    } else {
                        (pos, len & !crate::mpmc::heal::PENDING)
                    }
                },
                liveness: self.liveness(index),
            });
        }
        out
    }
}

/// Liveness from the recorded pid and start time, trusted only inside the
/// recorder's pid namespace.
fn pid_liveness(entry: &PeerEntry, pid: u32) -> Liveness {
    // Relaxed: written before the pid (Release), which the caller read with Acquire.
    let ns = entry.pid_ns.load(Ordering::Relaxed);
    let ours = process::current_pid_namespace();
    if ns != 0 && ours != 0 && ns != ours {
        return Liveness::Alive;
    }
    // Relaxed: as above.
    let start = entry.start_time.load(Ordering::Relaxed);
    if process::is_alive(pid, Some(start)) {
        Liveness::Alive
    } else {
        Liveness::Dead
    }
}

/// A handle's entry in the peer table, left on drop.
#[derive(Debug)]
pub(crate) struct Peer {
    ring: Ring,
    /// Our entry, inside `ring`'s mapping (which `ring` keeps alive): the
    /// claim records are stored through it on every MPMC claim, so it is
    /// not looked up through the `Arc` each time.
    entry: core::ptr::NonNull<PeerEntry>,
    index: usize,
    info: u32,
    pid: u32,
    /// Our own open file description, holding the lock on our entry's byte.
    lock: Option<Token>,
    /// When the non-blocking calls may next check the peer's liveness
    /// ([`coarse_now_ns`]; 0: at the first look).
    next_check: u64,
    /// Calls of `gone_now` so far (wrapping).
    polls: u32,
    /// Deaths of the other role this handle knows of: those before it
    /// attached, and those before it last saw a live peer.
    acked_deaths: core::cell::Cell<u32>,
    /// `acked_deaths` before the last report, for `unreport`.
    prev_acked: core::cell::Cell<u32>,
    /// When the blocking calls next look at the peer (`wait.rs`).
    pub(crate) looks: Looks,
    /// The mapping's fork count as we registered (`fork.rs`): another
    /// count now means this is a `fork`ed copy.
    forks: u32,
}

impl Peer {
    /// Takes a free entry (reaping a dead holder's on the way) for `role`.
    ///
    /// # Errors
    /// [`HandleError::TooManyPeers`] when every entry has a live holder.
    pub(crate) fn register(ring: &Ring, role: Role) -> Result<Peer, HandleError> {
        let shared = &ring.shared;
        let lock = shared.region_file().and_then(|f| token::reopen(f).ok());
        let pid = process::current_pid();
        fork::install_handlers();
        let forks = ring.forks();
        // Deaths before we attach are not news to us: reap them, then count
        // (after taking our entry, whose reaping may count one more).
        shared.reap_all(lock.as_deref());
        for index in 0..PEER_TABLE_LEN {
            let entry = &shared.peers().entries[index];
            let offset = PeerTable::lock_offset(index);
            let locked = match &lock {
                Some(file) => match token::try_lock(file, offset) {
                    Ok(true) => true,
                    _ => continue,
                },
                None => false,
            };
            let give_up = |lock: &Option<Token>| {
                if let (true, Some(file)) = (locked, lock) {
                    token::unlock(file, offset);
                }
            };
            // Acquire: pairs with the previous holder's (or reaper's) Release
            // store of the pid, so its stores to the entry come first.
            let old = entry.pid.load(Ordering::Acquire);
            if old != 0 {
                // Acquire: as above.
                let info = entry.info.load(Ordering::Acquire);
                let dead = if locked && info & TOKEN_OFD != 0 {
                    true
                } else {
                    pid_liveness(entry, old) == Liveness::Dead
                };
                if !dead || !shared.clean_up(index, entry, None) {
                    give_up(&lock);
                    continue;
                }
            }
            // Acquire on success: as the load above. Relaxed on failure: next entry.
            if entry
                .pid
                .compare_exchange(old, pid, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                give_up(&lock);
                continue;
            }
            // Relaxed: published by the Release store of `info` below; others
            // read them after reading `info` with Acquire.
            entry
                .start_time
                .store(process::current_start_time(), Ordering::Relaxed);
            entry
                .pid_ns
                .store(process::current_pid_namespace(), Ordering::Relaxed);
            entry.claim_pos.store(0, Ordering::Relaxed);
            entry.claim_len.store(0, Ordering::Relaxed);
            // Relaxed: our own entry's previous value, ordered by the CAS.
            let generation = (entry.info.load(Ordering::Relaxed) >> GEN_SHIFT).wrapping_add(1);
            let info =
                (generation << GEN_SHIFT) | role_bits(role) | if locked { TOKEN_OFD } else { 0 };
            // Release: publishes the identity stored above; pairs with the
            // Acquire loads of `info` in `liveness` and `reap`.
            entry.info.store(info, Ordering::Release);
            if !single_role(shared.geometry().kind, role) {
                // Release: a side that reads NONE after our attach sees our
                // entry. (A single role: when it is taken, `Peer::took_role`.)
                shared.left_word(role).store(LEFT_NONE, Ordering::Release);
            }
            return Ok(Peer {
                ring: ring.clone(),
                entry: core::ptr::NonNull::from(entry),
                index,
                info,
                pid,
                lock: if locked { lock } else { None },
                next_check: 0,
                polls: 0,
                acked_deaths: core::cell::Cell::new(shared.deaths(other(role))),
                prev_acked: core::cell::Cell::new(0),
                looks: Looks::default(),
                forks,
            });
        }
        Err(HandleError::TooManyPeers)
    }

    /// Our entry.
    #[inline]
    pub(crate) fn entry(&self) -> &PeerEntry {
        // SAFETY: `entry` points into the peer table of `self.ring`'s
        // mapping, which lives as long as `self.ring`; every field of an
        // entry is an atomic, so peers writing it do not invalidate `&`.
        unsafe { self.entry.as_ref() }
    }

    /// Counts a non-blocking call that found the ring empty or full; `true`
    /// on the calls that may look at the peer's liveness (every
    /// [`CLOCK_EVERY`]-th). Inline: the other calls pay an add and a branch.
    #[inline]
    pub(crate) fn tick(&mut self) -> bool {
        self.polls = self.polls.wrapping_add(1);
        self.polls % CLOCK_EVERY == 0
    }

    /// The SPSC role word of this registration.
    pub(crate) fn word(&self) -> u32 {
        role_word(self.index, self.info)
    }

    /// Called once this registration holds its SPSC role: the role has a
    /// live holder again.
    pub(crate) fn took_role(&self, role: Role) {
        // Release: a side that reads NONE sees the role word we stored.
        self.ring
            .shared
            .left_word(role)
            .store(LEFT_NONE, Ordering::Release);
    }

    /// Whether this registration is this process's (not a `fork`ed copy),
    /// by the pid (a `getpid` call: for drops and slow paths; the calls
    /// use [`check_fork`](Self::check_fork)).
    pub(crate) fn owned(&self) -> bool {
        process::current_pid() == self.pid
    }

    /// The forked error when this is a `fork`ed copy of the handle (the
    /// mapping's fork count moved since we registered, `fork.rs`). Before
    /// every handle call that touches the ring, but the single push and
    /// pop, whose cores' poison check compares the same word: one Relaxed
    /// load and a compare, the error out of line.
    #[inline(always)]
    pub(crate) fn check_fork(&self) -> Result<(), CorruptError> {
        if self.is_fork_copy() {
            return Err(self.forked());
        }
        Ok(())
    }

    /// Whether this is a `fork`ed copy (see `check_fork`).
    #[inline]
    pub(crate) fn is_fork_copy(&self) -> bool {
        self.ring.forks() != self.forks
    }

    #[cold]
    #[inline(never)]
    fn forked(&self) -> CorruptError {
        CorruptError::forked()
    }

    /// Our description, for the exclusive locks of reaping; `None` in a
    /// `fork`ed copy of the handle: the child's descriptor no longer refers
    /// to the ring (`fork.rs`), and the description was the parent's
    /// anyway, so its locks would not exclude the parent's.
    pub(crate) fn lock(&self) -> Option<&File> {
        if !self.owned() {
            return None;
        }
        self.lock.as_deref()
    }

    /// Records a claim about to be made (MPMC): before the CAS on the
    /// cursor, so that no instruction owns positions without a record. The
    /// record stays until `settled` (it is not confirmed after the CAS: a
    /// reaper cannot tell a won claim from a lost one by the record alone,
    /// see `mpmc::heal`, and the store would cost every claim).
    #[inline]
    pub(crate) fn pending(&self, pos: u64, len: u64) {
        let entry = self.entry();
        // Relaxed: ordered before the cursor CAS (AcqRel) that follows, and
        // read by a reaper after `claim_len`.
        entry.claim_pos.store(pos, Ordering::Relaxed);
        // Relaxed: as above.
        entry
            .claim_len
            .store(len | crate::mpmc::heal::PENDING, Ordering::Relaxed);
    }

    /// Record ring consumer: records that it frees `len` bytes at `pos`
    /// (zeroes them, then moves `head` from `pos`), so that a reaper can
    /// finish the job if it dies half-way (`record::heal::finish_release`).
    #[inline]
    pub(crate) fn freeing(&self, pos: u64, len: u64) {
        let entry = self.entry();
        // Relaxed: read by a reaper only after our death, which orders it
        // (the kernel drops our lock after our last store).
        entry.claim_pos.store(pos, Ordering::Relaxed);
        // Relaxed: as above.
        entry.claim_len.store(len, Ordering::Relaxed);
    }

    /// Records that no claim is in flight (MPMC).
    #[inline]
    pub(crate) fn settled(&self) {
        // Release: after our stamp stores, so a reaper that reads 0 sees them.
        self.entry().claim_len.store(0, Ordering::Release);
    }

    /// Sets or clears a waiter bit (`WAIT_DATA`, `WAIT_SPACE`) of our entry.
    pub(crate) fn note_wait(&self, bit: u32, on: bool) {
        let info = &self.entry().info;
        // AcqRel: ordered with the reaper's `fetch_and` of the same word.
        if on {
            info.fetch_or(bit, Ordering::AcqRel);
        } else {
            info.fetch_and(!bit, Ordering::AcqRel);
        }
    }

    /// Whether the other side (`role`) is gone, looked at no more often than
    /// [`CHECK_INTERVAL`]: `false` between two checks. For the non-blocking
    /// calls that found the ring empty or full.
    pub(crate) fn gone_now(&mut self, role: Role) -> bool {
        self.gone_now_at(role, None)
    }

    /// [`gone_now`](Self::gone_now) by the record ring's consumer at
    /// `record_head` (which buries dead producers' claims, see `reap_in`).
    pub(crate) fn gone_now_at(&mut self, role: Role, record_head: Option<u64>) -> bool {
        // Under loom no peer dies on its own (models reap explicitly): skip
        // the check and its extra atomics.
        if cfg!(loom) {
            return false;
        }
        // The caller reads the clock on every CLOCK_EVERY-th call only
        // (`tick`), and the coarse one (`coarse_now_ns`).
        let now = coarse_now_ns();
        if now < self.next_check {
            return false;
        }
        self.next_check = now.saturating_add(CHECK_INTERVAL.as_nanos() as u64);
        self.gone_at(role, record_head)
    }

    /// Takes back the last report of `gone` (which returned `true` just
    /// before): the caller did not pass `PeerGone` on (reaping made
    /// something ready), so the next `gone` reports the death again.
    pub(crate) fn unreport(&self) {
        // (`ringway_mutation` drops it, to prove the loom model `peer.rs`
        // notices a death reported and never delivered.)
        if !cfg!(ringway_mutation = "unreport_missing") {
            self.acked_deaths.set(self.prev_acked.get());
        }
    }

    /// Whether the other side (`role`) is gone: for SPSC, the role holder
    /// died (or the role is free and its last holder died); for MPMC, no
    /// holder of `role` lives and the last one died. Reaps dead holders.
    pub(crate) fn gone(&self, role: Role) -> bool {
        self.gone_at(role, None)
    }

    /// [`gone`](Self::gone) by the record ring's consumer at `record_head`.
    pub(crate) fn gone_at(&self, role: Role, record_head: Option<u64>) -> bool {
        let deaths = self.ring.shared.deaths(role);
        let gone = self.gone_since_attach(role, record_head);
        if !gone && self.live_peer_seen(role) {
            // A live peer came after the deaths we knew of: they are old news.
            self.acked_deaths.set(deaths);
        }
        let deaths = self.ring.shared.deaths(role);
        if gone && deaths != self.acked_deaths.get() {
            self.prev_acked.set(self.acked_deaths.get());
            // Reported once: afterwards this handle waits for a new peer
            // (a restarted one, which may be attaching right now).
            self.acked_deaths.set(deaths);
            return true;
        }
        false
    }

    /// Whether a holder of `role` lives now (after `gone_since_attach`
    /// reaped the dead).
    fn live_peer_seen(&self, role: Role) -> bool {
        let shared = &self.ring.shared;
        if single_role(shared.geometry().kind, role) {
            // Acquire: pairs with the holder's claim of the role.
            let word = shared.role_word(role).load(Ordering::Acquire);
            return matches!(shared.holder(word), Holder::Alive { .. });
        }
        let want = role_bits(role);
        shared.peers().entries.iter().enumerate().any(|(i, e)| {
            // Relaxed pre-filter; `liveness` re-reads with Acquire.
            e.info.load(Ordering::Relaxed) & ROLE_MASK == want
                && shared.liveness(i) == Liveness::Alive
        })
    }

    fn gone_since_attach(&self, role: Role, record_head: Option<u64>) -> bool {
        let shared = &self.ring.shared;
        if single_role(shared.geometry().kind, role) {
            // Acquire: pairs with the holder's claim of the role.
            let word = shared.role_word(role).load(Ordering::Acquire);
            if word != 0 {
                match shared.holder(word) {
                    Holder::Alive { .. } => return false,
                    Holder::Dead { index } => {
                        shared.reap(index, self.lock());
                    }
                    Holder::Gone => {}
                }
            }
            // Acquire: pairs with the reaper's Release store of DIED.
            return shared.role_word(role).load(Ordering::Acquire) == 0
                && shared.left_word(role).load(Ordering::Acquire) == LEFT_DIED;
        }
        shared.role_gone(role, self.lock(), record_head)
    }

    /// Reaps the dead holders of `role` (as the record ring's consumer at
    /// `record_head` when it is `Some`); returns how many.
    pub(crate) fn reap_dead(&self, role: Role, record_head: Option<u64>) -> usize {
        let shared = &self.ring.shared;
        let want = role_bits(role);
        (0..PEER_TABLE_LEN)
            .filter(|&i| {
                // Relaxed pre-filter; `liveness` re-reads with Acquire.
                shared.peers().entries[i].info.load(Ordering::Relaxed) & ROLE_MASK == want
                    && shared.liveness(i) == Liveness::Dead
                    && shared.reap_in(i, self.lock(), record_head)
            })
            .count()
    }

    /// Leaves the entry: called on drop.
    fn leave(&mut self) {
        if process::current_pid() != self.pid {
            // A `fork`ed copy of the handle: the entry and the lock (a shared
            // description) are the parent's.
            return;
        }
        let shared = &self.ring.shared;
        let entry = self.entry();
        // Relaxed: our own entry; the Release store of the pid orders it.
        entry.claim_len.store(0, Ordering::Relaxed);
        if let Some(role) = role_of(self.info) {
            // Release: pairs with the Acquire load in `gone`.
            shared
                .left_word(role)
                .store(LEFT_DETACHED, Ordering::Release);
        }
        // Release: orders our stores to the entry before the next holder's
        // Acquire CAS. Relaxed on failure: a reaper took it (it found us
        // dead, which cannot happen while we run; or a scribbler).
        let _ = entry
            .pid
            .compare_exchange(self.pid, 0, Ordering::Release, Ordering::Relaxed);
        // Dropping the description after this unlocks the byte.
        if let Some(file) = &self.lock {
            token::unlock(file, PeerTable::lock_offset(self.index));
        }
    }
}

// SAFETY: `entry` points into shared memory owned by `ring` (Send + Sync) and
// is only accessed through atomics; the handle that owns the `Peer` is used by
// one thread at a time.
unsafe impl Send for Peer {}

impl Drop for Peer {
    fn drop(&mut self) {
        self.leave();
    }
}

/// Who holds an SPSC role, from its role word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holder {
    /// A live registration.
    Alive {
        /// Its pid.
        pid: u32,
    },
    /// A registration whose holder died, not yet reaped.
    Dead {
        /// Its entry.
        index: usize,
    },
    /// The word names no current registration (left, reaped, or garbage).
    Gone,
}

impl Shared {
    /// Who the role word `word` names.
    pub(crate) fn holder(&self, word: u32) -> Holder {
        let index = (word & 0xff) as usize;
        if index == 0 || index > PEER_TABLE_LEN {
            return Holder::Gone;
        }
        let index = index - 1;
        let entry = &self.peers().entries[index];
        // Acquire: as in `liveness`.
        let pid = entry.pid.load(Ordering::Acquire);
        // Acquire: as in `liveness`.
        let info = entry.info.load(Ordering::Acquire);
        if pid == 0 || role_word(index, info) != word {
            return Holder::Gone;
        }
        match self.liveness(index) {
            Liveness::Alive => Holder::Alive { pid },
            Liveness::Dead => Holder::Dead { index },
            Liveness::Free => Holder::Gone,
        }
    }
}

#[cfg(loom)]
impl Ring {
    /// Reaps entry `index` as if its holder were dead: in a loom model a
    /// death is a thread that stopped (and was joined), which the model
    /// knows and the kernel's token cannot tell it.
    #[doc(hidden)]
    pub fn reap_as_dead(&self, index: usize) -> bool {
        let shared = &self.shared;
        let entry = &shared.peers().entries[index];
        // Acquire: as in `Shared::reap`.
        let pid = entry.pid.load(Ordering::Acquire);
        if pid == 0 {
            return false;
        }
        if !shared.clean_up(index, entry, None) {
            return false;
        }
        // The real reaper can be descheduled here, holding the entry's byte
        // after it counted the death (`REAPING` is what tells the others);
        // the peer-table words are not loom-tracked, so say it explicitly.
        loom::thread::yield_now();
        // Release: as in `Shared::reap`.
        let reaped = entry
            .pid
            .compare_exchange(pid, 0, Ordering::Release, Ordering::Relaxed)
            .is_ok();
        // Release: as in `Shared::reap`.
        entry.info.fetch_and(!REAPING, Ordering::Release);
        reaped
    }
}
