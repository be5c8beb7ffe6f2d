//! Wakeup latency across two processes, and the system calls a steady flow makes.
//!
//! In one run, between the same two processes (this binary re-executes itself as
//! the peer, `RINGWAY_WAKEUP_PEER` set, and the two are pinned to different CPUs):
//!
//! 1. a blocking ping-pong through two ringway SPSC rings of `u64` (ring A
//!    carries the ping, ring B the pong) with `push_blocking`/`pop_blocking`, for
//!    the wait strategies `BusySpin`, `SpinThenPark` (the default) and `Park`;
//! 2. a raw futex ping-pong: two `AtomicU32` words in the same `MAP_SHARED`
//!    mapping, `FUTEX_WAIT`/`FUTEX_WAKE` without the private flag, no spinning:
//!    the floor for a handoff that sleeps;
//! 3. a pipe ping-pong: two pipes, 8-byte messages, blocking `read`/`write`;
//! 4. a steady one-way flow of 10^6 `u64` (`push_blocking` in this process,
//!    `pop_blocking` in the peer, default strategy), counting the wait and wake
//!    system calls per message in each process with `ringway_sync::stats()`.
//!
//! Every round trip checks that the pong is the ping's value + 1 (and the peer
//! checks the ping's sequence); the flow checks order and count.
//!
//! `cargo bench -p ringway-benches --bench wakeup` prints the table (about 10 s).
//! Without `--bench` (as `cargo test --benches` runs it) it makes a quick smoke
//! run of a few hundred round trips per row: correctness only, no figures.
//!
//! Shared state lives in one `memfd` mapping inherited by the peer (two futex
//! words and both rings, created with `RingBuilder::create_in` and opened with
//! `OpenOptions::open_in`), so nothing is ever left in `/dev/shm`. The parent
//! drives the peer over the peer's stdin/stdout, kills it if it outlives a time
//! limit, and reaps it; the peer dies with its parent (`PR_SET_PDEATHSIG`).

#![deny(unsafe_op_in_unsafe_fn)]

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, OpenOptions, Ring, RingBuilder, WaitStrategy};

/// Set (to the peer's spec, see [`PeerSpec`]) in the re-executed peer process.
const PEER_ENV: &str = "RINGWAY_WAKEUP_PEER";

/// Slots of each ring.
const RING_CAPACITY: u64 = 1024;
/// Bytes before the first ring: the two futex words, each on its own 128-byte line.
const FUTEX_AREA: usize = 4096;
/// Offsets of the raw futex words in the mapping.
const PING_WORD: usize = 0;
const PONG_WORD: usize = 128;

/// How much to measure.
#[derive(Clone, Copy)]
struct Plan {
    /// Interleaved passes over the round-trip rows (so that a change in
    /// background load hits every row alike).
    passes: usize,
    /// Timed round trips per row and pass.
    timed: u64,
    /// Untimed round trips per row before each pass.
    warmup: u64,
    /// Messages of the one-way flow.
    flow: u64,
    /// Kill the peer and fail after this long.
    limit: Duration,
}

const FULL: Plan = Plan {
    passes: 4,
    timed: 5_000,
    warmup: 1_000,
    flow: 1_000_000,
    limit: Duration::from_secs(240),
};

const QUICK: Plan = Plan {
    passes: 1,
    timed: 200,
    warmup: 20,
    flow: 10_000,
    limit: Duration::from_secs(120),
};

