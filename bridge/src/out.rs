//! `out`: drain a local ring and publish each message on a Zenoh key.
//!
//! ```text
//!  local ring ──drain(batch)──▶ frame(source, seq, payload) ──put, Block──▶ Zenoh key
//!        ▲ released only after its put returned
//! ```
//!
//! - **Reliable, never dropped by Zenoh**: the publisher uses
//!   `CongestionControl::Block` (a full transmission queue blocks `put`
//!   instead of dropping) over the TCP transport (reliable; Zenoh's default
//!   reliability is `Reliable`).
//! - **No publishing into the void**: Zenoh delivers a sample only to
//!   subscribers that exist when it is sent, so `out` drains only while a
//!   matching subscriber is known (matching listener); with none it waits.
//! - **Sequence numbers**: every frame carries `(source, seq)`. For an SPSC
//!   ring `seq` is the message's ring position and `source` is derived from
//!   the ring's identity, so a restarted `out` continues the same numbering:
//!   the receiver drops what it already has (messages published but not yet
//!   released when `out` died) and reports as a gap what was released but
//!   never sent (still in Zenoh's queue when `out` died). For an MPMC ring
//!   (other consumers take positions too) `source` is new per process and
//!   `seq` counts from 0.
//! - A local message that breaks its framing (a length prefix beyond the
//!   slot) is consumed, reported, and not sent: the receiver sees a gap.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use zenoh::handlers::FifoChannelHandler;
use zenoh::matching::{MatchingListener, MatchingStatus};
use zenoh::pubsub::Publisher;
use zenoh::qos::CongestionControl;
use zenoh::{Session, Wait};

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

/// A stable id for the source draining `ring` (see the module docs).
pub fn source_id(source: &Source, ring: &ringway::Ring) -> u64 {
    let mut h = Fnv::new();
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
/// false when stopped.
fn wait_matched(
    matched: &mut bool,
    listener: &MatchingListener<FifoChannelHandler<MatchingStatus>>,
    stop: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<bool, Error> {
    // Take whatever changed since the last look, without waiting.
    while let Some(status) = listener.try_recv().map_err(Error::zenoh)? {
        *matched = status.matching();
    }
    if *matched {
        return Ok(true);
    }
    log("waiting for a subscriber".into());
    while !*matched {
        // Relaxed: a flag polled with a timeout; no data is published through it.
        if stop.load(Ordering::Relaxed) {
            return Ok(false);
        }
        if let Some(status) = listener
            .recv_timeout(Duration::from_millis(100))
            .map_err(Error::zenoh)?
        {
            *matched = status.matching();
        }
    }
    log("subscriber matched".into());
    Ok(true)
}

/// Drains `source` into `publisher` until `options.count` messages or
/// `stop`. `log` receives one line per event.
///
/// # Errors
/// A corrupt ring, or Zenoh failing to send.
pub fn run(
    source: &mut Source,
    source_id: u64,
    publisher: &Publisher<'_>,
    options: &OutOptions,
    stop: &AtomicBool,
    log: &mut dyn FnMut(String),
) -> Result<OutStats, Error> {
    let listener = publisher.matching_listener().wait().map_err(Error::zenoh)?;
    let mut matched = false;
    let mut stats = OutStats::default();
    // MPMC numbers from 0 per process; SPSC by ring position (module docs).
    let mut own_seq = 0u64;
    let mut first = true;
    loop {
        // Relaxed: see `wait_matched`.
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let left = match options.count {
            Some(n) if stats.published + stats.malformed >= n => break,
            Some(n) => (n - stats.published - stats.malformed) as usize,
            None => usize::MAX,
        };
        if !wait_matched(&mut matched, &listener, stop, log)? {
            break;
        }
        let mut seq = source.position().unwrap_or(own_seq);
        if first {
            log(format!("source {source_id:016x} starts at seq {seq}"));
            first = false;
        }
        let deadline = Instant::now() + Duration::from_millis(100);
        let framing = options.framing;
        let drained = source.drain(options.batch.min(left), deadline, |slot| {
            let this = seq;
            seq += 1;
            let payload = match framing.from_slot(slot) {
                Ok(p) => p,
                Err(e) => {
                    stats.malformed += 1;
                    log(format!("malformed seq {this}: {e}: not sent"));
                    return Ok::<(), Error>(());
                }
            };
            let mut frame = Vec::new();
            wire::encode(&mut frame, framing, source_id, this, payload);
            publisher.put(frame).wait().map_err(Error::zenoh)?;
            stats.published += 1;
            Ok(())
        });
        match drained {
            Ok(n) => own_seq += n as u64,
            Err(DrainError::Ring(e)) => return Err(Error::Ring(e)),
            Err(DrainError::Each(e)) => return Err(e),
        }
    }
    Ok(stats)
}
