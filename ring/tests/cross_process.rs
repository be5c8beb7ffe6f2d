//! Rings shared between processes: a child process (this test binary run
//! again, see `common::spawn_child`) on the other side of a named shm ring or
//! a file-backed ring.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use common::{reap, spawn_child, ShmName, TempPath, CHILD_ENV};
use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, OpenOptions, PopError, Ring, RingBuilder};

const TEN_MILLION: u64 = 10_000_000;

fn open_child_ring() -> Ring {
    let opts = OpenOptions::new().kind(Kind::Spsc).message::<u64>();
    if let Ok(name) = std::env::var("RINGWAY_TEST_SHM") {
        opts.open_shm(&name).expect("child opens shm ring")
    } else {
        let path = std::env::var("RINGWAY_TEST_FILE").expect("ring name or path");
        opts.open_file(path).expect("child opens file ring")
    }
}

/// Pops `count` sequence numbers starting at `first` and checks each; then
/// checks that nothing more arrives unless `more_may_follow`.
fn consume_sequence(ring: &Ring, first: u64, count: u64) {
    let mut rx = Consumer::<u64>::attach(ring).expect("consumer role");
    let mut expected = first;
    let end = first + count;
    let mut buf = [0u64; 256];
    while expected < end {
        let want = ((end - expected) as usize).min(buf.len());
        let n = rx.pop_into(&mut buf[..want]).expect("ring is consistent");
        for &v in &buf[..n] {
            assert_eq!(v, expected, "out of order, lost or duplicated message");
            expected += 1;
        }
        if n == 0 {
            std::hint::spin_loop();
        }
    }
}

/// Entry point of the child processes. Not a test on its own: the tests below
/// run it in a child with `RINGWAY_TEST_CHILD` set.
#[test]
#[ignore = "entry point of the child processes the other tests spawn"]
fn child_entry() {
    let role = std::env::var(CHILD_ENV).expect("run by a parent test");
    let first: u64 = std::env::var("RINGWAY_TEST_FIRST")
        .unwrap()
        .parse()
        .unwrap();
    let count: u64 = std::env::var("RINGWAY_TEST_COUNT")
        .unwrap()
        .parse()
        .unwrap();
    let ring = open_child_ring();
    match role.as_str() {
        "consumer" => consume_sequence(&ring, first, count),
        "producer" => produce_sequence(&ring, first, count),
        other => panic!("unknown child role {other}"),
    }
}

fn produce_sequence(ring: &Ring, first: u64, count: u64) {
    let mut tx = Producer::<u64>::attach(ring).expect("producer role");
    let mut next = first;
    let end = first + count;
    while next < end {
        // Alternate single pushes and zero-copy batches so both paths run.
        if next % 3 == 0 {
            if tx.try_push(next).is_ok() {
                next += 1;
            }
            continue;
        }
        let mut chunk = tx.write_chunk(((end - next) as usize).min(100)).unwrap();
        let n = chunk.len() as u64;
        let (a, b) = chunk.as_mut_slices();
        for (i, slot) in a.iter_mut().chain(b.iter_mut()).enumerate() {
            *slot = next + i as u64;
        }
        chunk.commit_all();
        next += n;
    }
}

fn child_vars(location: (&str, String), first: u64, count: u64) -> Vec<(&'static str, String)> {
    let key = if location.0 == "shm" {
        "RINGWAY_TEST_SHM"
    } else {
        "RINGWAY_TEST_FILE"
    };
    vec![
        (key, location.1),
        ("RINGWAY_TEST_FIRST", first.to_string()),
        ("RINGWAY_TEST_COUNT", count.to_string()),
    ]
}

#[test]
fn ten_million_u64_to_a_consumer_process_through_named_shm() {
    let name = ShmName::new("xproc");
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(4096)
        .message::<u64>()
        .create_shm(&name.0)
        .unwrap();
    let child = spawn_child(
        "child_entry",
        "consumer",
        &child_vars(("shm", name.0.clone()), 0, TEN_MILLION),
    );
    produce_sequence(&ring, 0, TEN_MILLION);
    reap(child, "consumer process");
    let snap = ring.snapshot();
    assert_eq!((snap.tail, snap.head), (TEN_MILLION, TEN_MILLION));
    assert_eq!(snap.consumer_owner, 0, "the child gave its role back");
}

