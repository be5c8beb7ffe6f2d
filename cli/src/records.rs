//! `cat` over a record or broadcast ring, `tail` of a broadcast ring,
//! `verify` of a durable record ring file.
//!
//! Record and broadcast rings carry their own framing (each record has a
//! length), so `cat` adds none: each read of stdin becomes one record (at
//! most 64 KiB or the ring's largest record), and the end of the stream is
//! one empty record. Both kinds go through one path, `AnySender` /
//! `AnyReceiver` (a `cat --read` of a broadcast ring subscribes from the
//! oldest record; records it missed to laps are reported on stderr).

use std::io::{self, Read, Write};
use std::path::Path;

use ringway::broadcast::{Start, Subscriber};
use ringway::record;
use ringway::{AnyReceiver, AnySender, Kind, OpenOptions, Ring};

use crate::failure::{fail, Failure};
use crate::locator::Locator;

/// Opens `name`, which must be a ring of `kind`.
fn open(name: &str, kind: Kind) -> Result<Ring, Failure> {
    let locator = Locator::parse(name)?;
    locator.open(&OpenOptions::new().kind(kind))
}

/// `name` opened, if it is a record or broadcast ring (for `cat` to choose
/// its framing).
pub(crate) fn byte_ring(name: &str) -> Option<Ring> {
    Locator::parse(name)
        .and_then(|l| l.open(&OpenOptions::new()))
        .ok()
        .filter(|r| matches!(r.kind(), Kind::Record | Kind::Broadcast))
}

/// `ringway cat NAME --write` over a record or broadcast ring.
pub(crate) fn write(ring: &Ring) -> Result<(), Failure> {
    let mut tx = AnySender::attach(ring)?;
    let mut buf = vec![0u8; tx.max_len().min(1 << 16)];
    let mut input = io::stdin().lock();
    loop {
        let n = match input.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => fail!("reading stdin: {e}"),
        };
        if let Err(e) = tx.send_deadline(&buf[..n], None) {
            fail!("writing a record: {e}");
        }
        if n == 0 {
            return Ok(()); // the empty record was the end of the stream
        }
    }
}

/// `ringway cat NAME --read` over a record or broadcast ring.
pub(crate) fn read(ring: &Ring) -> Result<(), Failure> {
    let mut rx = AnyReceiver::attach(ring, Start::Oldest)?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut buf = Vec::with_capacity(1 << 16);
    let mut missed = 0;
    loop {
        let n = match rx.try_recv_into(&mut buf) {
            Ok(n) => n,
            Err(ringway::PopError::Empty) => {
                // Nothing ready: hand what we have downstream before sleeping.
                out.flush()
                    .map_err(|e| Failure(format!("writing stdout: {e}")))?;
                match rx.recv_deadline_into(&mut buf, None) {
                    Ok(n) => n,
                    Err(e) => fail!("reading the ring: {e}"),
                }
            }
            Err(e) => fail!("reading the ring: {e}"),
        };
        if rx.missed() > missed {
            eprintln!("ringway: missed {} records (lapped)", rx.missed() - missed);
            missed = rx.missed();
        }
        if n == 0 {
            break;
        }
        if let Err(e) = out.write_all(&buf) {
            fail!("writing stdout: {e}");
        }
    }
    out.flush()
        .map_err(|e| Failure(format!("writing stdout: {e}")))?;
    Ok(())
}

/// `ringway tail NAME`: subscribe to a broadcast ring and print each record
/// on its own line (a newline is added when the record has none), the
/// count of records missed to laps on stderr.
pub(crate) fn tail(name: &str, back: usize, count: Option<u64>) -> Result<(), Failure> {
    let ring = open(name, Kind::Broadcast)?;
    let mut sub = Subscriber::attach(&ring, Start::Back(back))?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut buf = Vec::new();
    let mut seen = 0u64;
    while count.is_none_or(|c| seen < c) {
        let r = sub
            .pop_blocking_into(&mut buf)
            .map_err(|e| Failure(format!("reading the ring: {e}")))?;
        if r.missed > 0 {
            eprintln!("ringway: missed {} records (lapped)", r.missed);
        }
        let newline = buf.last() != Some(&b'\n');
        let written = out
            .write_all(&buf)
            .and_then(|()| {
                if newline {
                    out.write_all(b"\n")
                } else {
                    Ok(())
                }
            })
            .and_then(|()| out.flush());
        if let Err(e) = written {
            fail!("writing stdout: {e}");
        }
        seen += 1;
    }
    Ok(())
}

/// `ringway verify FILE`: the longest valid prefix of a record ring file.
pub(crate) fn verify(path: &Path) -> Result<(), Failure> {
    let ring = OpenOptions::new().kind(Kind::Record).open_file(path)?;
    let scan = record::scan(&ring)?;
    println!("ring            {}", path.display());
    println!(
        "checksums       {}",
        if ring.identity().flags & ringway::layout::FLAG_CRC32C != 0 {
            "crc32c"
        } else {
            "none (a torn record on disk cannot be detected)"
        }
    );
    println!("head            {}", scan.head);
    println!("durable         {}", scan.durable);
    println!("tail            {}", scan.tail);
    println!(
        "valid prefix    {} .. {} ({} records)",
        scan.head, scan.end, scan.records
    );
    println!("would drop      {} bytes", scan.dropped());
    if !scan.durable_intact {
        fail!(
            "records below the durable cursor ({}) are damaged: the valid prefix ends at {}",
            scan.durable,
            scan.end
        );
    }
    Ok(())
}
