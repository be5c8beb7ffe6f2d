//! The kernel mechanisms as message endpoints: exact-size messages over a
//! byte stream (pipe, FIFO, UNIX stream), datagrams, POSIX message queues
//! and eventfd, in blocking or busy-polling (non-blocking) mode.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::Watch;
use crate::failure::{fail, Failure};
use crate::sys::{self, Mq};

/// One direction of a mechanism, at one end.
#[derive(Debug)]
pub(crate) enum Endpoint {
    /// Pipe, FIFO or UNIX stream socket: messages are `size` bytes of the stream.
    Stream(OwnedFd),
    /// UNIX datagram socket: one message per datagram.
    Dgram(OwnedFd),
    /// POSIX message queue.
    Mq(Mq),
    /// eventfd: an 8-byte counter; carries `seq + 1` (so 0, "nothing", never goes).
    Event(OwnedFd),
}

/// Whether an error means "try again" in busy-polling mode.
fn again(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

const EVENT_END: u64 = u64::MAX - 1;

impl Endpoint {
    /// Puts the descriptor in non-blocking (busy-polling) or blocking mode.
    pub(crate) fn set_polling(&self, yes: bool) -> Result<(), Failure> {
        match self {
            Endpoint::Stream(fd) | Endpoint::Dgram(fd) | Endpoint::Event(fd) => {
                sys::set_nonblocking(fd, yes)?
            }
            Endpoint::Mq(_) => {} // opened in the right mode
        }
        Ok(())
    }

    /// Sends one message (`msg.len()` bytes, its first 8 the sequence number).
    pub(crate) fn send(&self, msg: &[u8], watch: &Watch) -> Result<(), Failure> {
        let mut spins = 0u32;
        match self {
            Endpoint::Stream(fd) => write_all(fd, msg, watch),
            Endpoint::Dgram(fd) => loop {
                match sys::write(fd, msg) {
                    Ok(n) if n == msg.len() => return Ok(()),
                    Ok(n) => fail!("datagram of {} bytes sent as {n}", msg.len()),
                    Err(e) if again(&e) => poll_tick(&mut spins, watch)?,
                    Err(e) => fail!("send: {e}"),
                }
            },
            Endpoint::Mq(q) => loop {
                match q.send(msg) {
                    Ok(()) => return Ok(()),
                    Err(e) if again(&e) => poll_tick(&mut spins, watch)?,
                    Err(e) => fail!("mq_send: {e}"),
                }
            },
            Endpoint::Event(fd) => {
                let seq = u64::from_le_bytes(msg[..8].try_into()?);
                let v = if seq == u64::MAX { EVENT_END } else { seq + 1 };
                write_all(fd, &v.to_le_bytes(), watch)
            }
        }
    }

    /// Receives one message of exactly `buf.len()` bytes.
    pub(crate) fn recv(&self, buf: &mut [u8], watch: &Watch) -> Result<(), Failure> {
        let mut spins = 0u32;
        match self {
            Endpoint::Stream(fd) => read_exact(fd, buf, watch),
            Endpoint::Dgram(fd) => loop {
                match sys::read(fd, buf) {
                    Ok(n) if n == buf.len() => return Ok(()),
                    Ok(n) => fail!("datagram of {n} bytes, expected {}", buf.len()),
                    Err(e) if again(&e) => poll_tick(&mut spins, watch)?,
                    Err(e) => fail!("recv: {e}"),
                }
            },
            Endpoint::Mq(q) => loop {
                match q.recv(buf) {
                    Ok(n) if n == buf.len() => return Ok(()),
                    Ok(n) => fail!("mq message of {n} bytes, expected {}", buf.len()),
                    Err(e) if again(&e) => poll_tick(&mut spins, watch)?,
                    Err(e) => fail!("mq_receive: {e}"),
                }
            },
            Endpoint::Event(fd) => {
                let mut v = [0u8; 8];
                read_exact(fd, &mut v, watch)?;
                let v = u64::from_le_bytes(v);
                let seq = if v == EVENT_END { u64::MAX } else { v - 1 };
                buf[..8].copy_from_slice(&seq.to_le_bytes());
                Ok(())
            }
        }
    }

    /// Sends `msgs.len() / size` messages with as few calls as the mechanism
    /// allows (stream: one write; datagram: sendmmsg).
    pub(crate) fn send_batch(
        &self,
        msgs: &[u8],
        size: usize,
        watch: &Watch,
    ) -> Result<(), Failure> {
        match self {
            Endpoint::Stream(fd) => write_all(fd, msgs, watch),
            Endpoint::Dgram(fd) => {
                let mut rest = msgs;
                let mut spins = 0u32;
                while !rest.is_empty() {
                    match sys::sendmmsg(fd, rest, size) {
                        Ok(n) => rest = &rest[n * size..],
                        Err(e) if again(&e) => poll_tick(&mut spins, watch)?,
                        Err(e) => fail!("sendmmsg: {e}"),
                    }
                }
                Ok(())
            }
            _ => {
                for m in msgs.chunks_exact(size) {
                    self.send(m, watch)?;
                }
                Ok(())
            }
        }
    }

    /// Receives at least one message into `buf` (room for a batch). `held`
    /// bytes at its start are left over from the last call (streams only).
    /// Returns the bytes of whole messages now at the start of `buf`;
    /// the caller consumes them and calls [`carry`] for the rest.
    pub(crate) fn recv_batch(
        &self,
        buf: &mut [u8],
        held: usize,
        size: usize,
        lens: &mut Vec<usize>,
        watch: &Watch,
    ) -> Result<usize, Failure> {
        let mut spins = 0u32;
        match self {
            Endpoint::Stream(fd) => {
                let mut have = held;
                while have < size {
                    match sys::read(fd, &mut buf[have..]) {
                        Ok(0) => fail!("peer closed the stream"),
                        Ok(n) => have += n,
                        Err(e) if again(&e) => poll_tick(&mut spins, watch)?,
                        Err(e) => fail!("read: {e}"),
                    }
                }
                Ok(have)
            }
            Endpoint::Dgram(fd) => {
                loop {
                    match sys::recvmmsg(fd, buf, size, lens) {
                        Ok(()) => break,
                        Err(e) if again(&e) => poll_tick(&mut spins, watch)?,
                        Err(e) => fail!("recvmmsg: {e}"),
                    }
                }
                if let Some(bad) = lens.iter().find(|&&l| l != size) {
                    fail!("datagram of {bad} bytes, expected {size}");
                }
                Ok(lens.len() * size)
            }
            _ => {
                self.recv(&mut buf[..size], watch)?;
                Ok(size)
            }
        }
    }
}

/// Moves the bytes of a partial message (`buf[whole..have]`) to the front;
/// returns how many are held.
pub(crate) fn carry(buf: &mut [u8], whole: usize, have: usize) -> usize {
    buf.copy_within(whole..have, 0);
    have - whole
}

fn poll_tick(spins: &mut u32, watch: &Watch) -> Result<(), Failure> {
    // Every time: in blocking mode this runs once per EINTR, which is how an
    // interrupt reaches us.
    if crate::sys::interrupted() {
        fail!("interrupted");
    }
    *spins = spins.wrapping_add(1);
    if *spins % 256 == 0 {
        watch.check("busy-polling a descriptor")?;
    }
    std::hint::spin_loop();
    Ok(())
}

fn write_all(fd: &OwnedFd, mut data: &[u8], watch: &Watch) -> Result<(), Failure> {
    let mut spins = 0u32;
    while !data.is_empty() {
        match sys::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(e) if again(&e) => poll_tick(&mut spins, watch)?,
            Err(e) => fail!("write to fd {}: {e}", fd.as_raw_fd()),
        }
    }
    Ok(())
}

fn read_exact(fd: &OwnedFd, buf: &mut [u8], watch: &Watch) -> Result<(), Failure> {
    let mut spins = 0u32;
    let mut have = 0;
    while have < buf.len() {
        match sys::read(fd, &mut buf[have..]) {
            Ok(0) => fail!("peer closed the stream"),
            Ok(n) => have += n,
            Err(e) if again(&e) => poll_tick(&mut spins, watch)?,
            Err(e) => fail!("read from fd {}: {e}", fd.as_raw_fd()),
        }
    }
    Ok(())
}
