//! A scribbler across processes: a victim process runs producers and
//! consumers (SPSC typed, SPSC bytes, MPMC typed, MPMC bytes; try calls and
//! calls with deadlines) while this process writes random bytes at random
//! offsets of the rings' files (`pwrite`: the same pages the victim has
//! mapped). The victim must never die by a signal or a panic, must get
//! only ordinary results and typed errors, and its deadline calls must
//! return close to their deadline.
//!
//! `cargo test` runs 10^5 writes; `scripts/scribble-long.sh` runs 10^7
//! (`RINGWAY_SCRIBBLE_WRITES`) in a release build.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{spawn_child, TempPath, CHILD_ENV};
use ringway::{
    mpmc, spsc, Kind, OpenOptions, PopError, PopTimeoutError, PushError, PushTimeoutError, Ring,
    RingBuilder,
};

const DEADLINE: Duration = Duration::from_millis(1);

/// What the victim saw, written to a file for the parent.
#[derive(Default, Debug)]
struct Tally {
    ops: u64,
    ok: u64,
    corrupt: u64,
    other: u64,
    timed_calls: u64,
    max_overrun_us: u128,
    /// Deadline calls that returned more than 10 ms late by wall time.
    over_10ms: u64,
    /// Most CPU time one deadline call used (wall time minus this is time
    /// spent asleep or preempted).
    max_call_cpu_us: u128,
    /// Of the calls more than 10 ms late: the most CPU time one of them
    /// used. Far below its wall-time lateness, the call was asleep or
    /// preempted past its deadline, not running.
    late_max_cpu_us: u128,
    /// Of the calls more than 10 ms late: how many the kernel preempted
    /// (an involuntary context switch during the call), and how many slept
    /// (a voluntary one).
    late_preempted: u64,
    late_slept: u64,
    /// Deadline calls whose CPU time alone ran more than 10 ms past the
    /// deadline: a loop that does not look at its deadline.
    cpu_over_10ms: u64,
}

