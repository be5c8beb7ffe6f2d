//! `ringway bench`: the main job. Two processes, pinned to two cores, measure
//! ringway and the classic IPC mechanisms on the same workloads, one row at
//! a time, each row preceded by a short cache-line placement probe.
//!
//! Per row: the bench creates the mechanism (unique names carrying its pid),
//! starts the peer (this binary, `__peer`, pinned to the other core, killed
//! by the kernel if the bench dies), runs the probe (which also proves the
//! peer has opened everything), removes every name at once, runs the
//! workload checking each message's sequence number, and reaps the peer,
//! whose exit status says whether its own checks passed.

mod chan;
mod lines;
mod multi;
pub(crate) mod peer;
pub(crate) mod records;
mod report;
mod ringio;
mod spec;
mod walk;
mod work;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ringway::{Kind, Ring, RingBuilder, WaitStrategy};

use self::chan::Endpoint;
use self::lines::Lines;
use self::report::{Latency, Outcome, Row};
use self::spec::{Mech, Spec, Work};
use self::work::RingWait;
use crate::failure::{fail, Failure};
use crate::sys::{self, Mq};
use ringway::{with_any, AnyConsumer, Bytes};

/// `ringway bench` options.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Write every result (with latency quantiles) as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw the round-trip latency distributions as an SVG to FILE.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
    /// A few milliseconds per row: checks that everything runs, measures nothing.
    #[arg(long)]
    quick: bool,
    /// Milliseconds measured per row (default 300 for round trips, 250 for throughput).
    #[arg(long, value_name = "MS")]
    millis: Option<u64>,
    /// KiB of slots in the throughput rings (pipes hold 64 KiB, UNIX
    /// sockets about 200 KiB by default).
    #[arg(long, value_name = "KIB", default_value_t = 256)]
    ring_kib: usize,
    /// Only these mechanisms (comma-separated: ringway, ringway-stamped, ringway-mpmc,
    /// ringway-mpmc-2p2c, ringway-default, cache-line, slot-walk, pipe, fifo,
    /// unix-stream, unix-dgram, mq, eventfd); ringway, the baseline, is
    /// always included. `records` adds the variable-size rows, which the
    /// default run (no `--only`) ends with.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Run only the variable-size rows: records of 64 B..64 KiB through a
    /// record ring, a pipe and a UNIX datagram socket, and a broadcast ring
    /// to 1, 2 and 4 subscriber processes (the default run ends with them).
    #[arg(long)]
    records: bool,
}

/// A deadline for loops that wait on the peer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Watch {
    pub(crate) deadline: Instant,
}

impl Watch {
    pub(crate) fn new(limit: Duration) -> Watch {
        Watch {
            deadline: Instant::now() + limit,
        }
    }

    /// Fails once the deadline has passed, or on an interrupt.
    pub(crate) fn check(&self, what: &str) -> Result<(), Failure> {
        if sys::interrupted() {
            fail!("interrupted");
        }
        if Instant::now() > self.deadline {
            fail!("the peer stopped answering ({what})");
        }
        Ok(())
    }
}

/// Names created for one row; all removed on drop (and earlier, once the
/// peer has opened them).
#[derive(Debug, Default)]
struct Names {
    shm: Vec<String>,
    fifos: Vec<PathBuf>,
    mqs: Vec<String>,
}

impl Names {
    fn remove_all(&mut self) {
        for n in self.shm.drain(..) {
            let _ = Ring::remove_shm(&n);
        }
        for p in self.fifos.drain(..) {
            let _ = std::fs::remove_file(p);
        }
        for q in self.mqs.drain(..) {
            Mq::unlink(&q);
        }
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        self.remove_all();
    }
}

/// The peer process; killed and reaped on drop unless waited for.
#[derive(Debug)]
struct PeerGuard(Option<Child>);

impl PeerGuard {
    fn wait(mut self) -> Result<(), Failure> {
        let Some(mut child) = self.0.take() else {
            return Ok(());
        };
        let status = child.wait()?;
        if !status.success() {
            fail!("the peer process failed ({status}); see its message above");
        }
        Ok(())
    }
}

