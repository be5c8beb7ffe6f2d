//! No SIGBUS from a truncation: a victim process works on a shm ring or a
//! file ring (SPSC, MPMC, record, broadcast; try calls, and for record and
//! broadcast also calls with a deadline, whose waits run in slices) while
//! this process truncates the object to 0 bytes. The victim must get a
//! typed error (`CorruptError`, the ring poisoned) and exit 0, never die by
//! SIGBUS, and never take the zero pages for an empty ring.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::time::{Duration, Instant};

use common::{reap, spawn_child, ShmName, TempPath, CHILD_ENV};
use ringway::{
    broadcast, mpmc, record, spsc, AnyReceiver, AnySender, Kind, OpenOptions, PopError,
    PopTimeoutError, PushError, PushTimeoutError, Ring, RingBuilder,
};

const CAPACITY: u64 = 1024;

fn open_victim_ring(kind: Kind) -> Ring {
    let opts = OpenOptions::new().kind(kind);
    if let Ok(name) = std::env::var("RINGWAY_TEST_SHM") {
        opts.open_shm(&name).expect("victim opens shm ring")
    } else {
        let path = std::env::var("RINGWAY_TEST_FILE").expect("ring name or path");
        opts.open_file(path).expect("victim opens file ring")
    }
}

/// Runs until an operation fails with the poisoned ring's error; any other
/// error, a panic or 60 s without it fails the child.
fn spsc_victim(ring: &Ring) {
    let mut tx = spsc::Producer::<u64>::attach(ring).unwrap();
    let mut rx = spsc::Consumer::<u64>::attach(ring).unwrap();
    let started = Instant::now();
    let mut i = 0u64;
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never poisoned"
        );
        match tx.try_push(i) {
            Ok(()) | Err(PushError::Full(_)) => {}
            Err(PushError::Corrupt(e)) => return check_poisoned(ring, &e.to_string()),
            Err(e) => panic!("push: {e:?}"),
        }
        match rx.try_pop() {
            Ok(_) | Err(PopError::Empty) => {}
            Err(PopError::Corrupt(e)) => return check_poisoned(ring, &e.to_string()),
            Err(e) => panic!("pop: {e:?}"),
        }
        i += 1;
    }
}

fn mpmc_victim(ring: &Ring) {
    let mut tx = mpmc::BytesProducer::attach(ring).unwrap();
    let mut rx = mpmc::BytesConsumer::attach(ring).unwrap();
    let size = ring.slot_size();
    let msg = vec![7u8; size];
    let mut buf = vec![0u8; size];
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never poisoned"
        );
        match tx.push_timeout(&msg, Duration::from_millis(1)) {
            Ok(()) | Err(ringway::PushTimeoutError::Timeout(_)) => {}
            Err(ringway::PushTimeoutError::Corrupt(e)) => {
                return check_poisoned(ring, &e.to_string())
            }
            Err(e) => panic!("push: {e:?}"),
        }
        match rx.pop_timeout(&mut buf, Duration::from_millis(1)) {
            Ok(()) | Err(PopTimeoutError::Timeout) => {}
            Err(PopTimeoutError::Corrupt(e)) => return check_poisoned(ring, &e.to_string()),
            Err(e) => panic!("pop: {e:?}"),
        }
    }
}

/// A record or broadcast ring through the one bytes path. A call that was
/// inside the ring when the fault hit may report what it read from the
/// zero pages (an impossible cursor); the ring is poisoned by then, and
/// the next call reports the truncation.
fn byte_victim(ring: &Ring) {
    let mut rx = AnyReceiver::attach(ring, broadcast::Start::Next).unwrap();
    let mut tx = AnySender::attach(ring).unwrap();
    let mut buf = Vec::new();
    let started = Instant::now();
    let corrupt = loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never poisoned"
        );
        match tx.try_send(&[7; 40]) {
            Ok(()) | Err(PushError::Full(())) => {}
            Err(PushError::Corrupt(e)) => break e,
            Err(e) => panic!("send: {e:?}"),
        }
        match rx.try_recv_into(&mut buf) {
            Ok(_) | Err(PopError::Empty) => {}
            Err(PopError::Corrupt(e)) => break e,
            Err(e) => panic!("receive: {e:?}"),
        }
    };
    assert!(
        ring.is_poisoned(),
        "a corrupt error without a caught truncation: {corrupt}"
    );
    match tx.try_send(&[7; 40]) {
        Err(PushError::Corrupt(e)) => check_poisoned(ring, &e.to_string()),
        other => panic!("send after the truncation: {other:?}"),
    }
    match rx.try_recv_into(&mut buf) {
        Err(PopError::Corrupt(e)) => check_poisoned(ring, &e.to_string()),
        other => panic!("receive after the truncation: {other:?}"),
    }
}