/// This thread's voluntary and involuntary context switches so far.
fn switches() -> (i64, i64) {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut ru: libc::rusage = unsafe { core::mem::zeroed() };
    // SAFETY: `ru` is a valid out-parameter.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    (ru.ru_nvcsw, ru.ru_nivcsw)
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-parameter.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Tally {
    fn timed<R>(&mut self, call: impl FnOnce() -> R) -> R {
        let (voluntary, involuntary) = switches();
        let cpu = thread_cpu();
        let started = Instant::now();
        let r = call();
        let took = started.elapsed();
        let cpu = thread_cpu().saturating_sub(cpu);
        let (voluntary_after, involuntary_after) = switches();
        self.max_call_cpu_us = self.max_call_cpu_us.max(cpu.as_micros());
        self.timed_calls += 1;
        let over = took.saturating_sub(DEADLINE);
        self.max_overrun_us = self.max_overrun_us.max(over.as_micros());
        if over > Duration::from_millis(10) {
            self.over_10ms += 1;
            self.late_max_cpu_us = self.late_max_cpu_us.max(cpu.as_micros());
            self.late_preempted += u64::from(involuntary_after > involuntary);
            self.late_slept += u64::from(voluntary_after > voluntary);
        }
        if cpu.saturating_sub(DEADLINE) > Duration::from_millis(10) {
            self.cpu_over_10ms += 1;
        }
        r
    }
}

fn count_push<T>(t: &mut Tally, r: Result<(), PushError<T>>) {
    t.ops += 1;
    match r {
        Ok(()) | Err(PushError::Full(_) | PushError::Busy(_)) => t.ok += 1,
        Err(PushError::Corrupt(_)) => t.corrupt += 1,
        Err(_) => t.other += 1,
    }
}

fn count_push_timeout<T>(t: &mut Tally, r: Result<(), PushTimeoutError<T>>) {
    t.ops += 1;
    match r {
        Ok(()) | Err(PushTimeoutError::Timeout(_)) => t.ok += 1,
        Err(PushTimeoutError::Corrupt(_)) => t.corrupt += 1,
        Err(_) => t.other += 1,
    }
}

fn count_pop<T>(t: &mut Tally, r: Result<T, PopError>) {
    t.ops += 1;
    match r {
        Ok(_) | Err(PopError::Empty | PopError::Busy) => t.ok += 1,
        Err(PopError::Corrupt(_)) => t.corrupt += 1,
        Err(_) => t.other += 1,
    }
}

fn count_pop_timeout<T>(t: &mut Tally, r: Result<T, PopTimeoutError>) {
    t.ops += 1;
    match r {
        Ok(_) | Err(PopTimeoutError::Timeout) => t.ok += 1,
        Err(PopTimeoutError::Corrupt(_)) => t.corrupt += 1,
        Err(_) => t.other += 1,
    }
}

fn open(path: &str) -> Ring {
    OpenOptions::new()
        .open_file(path)
        .expect("victim opens ring")
}

/// The victim: works both rings until the stop file appears.
#[test]
#[ignore = "entry point of the victim process the scribbler test spawns"]
fn victim_entry() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    let var = |k: &str| std::env::var(k).unwrap();
    let spsc_ring = open(&var("SCRIBBLE_SPSC"));
    let mpmc_ring = open(&var("SCRIBBLE_MPMC"));
    let spsc_bytes_ring = open(&var("SCRIBBLE_SPSC_BYTES"));
    let stop = var("SCRIBBLE_STOP");
    let mut stx = spsc::Producer::<u64>::attach(&spsc_ring).unwrap();
    let mut srx = spsc::Consumer::<u64>::attach(&spsc_ring).unwrap();
    let mut btx = spsc::BytesProducer::attach(&spsc_bytes_ring).unwrap();
    let mut brx = spsc::BytesConsumer::attach(&spsc_bytes_ring).unwrap();
    let mut mtx = mpmc::Producer::<u64>::attach(&mpmc_ring).unwrap();
    let mut mrx = mpmc::Consumer::<u64>::attach(&mpmc_ring).unwrap();
    let mut mbtx = mpmc::BytesProducer::attach(&mpmc_ring).unwrap();
    let mut mbrx = mpmc::BytesConsumer::attach(&mpmc_ring).unwrap();
    std::fs::write(var("SCRIBBLE_READY"), b"").unwrap();
    let size = mpmc_ring.slot_size();
    let msg = vec![0x5a; size];
    let mut buf = vec![0u8; size];
    let bsize = spsc_bytes_ring.slot_size();
    let bmsg = vec![0xa5; bsize];
    let mut bbuf = vec![0u8; bsize];
    let mut t = Tally::default();
    let mut i = 0u64;
    while !Path::new(&stop).exists() {
        i += 1;
        count_push(&mut t, stx.try_push(i));
        count_pop(&mut t, srx.try_pop());
        count_push(&mut t, btx.try_push(&bmsg));
        count_pop(&mut t, brx.try_pop(&mut bbuf));
        count_push(&mut t, mtx.try_push(i));
        count_pop(&mut t, mrx.try_pop());
        count_push(&mut t, mbtx.try_push(&msg));
        count_pop(&mut t, mbrx.try_pop(&mut buf));
        if i % 8 == 0 {
            let r = t.timed(|| stx.push_timeout(i, DEADLINE));
            count_push_timeout(&mut t, r);
            let r = t.timed(|| srx.pop_timeout(DEADLINE));
            count_pop_timeout(&mut t, r);
            let r = t.timed(|| mtx.push_timeout(i, DEADLINE));
            count_push_timeout(&mut t, r);
            let r = t.timed(|| mrx.pop_timeout(DEADLINE));
            count_pop_timeout(&mut t, r);
            let r = t.timed(|| mbtx.push_timeout(&msg, DEADLINE));
            count_push_timeout(&mut t, r);
            let r = t.timed(|| mbrx.pop_timeout(&mut buf, DEADLINE));
            count_pop_timeout(&mut t, r);
        }
        if i % 64 == 0 {
            // Chunks too: dropped, partly committed, read and released.
            if let Ok(mut c) = mtx.write_chunk(3) {
                if let Some(v) = c.get_mut(0) {
                    *v = i;
                }
                // A full ring lends an empty chunk: commit what it holds.
                let n = c.len().min(1);
                c.commit(n);
            }
            if let Ok(c) = mrx.read_chunk(4) {
                let _ = c.iter().count();
            }
        }
    }
    std::fs::write(var("SCRIBBLE_TALLY"), format!("{t:?}")).unwrap();
}

