//! Two cache lines in a shm object, ping-ponged between the bench and its
//! peer: the placement probe before every row, and the floor row.
//!
//! | atomic | written by | read by | ordering | partner |
//! |---|---|---|---|---|
//! | `ping` (offset 0, or 256) | bench: round number, then `END` | peer | Release / Acquire | each other |
//! | `pong` (offset 128, or 384) | peer: echo of the round number | bench | Release / Acquire | each other |
//!
//! Offsets 1024-3071 hold the slot-walk row's slots (`walk.rs`).

use std::ffi::CString;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Watch;
use crate::failure::{fail, Failure};

/// Bytes in the shm object.
pub(crate) const LEN: usize = 4096;
/// Round number that ends the ping-pong.
const END: u64 = u64::MAX;

/// The mapped lines.
#[derive(Debug)]
pub(crate) struct Lines {
    base: *mut u8,
}

impl Lines {
    /// Creates (exclusively) or opens the shm object `name` and maps it.
    pub(crate) fn open(name: &str, create: bool) -> Result<Lines, Failure> {
        let c = CString::new(name)?;
        let flags = libc::O_RDWR
            | libc::O_CLOEXEC
            | if create {
                libc::O_CREAT | libc::O_EXCL
            } else {
                0
            };
        // SAFETY: `c` is NUL-terminated; shm_open returns a new fd or -1.
        let fd = unsafe { libc::shm_open(c.as_ptr(), flags, 0o600 as libc::mode_t) };
        if fd < 0 {
            fail!("shm_open {name}: {}", io::Error::last_os_error());
        }
        // SAFETY: `fd` is ours; ftruncate/mmap only read their arguments; the
        // fd is closed after mapping (the mapping stays).
        let base = unsafe {
            if create && libc::ftruncate(fd, LEN as libc::off_t) != 0 {
                let e = io::Error::last_os_error();
                libc::close(fd);
                libc::shm_unlink(c.as_ptr());
                fail!("ftruncate {name}: {e}");
            }
            let p = libc::mmap(
                std::ptr::null_mut(),
                LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            );
            libc::close(fd);
            p
        };
        if base == libc::MAP_FAILED {
            fail!("mmap {name}: {}", io::Error::last_os_error());
        }
        Ok(Lines { base: base.cast() })
    }

    fn word(&self, offset: usize) -> &AtomicU64 {
        // SAFETY: offset is at most 384, 8-aligned, inside the 4096-byte page-aligned
        // mapping that lives as long as `self`; the words are only ever
        // accessed atomically, by both processes.
        unsafe { AtomicU64::from_ptr(self.base.add(offset).cast()) }
    }

    /// The slot-walk row's word at `offset` (8-aligned, inside the
    /// object; `walk.rs`). The probe and the cache-line row keep their own
    /// accessor above, unchanged.
    #[inline(always)]
    pub(crate) fn walk_word(&self, offset: usize) -> &AtomicU64 {
        assert!(offset % 8 == 0 && offset + 8 <= LEN, "word {offset}");
        // SAFETY: offset is 8-aligned and the word inside the LEN-byte
        // page-aligned mapping (checked above), which lives as long as
        // `self`; the words are only ever accessed atomically, by both
        // processes.
        unsafe { AtomicU64::from_ptr(self.base.add(offset).cast()) }
    }

    /// Pair 0 (the probe) uses offsets 0 and 128, pair 1 (the floor row)
    /// 256 and 384, so that the second ping-pong never sees the first's END.
    fn ping(&self, pair: usize) -> &AtomicU64 {
        self.word(pair * 256)
    }

    fn pong(&self, pair: usize) -> &AtomicU64 {
        self.word(pair * 256 + 128)
    }

    /// The bench's side: round trips for `dur` (after `warm` unrecorded),
    /// each sample in ns pushed to `samples`, then `END`.
    pub(crate) fn pinger(
        &self,
        pair: usize,
        warm: Duration,
        dur: Duration,
        samples: &mut Vec<u32>,
        watch: &Watch,
    ) -> Result<(), Failure> {
        let mut spins = 0u32;
        let mut round = 0;
        // Round 1 is the handshake: it waits for the peer to arrive (start
        // up, open everything) and is not timed.
        let mut start = None;
        let mut prev = Instant::now();
        loop {
            round += 1;
            // Release: pairs with the peer's Acquire load of ping.
            self.ping(pair).store(round, Ordering::Release);
            // Acquire: pairs with the peer's Release store of pong.
            while self.pong(pair).load(Ordering::Acquire) != round {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins % 4096 == 0 {
                    watch.check("cache-line ping-pong")?;
                }
            }
            let now = Instant::now();
            let since = now - *start.get_or_insert(now);
            if round > 1 && since >= warm && samples.len() < samples.capacity() {
                samples.push(u32::try_from((now - prev).as_nanos()).unwrap_or(u32::MAX));
            }
            prev = now;
            if since >= warm + dur {
                break;
            }
        }
        self.ping(pair).store(END, Ordering::Release);
        Ok(())
    }

    /// The peer's side: echo every round until `END`.
    pub(crate) fn echo(&self, pair: usize, watch: &Watch) -> Result<(), Failure> {
        let mut last = self.pong(pair).load(Ordering::Relaxed);
        let mut spins = 0u32;
        loop {
            // Acquire: pairs with the bench's Release store of ping.
            let v = self.ping(pair).load(Ordering::Acquire);
            if v == END {
                return Ok(());
            }
            if v != last {
                if v != last + 1 {
                    fail!("probe: round {v} after {last}");
                }
                // Release: pairs with the bench's Acquire load of pong.
                self.pong(pair).store(v, Ordering::Release);
                last = v;
            } else {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins % 4096 == 0 {
                    watch.check("cache-line echo")?;
                }
            }
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        // SAFETY: `base` is our LEN-byte mapping; nothing borrows it past self.
        unsafe { libc::munmap(self.base.cast(), LEN) };
    }
}
