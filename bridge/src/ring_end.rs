//! The bridge's two ends of a local ring, over every ring kind.
//!
//! [`Source`] drains a ring (the `out` command), [`Sink`] fills one (the `in`
//! command). Both sit on the core crate's one handle layer
//! ([`AnyConsumer`] / [`AnyProducer`] of [`Bytes`]): the calls are written
//! once for every kind with `with_any!`; what differs by kind is only
//! whether a message keeps a position across restarts.
//!
//! | kind | source position | read but not released |
//! |------|-----------------|-----------------------|
//! | SPSC | the ring's consumer cursor (`head`): the same message has the same position across bridge restarts | stays in the ring ([`Source::peek_after`]) |
//! | MPMC | none: other consumers take positions too | freed with the claim: every message read is consumed |
//!
//! An SPSC role held by a dead process (a bridge killed earlier) is
//! reclaimed on attach.

use std::time::Instant;

use ringway::{
    with_any, AnyConsumer, AnyProducer, Bytes, HandleError, Kind, PopTimeoutError,
    PushTimeoutError, Ring, Role,
};

/// The draining end of a local ring.
#[derive(Debug)]
pub struct Source {
    consumer: AnyConsumer<Bytes>,
    /// SPSC: the ring position of the next message (ours: we hold the
    /// consumer role). MPMC: `None`.
    head: Option<u64>,
    capacity: u64,
    slot_size: usize,
    /// One message copied out of the ring (`ReadChunk::copy_message`):
    /// `each` gets this private copy, never the slot a peer may be writing,
    /// so a length it checks is the length it uses.
    message: Vec<u8>,
}

/// The filling end of a local ring.
#[derive(Debug)]
pub struct Sink {
    producer: AnyProducer<Bytes>,
    slot_size: usize,
}

/// Runs `attach`; for an SPSC ring whose role is held by a dead process,
/// frees the role first. A live holder still gets `RoleTaken`.
fn attach_reclaiming<T>(
    ring: &Ring,
    role: Role,
    attach: impl Fn(&Ring) -> Result<T, HandleError>,
) -> Result<T, HandleError> {
    match attach(ring) {
        Err(HandleError::RoleTaken { .. }) if ring.kind() == Kind::Spsc => {
            ring.reclaim_role(role)?;
            attach(ring)
        }
        other => other,
    }
}

impl Source {
    /// Takes a consuming side of `ring`.
    ///
    /// # Errors
    /// The core crate's [`HandleError`] (`RoleTaken` by a live process,
    /// `Corrupt` cursors, ...).
    pub fn attach(ring: &Ring) -> Result<Source, HandleError> {
        let consumer = attach_reclaiming(ring, Role::Consumer, AnyConsumer::<Bytes>::attach)?;
        // SPSC: we hold the consumer role, so `head` is ours and does not
        // move until we release slots.
        let head = (ring.kind() == Kind::Spsc).then(|| ring.snapshot().head);
        Ok(Source {
            consumer,
            head,
            capacity: ring.capacity(),
            slot_size: ring.slot_size(),
            message: vec![0; ring.slot_size()],
        })
    }

    /// Bytes per message.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// The ring's capacity in messages.
    pub fn capacity(&self) -> u64 {
        self.capacity
    }

    /// The ring position of the next message, where the kind has one that is
    /// stable across restarts (SPSC).
    pub fn position(&self) -> Option<u64> {
        self.head
    }

