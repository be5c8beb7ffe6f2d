//! `create`, `info`, `ls`, `gc`: operate rings by name (`rm` is in `object.rs`).

use std::fmt::Write as _;
use std::path::PathBuf;

use ringway::probe::Probe;
use ringway::{Kind, OpenOptions, Ring, RingBuilder, Role};

use crate::failure::{fail, Failure};
use crate::locator::Locator;
use crate::object::{path_of, Object};

/// The parameters of `ringway create` besides where and which kind.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    /// Slots, or bytes for record and broadcast rings; a default if `None`.
    pub(crate) capacity: Option<u64>,
    /// Bytes per slot (slot rings).
    pub(crate) slot_size: u32,
    /// Broadcast: gated.
    pub(crate) gated: bool,
    /// Record: CRC32C per record.
    pub(crate) checksums: bool,
    /// SPSC: stamped slots.
    pub(crate) stamped: bool,
}

/// `ringway create`.
pub(crate) fn create(
    name: Option<&str>,
    kind: Kind,
    shape: Shape,
    file: Option<PathBuf>,
    barrier: Option<ringway::Barrier>,
) -> Result<(), Failure> {
    let Shape {
        capacity,
        slot_size,
        gated,
        checksums,
        stamped,
    } = shape;
    let locator = match (name, file) {
        (Some(_), Some(_)) => fail!("give a shm NAME or --file PATH, not both"),
        (None, None) => fail!("give a shm NAME (like /jobs) or --file PATH"),
        (Some(name), None) => Locator::parse(name)?,
        (None, Some(path)) => Locator::File(path),
    };
    // Slots aligned to the largest power of two (up to 64) dividing the size,
    // so typed peers of any alignment up to that can attach.
    let align = 1u32 << slot_size.trailing_zeros().min(6);
    let builder = match kind {
        Kind::Record | Kind::Broadcast => RingBuilder::new(kind)
            .capacity(capacity.unwrap_or(1 << 20))
            .gated(gated)
            .checksums(checksums),
        Kind::Spsc | Kind::Mpmc => RingBuilder::new(kind)
            .capacity(capacity.unwrap_or(1024))
            .slot_size(slot_size)
            .slot_align(align)
            .stamped(stamped),
    }
    .unlink_on_drop(false);
    let builder = match barrier {
        Some(b) => builder.barrier(b),
        None => builder,
    };
    let ring = match &locator {
        Locator::Shm(name) => builder.create_shm(name)?,
        Locator::File(path) => builder.create_file(path)?,
    };
    match kind {
        Kind::Record | Kind::Broadcast => println!(
            "created {} ({}, {} bytes of records, flags {:#x}, {} bytes mapped)",
            locator.display(),
            ring.kind(),
            ring.capacity(),
            ring.identity().flags,
            ring.geometry().total_len
        ),
        Kind::Spsc | Kind::Mpmc => println!(
            "created {} ({}, {} slots of {} bytes, {} bytes mapped)",
            locator.display(),
            ring.kind(),
            ring.capacity(),
            ring.slot_size(),
            ring.geometry().total_len
        ),
    }
    Ok(())
}

fn alive(pid: u32) -> &'static str {
    if ringway::process::is_alive(pid, None) {
        "alive"
    } else {
        "gone"
    }
}

/// A process by pid: "free" for 0, else the pid and whether it runs.
fn process(pid: u32) -> String {
    if pid == 0 {
        "free".to_owned()
    } else {
        format!("pid {pid} ({})", alive(pid))
    }
}

/// Who holds `role` of an SPSC ring: the header's role word names a peer
/// entry (not a pid), so the holder is read from the peer table.
fn role(ring: &Ring, role: Role) -> String {
    ring.peers()
        .iter()
        .find(|p| p.role == Some(role))
        .map_or_else(|| "free".to_owned(), crate::byteinfo::peer)
}

