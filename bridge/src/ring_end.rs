//! The bridge's two ends of a local ring, over every ring kind.
//!
//! [`Source`] drains a ring (the `out` command), [`Sink`] fills one (the `in`
//! command). Both are a small enum over the byte handles the core crate has
//! today (`spsc::Bytes*`, `mpmc::Bytes*`). This is the only file that names
//! the kinds: when the core crate grows one handle layer over every kind,
//! these enums become that layer's handles and nothing else in the bridge
//! changes.
//!
//! | kind | source position | role taken over after a crash |
//! |------|-----------------|-------------------------------|
//! | SPSC | the ring's consumer cursor (`head`): the same message has the same position across bridge restarts | yes, the consumer (or producer) role of a dead pid is reclaimed on attach |
//! | MPMC | none: other consumers take positions too | not needed (no single role) |

use std::time::Instant;

use ringway::{mpmc, spsc, HandleError, Kind, PopTimeoutError, PushTimeoutError, Ring, Role};

/// The draining end of a local ring.
#[derive(Debug)]
pub enum Source {
    /// The consumer of an SPSC ring, and the ring position of its next message.
    Spsc(spsc::BytesConsumer, u64),
    /// One consumer of an MPMC ring, and a buffer of one slot.
    Mpmc(mpmc::BytesConsumer, Vec<u8>),
}

/// The filling end of a local ring.
#[derive(Debug)]
pub enum Sink {
    /// The producer of an SPSC ring.
    Spsc(spsc::BytesProducer),
    /// One producer of an MPMC ring.
    Mpmc(mpmc::BytesProducer),
}

/// Frees an SPSC role whose holder is dead (a bridge killed earlier), then
/// runs `attach`. A live holder still gets `RoleTaken`.
fn attach_spsc<T>(
    ring: &Ring,
    role: Role,
    attach: impl Fn(&Ring) -> Result<T, HandleError>,
) -> Result<T, HandleError> {
    match attach(ring) {
        Err(HandleError::RoleTaken { .. }) => {
            ring.reclaim_role(role)?;
            attach(ring)
        }
        other => other,
    }
}

impl Source {
    /// Takes the consuming side of `ring`.
    ///
    /// # Errors
    /// The core crate's [`HandleError`] (`RoleTaken` by a live process,
    /// `Corrupt` cursors, ...).
    pub fn attach(ring: &Ring) -> Result<Source, HandleError> {
        match ring.kind() {
            Kind::Spsc => {
                let consumer = attach_spsc(ring, Role::Consumer, spsc::BytesConsumer::attach)?;
                // We hold the consumer role: `head` is ours and does not move
                // until we release slots.
                let head = ring.snapshot().head;
                Ok(Source::Spsc(consumer, head))
            }
            Kind::Mpmc => Ok(Source::Mpmc(
                mpmc::BytesConsumer::attach(ring)?,
                vec![0; ring.slot_size()],
            )),
        }
    }

    /// Bytes per message.
    pub fn slot_size(&self) -> usize {
        match self {
            Source::Spsc(c, _) => c.slot_size(),
            Source::Mpmc(c, _) => c.slot_size(),
        }
    }

    /// The ring position of the next message, where the kind has one that is
    /// stable across restarts (SPSC).
    pub fn position(&self) -> Option<u64> {
        match self {
            Source::Spsc(_, head) => Some(*head),
            Source::Mpmc(..) => None,
        }
    }