impl Drop for PeerGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The bench's handles for one row.
#[derive(Debug)]
enum Side {
    RingRtt(ringio::PingPair, RingWait),
    RingU64(AnyConsumer<u64>),
    RingBytes(AnyConsumer<Bytes>),
    /// The 2P2C MPMC row: the ring, for `multi::THREADS` consumers.
    Multi(Ring),
    Line,
    /// The slot-walk row (`walk.rs`), in the probe's object.
    Walk,
    KernelRtt(Endpoint, Endpoint),
    KernelStream(Endpoint),
    /// FIFOs are opened after the peer starts: (ping or data path, pong path).
    Fifo(PathBuf, Option<PathBuf>),
}

/// Row durations.
#[derive(Clone, Copy, Debug)]
struct Timing {
    rtt: Duration,
    tput: Duration,
    probe: Duration,
    ring_kib: usize,
}

/// Batch size for a message size: about 4-256 KiB per call.
fn batch_for(size: usize) -> usize {
    match size {
        0..=64 => 64,
        65..=4096 => 16,
        _ => 4,
    }
}

/// Ring capacity for a stream of `size`-byte messages: `ring_kib` of slots,
/// at least 8 slots.
fn ring_capacity(size: usize, ring_kib: usize) -> u64 {
    let slots = (ring_kib * 1024 / size).clamp(8, 1 << 20);
    // A power of two, rounded down.
    1u64 << (usize::BITS - 1 - slots.leading_zeros())
}

/// Every row, in table order; a row is skipped (with the reason) where the
/// mechanism cannot run the workload.
fn plan(mechs: &[Mech]) -> Vec<(Work, Mech)> {
    let mut rows = Vec::new();
    for work in [Work::RttSpin, Work::RttBlock] {
        for &m in mechs {
            if (matches!(m, Mech::CacheLine | Mech::SlotWalk) && work == Work::RttBlock)
                || (m == Mech::RingDefault && work == Work::RttSpin)
                || m == Mech::RingMpmc2p2c
            {
                continue;
            }
            rows.push((work, m));
        }
    }
    for size in [8, 64, 4096, 65536] {
        for batch in [1, batch_for(size)] {
            for &m in mechs {
                if matches!(
                    m,
                    Mech::CacheLine | Mech::SlotWalk | Mech::Eventfd | Mech::RingDefault
                ) || (m == Mech::RingMpmc2p2c && size != 8)
                {
                    continue;
                }
                rows.push((Work::Tput { size, batch }, m));
            }
        }
    }
    rows
}

/// Why `mech` cannot run `work` here, if it cannot.
fn skip_reason(work: Work, mech: Mech, mq_max: usize) -> Option<String> {
    match (work, mech) {
        (Work::Tput { size, .. }, Mech::Mqueue) if size > mq_max => Some(format!(
            "messages over /proc/sys/fs/mqueue/msgsize_max ({mq_max} B)"
        )),
        (Work::Tput { batch, .. }, Mech::Mqueue) if batch > 1 => {
            Some("no batch call (one message per mq_send)".into())
        }
        _ => None,
    }
}

/// Pins the bench and its peers to two CPUs when it may.
fn placement() -> (Option<usize>, String) {
    let cpus = sys::allowed_cpus();
    if cpus.len() >= 2 && sys::pin_to(cpus[0]).is_ok() {
        let note = format!("bench on CPU {}, peer on CPU {}", cpus[0], cpus[1]);
        (Some(cpus[1]), note)
    } else {
        (
            None,
            format!(
                "{} CPU(s) allowed: not pinned, numbers mean little",
                cpus.len()
            ),
        )
    }
}

