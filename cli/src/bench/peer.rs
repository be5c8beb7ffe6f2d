//! The bench's peer process: `ringway __peer SPEC`. Opens the row's
//! mechanism, answers the placement probe, then runs its side of the
//! workload, checking every sequence number; exits non-zero on any failure.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ringway::{Kind, OpenOptions, Ring, WaitStrategy};

use super::chan::Endpoint;
use super::lines::Lines;
use super::ringio;
use super::spec::{Mech, Spec, Work};
use super::walk::Walk;
use super::work::RingWait;
use super::{is_bench_path, work, Watch};
use crate::failure::{fail, Failure};
use crate::sys::{self, Mq};
use ringway::{with_any, AnyProducer, Bytes};

enum Side {
    RingRtt(ringio::EchoPair, RingWait),
    RingU64(AnyProducer<u64>),
    RingBytes(AnyProducer<Bytes>),
    Multi(Ring),
    Line,
    Walk,
    KernelRtt(Endpoint, Endpoint),
    KernelStream(Endpoint),
}

/// Opens a ring of the bench's, checking its kind against the row's.
fn open_ring(spec: &Spec, name: &str) -> Result<Ring, Failure> {
    let kind = if matches!(spec.mech, Mech::RingMpmc | Mech::RingMpmc2p2c) {
        Kind::Mpmc
    } else {
        Kind::Spsc
    };
    Ok(OpenOptions::new().kind(kind).open_shm(name)?)
}

fn fd(spec: &Spec, i: usize) -> Result<std::os::fd::OwnedFd, Failure> {
    let Some(&raw) = spec.fds.get(i) else {
        fail!("peer: descriptor {i} missing from the spec");
    };
    // SAFETY: the bench cleared close-on-exec on exactly these descriptors
    // for us, and nothing else in this fresh process owns them.
    Ok(unsafe { sys::inherit(raw) })
}

fn name(spec: &Spec, i: usize) -> Result<&str, Failure> {
    match spec.names.get(i) {
        Some(n) => Ok(n),
        None => fail!("peer: name {i} missing from the spec"),
    }
}

fn fifo(spec: &Spec, i: usize, write: bool) -> Result<std::os::fd::OwnedFd, Failure> {
    let path = PathBuf::from(name(spec, i)?);
    if !is_bench_path(&path) {
        fail!("peer: {} is not a bench FIFO", path.display());
    }
    Ok(sys::open_fifo(
        &path,
        write,
        Instant::now() + Duration::from_secs(10),
    )?)
}