/// xorshift64*: the scribbler's randomness, seeded per run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn create(path: &TempPath, kind: Kind, typed: bool) -> u64 {
    let b = RingBuilder::new(kind).capacity(16);
    let b = if typed {
        b.message::<u64>()
    } else {
        b.slot_size(24)
    };
    b.create_file(&path.0).unwrap().geometry().total_len
}

#[test]
fn a_scribbling_peer_never_crashes_or_hangs_the_victim() {
    let writes: u64 = std::env::var("RINGWAY_SCRIBBLE_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let spsc_path = TempPath::new("scribble-spsc");
    let spsc_bytes_path = TempPath::new("scribble-spsc-bytes");
    let mpmc_path = TempPath::new("scribble-mpmc");
    let (ready, stop, tally) = (
        TempPath::new("scribble-ready"),
        TempPath::new("scribble-stop"),
        TempPath::new("scribble-tally"),
    );
    let lens = [
        create(&spsc_path, Kind::Spsc, true),
        create(&spsc_bytes_path, Kind::Spsc, false),
        create(&mpmc_path, Kind::Mpmc, true),
    ];
    let s = |p: &TempPath| p.0.display().to_string();
    let mut child = spawn_child(
        "victim_entry",
        "victim",
        &[
            ("SCRIBBLE_SPSC", s(&spsc_path)),
            ("SCRIBBLE_SPSC_BYTES", s(&spsc_bytes_path)),
            ("SCRIBBLE_MPMC", s(&mpmc_path)),
            ("SCRIBBLE_READY", s(&ready)),
            ("SCRIBBLE_STOP", s(&stop)),
            ("SCRIBBLE_TALLY", s(&tally)),
        ],
    );
    let started = Instant::now();
    while !ready.0.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("victim died before it was ready: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "victim never ready"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let files: Vec<std::fs::File> = [&spsc_path, &spsc_bytes_path, &mpmc_path]
        .iter()
        .map(|p| std::fs::OpenOptions::new().write(true).open(&p.0).unwrap())
        .collect();
    let seed = 0x5eed_0000 ^ u64::from(std::process::id());
    let mut rng = Rng(seed | 1);
    let scribble_started = Instant::now();
    for n in 0..writes {
        let which = (rng.next() % 3) as usize;
        let r = rng.next();
        let len = 1 + (r % 8) as usize;
        // Half the writes go to the header, where the control words are.
        let span = if r & 0x100 == 0 { 2048 } else { lens[which] };
        let at = rng.next() % (span - len as u64);
        let bytes = rng.next().to_ne_bytes();
        files[which].write_all_at(&bytes[..len], at).unwrap();
        if n % 4096 == 0 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("victim died during the scribbling (seed {seed:#x}, write {n}): {status}");
            }
        }
    }
    let scribble_time = scribble_started.elapsed();
    std::fs::write(&stop.0, b"").unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "victim failed (seed {seed:#x}): {status}");
    let tally = std::fs::read_to_string(&tally.0).unwrap();
    eprintln!("scribbler: {writes} writes in {scribble_time:?} (seed {seed:#x}); victim {tally}");
    assert!(tally.contains("other: 0"), "untyped results: {tally}");
    // Generous bound on the deadline overrun (the machine is shared; the
    // figure itself is reported above and by the long script).
    let max_us: u128 = tally
        .split("max_overrun_us: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap();
    assert!(max_us < 2_000_000, "a deadline call overran by {max_us} us");
    // CPU time is not inflated by preemption: a deadline call that ran on
    // the CPU past its deadline has a loop that ignores it. Still a
    // generous bound (page faults, a slow debug build).
    let cpu_us: u128 = tally
        .split("max_call_cpu_us: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap();
    assert!(
        cpu_us < 200_000,
        "a deadline call ran {cpu_us} us on the CPU"
    );
}