/// The SPSC roles of the named ring, for an `ls` row.
fn spsc_roles(name: &str) -> Option<String> {
    let ring = OpenOptions::new()
        .allow_other_owner(true)
        .open_shm(name)
        .ok()?;
    Some(format!(
        "producer {}, consumer {}",
        role(&ring, Role::Producer),
        role(&ring, Role::Consumer)
    ))
}

/// The `info` report of an open ring.
pub(crate) fn describe(ring: &Ring, name: &str) -> String {
    let id = ring.identity();
    let g = ring.geometry();
    let s = ring.snapshot();
    let mut out = String::new();
    let fill = s.len as f64 * 100.0 / g.capacity as f64;
    // Writing to a String cannot fail.
    let _ = writeln!(out, "ring            {name}");
    let _ = writeln!(out, "kind            {}", g.kind);
    let _ = writeln!(out, "magic           {:#018x} (RINGWAY)", id.magic);
    let _ = writeln!(
        out,
        "abi version     {}, flags {:#x}",
        id.abi_version, id.flags
    );
    let _ = writeln!(out, "layout hash     {:#018x}", id.layout_hash);
    let bytes = matches!(g.kind, Kind::Record | Kind::Broadcast);
    if bytes {
        crate::byteinfo::geometry(ring, &mut out);
    } else {
        let _ = writeln!(out, "capacity        {} slots", g.capacity);
        let _ = writeln!(
            out,
            "slot            {} bytes, align {}, stride {}",
            g.slot_size, g.slot_align, g.stride
        );
    }
    if g.kind == Kind::Spsc {
        let _ = writeln!(
            out,
            "slot layout     {}",
            if g.stamped {
                "stamped (a readiness stamp in front of each payload)"
            } else {
                "contiguous"
            }
        );
    }
    if !bytes {
        if id.type_size == 0 {
            let _ = writeln!(out, "message type    bytes (untyped)");
        } else {
            let _ = writeln!(
                out,
                "message type    {} bytes, align {}, name hash {:#x}",
                id.type_size, id.type_align, id.type_name_hash
            );
        }
    }
    let _ = writeln!(
        out,
        "mapped          {} bytes ({} at offset {})",
        g.total_len,
        if bytes { "data" } else { "slots" },
        g.slots_offset
    );
    let _ = writeln!(
        out,
        "barrier         {}",
        ringway::Barrier::from_raw(id.barrier).map_or("unknown", ringway::Barrier::name)
    );
    let _ = writeln!(
        out,
        "creator         {}, start time {}",
        process(id.creator_pid),
        id.creator_start_time
    );
    if bytes {
        crate::byteinfo::cursors(ring, &s, &mut out);
    } else {
        let _ = writeln!(out, "tail (written)  {}", s.tail);
        let _ = writeln!(out, "head (read)     {}", s.head);
        let _ = writeln!(
            out,
            "fill            {} of {} ({fill:.1}%)",
            s.len, g.capacity
        );
    }
    if g.kind == Kind::Spsc {
        let _ = writeln!(out, "producer        {}", role(ring, Role::Producer));
        let _ = writeln!(out, "consumer        {}", role(ring, Role::Consumer));
    }
    // Record producers and broadcast subscribers are listed above, from the
    // peer table.
    if bytes {
        let _ = writeln!(
            out,
            "waiters         {} for data, {} for space",
            s.data_waiters, s.space_waiters
        );
        return out;
    }
    let _ = writeln!(
        out,
        "peers           {} registered, {} reaped so far, {} messages lost with dead consumers",
        s.peers.len(),
        s.reaped,
        s.lost
    );
    for p in &s.peers {
        let role = match p.role {
            Some(r) => r.to_string(),
            None => "?".to_owned(),
        };
        let live = match p.liveness {
            ringway::peer::Liveness::Alive => "alive",
            ringway::peer::Liveness::Dead => "DEAD (not reaped yet; `ringway gc` reaps it)",
            ringway::peer::Liveness::Free => "left",
        };
        let token = if p.ofd_token { "ofd lock" } else { "pid check" };
        let _ = writeln!(
            out,
            "  [{}] {role:<8} pid {} gen {} start {}, {live} ({token}){}, claim {}+{}",
            p.index,
            p.pid,
            p.generation,
            p.start_time,
            if p.waiting { ", parked" } else { "" },
            p.claim.0,
            p.claim.1
        );
    }
    let _ = writeln!(
        out,
        "waiters         {} for data, {} for space",
        s.data_waiters, s.space_waiters
    );
    out
}

