//! What one bridged message looks like on Zenoh, and how a ring slot maps to
//! its payload.
//!
//! Each Zenoh sample carries one ring message behind a fixed header
//! (little-endian):
//!
//! | offset | size | field   | meaning                                              |
//! |--------|------|---------|------------------------------------------------------|
//! | 0      | 4    | magic   | `RWB1`                                               |
//! | 4      | 4    | framing | [`Framing`] of the sender (0 whole slot, 1 length-prefixed) |
//! | 8      | 8    | source  | who sent it: one id per source ring (see `out`)      |
//! | 16     | 8    | seq     | the message's number within that source, +1 each     |
//! | 24     | n    | payload | the message bytes                                    |
//!
//! The receiver acknowledges on `<key>/ack` with a frame of the same header
//! and no payload: magic `RWA1`, framing 0, the source, and in `seq` the next
//! sequence number it expects (everything before it is in its ring).
//!
//! A sample comes from the network and is untrusted: [`decode`] checks the
//! length and magic and returns a typed error; [`Framing::to_slot`] bounds
//! the payload by the receiving ring's slot.

use std::fmt;

/// Bytes before the payload.
pub const HEADER_LEN: usize = 24;
/// The frame's magic, `RWB1`.
pub const MAGIC: [u8; 4] = *b"RWB1";

/// The acknowledgement's magic, `RWA1`.
pub const ACK_MAGIC: [u8; 4] = *b"RWA1";

/// How a ring slot maps to the bytes that travel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// The whole slot travels; the receiving ring's slots must be as large.
    Whole,
    /// The slot starts with a `u32` little-endian length `n`, then `n`
    /// payload bytes; only those `n` bytes travel and the receiver writes
    /// them back behind the same prefix (the rest of the slot zeroed). Lets
    /// messages of mixed sizes share one ring without sending the padding.
    LenPrefixed,
}

/// Bytes of the length prefix in [`Framing::LenPrefixed`].
pub const PREFIX_LEN: usize = 4;