fn utc_now() -> String {
    // SAFETY: time(NULL) only returns the clock; gmtime_r writes our `tm`.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        libc::gmtime_r(&t, &mut tm);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02} UTC",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday,
            tm.tm_hour,
            tm.tm_min
        )
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// `ringway bench`.
pub(crate) fn run(args: &BenchArgs) -> Result<(), Failure> {
    if args.records {
        let load = loadavg();
        println!(
            "ringway bench --records, {}; load average {load}",
            utc_now()
        );
        return records::run(args.quick).map(drop);
    }
    let mut mechs = Mech::ALL.to_vec();
    if !args.only.is_empty() {
        for o in &args.only {
            if o != records::TOKEN && !Mech::ALL.iter().any(|&m| m.token() == o) {
                let all: Vec<&str> = Mech::ALL.iter().map(|m| m.token()).collect();
                fail!(
                    "unknown mechanism {o:?} in --only (one of {}, {})",
                    all.join(", "),
                    records::TOKEN
                );
            }
        }
        mechs.retain(|&m| m == Mech::Ring || args.only.iter().any(|o| o == m.token()));
    }
    let timing = if args.quick {
        Timing {
            rtt: Duration::from_millis(5),
            tput: Duration::from_millis(5),
            probe: Duration::from_millis(2),
            ring_kib: args.ring_kib,
        }
    } else {
        let ms = |d| Duration::from_millis(args.millis.unwrap_or(d));
        Timing {
            rtt: ms(300),
            tput: ms(250),
            probe: Duration::from_millis(50),
            ring_kib: args.ring_kib,
        }
    };
    sys::catch_interrupts();
    let (peer_cpu, place) = placement();
    let started = Instant::now();
    let date = utc_now();
    let load_before = loadavg();
    let header = format!(
        "ringway bench, {date}: two processes ({place}); load average {load_before}\n\
         each row: a {} ms cache-line probe (its median round trip is the `probe` column), \
         then {} ms of round trips or {} ms of streaming; every message's sequence number checked.\n\
         throughput: the peer sends, the bench receives, both busy-polling non-blocking calls (no row pays a \
         wake-up), and the bench copies every message into its own buffer (ringway too, as read(2) does); rings hold {} KiB of slots (at least 8); \
         each round-trip sample includes one clock read.\n\
         `vs ringway`: the row's cost (p50 round trip, or time per message) over ringway's in the same group; \
         `others`: share of the CPUs that other processes and the hypervisor (steal) took during the row, `!` from 10%.",
        timing.probe.as_millis(),
        timing.rtt.as_millis(),
        timing.tput.as_millis(),
        timing.ring_kib
    );
    println!("{header}");
    let mq_max = sys::mq_msgsize_max();
    let plan = plan(&mechs);
    let progress = sys::stderr_is_tty();
    // One sample buffer for every row, touched once up front so that no page
    // fault lands inside a measured round trip.
    let cap = (timing.rtt.as_nanos() / 40).clamp(1 << 12, 1 << 23) as usize;
    let mut samples: Vec<u32> = vec![0; cap];
    let mut rows = Vec::with_capacity(plan.len());
    let mut printed = 0;
    for (i, &(work, mech)) in plan.iter().enumerate() {
        if progress {
            eprint!(
                "\r\x1b[K[{:>2}/{}] {:<60}",
                i + 1,
                plan.len(),
                format!("{}: {}", mech.name(), report::group_title(work))
            );
        }
        if sys::interrupted() {
            fail!("interrupted");
        }
        let row = match skip_reason(work, mech, mq_max) {
            Some(why) => Row {
                work,
                mech,
                probe_ns: None,
                others: None,
                outcome: Outcome::Skipped(why),
            },
            None => {
                samples.clear();
                let cpu = sys::CpuSnapshot::take();
                let (probe_ns, outcome) = run_row(i, work, mech, timing, peer_cpu, &mut samples)
                    .map_err(|Failure(m)| {
                        if sys::interrupted() {
                            return Failure("interrupted".into());
                        }
                        Failure(format!(
                            "{} / {}: {m}",
                            mech.name(),
                            report::group_title(work)
                        ))
                    })?;
                Row {
                    work,
                    mech,
                    probe_ns: Some(probe_ns),
                    others: cpu.and_then(|c| c.others_since()),
                    outcome,
                }
            }
        };
        rows.push(row);
        // Print each group as soon as it is complete.
        let next_work = plan.get(i + 1).map(|p| p.0);
        if next_work != Some(work) {
            if progress {
                eprint!("\r\x1b[K");
            }
            print!("{}", report::table(&rows[printed..]));
            printed = rows.len();
        }
    }
    // The variable-size rows: in the default run, or when `--only` names them.
    let variable = if args.only.is_empty() || args.only.iter().any(|o| o == records::TOKEN) {
        Some(records::run(args.quick)?)
    } else {
        None
    };
    let took = started.elapsed();
    let load_after = loadavg();
    println!(
        "\n{} rows in {:.1} s; load average after: {load_after}. \
         Two vCPUs drift (the probe column shows where each row ran): compare rows with similar probes, and rerun when in doubt.",
        rows.len() + variable.as_ref().map_or(0, Vec::len),
        took.as_secs_f64()
    );
    let subtitle = format!("{date}; {place}; load {load_before}");
    if let Some(path) = &args.json {
        let meta = serde_json::json!({
            "date": date, "placement": place, "load_before": load_before, "load_after": load_after,
            "seconds": took.as_secs_f64(), "quick": args.quick,
            "rtt_ms": timing.rtt.as_millis() as u64, "tput_ms": timing.tput.as_millis() as u64,
            "probe_ms": timing.probe.as_millis() as u64, "mq_msgsize_max": mq_max,
        });
        let mut doc = report::json(&rows, meta);
        if let (Some(v), Some(obj)) = (&variable, doc.as_object_mut()) {
            obj.insert(
                "records".into(),
                v.iter()
                    .map(records::Row::json)
                    .collect::<serde_json::Value>(),
            );
        }
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .map_err(|e| Failure(format!("writing {}: {e}", path.display())))?;
        println!("results written to {}", path.display());
    }
    if let Some(path) = &args.plot {
        std::fs::write(path, report::svg(&rows, &subtitle))
            .map_err(|e| Failure(format!("writing {}: {e}", path.display())))?;
        println!("latency plot written to {}", path.display());
    }
    Ok(())
}