fn main() {
    if let Ok(spec) = std::env::var(PEER_ENV) {
        peer_main(&PeerSpec::parse(&spec));
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing.
    let full = std::env::args().any(|a| a == "--bench");
    parent_main(if full { FULL } else { QUICK }, full);
}

// ---------------------------------------------------------------------------
// The shared mapping
// ---------------------------------------------------------------------------

/// The builder of both rings; the peer derives the same layout from it.
fn ring_builder() -> RingBuilder {
    RingBuilder::new(Kind::Spsc)
        .capacity(RING_CAPACITY)
        .message::<u64>()
}

/// Bytes of one ring in the mapping, rounded up to a page.
fn ring_len() -> usize {
    let total = ring_builder().geometry().expect("ring geometry").total_len;
    usize::try_from(total)
        .expect("ring fits the address space")
        .next_multiple_of(4096)
}

/// Bytes of the whole mapping: futex words, ring A, ring B.
fn mapping_len() -> usize {
    FUTEX_AREA + 2 * ring_len()
}

/// A `MAP_SHARED` mapping of the memfd, never unmapped: it lives as long as the
/// process, so the `'static` references and the rings over it stay valid.
#[derive(Clone, Copy)]
struct Mapping {
    base: NonNull<u8>,
}

impl Mapping {
    /// Maps `len` bytes of `fd` shared, read-write.
    fn map(fd: RawFd, len: usize) -> Mapping {
        // SAFETY: a fresh mapping chosen by the kernel (null hint), of a memfd
        // that is at least `len` long (ftruncated by the parent); it aliases no
        // Rust object.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        assert!(
            ptr != libc::MAP_FAILED,
            "mmap: {}",
            io::Error::last_os_error()
        );
        Mapping {
            base: NonNull::new(ptr.cast()).expect("mmap never returns null on success"),
        }
    }

    /// The futex word at `offset` (one of `PING_WORD`, `PONG_WORD`).
    fn word(self, offset: usize) -> &'static AtomicU32 {
        debug_assert!(offset + 4 <= FUTEX_AREA && offset % 4 == 0);
        // SAFETY: `offset` is 4-aligned and inside the futex area of a page-aligned
        // mapping that is never unmapped; the memory is initialised (a memfd reads
        // as zeros) and both processes only ever access it through atomics.
        unsafe { AtomicU32::from_ptr(self.base.as_ptr().add(offset).cast()) }
    }

    /// Start of ring `index` (0 = A, 1 = B).
    fn ring_ptr(self, index: usize) -> NonNull<u8> {
        // SAFETY: FUTEX_AREA + index * ring_len() + ring_len() <= mapping_len()
        // for index 0 and 1, so the pointer stays inside the mapping.
        unsafe { self.base.add(FUTEX_AREA + index * ring_len()) }
    }
}

/// Creates the memfd (inheritable: no `MFD_CLOEXEC`) and sizes it.
fn create_memfd(len: usize) -> OwnedFd {
    // SAFETY: a NUL-terminated name and no flags.
    let fd = unsafe { libc::memfd_create(c"ringway-wakeup".as_ptr(), 0) };
    assert!(fd >= 0, "memfd_create: {}", io::Error::last_os_error());
    // SAFETY: `fd` was just returned to us open, and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let len = libc::off_t::try_from(len).expect("mapping length fits off_t");
    // SAFETY: `fd` is an open memfd.
    let rc = unsafe { libc::ftruncate(fd.as_raw_fd(), len) };
    assert!(rc == 0, "ftruncate: {}", io::Error::last_os_error());
    fd
}

// ---------------------------------------------------------------------------
// Raw futex, pipes, CPUs
// ---------------------------------------------------------------------------

/// Sleeps while `*word == expected` (or returns at once if it differs, or on a
/// signal or a spurious wake: the caller re-checks). Shared futex: no
/// `FUTEX_PRIVATE_FLAG`, so the kernel keys it by the mapped page, not by this
/// address space.
fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a live, aligned 32-bit word of a shared mapping; the
    // null timeout means "no deadline"; the kernel only reads the word.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Wakes at most one waiter sleeping on `word` in any process.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned 32-bit word; FUTEX_WAKE does not access it.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// A pipe whose two ends are inherited by children (no `O_CLOEXEC`): (read, write).