    /// Waits until `deadline` for at least one message, then hands up to
    /// `max` messages (each exactly one slot) to `each` in ring order and
    /// consumes them. At the first error of `each` the rest of the batch
    /// stays in an SPSC ring; in an MPMC ring it is consumed with the claim.
    ///
    /// Returns how many messages `each` accepted (0 at the deadline).
    ///
    /// # Errors
    /// `Ring` when the ring's cursors are corrupt; `Each` with the error of
    /// `each`.
    pub fn drain<E>(
        &mut self,
        max: usize,
        deadline: Instant,
        mut each: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<usize, DrainError<E>> {
        let (done, failed) = with_any!(&mut self.consumer, c => {
            match c.wait_for_ready(1, deadline) {
                Ok(_) => {}
                // PeerGone: the local producer died and the ring is drained
                // (reported once); a restarted producer goes on, so wait on.
                Err(PopTimeoutError::Timeout | PopTimeoutError::PeerGone) => return Ok(0),
                Err(e) => return Err(DrainError::Ring(e.to_string())),
            }
            let chunk = c.read_chunk(max).map_err(|e| DrainError::Ring(e.to_string()))?;
            let mut done = 0;
            let mut failed = None;
            while chunk.copy_message(done, &mut self.message) {
                if let Err(e) = each(&self.message) {
                    failed = Some(e);
                    break;
                }
                done += 1;
            }
            chunk.release(done);
            (done, failed)
        });
        if let Some(head) = &mut self.head {
            *head += done as u64;
        }
        match failed {
            Some(e) => Err(DrainError::Each(e)),
            None => Ok(done),
        }
    }

    /// SPSC only (a kind with [`position`](Self::position)): hands `each` up
    /// to `max` messages that follow the first `skip` ready ones, in ring
    /// order, without consuming any (they stay in the ring until
    /// [`release_to`](Self::release_to)). Waits until `deadline` for such a
    /// message; returns how many `each` accepted (0 at the deadline, or when
    /// `skip` already covers the whole ring).
    ///
    /// # Errors
    /// `Ring` when the ring's cursors are corrupt or the kind has no
    /// positions; `Each` with the error of `each`.
    pub fn peek_after<E>(
        &mut self,
        skip: usize,
        max: usize,
        deadline: Instant,
        mut each: impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<usize, DrainError<E>> {
        if self.head.is_none() {
            return Err(DrainError::Ring("an MPMC ring has no positions".into()));
        }
        if skip as u64 >= self.capacity {
            return Ok(0);
        }
        with_any!(&mut self.consumer, c => {
            match c.wait_for_ready(skip + 1, deadline) {
                Ok(_) => {}
                // PeerGone: the local producer died and the ring is drained
                // (reported once); a restarted producer goes on, so wait on.
                Err(PopTimeoutError::Timeout | PopTimeoutError::PeerGone) => return Ok(0),
                Err(e) => return Err(DrainError::Ring(e.to_string())),
            }
            let chunk = c
                .read_chunk(skip.saturating_add(max))
                .map_err(|e| DrainError::Ring(e.to_string()))?;
            // Only a kind whose unreleased messages stay in the ring (SPSC,
            // checked above through `head`) gets here.
            debug_assert!(chunk.releases_part());
            let mut done = 0;
            while chunk.copy_message(skip + done, &mut self.message) {
                each(&self.message).map_err(DrainError::Each)?;
                done += 1;
            }
            // Dropping the chunk releases nothing: the messages stay.
            Ok(done)
        })
    }

    /// SPSC only: consumes the messages before ring position `to` (as many
    /// as are ready; a position behind the current one does nothing).
    /// Returns the new position.
    ///
    /// # Errors
    /// The ring's cursors are corrupt, or the kind has no positions.
    pub fn release_to(&mut self, to: u64) -> Result<u64, String> {
        let Some(head) = self.head else {
            return Err("an MPMC ring has no positions".into());
        };
        if to <= head {
            return Ok(head);
        }
        let want = usize::try_from(to - head).unwrap_or(usize::MAX);
        let n = with_any!(&mut self.consumer, c => {
            let chunk = c.read_chunk(want).map_err(|e| e.to_string())?;
            let n = chunk.len();
            chunk.release_all();
            n
        });
        let head = head + n as u64;
        self.head = Some(head);
        Ok(head)
    }
}

/// Why [`Source::drain`] stopped.
#[derive(Debug)]
pub enum DrainError<E> {
    /// The ring is corrupt (the core crate's message).
    Ring(String),
    /// The per-message callback failed.
    Each(E),
}

impl Sink {
    /// Takes a producing side of `ring`.
    ///
    /// # Errors
    /// The core crate's [`HandleError`] (`RoleTaken` by a live process,
    /// `TooManyPeers`, `Corrupt` cursors, ...).
    pub fn attach(ring: &Ring) -> Result<Sink, HandleError> {
        Ok(Sink {
            producer: attach_reclaiming(ring, Role::Producer, AnyProducer::<Bytes>::attach)?,
            slot_size: ring.slot_size(),
        })
    }

    /// Bytes per message.
    pub fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Pushes one message of exactly one slot, waiting until `deadline` for
    /// a free slot.
    ///
    /// # Errors
    /// `Timeout` (the message was not written), `Size`, `Corrupt`.
    pub fn push_deadline(
        &mut self,
        message: &[u8],
        deadline: Instant,
    ) -> Result<(), PushTimeoutError<()>> {
        // The message handed back on a timeout is the caller's own slice.
        self.producer
            .push_deadline(message, deadline)
            .map_err(|e| match e {
                // PeerGone: the local consumer died (reported once); the
                // message was not written, and a restarted consumer drains
                // the ring, so the caller retries as after a timeout.
                PushTimeoutError::Timeout(_) | PushTimeoutError::PeerGone(_) => {
                    PushTimeoutError::Timeout(())
                }
                PushTimeoutError::Size { expected, found } => {
                    PushTimeoutError::Size { expected, found }
                }
                PushTimeoutError::Corrupt(e) => PushTimeoutError::Corrupt(e),
            })
    }
}