fn fifo_path(base: &str, suffix: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}-{suffix}", base.trim_start_matches('/')))
}

/// What a row's bench side holds before the peer starts, and what the peer
/// inherits or opens.
struct Setup {
    side: Side,
    peer_fds: Vec<OwnedFd>,
    spec_names: Vec<String>,
}

impl Setup {
    fn new(side: Side) -> Setup {
        Setup {
            side,
            peer_fds: Vec::new(),
            spec_names: Vec::new(),
        }
    }
}

/// Runs one row: returns the probe median (ns) and the outcome.
fn run_row(
    index: usize,
    work: Work,
    mech: Mech,
    timing: Timing,
    peer_cpu: Option<usize>,
    samples: &mut Vec<u32>,
) -> Result<(f64, Outcome), Failure> {
    let base = format!("/ringway-bench-{}-{index}", std::process::id());
    let mut names = Names::default();
    let probe_name = format!("{base}-probe");
    let lines = Lines::open(&probe_name, true)?;
    names.shm.push(probe_name.clone());
    // Everything busy-polls except the blocking round trip: ringway's rows
    // poll, so the kernel mechanisms poll too (non-blocking calls, spinning
    // on EAGAIN) and no row pays a wake-up the others do not.
    let polling = work != Work::RttBlock;
    let Setup {
        side,
        peer_fds,
        mut spec_names,
    } = set_up(&base, work, mech, timing, polling, &mut names)?;
    if mech.is_ring() {
        spec_names = names.shm[1..].to_vec();
    }
    let spec = Spec {
        mech,
        work,
        millis: match work {
            Work::Tput { .. } => timing.tput.as_millis() as u64,
            _ => timing.rtt.as_millis() as u64,
        },
        probe_millis: timing.probe.as_millis() as u64,
        probe: probe_name,
        names: spec_names,
        fds: peer_fds.iter().map(|f| f.as_raw_fd()).collect(),
        cpu: peer_cpu,
    };
    let peer = spawn_peer(&spec)?;
    drop(peer_fds); // the peer has its copies; a dead peer now means EOF here
    let watch = Watch::new(Duration::from_secs(10) + timing.rtt.max(timing.tput) * 2);
    // Last resort for blocking calls whose peer vanished (mq, eventfd).
    sys::watchdog(30 + 2 * (timing.rtt.max(timing.tput).as_secs() as u32));
    let side = open_after_spawn(side, polling)?;
    // The probe: where the two processes sit right now. It also proves that
    // the peer has opened everything, so every name can go.
    let mut probe = Vec::with_capacity(1 << 20);
    lines.pinger(0, Duration::ZERO, timing.probe, &mut probe, &watch)?;
    names.remove_all();
    let probe_ns = Latency::from_samples(&mut probe).map_or(0.0, |l| l.p50);
    let outcome = measure(side, work, timing, &lines, samples, &watch)?;
    peer.wait()?;
    sys::watchdog(0);
    Ok((probe_ns, outcome))
}

