//! `out`: drain a local ring and publish each message on a Zenoh key.
//!
//! ```text
//!  SPSC:  ring [head .. published .. tail]
//!               │acked  │sent, unacked  │not sent yet
//!         peek ─┴───────┴──▶ frame(source, seq = ring position) ──put, Block──▶ <key>
//!         release up to the ack ◀── <key>/ack (crate::acks)
//!
//!  MPMC:  pop ──▶ frame(source, seq = count in this process) ──put, Block──▶ <key>
//! ```
//!
//! - **Reliable, never dropped by Zenoh**: the publisher uses
//!   `CongestionControl::Block` (a full transmission queue blocks `put`
//!   instead of dropping) over the TCP transport (reliable; Zenoh's default
//!   reliability is `Reliable`).
//! - **No publishing into the void**: Zenoh delivers a sample only to
//!   subscribers that exist when it is sent, so `out` sends only while a
//!   matching subscriber is known (matching listener); with none it waits.
//! - **SPSC: exactly once, in order, across restarts of `out`.** `seq` is
//!   the message's ring position and `source` derives from the ring's
//!   identity, so every `out` on the ring numbers alike. A message leaves
//!   the ring only when `in` has acknowledged it; a restarted `out` (or a
//!   subscriber that comes back) resends everything unacknowledged and `in`
//!   drops what it already has. At most one ring's worth of messages is in
//!   flight.
//! - **MPMC: at most once, gaps reported.** Other consumers take positions
//!   too, so a popped message is this process's alone: `source` is new per
//!   process and `seq` counts from 0. What a killed `out` had popped but not
//!   sent is gone; `in` reports the gap when a later message of the same
//!   process arrives.
//! - A local message that breaks its framing (a length prefix beyond the
//!   slot) is consumed, reported, and not sent: `in` reports the gap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use zenoh::handlers::FifoChannelHandler;
use zenoh::matching::{MatchingListener, MatchingStatus};
use zenoh::pubsub::Publisher;
use zenoh::qos::CongestionControl;
use zenoh::{Session, Wait};

use crate::acks::Acks;
use crate::ring_end::{DrainError, Source};
use crate::wire::{self, Framing};
use crate::Error;

/// How `out` runs.
#[derive(Clone, Debug)]
pub struct OutOptions {
    /// How slots map to payloads.
    pub framing: Framing,
    /// Most messages taken from the ring at once.
    pub batch: usize,
    /// Stop after this many messages (`None`: run until stopped).
    pub count: Option<u64>,
}

/// What `out` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutStats {
    /// Messages published.
    pub published: u64,
    /// Local messages consumed but not sent (bad framing).
    pub malformed: u64,
}

/// A stable id for the source draining `ring` onto `key` (see the module
/// docs): for a kind with positions it hashes the key, the ring's name and
/// its creator's identity, so every `out` of that ring and key agrees; else
/// it is new per process.
pub fn source_id(source: &Source, ring: &ringway::Ring, key: &str) -> u64 {
    let mut h = Fnv::new();
    h.write(key.as_bytes());
    match source.position() {
        Some(_) => {
            let id = ring.identity();
            h.write(ring.name().unwrap_or("").as_bytes());
            h.write(&id.creator_pid.to_le_bytes());
            h.write(&id.creator_start_time.to_le_bytes());
            h.write(&id.total_len.to_le_bytes());
        }
        None => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            h.write(&std::process::id().to_le_bytes());
            h.write(&now.as_nanos().to_le_bytes());
        }
    }
    h.0
}

/// FNV-1a, 64 bits: enough to tell sources apart, no dependency.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Declares the publisher `out` uses: `CongestionControl::Block`.
///
/// # Errors
/// Zenoh's error for a bad key.
pub fn declare_publisher(
    session: &Session,
    key: &str,
    express: bool,
) -> Result<Publisher<'static>, Error> {
    session
        .declare_publisher(key.to_owned())
        .congestion_control(CongestionControl::Block)
        .express(express)
        .wait()
        .map_err(Error::zenoh)
}

