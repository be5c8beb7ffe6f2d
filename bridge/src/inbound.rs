//! `in`: subscribe to a Zenoh key and write each message into a local ring.
//!
//! ```text
//!  Zenoh key ──▶ FIFO of `queue` samples ──▶ decode ──▶ seq check ──▶ push (blocks while full) ──▶ local ring
//! ```
//!
//! - **Back-pressure, nothing dropped silently**: a full ring blocks the
//!   push; the FIFO fills and blocks Zenoh's receive path, TCP's window
//!   closes, and the sender's `put` blocks (`CongestionControl::Block`).
//!   While the ring stays full the bridge says so once per stall.
//! - **Gaps**: per-source sequence numbers ([`crate::seq`]) turn a lost
//!   message into a reported gap and a resent one into a counted duplicate
//!   that is not written twice.
//! - A frame that is not ours, or whose payload does not fit the ring's
//!   slot, is counted as rejected and reported; its sequence number still
//!   counts as seen.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ringway::PushTimeoutError;
use zenoh::handlers::{FifoChannel, FifoChannelHandler};
use zenoh::pubsub::Subscriber;
use zenoh::sample::Sample;
use zenoh::{Session, Wait};

use crate::acks::Acker;
use crate::ring_end::Sink;
use crate::seq::{Tracker, Verdict};
use crate::wire;
use crate::Error;

/// How `in` runs.
#[derive(Clone, Debug)]
pub struct InOptions {
    /// Stop once this many messages are accounted for (delivered, lost or
    /// rejected; `None`: run until stopped).
    pub count: Option<u64>,
    /// How long a full ring blocks before the bridge reports the stall.
    pub stall_report: Duration,
}

/// What `in` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InStats {
    /// Messages written into the ring.
    pub delivered: u64,
    /// Messages that never arrived (sum of the gaps).
    pub lost: u64,
    /// Messages received again and not written twice.
    pub duplicates: u64,
    /// Frames received but not written (not a frame, or too large).
    pub rejected: u64,
}

impl InStats {
    fn accounted(&self) -> u64 {
        self.delivered + self.lost + self.rejected
    }
}

/// A subscriber whose FIFO holds `queue` samples; when it is full Zenoh's
/// receive path blocks (back-pressure) instead of dropping.
///
/// # Errors
/// Zenoh's error for a bad key.
pub fn declare_subscriber(
    session: &Session,
    key: &str,
    queue: usize,
) -> Result<Subscriber<FifoChannelHandler<Sample>>, Error> {
    session
        .declare_subscriber(key.to_owned())
        .with(FifoChannel::new(queue.max(1)))
        .wait()
        .map_err(Error::zenoh)
}

/// Writes what `subscriber` receives into `sink` until `options.count`
/// messages are accounted for or `stop`, acknowledging through `acker`
/// ([`crate::acks`]). `log` receives one line per event
/// (a source seen, a gap, a run of duplicates, a rejected frame, a stall).
///
/// # Errors
/// A corrupt ring, or the subscriber closing.
pub fn run(
    sink: &mut Sink,
    subscriber: &Subscriber<FifoChannelHandler<Sample>>,
    mut acker: Option<&mut Acker>,
    options: &InOptions,
    stop: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<InStats, Error> {
    let mut tracker = Tracker::new();
    let mut stats = InStats::default();
    let mut slot = vec![0u8; sink.slot_size()];
    let mut duplicate_run = 0u64;
    loop {
        if options.count.is_some_and(|n| stats.accounted() >= n) {
            break;
        }
        // Relaxed: a stop flag polled with a timeout; it publishes no data.
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Some(sample) = subscriber
            .recv_timeout(Duration::from_millis(100))
            .map_err(Error::zenoh)?
        else {
            continue;
        };
        let bytes = sample.payload().to_bytes();
        let frame = match wire::decode(&bytes) {
            Ok(f) => f,
            Err(e) => {
                stats.rejected += 1;
                log(format!("rejected a sample: {e}"));
                continue;
            }
        };
        let verdict = tracker.observe(frame.source, frame.seq);
        let next = tracker.next(frame.source);
        if verdict != Verdict::Duplicate && duplicate_run > 0 {
            log(format!(
                "dropped {duplicate_run} duplicates from source {:016x}",
                frame.source
            ));
            duplicate_run = 0;
        }
        match verdict {
            Verdict::First => log(format!(
                "source {:016x} first seen at seq {}",
                frame.source, frame.seq
            )),
            Verdict::Next => {}
            Verdict::Gap { from, to } => {
                stats.lost = stats.lost.saturating_add(to - from);
                log(format!(
                    "gap source {:016x} lost seq {from}..={} ({} messages)",
                    frame.source,
                    to - 1,
                    to - from
                ));
            }
            Verdict::Duplicate => {
                stats.duplicates += 1;
                duplicate_run += 1;
            }
        }
        if verdict == Verdict::Duplicate {
            // Nothing to write.
        } else if let Err(e) = frame.framing.to_slot(frame.payload, &mut slot) {
            stats.rejected += 1;
            log(format!("rejected seq {}: {e}", frame.seq));
        } else if push(sink, &slot, options.stall_report, stop, log)? {
            stats.delivered += 1;
        } else {
            stats.rejected += 1;
            log(format!(
                "stopped while the ring was full: seq {} of source {:016x} not written",
                frame.seq, frame.source
            ));
            break;
        }
        // Acknowledged only once written (or accounted for).
        if let Some(acker) = acker.as_deref_mut() {
            acker.received(frame.source, next, subscriber.is_empty())?;
        }
    }
    if duplicate_run > 0 {
        log(format!("dropped {duplicate_run} duplicates"));
    }
    Ok(stats)
}

/// Pushes one slot, blocking while the ring is full (reported once per
/// `stall_report`: a consumer that never drains holds the sender back, and
/// says so). Returns false when `stop` was set while the ring stayed full
/// (the caller reports the message as not written).
fn push(
    sink: &mut Sink,
    slot: &[u8],
    stall_report: Duration,
    stop: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<bool, Error> {
    let started = Instant::now();
    loop {
        match sink.push_deadline(slot, Instant::now() + stall_report) {
            Ok(()) => return Ok(true),
            Err(PushTimeoutError::Timeout(())) => {
                // Relaxed: see `run`.
                if stop.load(Ordering::Relaxed) {
                    return Ok(false);
                }
                log(format!(
                    "ring full for {:.1} s, holding the sender back",
                    started.elapsed().as_secs_f64()
                ));
            }
            Err(e) => return Err(Error::Ring(e.to_string())),
        }
    }
}
