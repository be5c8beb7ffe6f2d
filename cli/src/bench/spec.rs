//! One row of the bench: what to measure, and how the bench tells its peer
//! process (as one command-line argument).

use std::fmt;
use std::str::FromStr;

use crate::failure::{fail, Failure};

/// The IPC mechanism a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mech {
    /// A ringway SPSC ring in POSIX shared memory (blocking rows: both
    /// sides wait with `WaitStrategy::Park`).
    Ring,
    /// A ringway SPSC ring with stamped slots (`RingBuilder::stamped`).
    RingStamped,
    /// A ringway MPMC ring, one producer and one consumer.
    RingMpmc,
    /// A ringway MPMC ring, two producer threads in the peer and two
    /// consumer threads in the bench (u64 throughput rows only).
    RingMpmc2p2c,
    /// A ringway SPSC ring waiting with the default strategy (spin, then
    /// park); blocking round trip only.
    RingDefault,
    /// Two shared cache lines, ping-pong: the floor.
    CacheLine,
    /// Raw stamped slots walked as a ring walks them, no ring code, through
    /// the ring rows' loops (`walk.rs`): the floor of a ring's round trip.
    SlotWalk,
    /// An anonymous pipe.
    Pipe,
    /// A named pipe.
    Fifo,
    /// A UNIX stream socket pair.
    UnixStream,
    /// A UNIX datagram socket pair.
    UnixDgram,
    /// A POSIX message queue.
    Mqueue,
    /// An eventfd (round trip only).
    Eventfd,
}

impl Mech {
    pub(crate) const ALL: [Mech; 13] = [
        Mech::Ring,
        Mech::RingStamped,
        Mech::RingMpmc,
        Mech::RingMpmc2p2c,
        Mech::RingDefault,
        Mech::CacheLine,
        Mech::SlotWalk,
        Mech::Pipe,
        Mech::Fifo,
        Mech::UnixStream,
        Mech::UnixDgram,
        Mech::Mqueue,
        Mech::Eventfd,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Mech::Ring => "ringway",
            Mech::RingStamped => "ringway stamped",
            Mech::RingMpmc => "ringway mpmc",
            Mech::RingMpmc2p2c => "mpmc 2p2c",
            Mech::RingDefault => "ringway default",
            Mech::CacheLine => "cache line",
            Mech::SlotWalk => "slot walk",
            Mech::Pipe => "pipe",
            Mech::Fifo => "fifo",
            Mech::UnixStream => "unix stream",
            Mech::UnixDgram => "unix dgram",
            Mech::Mqueue => "posix mq",
            Mech::Eventfd => "eventfd",
        }
    }

    /// The name `--only` takes, and the peer spec carries.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Mech::Ring => "ringway",
            Mech::RingStamped => "ringway-stamped",
            Mech::RingMpmc => "ringway-mpmc",
            Mech::RingMpmc2p2c => "ringway-mpmc-2p2c",
            Mech::RingDefault => "ringway-default",
            Mech::CacheLine => "cache-line",
            Mech::SlotWalk => "slot-walk",
            Mech::Pipe => "pipe",
            Mech::Fifo => "fifo",
            Mech::UnixStream => "unix-stream",
            Mech::UnixDgram => "unix-dgram",
            Mech::Mqueue => "mq",
            Mech::Eventfd => "eventfd",
        }
    }

    /// Whether this is one of ringway's own rows.
    pub(crate) fn is_ring(self) -> bool {
        matches!(
            self,
            Mech::Ring
                | Mech::RingStamped
                | Mech::RingMpmc
                | Mech::RingMpmc2p2c
                | Mech::RingDefault
        )
    }
}

/// What a row measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Work {
    /// u64 round trips, both sides busy-polling (non-blocking calls).
    RttSpin,
    /// u64 round trips, both sides blocking (sleeping in the kernel).
    RttBlock,
    /// One-way stream of `size`-byte messages from the peer to the bench.
    Tput {
        /// Bytes per message.
        size: usize,
        /// Messages per call (1: single).
        batch: usize,
    },
}

/// Everything the peer needs to run its side of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) mech: Mech,
    pub(crate) work: Work,
    /// Milliseconds the measured phase lasts.
    pub(crate) millis: u64,
    /// Milliseconds of the placement probe before it.
    pub(crate) probe_millis: u64,
    /// Shm name of the probe's cache lines.
    pub(crate) probe: String,
    /// Shm names, FIFO paths or queue names of the mechanism (ping, pong / data).
    pub(crate) names: Vec<String>,
    /// Inherited descriptors of the peer's ends (ping, pong / data).
    pub(crate) fds: Vec<i32>,
    /// CPU to pin the peer to, if any.
    pub(crate) cpu: Option<usize>,
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let work = match self.work {
            Work::RttSpin => "rttspin".to_owned(),
            Work::RttBlock => "rttblock".to_owned(),
            Work::Tput { size, batch } => format!("tput:{size}:{batch}"),
        };
        let fds: Vec<String> = self.fds.iter().map(i32::to_string).collect();
        write!(
            f,
            "{}|{}|{}|{}|{}|{}|{}|{}",
            self.mech.token(),
            work,
            self.millis,
            self.probe_millis,
            self.probe,
            self.names.join(","),
            fds.join(","),
            self.cpu.map_or(String::from("-"), |c| c.to_string())
        )
    }
}

fn list(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split(',').map(str::to_owned).collect()
    }
}

impl FromStr for Spec {
    type Err = Failure;

    fn from_str(s: &str) -> Result<Spec, Failure> {
        let parts: Vec<&str> = s.split('|').collect();
        let [mech, work, millis, probe_millis, probe, names, fds, cpu] = parts[..] else {
            fail!("bad peer spec {s:?}");
        };
        let Some(mech) = Mech::ALL.into_iter().find(|m| m.token() == mech) else {
            fail!("bad peer mechanism {mech:?}");
        };
        let work = match work {
            "rttspin" => Work::RttSpin,
            "rttblock" => Work::RttBlock,
            w => {
                let mut it = w.strip_prefix("tput:").unwrap_or("").split(':');
                match (it.next().map(str::parse), it.next().map(str::parse)) {
                    (Some(Ok(size)), Some(Ok(batch))) => Work::Tput { size, batch },
                    _ => fail!("bad peer workload {w:?}"),
                }
            }
        };
        Ok(Spec {
            mech,
            work,
            millis: millis.parse()?,
            probe_millis: probe_millis.parse()?,
            probe: probe.to_owned(),
            names: list(names),
            fds: list(fds)
                .iter()
                .map(|f| f.parse())
                .collect::<Result<_, _>>()?,
            cpu: if cpu == "-" { None } else { Some(cpu.parse()?) },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips() {
        let spec = Spec {
            mech: Mech::UnixDgram,
            work: Work::Tput {
                size: 4096,
                batch: 16,
            },
            millis: 300,
            probe_millis: 50,
            probe: "/ringway-bench-1-probe".into(),
            names: vec!["/a".into(), "/b".into()],
            fds: vec![5, 6],
            cpu: Some(1),
        };
        assert_eq!(spec.to_string().parse::<Spec>().unwrap(), spec);
    }
}
