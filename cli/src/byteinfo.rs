//! The `ringway info` lines of the byte rings (record and broadcast): what
//! their capacity and cursors mean, their mode, and who is registered.
//!
//! | kind | `tail` | `head` | roles |
//! |---|---|---|---|
//! | record | end of the producers' claims (bytes since creation) | the consumer's next record | producers (peer table), one consumer |
//! | broadcast | end of the last record announced | the oldest record still intact | one producer, subscribers (peer table), each with its own cursor |

use std::fmt::Write as _;

use ringway::layout::{FLAG_CRC32C, FLAG_GATED};
use ringway::peer::{Liveness, PeerInfo};
use ringway::record::{self, RECORD_HEADER};
use ringway::{Kind, Ring, Role, Snapshot};

/// `pid N (alive|gone)`, or `free`, as elsewhere in `info`.
fn who(pid: u32, start: Option<u64>) -> String {
    match pid {
        0 => "free".to_owned(),
        _ if ringway::process::is_alive(pid, start) => format!("pid {pid} (alive)"),
        _ => format!("pid {pid} (gone)"),
    }
}

/// `pid N (alive|DEAD ...)` of a peer-table entry, as `info` lists peers.
pub(crate) fn peer(p: &PeerInfo) -> String {
    let live = match p.liveness {
        Liveness::Alive => "alive",
        Liveness::Dead => "DEAD, not reaped yet",
        Liveness::Free => "left",
    };
    format!("pid {} ({live})", p.pid)
}

/// The registered handles of `role`.
fn of_role(s: &Snapshot, role: Role) -> Vec<&PeerInfo> {
    s.peers.iter().filter(|p| p.role == Some(role)).collect()
}

/// The geometry lines: a byte ring of variable-size records.
pub(crate) fn geometry(ring: &Ring, out: &mut String) {
    let g = ring.geometry();
    let flags = ring.identity().flags;
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "capacity        {} bytes (a byte ring of variable-size records: {RECORD_HEADER}-byte \
         header, 16-aligned, padding at the wrap; largest record {} bytes)",
        g.capacity,
        g.capacity.saturating_sub(RECORD_HEADER)
    );
    let mode = match g.kind {
        Kind::Broadcast if flags & FLAG_GATED != 0 => {
            "gated: the producer waits for the slowest live subscriber (dead ones are evicted)"
        }
        Kind::Broadcast => {
            "lossy: the producer never waits; a lapped subscriber counts what it missed"
        }
        _ if flags & FLAG_CRC32C != 0 => "checksums: a CRC32C per record, checked on read",
        _ => "no checksums",
    };
    let _ = writeln!(out, "mode            {mode}");
}

/// The cursor and role lines.
pub(crate) fn cursors(ring: &Ring, s: &Snapshot, out: &mut String) {
    let capacity = ring.capacity();
    let fill = s.len as f64 * 100.0 / capacity as f64;
    match ring.kind() {
        Kind::Record => {
            let _ = writeln!(
                out,
                "tail (claimed)  {} (bytes since creation: the end of the producers' claims)",
                s.tail
            );
            let _ = writeln!(
                out,
                "head (read)     {} (the consumer's next record)",
                s.head
            );
            match record::scan(ring) {
                Ok(scan) => {
                    let _ = writeln!(
                        out,
                        "durable         {} (records below it were flushed to the file)",
                        scan.durable
                    );
                    let _ = writeln!(
                        out,
                        "committed       {} records, {} bytes from head; {} bytes claimed and not \
                         committed (or invalid)",
                        scan.records,
                        scan.end - scan.head,
                        scan.dropped()
                    );
                }
                Err(e) => {
                    let _ = writeln!(out, "records         unreadable: {e}");
                }
            }
            let _ = writeln!(
                out,
                "fill            {} of {capacity} bytes ({fill:.1}%)",
                s.len
            );
            let _ = writeln!(out, "consumer        {}", who(s.consumer_owner, None));
            let producers = of_role(s, Role::Producer);
            let _ = writeln!(out, "producers       {} registered", producers.len());
            for p in producers {
                let (pos, len) = p.claim;
                let claim = if len == 0 {
                    "no claim in flight".to_owned()
                } else {
                    format!("claim {len} bytes at {pos}")
                };
                let _ = writeln!(out, "  {}, {claim}", peer(p));
            }
        }
        Kind::Broadcast => {
            let _ = writeln!(
                out,
                "tail (written)  {} (bytes since creation: the end of the last record)",
                s.tail
            );
            let _ = writeln!(
                out,
                "head (oldest)   {} (the oldest record still intact)",
                s.head
            );
            let _ = writeln!(
                out,
                "held            {} of {capacity} bytes ({fill:.1}%)",
                s.len
            );
            let _ = writeln!(out, "producer        {}", who(s.producer_owner, None));
            let subscribers = of_role(s, Role::Consumer);
            let _ = writeln!(out, "subscribers     {} registered", subscribers.len());
            for p in subscribers {
                let cursor = p.claim.0;
                let _ = writeln!(
                    out,
                    "  {}, at {cursor} ({} bytes behind tail)",
                    peer(p),
                    s.tail.saturating_sub(cursor)
                );
            }
        }
        Kind::Spsc | Kind::Mpmc => {}
    }
}