/// The bench side of a row, before the peer starts: rings, pipes, sockets,
/// FIFOs (named only: opening blocks until the peer opens too), queues.
fn set_up(
    base: &str,
    work: Work,
    mech: Mech,
    timing: Timing,
    polling: bool,
    names: &mut Names,
) -> Result<Setup, Failure> {
    let rtt = matches!(work, Work::RttSpin | Work::RttBlock);
    Ok(match mech {
        Mech::RingMpmc2p2c => {
            let capacity = ring_capacity(8, timing.ring_kib);
            let ring = make_ring(base, "data", Kind::Mpmc, false, capacity, None, names)?;
            Setup::new(Side::Multi(ring))
        }
        Mech::Ring | Mech::RingStamped | Mech::RingMpmc | Mech::RingDefault => {
            Setup::new(ring_side(base, work, mech, timing, names)?)
        }
        Mech::CacheLine => Setup::new(Side::Line),
        Mech::SlotWalk => Setup::new(Side::Walk),
        Mech::Pipe if rtt => {
            let (ping_r, ping_w) = sys::pipe()?;
            let (pong_r, pong_w) = sys::pipe()?;
            Setup {
                peer_fds: vec![ping_r, pong_w],
                ..Setup::new(Side::KernelRtt(
                    Endpoint::Stream(ping_w),
                    Endpoint::Stream(pong_r),
                ))
            }
        }
        Mech::Pipe => {
            let (r, w) = sys::pipe()?;
            Setup {
                peer_fds: vec![w],
                ..Setup::new(Side::KernelStream(Endpoint::Stream(r)))
            }
        }
        Mech::UnixStream | Mech::UnixDgram => socket_side(mech, rtt)?,
        Mech::Fifo => fifo_side(base, rtt, names)?,
        Mech::Mqueue => mq_side(base, work, rtt, polling, names)?,
        Mech::Eventfd => {
            let ping = sys::eventfd()?;
            let pong = sys::eventfd()?;
            // The peer inherits the same two eventfds.
            Setup {
                peer_fds: vec![ping.try_clone()?, pong.try_clone()?],
                ..Setup::new(Side::KernelRtt(
                    Endpoint::Event(ping),
                    Endpoint::Event(pong),
                ))
            }
        }
    })
}

/// A ring row's rings and handles.
fn ring_side(
    base: &str,
    work: Work,
    mech: Mech,
    timing: Timing,
    names: &mut Names,
) -> Result<Side, Failure> {
    let kind = if mech == Mech::RingMpmc {
        Kind::Mpmc
    } else {
        Kind::Spsc
    };
    let stamped = mech == Mech::RingStamped;
    Ok(match work {
        Work::RttSpin | Work::RttBlock => {
            let ping = make_ring(base, "ping", kind, stamped, 64, None, names)?;
            let pong = make_ring(base, "pong", kind, stamped, 64, None, names)?;
            let wait = match (work, mech) {
                (Work::RttSpin, _) => RingWait::Spin,
                (_, Mech::RingDefault) => RingWait::Block(WaitStrategy::default()),
                _ => RingWait::Block(WaitStrategy::Park),
            };
            Side::RingRtt(ringio::ping_pair(&ping, &pong)?, wait)
        }
        Work::Tput { size: 8, .. } => {
            let ring = make_ring(
                base,
                "data",
                kind,
                stamped,
                ring_capacity(8, timing.ring_kib),
                None,
                names,
            )?;
            Side::RingU64(AnyConsumer::attach(&ring)?)
        }
        Work::Tput { size, .. } => {
            let ring = make_ring(
                base,
                "data",
                kind,
                stamped,
                ring_capacity(size, timing.ring_kib),
                Some(size),
                names,
            )?;
            Side::RingBytes(AnyConsumer::attach(&ring)?)
        }
    })
}