fn inheritable_pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    let rc = unsafe { libc::pipe(fds.as_mut_ptr()) };
    assert!(rc == 0, "pipe: {}", io::Error::last_os_error());
    // SAFETY: both descriptors were just returned to us open, owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Keeps `fd` out of children.
fn set_cloexec(fd: &OwnedFd) {
    // SAFETY: `fd` is open; F_SETFD only changes its descriptor flags.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    assert!(rc == 0, "fcntl: {}", io::Error::last_os_error());
}

/// The CPUs this process may run on.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` < CPU_SETSIZE, the capacity of `set`.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread (the process's only busy thread) to `cpu`.
fn pin_to(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; all zeros is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` comes from `allowed_cpus`, so it is < CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn read_u64(pipe: &mut File) -> u64 {
    let mut buf = [0u8; 8];
    pipe.read_exact(&mut buf).expect("pipe read");
    u64::from_ne_bytes(buf)
}

fn write_u64(pipe: &mut File, v: u64) {
    pipe.write_all(&v.to_ne_bytes()).expect("pipe write");
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

// ---------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------

/// The ring rows: (command word, label, strategy).
fn strategies() -> [(&'static str, String, WaitStrategy); 3] {
    [
        (
            "busy",
            "ringway blocking, BusySpin".into(),
            WaitStrategy::BusySpin,
        ),
        (
            "default",
            format!(
                "ringway blocking, SpinThenPark{{{}}} (default)",
                ringway::DEFAULT_SPINS
            ),
            WaitStrategy::default(),
        ),
        ("park", "ringway blocking, Park".into(), WaitStrategy::Park),
    ]
}

fn strategy_named(word: &str) -> WaitStrategy {
    strategies()
        .into_iter()
        .find(|(w, _, _)| *w == word)
        .map(|(_, _, s)| s)
        .unwrap_or_else(|| panic!("unknown strategy {word}"))
}

// ---------------------------------------------------------------------------
// The peer process
// ---------------------------------------------------------------------------

/// What the parent tells the peer through `PEER_ENV`:
/// `memfd,cpu,ping_read_fd,pong_write_fd,parent_pid` (cpu -1: not pinned).
struct PeerSpec {
    memfd: RawFd,
    cpu: Option<usize>,
    ping_read: RawFd,
    pong_write: RawFd,
    parent: libc::pid_t,
}

impl PeerSpec {
    fn render(&self) -> String {
        let cpu = self.cpu.map_or(-1, |c| c as i64);
        format!(
            "{},{cpu},{},{},{}",
            self.memfd, self.ping_read, self.pong_write, self.parent
        )
    }

    fn parse(s: &str) -> PeerSpec {
        let f: Vec<i64> = s
            .split(',')
            .map(|x| x.parse().expect("peer spec number"))
            .collect();
        assert_eq!(f.len(), 5, "peer spec {s:?}");
        let fd = |v: i64| RawFd::try_from(v).expect("fd");
        PeerSpec {
            memfd: fd(f[0]),
            cpu: usize::try_from(f[1]).ok(),
            ping_read: fd(f[2]),
            pong_write: fd(f[3]),
            parent: libc::pid_t::try_from(f[4]).expect("pid"),
        }
    }
}

/// The peer: answers pings and consumes the flow, as the parent commands.
fn peer_main(spec: &PeerSpec) {
    // Die with the parent, so a killed bench leaves no stray process.
    // SAFETY: PR_SET_PDEATHSIG with a valid signal number; no memory involved.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != spec.parent {
        // The parent died before the prctl took effect.
        std::process::exit(1);
    }
    if let Some(cpu) = spec.cpu {
        pin_to(cpu).expect("peer: sched_setaffinity");
    }

    let map = Mapping::map(spec.memfd, mapping_len());
    let open = |index| {
        // SAFETY: ring `index` occupies ring_len() bytes of the mapping, which is
        // 4096-aligned and never unmapped, and the parent created it there with the
        // same builder; every other user of it goes through the ring protocol.
        unsafe {
            OpenOptions::new()
                .kind(Kind::Spsc)
                .message::<u64>()
                .open_in(map.ring_ptr(index), ring_len())
        }
        .expect("peer opens ring")
    };
    let (ring_a, ring_b): (Ring, Ring) = (open(0), open(1));
    let mut rx = Consumer::<u64>::attach(&ring_a).expect("peer: consumer of ring A");
    let mut tx = Producer::<u64>::attach(&ring_b).expect("peer: producer of ring B");
    let (ping, pong) = (map.word(PING_WORD), map.word(PONG_WORD));
    // SAFETY: the parent passed us these descriptors open (inherited across exec)
    // and nothing else in this process owns them.
    let mut ping_read = unsafe { File::from_raw_fd(spec.ping_read) };
    // SAFETY: as above.
    let mut pong_write = unsafe { File::from_raw_fd(spec.pong_write) };

    let mut out = io::stdout().lock();
    let mut reply = |line: String| {
        writeln!(out, "{line}").expect("peer: reply");
        out.flush().expect("peer: flush reply");
    };
    for line in io::stdin().lock().lines() {
        let line = line.expect("peer: read command");
        let words: Vec<&str> = line.split_whitespace().collect();
        let count = |i: usize| -> u64 { words[i].parse().expect("peer: count") };
        match words[0] {
            "ring" => {
                let strategy = strategy_named(words[1]);
                let rounds = count(2);
                rx.set_wait_strategy(strategy);
                tx.set_wait_strategy(strategy);
                reply("go".into());
                let before = ringway_sync::stats();
                for i in 0..rounds {
                    let v = rx.pop_blocking().expect("peer: ring A is consistent");
                    assert_eq!(v, i, "peer: ping out of sequence");
                    tx.push_blocking(v + 1).expect("peer: ring B is consistent");
                }
                let used = ringway_sync::stats().since(before);
                reply(format!(
                    "done {} {}",
                    used.wait_syscalls, used.wake_syscalls
                ));
            }
            "futex" => {
                let rounds = count(1);
                reply("go".into());
                let (mut waits, mut wakes) = (0u64, 0u64);
                for i in 0..rounds {
                    // The parent writes round i as i + 1 (0 is the initial value).
                    let want = (i as u32).wrapping_add(1);
                    loop {
                        // Acquire: pairs with the parent's Release store of the ping.
                        let seen = ping.load(Ordering::Acquire);
                        if seen == want {
                            break;
                        }
                        waits += 1;
                        futex_wait(ping, seen);
                    }
                    // Release: pairs with the parent's Acquire load of the pong.
                    pong.store(want.wrapping_add(1), Ordering::Release);
                    wakes += 1;
                    futex_wake(pong);
                }
                reply(format!("done {waits} {wakes}"));
            }
            "pipe" => {
                let rounds = count(1);
                reply("go".into());
                for i in 0..rounds {
                    let v = read_u64(&mut ping_read);
                    assert_eq!(v, i, "peer: pipe ping out of sequence");
                    write_u64(&mut pong_write, v + 1);
                }
                reply("done 0 0".into());
            }
            "flow" => {
                let messages = count(1);
                rx.set_wait_strategy(WaitStrategy::default());
                reply("go".into());
                let before = ringway_sync::stats();
                for i in 0..messages {
                    let v = rx.pop_blocking().expect("peer: ring A is consistent");
                    assert_eq!(v, i, "peer: flow lost, duplicated or reordered a message");
                }
                let used = ringway_sync::stats().since(before);
                reply(format!(
                    "done {} {}",
                    used.wait_syscalls, used.wake_syscalls
                ));
            }
            "quit" => return,
            other => panic!("peer: unknown command {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// The parent process
// ---------------------------------------------------------------------------

/// The peer process and its command channel.
struct Peer {
    child: Child,
    commands: ChildStdin,
    replies: BufReader<ChildStdout>,
}

impl Peer {
    fn send(&mut self, line: &str) {
        writeln!(self.commands, "{line}").expect("send a command to the peer");
        self.commands.flush().expect("flush a command to the peer");
    }

    fn recv(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .replies
            .read_line(&mut line)
            .expect("read the peer's reply");
        assert!(n > 0, "the peer closed its stdout (did it panic?)");
        line.trim_end().to_owned()
    }

    /// Sends `command` and waits for the peer's `go`.
    fn start(&mut self, command: &str) {
        self.send(command);
        assert_eq!(self.recv(), "go", "peer's answer to {command:?}");
    }

    /// Waits for `done WAITS WAKES`.
    fn done(&mut self) -> Calls {
        let line = self.recv();
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f.len() == 3 && f[0] == "done", "peer said {line:?}");
        Calls {
            wait: f[1].parse().expect("wait count"),
            wake: f[2].parse().expect("wake count"),
        }
    }
}

/// Wait and wake system calls made by one process over a stretch.
#[derive(Clone, Copy, Default)]
struct Calls {
    wait: u64,
    wake: u64,
}

impl Calls {
    fn add(&mut self, other: Calls) {
        self.wait += other.wait;
        self.wake += other.wake;
    }

    fn of(stats: ringway_sync::Stats) -> Calls {
        Calls {
            wait: stats.wait_syscalls,
            wake: stats.wake_syscalls,
        }
    }
}

/// One round-trip row: samples and system calls of both processes.
struct Row {
    label: String,
    samples: Vec<u64>,
    rounds: u64,
    parent: Calls,
    peer: Calls,
    /// What the syscall columns hold for rows without futex counts.
    calls_note: Option<&'static str>,
}

impl Row {
    fn new(label: String, plan: Plan) -> Row {
        Row {
            label,
            samples: Vec::with_capacity(plan.passes * plan.timed as usize),
            rounds: 0,
            parent: Calls::default(),
            peer: Calls::default(),
            calls_note: None,
        }
    }
}

/// Runs `warmup` untimed then `timed` timed round trips `round(i)`, appending one
/// sample per timed round trip (nanoseconds between consecutive clock reads).
fn timed_rounds(plan: Plan, samples: &mut Vec<u64>, mut round: impl FnMut(u64)) {
    for i in 0..plan.warmup {
        round(i);
    }
    let mut last = Instant::now();
    for i in plan.warmup..plan.warmup + plan.timed {
        round(i);
        let now = Instant::now();
        samples.push(u64::try_from((now - last).as_nanos()).unwrap_or(u64::MAX));
        last = now;
    }
}

/// Nanoseconds of one `Instant::now()` (each sample includes one).
fn clock_read_ns() -> f64 {
    const N: u32 = 100_000;
    let start = Instant::now();
    let mut last = start;
    for _ in 0..N {
        last = std::hint::black_box(Instant::now());
    }
    (last - start).as_nanos() as f64 / f64::from(N)
}

/// Median and p99 (nearest rank) of `samples`, sorting them.
fn percentiles(samples: &mut [u64]) -> (u64, u64) {
    samples.sort_unstable();
    let n = samples.len();
    let rank = |p: f64| samples[((n as f64 * p).ceil() as usize).clamp(1, n) - 1];
    (rank(0.50), rank(0.99))
}

fn parent_main(plan: Plan, full: bool) {
    let started = Instant::now();
    let load_before = load_average();

    // Shared state: the memfd mapping (futex words + rings) and two pipes.
    let memfd = create_memfd(mapping_len());
    let map = Mapping::map(memfd.as_raw_fd(), mapping_len());
    let create = |index| {
        // SAFETY: ring `index` occupies ring_len() bytes of the mapping, which is
        // 4096-aligned and never unmapped; the peer opens it only after this and
        // then follows the ring protocol.
        unsafe { ring_builder().create_in(map.ring_ptr(index), ring_len()) }.expect("create ring")
    };
    let (ring_a, ring_b) = (create(0), create(1));
    let mut tx = Producer::<u64>::attach(&ring_a).expect("producer of ring A");
    let mut rx = Consumer::<u64>::attach(&ring_b).expect("consumer of ring B");
    let (ping, pong) = (map.word(PING_WORD), map.word(PONG_WORD));
    let (ping_read, ping_write) = inheritable_pipe();
    let (pong_read, pong_write) = inheritable_pipe();
    set_cloexec(&ping_write);
    set_cloexec(&pong_read);
    let mut ping_write = File::from(ping_write);
    let mut pong_read = File::from(pong_read);

    // CPUs: this process on the first allowed one, the peer on the second.
    let cpus = allowed_cpus();
    let pinned = if cpus.len() >= 2 && pin_to(cpus[0]).is_ok() {
        Some((cpus[0], cpus[1]))
    } else {
        None
    };

    let spec = PeerSpec {
        memfd: memfd.as_raw_fd(),
        cpu: pinned.map(|(_, peer)| peer),
        ping_read: ping_read.as_raw_fd(),
        pong_write: pong_write.as_raw_fd(),
        // SAFETY: getpid has no preconditions.
        parent: unsafe { libc::getpid() },
    };
    let mut child = Command::new(std::env::current_exe().expect("path of this bench binary"))
        .env(PEER_ENV, spec.render())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn the peer process");
    // The peer's ends live on in the peer only: a dead peer means EOF here.
    drop((ping_read, pong_write, memfd));
    let watchdog = Watchdog::start(child.id(), plan.limit);
    let mut peer = Peer {
        commands: child.stdin.take().expect("peer stdin"),
        replies: BufReader::new(child.stdout.take().expect("peer stdout")),
        child,
    };

    let clock_ns = clock_read_ns();
    let mut rows: Vec<Row> = strategies()
        .into_iter()
        .map(|(_, label, _)| Row::new(label, plan))
        .collect();
    rows.push(Row::new("raw shared futex, no spin".into(), plan));
    rows.push(Row::new("pipe, 8-byte read/write".into(), plan));
    rows[4].calls_note = Some("read+write: 1+1 | 1+1");
    let rounds = plan.warmup + plan.timed;

    for _pass in 0..plan.passes {
        for (index, (word, _, strategy)) in strategies().into_iter().enumerate() {
            tx.set_wait_strategy(strategy);
            rx.set_wait_strategy(strategy);
            peer.start(&format!("ring {word} {rounds}"));
            let before = ringway_sync::stats();
            timed_rounds(plan, &mut rows[index].samples, |i| {
                tx.push_blocking(i).expect("ring A is consistent");
                let v = rx.pop_blocking().expect("ring B is consistent");
                assert_eq!(v, i + 1, "pong is not ping + 1");
            });
            let row = &mut rows[index];
            row.parent
                .add(Calls::of(ringway_sync::stats().since(before)));
            row.peer.add(peer.done());
            row.rounds += rounds;
        }

        // Raw futex: round i is written as i + 1 (the peer expects that), so the
        // words restart from 0 every pass.
        // Relaxed: the peer is idle between commands, and the command channel
        // (a pipe write and read) orders these stores before its first load.
        ping.store(0, Ordering::Relaxed);
        pong.store(0, Ordering::Relaxed);
        peer.start(&format!("futex {rounds}"));
        let mut mine = Calls::default();
        timed_rounds(plan, &mut rows[3].samples, |i| {
            let want = (i as u32).wrapping_add(1);
            // Release: pairs with the peer's Acquire load of the ping.
            ping.store(want, Ordering::Release);
            mine.wake += 1;
            futex_wake(ping);
            loop {
                // Acquire: pairs with the peer's Release store of the pong.
                let seen = pong.load(Ordering::Acquire);
                if seen == want.wrapping_add(1) {
                    break;
                }
                mine.wait += 1;
                futex_wait(pong, seen);
            }
        });
        rows[3].parent.add(mine);
        rows[3].peer.add(peer.done());
        rows[3].rounds += rounds;

        peer.start(&format!("pipe {rounds}"));
        timed_rounds(plan, &mut rows[4].samples, |i| {
            write_u64(&mut ping_write, i);
            assert_eq!(read_u64(&mut pong_read), i + 1, "pipe pong is not ping + 1");
        });
        rows[4].peer.add(peer.done());
        rows[4].rounds += rounds;
    }

    // Steady one-way flow, default strategy on both sides.
    tx.set_wait_strategy(WaitStrategy::default());
    peer.start(&format!("flow {}", plan.flow));
    let before = ringway_sync::stats();
    let flow_start = Instant::now();
    for i in 0..plan.flow {
        tx.push_blocking(i).expect("ring A is consistent");
    }
    let flow_parent = Calls::of(ringway_sync::stats().since(before));
    let flow_peer = peer.done();
    let flow_ns = flow_start.elapsed().as_nanos() as f64 / plan.flow as f64;

    watchdog.disarm();
    peer.send("quit");
    let status = peer.child.wait().expect("reap the peer");
    assert!(status.success(), "peer process failed: {status}");
    let load_after = load_average();

    if !full {
        // A smoke run makes no claims: a few hundred samples, often of an
        // unoptimised build, say nothing about latency.
        println!(
            "wakeup bench, quick smoke run (no --bench): 5 round-trip rows x {} round trips \
             and a {}-message flow between two processes, all checked; no figures. \
             For the table: cargo bench -p ringway-benches --bench wakeup",
            plan.passes as u64 * (plan.warmup + plan.timed),
            plan.flow
        );
        return;
    }
    print_report(Report {
        plan,
        rows: &mut rows,
        flow: (flow_parent, flow_peer, flow_ns),
        pinned,
        clock_ns,
        loads: (load_before, load_after),
        elapsed: started.elapsed(),
    });
}

/// Kills the peer and fails the run when the peer dies early or the time limit
/// passes, so a wedged run never hangs CI or leaves a process behind.
struct Watchdog {
    armed: &'static AtomicBool,
}

impl Watchdog {
    fn start(pid: u32, limit: Duration) -> Watchdog {
        let armed: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(true)));
        let pid = libc::pid_t::try_from(pid).expect("pid");
        let deadline = Instant::now() + limit;
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            // SeqCst, like the store in `disarm`: the flag must read disarmed here
            // once the peer has exited because of the `quit` sent after `disarm`.
            if !armed.load(Ordering::SeqCst) {
                return;
            }
            // SAFETY: siginfo_t is plain data; all zeros is a valid value.
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: `info` is a valid siginfo_t; WNOWAIT leaves the child to be
            // reaped by the main thread.
            let rc = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
                )
            };
            // SAFETY: waitid filled `info` (or left it zeroed: si_pid 0).
            let exited = rc == 0 && unsafe { info.si_pid() } == pid;
            // Re-check: `disarm` comes before the `quit` that ends the peer, so a
            // peer that exited while the flag still reads armed exited early.
            if (exited || Instant::now() > deadline) && armed.load(Ordering::SeqCst) {
                eprintln!(
                    "wakeup bench: {}; giving up",
                    if exited {
                        "the peer process exited early"
                    } else {
                        "time limit reached"
                    }
                );
                // SAFETY: kill on our own child's pid (still unreaped, so not reused).
                unsafe { libc::kill(pid, libc::SIGKILL) };
                std::process::exit(1);
            }
        });
        Watchdog { armed }
    }

    fn disarm(self) {
        // SeqCst: see the loads in the watchdog thread.
        self.armed.store(false, Ordering::SeqCst);
    }
}

struct Report<'a> {
    plan: Plan,
    rows: &'a mut [Row],
    flow: (Calls, Calls, f64),
    pinned: Option<(usize, usize)>,
    clock_ns: f64,
    loads: (String, String),
    elapsed: Duration,
}

fn per(calls: Calls, ops: u64) -> String {
    let ops = ops.max(1) as f64;
    format!(
        "{:.4}+{:.4}",
        calls.wait as f64 / ops,
        calls.wake as f64 / ops
    )
}

/// `a / b` as "1.23x", with fewer decimals as it grows.
fn ratio(a: u64, b: u64) -> String {
    let x = a as f64 / b.max(1) as f64;
    match x {
        x if x < 10.0 => format!("{x:.2}x"),
        x if x < 100.0 => format!("{x:.1}x"),
        x => format!("{x:.0}x"),
    }
}

fn print_report(r: Report<'_>) {
    let cpus = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    println!();
    println!("ringway wakeup benchmark: round trips between two processes, in ns");
    println!("  machine: {cpus}, {online} CPUs online (as the guest sees them)");
    match r.pinned {
        Some((me, peer)) => println!(
            "  pinned with sched_setaffinity: parent process on CPU {me}, peer process on CPU {peer}"
        ),
        None => println!("  NOT pinned (fewer than 2 usable CPUs or sched_setaffinity failed)"),
    }
    println!(
        "  load average (1/5/15 min): {} at start, {} at end; run took {:.1} s",
        r.loads.0,
        r.loads.1,
        r.elapsed.as_secs_f64()
    );
    println!(
        "  per row: {} timed round trips = {} interleaved passes x {} (each after {} warm-up); \
         every pong checked = ping + 1",
        r.plan.passes as u64 * r.plan.timed,
        r.plan.passes,
        r.plan.timed,
        r.plan.warmup
    );
    println!(
        "  each sample includes one clock read (~{:.0} ns); rings: SPSC u64, {} slots, one memfd mapping",
        r.clock_ns, RING_CAPACITY
    );
    println!();

    let stats: Vec<(u64, u64)> = r
        .rows
        .iter_mut()
        .map(|row| percentiles(&mut row.samples))
        .collect();
    let (def_med, def_p99) = stats[1];
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>9}   {:<27}",
        "mechanism", "median", "p99", "med/dflt", "p99/dflt", "wait+wake calls/op: parent | peer"
    );
    println!("{}", "-".repeat(46 + 4 * 10 + 3 + 35));
    for (row, &(med, p99)) in r.rows.iter().zip(&stats) {
        let calls = match row.calls_note {
            Some(note) => note.to_owned(),
            None => format!(
                "{} | {}",
                per(row.parent, row.rounds),
                per(row.peer, row.rounds)
            ),
        };
        println!(
            "{:<46} {:>9} {:>9} {:>9} {:>9}   {calls}",
            row.label,
            med,
            p99,
            ratio(med, def_med),
            ratio(p99, def_p99),
        );
    }
    let (parent, peer, ns) = r.flow;
    println!(
        "{:<46} {:>29}   {} | {}",
        format!("steady one-way flow, {} u64, default", r.plan.flow),
        format!("{ns:.1} ns/msg (mean)"),
        per(parent, r.plan.flow),
        per(peer, r.plan.flow),
    );
    println!();
    println!(
        "  flow totals over {} messages: parent (producer) {} waits + {} wakes, \
         peer (consumer) {} waits + {} wakes",
        r.plan.flow, parent.wait, parent.wake, peer.wait, peer.wake
    );
    println!(
        "  op = one round trip (rows 1-5) or one message (flow row: parent pushes, peer pops).\n  \
         Syscall counts: ringway_sync::stats() in each process for ringway rows; the raw\n  \
         futex row counts its own FUTEX_WAIT/FUTEX_WAKE calls; ratios are to the default row."
    );
}
