//! Acknowledgements from `in` back to `out`, for sources with ring
//! positions (SPSC).
//!
//! ```text
//!  out ──frames (source, seq)────────────────▶ <key>       ──▶ in ──▶ ring
//!  out ◀──ack (source, next)── <key>/ack ◀──────────────────── in
//! ```
//!
//! | who | when | what |
//! |-----|------|------|
//! | `in` ([`Acker`]) | every [`ACK_EVERY`] messages of a source, and whenever its queue runs empty | `(source, next)`: every message of `source` before `next` is in its ring (or reported lost) |
//! | `out` ([`Acks`]) | on each ack, from Zenoh's receive thread | keeps the highest `next` for its own source and wakes the sender |
//!
//! `out` releases ring slots only up to the acknowledged position (never
//! beyond what it published: the ack is untrusted), so a killed `out`
//! leaves every unacknowledged message in the ring for the next one to
//! resend, and the receiver drops what it already has.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use zenoh::pubsub::{Publisher, Subscriber};
use zenoh::qos::CongestionControl;
use zenoh::{Session, Wait};

use crate::{wire, Error};

/// `in` acknowledges a source at least every this many messages.
pub const ACK_EVERY: u64 = 32;

/// The acknowledgement key of data key `key`.
pub fn ack_key(key: &str) -> String {
    format!("{key}/ack")
}

/// `out`'s view of the acknowledgements of its source.
#[derive(Debug)]
pub struct Acks {
    /// The highest acknowledged `next`, and a wake-up for the sender.
    state: Arc<(Mutex<u64>, Condvar)>,
    _subscriber: Subscriber<()>,
}

impl Acks {
    /// Listens for acknowledgements of `source` on `<key>/ack`.
    ///
    /// # Errors
    /// Zenoh's error for a bad key.
    pub fn declare(session: &Session, key: &str, source: u64) -> Result<Acks, Error> {
        let state = Arc::new((Mutex::new(0u64), Condvar::new()));
        let shared = state.clone();
        let subscriber = session
            .declare_subscriber(ack_key(key))
            .callback(move |sample| {
                // Anything that is not an ack of ours is ignored: the ack key
                // is only a hint for releasing, and `out` clamps it.
                let Ok((from, next)) = wire::decode_ack(&sample.payload().to_bytes()) else {
                    return;
                };
                if from != source {
                    return;
                }
                let (acked, woken) = &*shared;
                let mut acked = acked.lock().unwrap_or_else(PoisonError::into_inner);
                if next > *acked {
                    *acked = next;
                    woken.notify_all();
                }
            })
            .wait()
            .map_err(Error::zenoh)?;
        Ok(Acks {
            state,
            _subscriber: subscriber,
        })
    }

    /// The highest `next` acknowledged so far.
    pub fn acked(&self) -> u64 {
        *self.state.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits at most `timeout` for an acknowledgement beyond `pos`; returns
    /// the highest `next` then.
    pub fn wait_beyond(&self, pos: u64, timeout: Duration) -> u64 {
        let (acked, woken) = &*self.state;
        let guard = acked.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = woken
            .wait_timeout_while(guard, timeout, |a| *a <= pos)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }
}

/// `in`'s side: which sources owe an acknowledgement.
#[derive(Debug)]
pub struct Acker {
    publisher: Publisher<'static>,
    /// Per source: messages received since its last ack, and its `next`.
    pending: HashMap<u64, (u64, u64)>,
}

impl Acker {
    /// Publishes acknowledgements on `<key>/ack` (blocking, never dropped).
    ///
    /// # Errors
    /// Zenoh's error for a bad key.
    pub fn declare(session: &Session, key: &str) -> Result<Acker, Error> {
        let publisher = session
            .declare_publisher(ack_key(key))
            .congestion_control(CongestionControl::Block)
            .wait()
            .map_err(Error::zenoh)?;
        Ok(Acker {
            publisher,
            pending: HashMap::new(),
        })
    }

    /// Notes one message received from `source` (delivered, duplicate or
    /// rejected: each moves the sender's window), after which `source`
    /// expects `next`. Acknowledges `source` when [`ACK_EVERY`] of its
    /// messages are pending, and every pending source when `idle` (nothing
    /// else queued).
    ///
    /// # Errors
    /// Zenoh failing to send.
    pub fn received(&mut self, source: u64, next: u64, idle: bool) -> Result<(), Error> {
        let entry = self.pending.entry(source).or_insert((0, next));
        *entry = (entry.0 + 1, next);
        if entry.0 >= ACK_EVERY {
            *entry = (0, next);
            self.send(source, next)?;
        }
        if idle {
            for (&source, entry) in self.pending.iter_mut().filter(|(_, e)| e.0 > 0) {
                *entry = (0, entry.1);
                send(&self.publisher, source, entry.1)?;
            }
        }
        Ok(())
    }

    fn send(&self, source: u64, next: u64) -> Result<(), Error> {
        send(&self.publisher, source, next)
    }
}

fn send(publisher: &Publisher<'_>, source: u64, next: u64) -> Result<(), Error> {
    publisher
        .put(wire::encode_ack(source, next).to_vec())
        .wait()
        .map_err(Error::zenoh)
}