/// `ringway info`: reads the header with `pread` first, and maps the ring
/// only once that copy validated.
pub(crate) fn info(name: &str) -> Result<(), Failure> {
    let locator = Locator::parse(name)?;
    let shown = locator.display();
    let object = match Object::open(&path_of(&locator)) {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => fail!("no ring named {shown}"),
        Err(e) => fail!("{shown}: {e}"),
    };
    match object.probe()? {
        Probe::Ready(copy) => {
            copy.validate()?;
        }
        Probe::Initialising(copy) => {
            let id = copy.identity();
            fail!(
                "{shown} is not initialised: created by {}, ABI {}; retry, or remove it if its creator is gone",
                process(id.creator_pid),
                id.abi_version
            )
        }
        Probe::Empty => fail!("{shown} is empty (0 bytes): not a ringway ring, or a creator died before writing to it"),
        _ => fail!("{shown} is not a ringway ring"),
    }
    let ring = locator.open(&OpenOptions::new())?;
    print!("{}", describe(&ring, &shown));
    Ok(())
}

/// One `ls` row from a header copy (nothing mapped).
fn ls_row(probe: &Probe, name: &str) -> Option<String> {
    Some(match probe {
        Probe::Ready(copy) => match copy.validate() {
            Ok(g) => {
                let roles = match g.kind {
                    Kind::Spsc => spsc_roles(name).unwrap_or_else(|| "roles unknown".to_string()),
                    Kind::Mpmc => match peer_count(name) {
                        Some(n) => format!("{n} peers registered"),
                        None => "peers unknown".to_string(),
                    },
                    Kind::Record => match role_counts(name) {
                        Some((p, c)) => format!("{p} producers, {c} consumer registered"),
                        None => "peers unknown".to_string(),
                    },
                    Kind::Broadcast => match role_counts(name) {
                        Some((p, c)) => format!("{p} producer, {c} subscribers registered"),
                        None => "peers unknown".to_string(),
                    },
                };
                let fill = copy.tail().saturating_sub(copy.head()).min(g.capacity);
                let shape = match g.kind {
                    // Byte rings: capacity and fill count bytes.
                    Kind::Record | Kind::Broadcast => format!("{:>12} B bytes", g.capacity),
                    Kind::Spsc | Kind::Mpmc => {
                        format!("{:>8} x {:>7} B", g.capacity, g.slot_size)
                    }
                };
                format!(
                    "{:<5} {shape}  fill {:>8}/{:<8} {roles}",
                    g.kind.name(),
                    fill,
                    g.capacity
                )
            }
            Err(e) => format!("unusable: {e}"),
        },
        Probe::Initialising(copy) => {
            let gone = !copy.creator_alive();
            format!(
                "initialising, created by {}{}",
                process(copy.identity().creator_pid),
                if gone {
                    "; `ringway rm` removes it"
                } else {
                    ""
                }
            )
        }
        Probe::Empty => {
            "empty (0 bytes): not provably a ring; `ringway rm` will not remove it".to_owned()
        }
        _ => return None,
    })
}

/// `ringway ls`: every object in /dev/shm that starts with the ring magic,
/// and the empty ones (which a creator that died may have left). Read with
/// `pread` through a descriptor opened without following symlinks or
/// blocking; nothing is mapped.
pub(crate) fn ls() -> Result<(), Failure> {
    let dir = std::path::Path::new("/dev/shm");
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => fail!("cannot list /dev/shm: {e}"),
    };
    let mut rows = Vec::new();
    for entry in entries.flatten() {
        let Ok(object) = Object::open(&entry.path()) else {
            continue;
        };
        let name = format!("/{}", entry.file_name().to_string_lossy());
        let Some(row) = object.probe().ok().and_then(|p| ls_row(&p, &name)) else {
            continue;
        };
        rows.push((name, row));
    }
    rows.sort();
    if rows.is_empty() {
        println!("no ringway rings in /dev/shm");
    }
    for (name, state) in rows {
        println!("{name:<32} {state}");
    }
    Ok(())
}