/// A record ring through its own handles, with deadline calls (their waits
/// run in slices, so one parked on the lost futex word comes back to the
/// poison flag) and non-waiting ones.
fn record_deadline_victim(ring: &Ring) {
    let mut tx = record::Producer::attach(ring).unwrap();
    let mut rx = record::Consumer::attach(ring).unwrap();
    let msg = [7u8; 40];
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never poisoned"
        );
        match tx.push_timeout(&msg, Duration::from_millis(1)) {
            Ok(()) | Err(PushTimeoutError::Timeout(())) => {}
            Err(PushTimeoutError::Corrupt(e)) => return check_poisoned(ring, &e.to_string()),
            Err(e) => panic!("record push: {e:?}"),
        }
        match rx.try_pop_vec() {
            Ok(_) | Err(PopError::Empty) => {}
            Err(PopError::Corrupt(e)) => return check_poisoned(ring, &e.to_string()),
            Err(e) => panic!("record pop: {e:?}"),
        }
        match rx.read_timeout(Duration::from_millis(1)) {
            Ok(r) => r.release(),
            Err(PopTimeoutError::Timeout) => {}
            Err(PopTimeoutError::Corrupt(e)) => return check_poisoned(ring, &e.to_string()),
            Err(e) => panic!("record read: {e:?}"),
        }
    }
}

/// A broadcast ring through its own handles, with deadline calls.
fn broadcast_deadline_victim(ring: &Ring) {
    let mut tx = broadcast::Producer::attach(ring).unwrap();
    let mut sub = broadcast::Subscriber::attach(ring, broadcast::Start::Oldest).unwrap();
    let msg = [9u8; 40];
    let mut buf = Vec::new();
    let started = Instant::now();
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never poisoned"
        );
        match tx.push_timeout(&msg, Duration::from_millis(1)) {
            Ok(()) | Err(PushTimeoutError::Timeout(())) => {}
            Err(PushTimeoutError::Corrupt(e)) => return check_poisoned(ring, &e.to_string()),
            Err(e) => panic!("broadcast push: {e:?}"),
        }
        match sub.pop_timeout_into(&mut buf, Duration::from_millis(1)) {
            Ok(_) | Err(PopTimeoutError::Timeout) => {}
            Err(PopTimeoutError::Corrupt(e)) => return check_poisoned(ring, &e.to_string()),
            Err(e) => panic!("broadcast pop: {e:?}"),
        }
    }
}

fn check_poisoned(ring: &Ring, message: &str) {
    assert!(
        ring.is_poisoned(),
        "a corrupt error without a caught truncation: {message}"
    );
    assert!(message.contains("truncated"), "{message}");
}

#[test]
#[ignore = "entry point of the victim processes the other tests spawn"]
fn victim_entry() {
    let role = std::env::var(CHILD_ENV).expect("run by a parent test");
    match role.as_str() {
        "spsc" => spsc_victim(&open_victim_ring(Kind::Spsc)),
        "mpmc" => mpmc_victim(&open_victim_ring(Kind::Mpmc)),
        "record" => byte_victim(&open_victim_ring(Kind::Record)),
        "broadcast" => byte_victim(&open_victim_ring(Kind::Broadcast)),
        "record-deadline" => record_deadline_victim(&open_victim_ring(Kind::Record)),
        "broadcast-deadline" => broadcast_deadline_victim(&open_victim_ring(Kind::Broadcast)),
        other => panic!("unknown role {other}"),
    }
}

/// Creates the ring, starts the victim, waits until it holds the ring, then
/// truncates the object under it and checks it exited 0.
fn truncate_under_victim(kind: Kind, shm: bool) {
    truncate_under(kind, kind.name(), shm);
}