/// `ringway __peer SPEC`.
pub(crate) fn run(spec: &str) -> Result<(), Failure> {
    let spec: Spec = spec.parse()?;
    sys::die_with_parent();
    if let Some(cpu) = spec.cpu {
        sys::pin_to(cpu)?;
    }
    let dur = Duration::from_millis(spec.millis);
    sys::watchdog(30 + 2 * (spec.millis / 1000) as u32);
    let polling = spec.work != Work::RttBlock;
    let rtt = matches!(spec.work, Work::RttSpin | Work::RttBlock);
    let side = match spec.mech {
        Mech::Ring | Mech::RingStamped | Mech::RingMpmc | Mech::RingDefault if rtt => {
            let ping = open_ring(&spec, name(&spec, 0)?)?;
            let pong = open_ring(&spec, name(&spec, 1)?)?;
            let wait = match (spec.work, spec.mech) {
                (Work::RttSpin, _) => RingWait::Spin,
                (_, Mech::RingDefault) => RingWait::Block(WaitStrategy::default()),
                _ => RingWait::Block(WaitStrategy::Park),
            };
            Side::RingRtt(ringio::echo_pair(&ping, &pong)?, wait)
        }
        Mech::Ring | Mech::RingStamped | Mech::RingMpmc | Mech::RingDefault => {
            let ring = open_ring(&spec, name(&spec, 0)?)?;
            match spec.work {
                Work::Tput { size: 8, .. } => Side::RingU64(AnyProducer::attach(&ring)?),
                _ => Side::RingBytes(AnyProducer::attach(&ring)?),
            }
        }
        Mech::RingMpmc2p2c => Side::Multi(open_ring(&spec, name(&spec, 0)?)?),
        Mech::CacheLine => Side::Line,
        Mech::SlotWalk => Side::Walk,
        Mech::Pipe | Mech::Eventfd if rtt => {
            let (ping, pong) = (fd(&spec, 0)?, fd(&spec, 1)?);
            if spec.mech == Mech::Pipe {
                Side::KernelRtt(Endpoint::Stream(ping), Endpoint::Stream(pong))
            } else {
                Side::KernelRtt(Endpoint::Event(ping), Endpoint::Event(pong))
            }
        }
        Mech::Pipe | Mech::Eventfd => Side::KernelStream(Endpoint::Stream(fd(&spec, 0)?)),
        Mech::UnixStream | Mech::UnixDgram => {
            let s = fd(&spec, 0)?;
            let ep = |f| {
                if spec.mech == Mech::UnixStream {
                    Endpoint::Stream(f)
                } else {
                    Endpoint::Dgram(f)
                }
            };
            if rtt {
                Side::KernelRtt(ep(s.try_clone()?), ep(s))
            } else {
                Side::KernelStream(ep(s))
            }
        }
        Mech::Fifo if rtt => {
            let ping = fifo(&spec, 0, false)?;
            let pong = fifo(&spec, 1, true)?;
            Side::KernelRtt(Endpoint::Stream(ping), Endpoint::Stream(pong))
        }
        Mech::Fifo => Side::KernelStream(Endpoint::Stream(fifo(&spec, 0, true)?)),
        Mech::Mqueue if rtt => {
            let ping = Mq::open(name(&spec, 0)?, None, polling)?;
            let pong = Mq::open(name(&spec, 1)?, None, polling)?;
            Side::KernelRtt(Endpoint::Mq(ping), Endpoint::Mq(pong))
        }
        Mech::Mqueue => Side::KernelStream(Endpoint::Mq(Mq::open(name(&spec, 0)?, None, polling)?)),
    };
    match &side {
        Side::KernelRtt(a, b) => {
            a.set_polling(polling)?;
            b.set_polling(polling)?;
        }
        Side::KernelStream(a) => a.set_polling(polling)?,
        _ => {}
    }
    let lines = Lines::open(&spec.probe, false)?;
    let watch = Watch::new(Duration::from_secs(20) + dur * 2);
    lines.echo(0, &watch)?;
    match side {
        Side::Line => lines.echo(1, &watch),
        Side::Walk => {
            let (mut rx, mut tx) = (Walk::ping(&lines), Walk::pong(&lines));
            work::ring_echo(&mut rx, &mut tx, RingWait::Spin, &watch)
        }
        Side::RingRtt(pair, wait) => {
            with_any!(pair, (mut rx, mut tx) => work::ring_echo(&mut rx, &mut tx, wait, &watch))
        }
        Side::KernelRtt(rx, tx) => work::rtt_echo(&rx, &tx, &watch),
        Side::RingU64(tx) => {
            let Work::Tput { batch, .. } = spec.work else {
                fail!("bad row")
            };
            with_any!(tx, mut tx => work::ring_send_u64(&mut tx, batch, dur, &watch))
        }
        Side::Multi(ring) => {
            let Work::Tput { batch, .. } = spec.work else {
                fail!("bad row")
            };
            super::multi::send(&ring, batch, dur, &watch)
        }
        Side::RingBytes(tx) => {
            let Work::Tput { batch, .. } = spec.work else {
                fail!("bad row")
            };
            with_any!(tx, mut tx => work::ring_send_bytes(&mut tx, batch, dur, &watch))
        }
        Side::KernelStream(tx) => {
            let Work::Tput { size, batch } = spec.work else {
                fail!("bad row")
            };
            work::stream_send(&tx, size, batch, dur, &watch)
        }
    }
    .map_err(|Failure(m)| Failure(format!("peer: {m}")))
}