/// Waits until the publisher has a matching subscriber (or `stop`). Returns
/// `None` when stopped, else whether the match is new (there was none at
/// the last look, or it went away and came back since).
fn wait_matched(
    matched: &mut bool,
    listener: &MatchingListener<FifoChannelHandler<MatchingStatus>>,
    stop: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<Option<bool>, Error> {
    // Take whatever changed since the last look, without waiting.
    let mut lost = false;
    while let Some(status) = listener.try_recv().map_err(Error::zenoh)? {
        lost |= !status.matching();
        *matched = status.matching();
    }
    if *matched {
        return Ok(Some(lost));
    }
    log("waiting for a subscriber".into());
    while !*matched {
        // Relaxed: a flag polled with a timeout; no data is published through it.
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        if let Some(status) = listener
            .recv_timeout(Duration::from_millis(100))
            .map_err(Error::zenoh)?
        {
            *matched = status.matching();
        }
    }
    log("subscriber matched".into());
    Ok(Some(true))
}

/// Publishes `source` on `publisher` until `options.count` messages or
/// `stop`. With `acks` (a source with ring positions, SPSC), messages stay in
/// the ring until acknowledged and are resent to a new subscriber; without,
/// each is consumed once published. `log` receives one line per event.
///
/// # Errors
/// A corrupt ring, or Zenoh failing to send.
pub fn run(
    source: &mut Source,
    source_id: u64,
    publisher: &Publisher<'_>,
    acks: Option<&Acks>,
    options: &OutOptions,
    stop: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<OutStats, Error> {
    let listener = publisher.matching_listener().wait().map_err(Error::zenoh)?;
    let mut sender = Sender {
        publisher,
        source_id,
        framing: options.framing,
        stats: OutStats::default(),
        matched: false,
        listener,
    };
    match (acks, source.position()) {
        (Some(acks), Some(start)) => sender.run_acked(source, start, acks, options, stop, log)?,
        _ => sender.run_drain(source, options, stop, log)?,
    }
    Ok(sender.stats)
}

/// The state both modes share.
struct Sender<'a, 'p> {
    publisher: &'a Publisher<'p>,
    source_id: u64,
    framing: Framing,
    stats: OutStats,
    matched: bool,
    listener: MatchingListener<FifoChannelHandler<MatchingStatus>>,
}

impl Sender<'_, '_> {
    /// Sends message `seq` of the source (or reports it malformed).
    fn send(&mut self, seq: u64, slot: &[u8], log: &mut dyn FnMut(String)) -> Result<(), Error> {
        let payload = match self.framing.from_slot(slot) {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                log(format!("malformed seq {seq}: {e}: not sent"));
                return Ok(());
            }
        };
        let mut frame = Vec::new();
        wire::encode(&mut frame, self.framing, self.source_id, seq, payload);
        self.publisher.put(frame).wait().map_err(Error::zenoh)?;
        self.stats.published += 1;
        Ok(())
    }

    /// Consume-on-publish: each message leaves the ring once sent.
    fn run_drain(
        &mut self,
        source: &mut Source,
        options: &OutOptions,
        stop: &AtomicBool,
        log: &mut dyn FnMut(String),
    ) -> Result<(), Error> {
        // MPMC numbers from 0 per process; SPSC by ring position.
        let mut seq = source.position().unwrap_or(0);
        log(format!(
            "source {:016x} starts at seq {seq}",
            self.source_id
        ));
        let mut sent = 0u64;
        loop {
            // Relaxed: a stop flag polled with a timeout; it publishes no data.
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let left = match options.count {
                Some(n) if sent >= n => break,
                Some(n) => usize::try_from(n - sent).unwrap_or(usize::MAX),
                None => usize::MAX,
            };
            if wait_matched(&mut self.matched, &self.listener, stop, log)?.is_none() {
                break;
            }
            let deadline = Instant::now() + Duration::from_millis(100);
            let drained = source.drain(options.batch.min(left), deadline, |slot| {
                let this = seq;
                seq += 1;
                self.send(this, slot, log)
            });
            match drained {
                Ok(n) => sent += n as u64,
                Err(DrainError::Ring(e)) => return Err(Error::Ring(e)),
                Err(DrainError::Each(e)) => return Err(e),
            }
        }
        Ok(())
    }

    /// Release-on-ack: messages stay in the ring until `in` acknowledges
    /// them; a subscriber that (re)appears gets everything unacknowledged.
    fn run_acked(
        &mut self,
        source: &mut Source,
        start: u64,
        acks: &Acks,
        options: &OutOptions,
        stop: &AtomicBool,
        log: &mut dyn FnMut(String),
    ) -> Result<(), Error> {
        log(format!(
            "source {:016x} starts at seq {start}",
            self.source_id
        ));
        let capacity = source.capacity();
        let end = options.count.map(|n| start.saturating_add(n));
        // Ring positions: head <= published <= head + capacity.
        let mut head;
        let mut published = start;
        let mut full_since: Option<Instant> = None;
        loop {
            // Relaxed: see `run_drain`.
            if stop.load(Ordering::Relaxed) {
                break;
            }
            // The ack is untrusted: never release what was not published.
            head = source
                .release_to(acks.acked().min(published))
                .map_err(Error::Ring)?;
            if end.is_some_and(|end| head >= end) {
                break;
            }
            match wait_matched(&mut self.matched, &self.listener, stop, log)? {
                None => break,
                Some(true) if published > head => {
                    log(format!(
                        "resending from seq {head} ({} unacknowledged)",
                        published - head
                    ));
                    published = head;
                }
                Some(_) => {}
            }
            let left = end.map_or(u64::MAX, |end| end.saturating_sub(published));
            let window = published - head;
            if left == 0 || window >= capacity {
                // Everything there is to send is out: wait for acks.
                if window >= capacity {
                    let since = *full_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= Duration::from_secs(1) {
                        log(format!("{window} messages unacknowledged for 1 s, waiting"));
                        full_since = Some(Instant::now());
                    }
                }
                acks.wait_beyond(head, Duration::from_millis(100));
                continue;
            }
            full_since = None;
            let max = options
                .batch
                .min(usize::try_from(left).unwrap_or(usize::MAX));
            let deadline = Instant::now() + Duration::from_millis(100);
            let mut seq = published;
            let peeked = source.peek_after(window as usize, max, deadline, |slot| {
                let this = seq;
                seq += 1;
                self.send(this, slot, log)
            });
            match peeked {
                Ok(n) => published += n as u64,
                Err(DrainError::Ring(e)) => return Err(Error::Ring(e)),
                Err(DrainError::Each(e)) => return Err(e),
            }
        }
        Ok(())
    }
}