/// Number of entries in an MPMC shm ring's peer table (the peer table
/// follows the header, so the header probe does not see it).
fn peer_count(name: &str) -> Option<usize> {
    let ring = OpenOptions::new()
        .allow_other_owner(true)
        .open_shm(name)
        .ok()?;
    Some(ring.snapshot().peers.len())
}

/// Producer and consumer handles registered in the named ring's peer table.
fn role_counts(name: &str) -> Option<(usize, usize)> {
    let ring = OpenOptions::new()
        .allow_other_owner(true)
        .open_shm(name)
        .ok()?;
    let peers = ring.peers();
    let count = |role| peers.iter().filter(|p| p.role == Some(role)).count();
    Some((count(Role::Producer), count(Role::Consumer)))
}

/// Whether the object at `path` probes as a ready ringway ring.
fn is_ready_ring(path: &std::path::Path) -> bool {
    Object::open(path)
        .ok()
        .and_then(|o| o.probe().ok())
        .is_some_and(|p| matches!(p, Probe::Ready(_)))
}

/// What `gc` found in one ring.
fn gc_one(ring: &Ring, dry_run: bool) -> (usize, usize) {
    use ringway::peer::Liveness;
    let peers = ring.peers();
    let dead = peers
        .iter()
        .filter(|p| p.liveness == Liveness::Dead)
        .count();
    let alive = peers
        .iter()
        .filter(|p| p.liveness == Liveness::Alive)
        .count();
    if !dry_run && dead > 0 {
        ring.reap_dead();
    }
    (dead, alive)
}

/// `ringway gc`: reaps dead peers; removes shm rings whose peers all died.
///
/// A ring is removed only when it is a valid ring of this ABI, had dead
/// peers and has no live one: one that nobody is attached to (everyone left
/// cleanly) is kept, and a file ring is never removed (its data persist
/// across restarts on purpose).
pub(crate) fn gc(name: Option<&str>, dry_run: bool) -> Result<(), Failure> {
    let verb = if dry_run { "would" } else { "did" };
    if let Some(name) = name {
        let locator = Locator::parse(name)?;
        let ring = locator.open(&OpenOptions::new())?;
        let (dead, alive) = gc_one(&ring, dry_run);
        println!(
            "{}: {dead} dead peers ({verb} reap), {alive} alive",
            locator.display()
        );
        if let (Locator::Shm(n), true) = (&locator, dead > 0 && alive == 0) {
            drop(ring);
            if !dry_run {
                Ring::remove_shm(n)?;
            }
            println!("{}: every peer died; {verb} remove it", locator.display());
        }
        return Ok(());
    }
    let dir = std::path::Path::new("/dev/shm");
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => fail!("cannot list /dev/shm: {e}"),
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.metadata().is_ok_and(|m| m.is_file()) && is_ready_ring(&e.path()))
        .map(|e| format!("/{}", e.file_name().to_string_lossy()))
        .collect();
    names.sort();
    let (mut reaped, mut removed) = (0, 0);
    for name in names {
        // Only our own rings, and only those this library can validate.
        let Ok(ring) = OpenOptions::new().open_shm(&name) else {
            continue;
        };
        let (dead, alive) = gc_one(&ring, dry_run);
        reaped += dead;
        if dead > 0 {
            println!("{name}: {dead} dead peers ({verb} reap), {alive} alive");
        }
        if dead > 0 && alive == 0 {
            drop(ring);
            if dry_run || Ring::remove_shm(&name).is_ok() {
                removed += 1;
                println!("{name}: every peer died; {verb} remove it");
            }
        }
    }
    println!("gc: {reaped} dead peers, {removed} rings removed ({verb})");
    Ok(())
}
