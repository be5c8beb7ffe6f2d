//! `cat`: a named-pipe replacement over a bytes ring of either kind.
//!
//! Framing, inside each fixed-size slot:
//!
//! ```text
//! offset 0  u32 LE  payload length, or EOS (u32::MAX): the end of the stream
//! offset 4  u32     zero
//! offset 8  payload (length bytes; the rest of the slot is ignored)
//! ```
//!
//! Binary safe: the length says where each slot's bytes end, and the end of
//! stream is a slot of its own, so an empty input is one EOS slot. The reader
//! checks every length against the slot size (a corrupt writer gives an error,
//! never an out-of-bounds slice).

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::time::{Duration, Instant};

use ringway::handle::{Consumer, Producer};
use ringway::{with_any, AnyConsumer, AnyProducer, Bytes, Flavor, OpenOptions, PopTimeoutError};

use crate::failure::{fail, Failure};
use crate::locator::Locator;

/// Length word of the end-of-stream slot.
const EOS: u32 = u32::MAX;
/// Bytes of framing at the start of each slot.
const FRAME: usize = 8;

fn open(name: &str) -> Result<ringway::Ring, Failure> {
    let locator = Locator::parse(name)?;
    let ring = locator.open(&OpenOptions::new())?;
    if ring.slot_size() < FRAME + 8 {
        fail!(
            "{}: slots are {} bytes; cat needs at least {} (8 of framing)",
            locator.display(),
            ring.slot_size(),
            FRAME + 8
        );
    }
    Ok(ring)
}

/// Unbuffered stdin / stdout as files: `io::Stdout` flushes at every newline,
/// which costs a syscall per line of binary data.
fn raw_fd(fd: i32) -> ManuallyDrop<File> {
    // SAFETY: fds 0 and 1 are open for the life of the process (an unopened
    // one makes reads/writes fail with EBADF, which we report); ManuallyDrop
    // keeps us from closing them.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
}

/// `ringway cat NAME --write`: stdin into the ring (of any kind), then EOS.
pub(crate) fn write(name: &str) -> Result<(), Failure> {
    let ring = open(name)?;
    with_any!(AnyProducer::<Bytes>::attach(&ring)?, mut tx => write_with(&mut tx))
}

fn write_with<K: Flavor>(tx: &mut Producer<K, Bytes>) -> Result<(), Failure> {
    let slot = tx.slot_size();
    let payload = slot - FRAME;
    let mut input = raw_fd(0);
    let mut buf = vec![0u8; (payload * 64).clamp(1 << 16, 1 << 20)];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => fail!("reading stdin: {e}"),
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            let want = data.len().div_ceil(payload);
            // Spins briefly, then sleeps on the ring's futex until the
            // reader frees a slot.
            let free = match tx.wait_for_free(1, None) {
                Ok(n) => n,
                Err(e) => fail!("waiting for room in the ring: {e}"),
            };
            let mut chunk = tx.write_chunk(want.min(free))?;
            let mut filled = 0;
            for s in chunk.iter_mut() {
                let take = data.len().min(payload);
                s[..4].copy_from_slice(&(take as u32).to_le_bytes());
                s[4..FRAME].fill(0);
                s[FRAME..FRAME + take].copy_from_slice(&data[..take]);
                data = &data[take..];
                filled += 1;
            }
            chunk.commit(filled);
        }
    }
    let mut eos = vec![0u8; slot];
    eos[..4].copy_from_slice(&EOS.to_le_bytes());
    if let Err(e) = tx.push_blocking(&eos) {
        fail!("writing the end of stream: {e}");
    }
    Ok(())
}

/// The writer died before its end of stream: hand on what arrived, then fail.
fn writer_died(out: &mut impl Write) -> Result<(), Failure> {
    if let Err(e) = out.flush() {
        fail!("writing stdout: {e}");
    }
    fail!("the writer died before the end of the stream (everything it wrote was copied)")
}

/// `ringway cat NAME --read`: the ring (of any kind) to stdout until EOS, or
/// an error when the writer dies first (a restarted writer takes over its role).
pub(crate) fn read(name: &str) -> Result<(), Failure> {
    let ring = open(name)?;
    with_any!(AnyConsumer::<Bytes>::attach(&ring)?, mut rx => read_with(&mut rx))
}

fn read_with<K: Flavor>(rx: &mut Consumer<K, Bytes>) -> Result<(), Failure> {
    let slot = rx.slot_size();
    let payload = slot - FRAME;
    let stdout = raw_fd(1);
    let mut out = io::BufWriter::with_capacity(1 << 20, &*stdout);
    // Each slot is copied here (volatile loads, each byte once:
    // `ReadChunk::copy_message`) before anything in it is looked at: the
    // writer may change the slot's bytes at any time, so the length that is
    // checked must be the length that is used (no double fetch).
    let mut frame = vec![0u8; slot];
    loop {
        // Nothing for a millisecond: hand what we have downstream, then
        // sleep on the ring's futex until the writer publishes.
        let ready = match rx.wait_for_ready(1, Instant::now().checked_add(Duration::from_millis(1)))
        {
            Ok(n) => n,
            Err(PopTimeoutError::Timeout) => {
                if let Err(e) = out.flush() {
                    fail!("writing stdout: {e}");
                }
                match rx.wait_for_ready(1, None) {
                    Ok(n) => n,
                    Err(PopTimeoutError::PeerGone) => return writer_died(&mut out),
                    Err(e) => fail!("waiting for data: {e}"),
                }
            }
            Err(PopTimeoutError::PeerGone) => return writer_died(&mut out),
            Err(e) => fail!("waiting for data: {e}"),
        };
        let chunk = rx.read_chunk(ready.min(1024))?;
        let mut used = 0;
        let mut eos = false;
        while chunk.copy_message(used, &mut frame) {
            used += 1;
            let s = &frame[..];
            let len = u32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            if len == EOS {
                eos = true;
                break;
            }
            if len as usize > payload {
                fail!("corrupt frame: length {len} in a slot of {slot} bytes");
            }
            if let Err(e) = out.write_all(&s[FRAME..FRAME + len as usize]) {
                fail!("writing stdout: {e}");
            }
        }
        chunk.release(used);
        if eos {
            break;
        }
    }
    if let Err(e) = out.flush() {
        fail!("writing stdout: {e}");
    }
    Ok(())
}