/// A UNIX socket pair: ours, and the peer's to inherit.
fn socket_side(mech: Mech, rtt: bool) -> Result<Setup, Failure> {
    let ty = if mech == Mech::UnixStream {
        libc::SOCK_STREAM
    } else {
        libc::SOCK_DGRAM
    };
    let (mine, theirs) = sys::socketpair(ty)?;
    if ty == libc::SOCK_DGRAM {
        // Room for a batch of the largest datagrams in flight.
        let sz: libc::c_int = 4 << 20;
        for fd in [&mine, &theirs] {
            for opt in [libc::SO_SNDBUF, libc::SO_RCVBUF] {
                // SAFETY: setsockopt reads an int of the size given.
                unsafe {
                    libc::setsockopt(
                        fd.as_raw_fd(),
                        libc::SOL_SOCKET,
                        opt,
                        (&sz as *const libc::c_int).cast(),
                        4,
                    )
                };
            }
        }
    }
    let ep = |fd| {
        if ty == libc::SOCK_STREAM {
            Endpoint::Stream(fd)
        } else {
            Endpoint::Dgram(fd)
        }
    };
    let side = if rtt {
        Side::KernelRtt(ep(mine.try_clone()?), ep(mine))
    } else {
        Side::KernelStream(ep(mine))
    };
    Ok(Setup {
        peer_fds: vec![theirs],
        ..Setup::new(side)
    })
}

/// FIFOs, named here and opened after the peer starts.
fn fifo_side(base: &str, rtt: bool, names: &mut Names) -> Result<Setup, Failure> {
    let mut spec_names = Vec::new();
    let a = fifo_path(base, "a");
    sys::mkfifo(&a)?;
    names.fifos.push(a.clone());
    spec_names.push(a.display().to_string());
    let b = if rtt {
        let b = fifo_path(base, "b");
        sys::mkfifo(&b)?;
        names.fifos.push(b.clone());
        spec_names.push(b.display().to_string());
        Some(b)
    } else {
        None
    };
    Ok(Setup {
        spec_names,
        ..Setup::new(Side::Fifo(a, b))
    })
}

/// POSIX message queues.
fn mq_side(
    base: &str,
    work: Work,
    rtt: bool,
    polling: bool,
    names: &mut Names,
) -> Result<Setup, Failure> {
    let mut spec_names = Vec::new();
    let size = match work {
        Work::Tput { size, .. } => size,
        _ => 8,
    };
    let ping = format!("{base}-a");
    let q1 = Mq::open(&ping, Some((10, size as i64)), polling)?;
    names.mqs.push(ping.clone());
    spec_names.push(ping);
    let side = if rtt {
        let pong = format!("{base}-b");
        let q2 = Mq::open(&pong, Some((10, size as i64)), polling)?;
        names.mqs.push(pong.clone());
        spec_names.push(pong);
        Side::KernelRtt(Endpoint::Mq(q1), Endpoint::Mq(q2))
    } else {
        Side::KernelStream(Endpoint::Mq(q1))
    };
    Ok(Setup {
        spec_names,
        ..Setup::new(side)
    })
}

/// Opens what could be opened only once the peer runs (FIFOs) and sets the
/// kernel endpoints' polling mode.
fn open_after_spawn(side: Side, polling: bool) -> Result<Side, Failure> {
    let side = match side {
        Side::Fifo(a, b) => {
            let deadline = Instant::now() + Duration::from_secs(10);
            match b {
                Some(b) => {
                    let rx = sys::open_fifo(&b, false, deadline)?;
                    let tx = sys::open_fifo(&a, true, deadline)?;
                    Side::KernelRtt(Endpoint::Stream(tx), Endpoint::Stream(rx))
                }
                None => Side::KernelStream(Endpoint::Stream(sys::open_fifo(&a, false, deadline)?)),
            }
        }
        s => s,
    };
    match &side {
        Side::KernelRtt(a, b) => {
            a.set_polling(polling)?;
            b.set_polling(polling)?;
        }
        Side::KernelStream(a) => a.set_polling(polling)?,
        _ => {}
    }
    Ok(side)
}