/// As `truncate_under_victim`, with the victim role `role`.
fn truncate_under(kind: Kind, role: &str, shm: bool) {
    let shm_name = ShmName::new("trunc");
    let path = TempPath::new("trunc");
    let builder = RingBuilder::new(kind).capacity(CAPACITY);
    let builder = match kind {
        Kind::Spsc => builder.message::<u64>(),
        Kind::Mpmc => builder.slot_size(64),
        Kind::Record | Kind::Broadcast => builder,
    };
    let (ring, var, object) = if shm {
        let ring = builder.create_shm(&shm_name.0).unwrap();
        let var = ("RINGWAY_TEST_SHM", shm_name.0.clone());
        (
            ring,
            var,
            std::path::PathBuf::from(format!("/dev/shm{}", shm_name.0)),
        )
    } else {
        let ring = builder.create_file(&path.0).unwrap();
        let var = ("RINGWAY_TEST_FILE", path.0.display().to_string());
        (ring, var, path.0.clone())
    };
    let child = spawn_child("victim_entry", role, &[var]);
    // Wait until the victim is at work: it has pushed (tail moved).
    let started = Instant::now();
    while ring.snapshot().tail < 10 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "victim never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let go of our own mapping before cutting the object.
    drop(ring);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&object)
        .unwrap()
        .set_len(0)
        .unwrap();
    reap(child, "victim of a truncation");
}

#[test]
fn truncating_a_shm_spsc_ring_is_an_error_not_a_signal() {
    truncate_under_victim(Kind::Spsc, true);
}

#[test]
fn truncating_a_file_spsc_ring_is_an_error_not_a_signal() {
    truncate_under_victim(Kind::Spsc, false);
}

#[test]
fn truncating_a_shm_mpmc_ring_is_an_error_not_a_signal() {
    truncate_under_victim(Kind::Mpmc, true);
}

#[test]
fn truncating_a_file_mpmc_ring_is_an_error_not_a_signal() {
    truncate_under_victim(Kind::Mpmc, false);
}

#[test]
fn truncating_a_shm_record_ring_is_an_error_not_a_signal() {
    truncate_under_victim(Kind::Record, true);
}

#[test]
fn truncating_a_file_broadcast_ring_is_an_error_not_a_signal() {
    truncate_under_victim(Kind::Broadcast, false);
}

#[test]
fn truncating_a_record_ring_under_deadline_calls_is_an_error() {
    truncate_under(Kind::Record, "record-deadline", true);
    truncate_under(Kind::Record, "record-deadline", false);
}

#[test]
fn truncating_a_broadcast_ring_under_deadline_calls_is_an_error() {
    truncate_under(Kind::Broadcast, "broadcast-deadline", true);
    truncate_under(Kind::Broadcast, "broadcast-deadline", false);
}

/// A SIGBUS that is not inside a ring still ends the process as before (the
/// handler chains): a child maps a file of its own, truncates it, touches it.
#[test]
#[ignore = "entry point of the chaining child"]
fn foreign_fault_entry() {
    if std::env::var(CHILD_ENV).is_err() {
        return;
    }
    // Install the handler by mapping a ring first (an anonymous one: this
    // process dies, and must leave nothing in /dev/shm).
    let _ring = RingBuilder::new(Kind::Spsc)
        .capacity(8)
        .message::<u64>()
        .create_anonymous()
        .unwrap();
    let path = std::env::var("RINGWAY_TEST_FILE").unwrap();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    f.set_len(8192).unwrap();
    // SAFETY: a fresh shared mapping of our own 8 KiB file.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            8192,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            std::os::fd::AsRawFd::as_raw_fd(&f),
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    f.set_len(0).unwrap();
    // SAFETY: deliberately touching a page past the end of the file: this
    // must raise SIGBUS and end the process (the point of the test).
    unsafe { std::ptr::write_volatile(p.cast::<u8>(), 1) };
    std::process::exit(0); // not reached
}

#[test]
fn a_fault_outside_any_ring_still_kills() {
    use std::os::unix::process::ExitStatusExt;
    let path = TempPath::new("chain");
    let mut child = spawn_child(
        "foreign_fault_entry",
        "chain",
        &[("RINGWAY_TEST_FILE", path.0.display().to_string())],
    );
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGBUS), "{status:?}");
}