#[test]
fn a_producer_process_feeds_this_process() {
    let name = ShmName::new("xproc-rev");
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(256)
        .message::<u64>()
        .create_shm(&name.0)
        .unwrap();
    let child = spawn_child(
        "child_entry",
        "producer",
        &child_vars(("shm", name.0.clone()), 0, 1_000_000),
    );
    consume_sequence(&ring, 0, 1_000_000);
    reap(child, "producer process");
}

#[test]
fn file_ring_consumer_restarts_mid_stream_without_loss_or_duplicate() {
    const TOTAL: u64 = 2_000_000;
    let path = TempPath::new("file-restart");
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(1024)
        .message::<u64>()
        .create_file(&path.0)
        .unwrap();
    let producer = {
        let ring = ring.clone();
        std::thread::spawn(move || produce_sequence(&ring, 0, TOTAL))
    };
    // Three consumer processes one after another, each taking a share and
    // exiting (closing its mapping); each must continue exactly where the
    // previous one stopped.
    let shares = [700_001, 555_555, TOTAL - 700_001 - 555_555];
    let mut first = 0;
    for share in shares {
        let child = spawn_child(
            "child_entry",
            "consumer",
            &child_vars(("file", path.0.display().to_string()), first, share),
        );
        reap(child, "consumer process");
        first += share;
    }
    producer.join().unwrap();
    assert_eq!(ring.snapshot().head, TOTAL);
}

#[test]
fn file_ring_keeps_its_messages_with_nobody_attached() {
    let path = TempPath::new("file-persist");
    {
        let ring = RingBuilder::new(Kind::Spsc)
            .capacity(64)
            .message::<u64>()
            .create_file(&path.0)
            .unwrap();
        let mut tx = Producer::<u64>::attach(&ring).unwrap();
        assert_eq!(tx.push_slice(&(0..40).collect::<Vec<_>>()).unwrap(), 40);
        let mut rx = Consumer::<u64>::attach(&ring).unwrap();
        for i in 0..10 {
            assert_eq!(rx.try_pop(), Ok(i));
        }
    } // every mapping of the file is gone here
    let ring = OpenOptions::new()
        .message::<u64>()
        .open_file(&path.0)
        .unwrap();
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    for i in 10..40 {
        assert_eq!(rx.try_pop(), Ok(i));
    }
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // A new producer continues at the old tail.
    let mut tx = Producer::<u64>::attach(&ring).unwrap();
    tx.try_push(40).unwrap();
    assert_eq!(rx.try_pop(), Ok(40));
}

#[test]
fn anonymous_ring_is_shared_with_a_forked_child() {
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(16)
        .message::<u64>()
        .create_anonymous()
        .unwrap();
    // SAFETY: the child only attaches (no allocation: a reference count and
    // atomics), pushes through the inherited mapping and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = match Producer::<u64>::attach(&ring) {
            Ok(mut tx) => {
                let mut sent = 0u64;
                while sent < 100_000 {
                    if tx.try_push(sent).is_ok() {
                        sent += 1;
                    }
                }
                0
            }
            Err(_) => 3,
        };
        // SAFETY: leaving the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut rx = Consumer::<u64>::attach(&ring).unwrap();
    let mut expected = 0;
    while expected < 100_000 {
        if let Ok(v) = rx.try_pop() {
            assert_eq!(v, expected);
            expected += 1;
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child; `status` is a valid out pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child status {status:#x}"
    );
}

#[test]
fn an_opener_can_wait_for_a_creator_that_is_not_done() {
    let name = ShmName::new("late-creator");
    let opener = {
        let name = name.0.clone();
        std::thread::spawn(move || {
            OpenOptions::new()
                .wait_for_creator(std::time::Duration::from_secs(10))
                .open_shm(&name)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(30));
    let _ring = RingBuilder::new(Kind::Spsc)
        .capacity(8)
        .message::<u64>()
        .create_shm(&name.0)
        .unwrap();
    let opened = opener
        .join()
        .unwrap()
        .expect("opened once the creator was done");
    assert_eq!(opened.capacity(), 8);
    // Without waiting, a missing ring is an error at once.
    let missing = ShmName::new("never-created");
    assert!(matches!(
        Ring::open_shm(&missing.0),
        Err(ringway::OpenError::NotFound { .. })
    ));
}