/// The measured part of a row, on the bench side.
fn measure(
    side: Side,
    work: Work,
    timing: Timing,
    lines: &Lines,
    samples: &mut Vec<u32>,
    watch: &Watch,
) -> Result<Outcome, Failure> {
    let warm = timing.rtt / 10;
    Ok(match side {
        Side::Line => {
            lines.pinger(1, warm, timing.rtt, samples, watch)?;
            latency(samples)?
        }
        Side::Walk => {
            let clock = work::Clock::new(warm, timing.rtt, samples);
            let (mut tx, mut rx) = (walk::Walk::ping(lines), walk::Walk::pong(lines));
            work::ring_ping(&mut tx, &mut rx, RingWait::Spin, clock, watch)?;
            latency(samples)?
        }
        Side::RingRtt(pair, wait) => {
            let clock = work::Clock::new(warm, timing.rtt, samples);
            with_any!(pair, (mut tx, mut rx) => work::ring_ping(&mut tx, &mut rx, wait, clock, watch))?;
            latency(samples)?
        }
        Side::KernelRtt(tx, rx) => {
            work::rtt_ping(&tx, &rx, work::Clock::new(warm, timing.rtt, samples), watch)?;
            latency(samples)?
        }
        Side::RingU64(rx) => {
            let Work::Tput { batch, .. } = work else {
                fail!("bad row")
            };
            stream(
                with_any!(rx, mut rx => work::ring_recv_u64(&mut rx, batch, watch))?,
                8,
            )
        }
        Side::Multi(ring) => {
            let Work::Tput { batch, .. } = work else {
                fail!("bad row")
            };
            stream(multi::recv(&ring, batch, watch)?, 8)
        }
        Side::RingBytes(rx) => {
            let Work::Tput { size, batch } = work else {
                fail!("bad row")
            };
            stream(
                with_any!(rx, mut rx => work::ring_recv_bytes(&mut rx, batch, watch))?,
                size,
            )
        }
        Side::KernelStream(rx) => {
            let Work::Tput { size, batch } = work else {
                fail!("bad row")
            };
            stream(work::stream_recv(&rx, size, batch, watch)?, size)
        }
        Side::Fifo(..) => fail!("FIFO not opened"),
    })
}

fn latency(samples: &mut [u32]) -> Result<Outcome, Failure> {
    match Latency::from_samples(samples) {
        Some(l) => Ok(Outcome::Latency(l)),
        None => fail!("no round trip completed"),
    }
}

fn stream(s: work::Stream, size: usize) -> Outcome {
    Outcome::Throughput {
        messages: s.messages,
        seconds: s.elapsed.as_secs_f64(),
        size,
    }
}

/// Creates a ring for a row: typed u64 slots, or `size`-byte slots aligned to 64.
fn make_ring(
    base: &str,
    suffix: &str,
    kind: Kind,
    stamped: bool,
    capacity: u64,
    size: Option<usize>,
    names: &mut Names,
) -> Result<Ring, Failure> {
    let name = format!("{base}-{suffix}");
    let builder = RingBuilder::new(kind).capacity(capacity).stamped(stamped);
    let builder = match size {
        None => builder.message::<u64>(),
        Some(size) => builder.slot_size(size as u32).slot_align(64),
    };
    let ring = builder.create_shm(&name)?;
    names.shm.push(name);
    Ok(ring)
}

fn spawn_peer(spec: &Spec) -> Result<PeerGuard, Failure> {
    let exe = std::env::current_exe()?;
    let fds = spec.fds.clone();
    let mut cmd = Command::new(exe);
    cmd.arg("__peer")
        .arg(spec.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls fcntl (async-signal-safe) to let the listed descriptors, which
    // this process owns, survive the exec.
    unsafe {
        cmd.pre_exec(move || {
            for &fd in &fds {
                if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(PeerGuard(Some(cmd.spawn()?)))
}

/// Whether `path` is a FIFO path the bench made (peer-side sanity check).
pub(crate) fn is_bench_path(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("ringway-bench-"))
}