    /// Waits until `deadline` for at least one message, then hands up to
    /// `max` messages (each exactly one slot) to `each` in ring order. The
    /// messages `each` accepted are consumed; at the first error the rest
    /// stay in the ring (SPSC) and the error is returned.
    ///
    /// Returns how many messages were consumed (0 at the deadline).
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
        match self {
            Source::Spsc(c, head) => {
                match c.wait_for_ready(1, Some(deadline)) {
                    Ok(_) => {}
                    Err(PopTimeoutError::Timeout) => return Ok(0),
                    Err(e) => return Err(DrainError::Ring(e.to_string())),
                }
                let slot = c.slot_size();
                let chunk = c
                    .read_chunk(max)
                    .map_err(|e| DrainError::Ring(e.to_string()))?;
                let (a, b) = chunk.as_slices();
                let mut done = 0;
                let mut failed = None;
                for message in a.chunks_exact(slot).chain(b.chunks_exact(slot)) {
                    if let Err(e) = each(message) {
                        failed = Some(e);
                        break;
                    }
                    done += 1;
                }
                chunk.release(done);
                *head += done as u64;
                match failed {
                    Some(e) => Err(DrainError::Each(e)),
                    None => Ok(done),
                }
            }
            Source::Mpmc(c, buf) => {
                match c.pop_deadline(buf, deadline) {
                    Ok(()) => {}
                    Err(PopTimeoutError::Timeout) => return Ok(0),
                    Err(e) => return Err(DrainError::Ring(e.to_string())),
                }
                // A popped MPMC message is ours alone: if `each` fails it is
                // reported as lost by the caller (there is no putting back).
                each(buf).map_err(DrainError::Each)?;
                let mut done = 1;
                while done < max {
                    match c.try_pop(buf) {
                        Ok(()) => {}
                        Err(ringway::PopError::Empty) => break,
                        Err(e) => return Err(DrainError::Ring(e.to_string())),
                    }
                    each(buf).map_err(DrainError::Each)?;
                    done += 1;
                }
                Ok(done)
            }
        }
    }
}

impl Source {
    /// The ring's capacity in messages.
    pub fn capacity(&self) -> u64 {
        match self {
            Source::Spsc(c, _) => c.ring().capacity(),
            Source::Mpmc(c, _) => c.ring().capacity(),
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
        let Source::Spsc(c, _) = self else {
            return Err(DrainError::Ring("an MPMC ring has no positions".into()));
        };
        if skip as u64 >= c.ring().capacity() {
            return Ok(0);
        }
        match c.wait_for_ready(skip + 1, Some(deadline)) {
            Ok(_) => {}
            Err(PopTimeoutError::Timeout) => return Ok(0),
            Err(e) => return Err(DrainError::Ring(e.to_string())),
        }
        let slot = c.slot_size();
        let chunk = c
            .read_chunk(skip.saturating_add(max))
            .map_err(|e| DrainError::Ring(e.to_string()))?;
        let (a, b) = chunk.as_slices();
        let mut done = 0;
        for message in a.chunks_exact(slot).chain(b.chunks_exact(slot)).skip(skip) {
            each(message).map_err(DrainError::Each)?;
            done += 1;
        }
        // Dropping the chunk releases nothing: the messages stay in the ring.
        Ok(done)
    }

    /// SPSC only: consumes the messages before ring position `to` (as many
    /// as are ready; a position behind the current one does nothing).
    /// Returns the new position.
    ///
    /// # Errors
    /// The ring's cursors are corrupt, or the kind has no positions.
    pub fn release_to(&mut self, to: u64) -> Result<u64, String> {
        let Source::Spsc(c, head) = self else {
            return Err("an MPMC ring has no positions".into());
        };
        if to <= *head {
            return Ok(*head);
        }
        let want = usize::try_from(to - *head).unwrap_or(usize::MAX);
        let chunk = c.read_chunk(want).map_err(|e| e.to_string())?;
        let n = chunk.len();
        chunk.release_all();
        *head += n as u64;
        Ok(*head)
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
    /// `TooManyProducers`, `Corrupt` cursors, ...).
    pub fn attach(ring: &Ring) -> Result<Sink, HandleError> {
        match ring.kind() {
            Kind::Spsc => Ok(Sink::Spsc(attach_spsc(
                ring,
                Role::Producer,
                spsc::BytesProducer::attach,
            )?)),
            Kind::Mpmc => Ok(Sink::Mpmc(mpmc::BytesProducer::attach(ring)?)),
        }
    }

    /// Bytes per message.
    pub fn slot_size(&self) -> usize {
        match self {
            Sink::Spsc(p) => p.slot_size(),
            Sink::Mpmc(p) => p.slot_size(),
        }
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
        let pushed = match self {
            Sink::Spsc(p) => p.push_deadline(message, deadline),
            Sink::Mpmc(p) => p.push_deadline(message, deadline),
        };
        // The message handed back on a timeout is the caller's own slice.
        pushed.map_err(|e| match e {
            PushTimeoutError::Timeout(_) => PushTimeoutError::Timeout(()),
            PushTimeoutError::Size { expected, found } => {
                PushTimeoutError::Size { expected, found }
            }
            PushTimeoutError::Corrupt(e) => PushTimeoutError::Corrupt(e),
        })
    }
}