/// A message that does not fit its framing or a frame that is not ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer bytes than the header.
    Short {
        /// Bytes received.
        len: usize,
    },
    /// Not a bridge frame.
    BadMagic,
    /// The framing word is neither 0 nor 1.
    BadFraming(u32),
    /// A length prefix larger than the slot allows.
    Length {
        /// The length found.
        found: u64,
        /// The most the slot holds.
        max: usize,
    },
    /// The payload does not fit the receiving slot.
    Size {
        /// Payload bytes.
        found: usize,
        /// What the receiving ring takes.
        expected: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Short { len } => write!(f, "frame of {len} bytes, shorter than its header"),
            FrameError::BadMagic => write!(f, "not a ringway-bridge frame (bad magic)"),
            FrameError::BadFraming(v) => write!(f, "unknown framing {v}"),
            FrameError::Length { found, max } => {
                write!(
                    f,
                    "length prefix {found} exceeds the slot's {max} payload bytes"
                )
            }
            FrameError::Size { found, expected } => {
                write!(
                    f,
                    "payload of {found} bytes does not fit a slot taking {expected}"
                )
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// A decoded frame, borrowing the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The sender's framing.
    pub framing: Framing,
    /// The source id.
    pub source: u64,
    /// The sequence number within the source.
    pub seq: u64,
    /// The message bytes.
    pub payload: &'a [u8],
}

impl Framing {
    /// The wire value.
    fn code(self) -> u32 {
        match self {
            Framing::Whole => 0,
            Framing::LenPrefixed => 1,
        }
    }

    /// The bytes of `slot` that travel.
    ///
    /// # Errors
    /// `Length` when a length prefix exceeds the slot (the local producer
    /// wrote a bad message).
    pub fn from_slot(self, slot: &[u8]) -> Result<&[u8], FrameError> {
        match self {
            Framing::Whole => Ok(slot),
            Framing::LenPrefixed => {
                let max = slot.len().saturating_sub(PREFIX_LEN);
                let Some(prefix) = slot.get(..PREFIX_LEN) else {
                    return Err(FrameError::Length { found: 0, max });
                };
                let n = u32::from_le_bytes(prefix.try_into().expect("4 bytes"));
                if n as usize > max {
                    return Err(FrameError::Length {
                        found: u64::from(n),
                        max,
                    });
                }
                Ok(&slot[PREFIX_LEN..PREFIX_LEN + n as usize])
            }
        }
    }

    /// Writes `payload` into `slot` (one whole slot, as the ring takes it).
    ///
    /// # Errors
    /// `Size` when the payload does not fit (or, whole, is not exactly) the slot.
    pub fn to_slot(self, payload: &[u8], slot: &mut [u8]) -> Result<(), FrameError> {
        match self {
            Framing::Whole => {
                if payload.len() != slot.len() {
                    return Err(FrameError::Size {
                        found: payload.len(),
                        expected: slot.len(),
                    });
                }
                slot.copy_from_slice(payload);
            }
            Framing::LenPrefixed => {
                let max = slot.len().saturating_sub(PREFIX_LEN);
                if payload.len() > max || slot.len() < PREFIX_LEN {
                    return Err(FrameError::Size {
                        found: payload.len(),
                        expected: max,
                    });
                }
                let (prefix, rest) = slot.split_at_mut(PREFIX_LEN);
                prefix.copy_from_slice(&(payload.len() as u32).to_le_bytes());
                rest[..payload.len()].copy_from_slice(payload);
                rest[payload.len()..].fill(0);
            }
        }
        Ok(())
    }
}

/// Appends the frame for one message to `out` (cleared first).
pub fn encode(out: &mut Vec<u8>, framing: Framing, source: u64, seq: u64, payload: &[u8]) {
    out.clear();
    out.reserve(HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&framing.code().to_le_bytes());
    out.extend_from_slice(&source.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// The acknowledgement that `source`'s messages before `next` are written.
pub fn encode_ack(source: u64, next: u64) -> [u8; HEADER_LEN] {
    let mut a = [0u8; HEADER_LEN];
    a[0..4].copy_from_slice(&ACK_MAGIC);
    a[8..16].copy_from_slice(&source.to_le_bytes());
    a[16..24].copy_from_slice(&next.to_le_bytes());
    a
}

/// Reads an acknowledgement: `(source, next)`.
///
/// # Errors
/// `Short` or `BadMagic` for bytes that are not one.
pub fn decode_ack(bytes: &[u8]) -> Result<(u64, u64), FrameError> {
    if bytes.len() != HEADER_LEN {
        return Err(FrameError::Short { len: bytes.len() });
    }
    if bytes[0..4] != ACK_MAGIC {
        return Err(FrameError::BadMagic);
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    Ok((word(8), word(16)))
}

/// Reads a frame received from the network.
///
/// # Errors
/// `Short`, `BadMagic` or `BadFraming` for bytes that are not a frame.
pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    if bytes.len() < HEADER_LEN {
        return Err(FrameError::Short { len: bytes.len() });
    }
    let (header, payload) = bytes.split_at(HEADER_LEN);
    if header[0..4] != MAGIC {
        return Err(FrameError::BadMagic);
    }
    let word = |r: core::ops::Range<usize>| -> [u8; 8] { header[r].try_into().expect("8 bytes") };
    let framing = match u32::from_le_bytes(header[4..8].try_into().expect("4 bytes")) {
        0 => Framing::Whole,
        1 => Framing::LenPrefixed,
        other => return Err(FrameError::BadFraming(other)),
    };
    Ok(Frame {
        framing,
        source: u64::from_le_bytes(word(8..16)),
        seq: u64::from_le_bytes(word(16..24)),
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trips() {
        let mut buf = Vec::new();
        encode(&mut buf, Framing::LenPrefixed, 0xdead_beef, 42, b"hello");
        assert_eq!(buf.len(), HEADER_LEN + 5);
        let f = decode(&buf).unwrap();
        assert_eq!(
            f,
            Frame {
                framing: Framing::LenPrefixed,
                source: 0xdead_beef,
                seq: 42,
                payload: b"hello"
            }
        );
    }

    #[test]
    fn acks_round_trip_and_are_not_frames() {
        let ack = encode_ack(9, 1234);
        assert_eq!(decode_ack(&ack), Ok((9, 1234)));
        assert_eq!(decode(&ack), Err(FrameError::BadMagic));
        let mut frame = Vec::new();
        encode(&mut frame, Framing::Whole, 9, 1234, b"");
        assert_eq!(decode_ack(&frame), Err(FrameError::BadMagic));
        assert_eq!(decode_ack(&ack[..10]), Err(FrameError::Short { len: 10 }));
    }

    #[test]
    fn garbage_frames_are_typed_errors() {
        assert_eq!(decode(b"RWB1"), Err(FrameError::Short { len: 4 }));
        let mut buf = Vec::new();
        encode(&mut buf, Framing::Whole, 1, 2, b"x");
        let mut bad = buf.clone();
        bad[0] = b'X';
        assert_eq!(decode(&bad), Err(FrameError::BadMagic));
        let mut bad = buf.clone();
        bad[4] = 7;
        assert_eq!(decode(&bad), Err(FrameError::BadFraming(7)));
    }

    #[test]
    fn len_prefixed_slots_round_trip_and_zero_the_padding() {
        let mut slot = [0xffu8; 16];
        Framing::LenPrefixed.to_slot(b"abc", &mut slot).unwrap();
        assert_eq!(&slot[..4], &3u32.to_le_bytes());
        assert_eq!(&slot[4..7], b"abc");
        assert!(slot[7..].iter().all(|&b| b == 0));
        assert_eq!(Framing::LenPrefixed.from_slot(&slot).unwrap(), b"abc");
        // The largest payload that fits, and one byte more.
        assert!(Framing::LenPrefixed.to_slot(&[1; 12], &mut slot).is_ok());
        assert_eq!(
            Framing::LenPrefixed.to_slot(&[1; 13], &mut slot),
            Err(FrameError::Size {
                found: 13,
                expected: 12
            })
        );
    }

    #[test]
    fn a_lying_length_prefix_is_refused() {
        let mut slot = [0u8; 16];
        slot[..4].copy_from_slice(&13u32.to_le_bytes());
        assert_eq!(
            Framing::LenPrefixed.from_slot(&slot),
            Err(FrameError::Length { found: 13, max: 12 })
        );
        slot[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(Framing::LenPrefixed.from_slot(&slot).is_err());
    }

    #[test]
    fn whole_slots_must_match_exactly() {
        let mut slot = [0u8; 8];
        assert!(Framing::Whole.to_slot(&[1; 7], &mut slot).is_err());
        assert!(Framing::Whole.to_slot(&[1; 9], &mut slot).is_err());
        Framing::Whole.to_slot(&[1; 8], &mut slot).unwrap();
        assert_eq!(Framing::Whole.from_slot(&slot).unwrap(), &[1; 8]);
    }
}
