//! The barrier mode is a property of the ring: fixed at creation, recorded in
//! the header, the same for every opener, and refused to a process that
//! cannot honour it. Each pairing of a notifying and a parked process (both
//! modes, and a process that cannot register for `membarrier`, forced with
//! `RINGWAY_BARRIER=symmetric`) delivers every wakeup.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]
#![cfg(target_os = "linux")]

use ringway_test_support as common;

use std::time::Duration;

use common::{reap, spawn_child, ShmName, CHILD_ENV};
use ringway::handle::{Consumer, Flavor, Producer};
use ringway::mpmc::Mpmc;
use ringway::spsc::Spsc;
use ringway::{Barrier, CreateError, Kind, OpenError, OpenOptions, Ring, RingBuilder};
use ringway::{WaitStrategy, BARRIER_ENV};

/// Messages per pairing: each one a separate sleep and wake.
const MESSAGES: u64 = 20;
/// Longer than any wakeup can take, even late by a slice, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);

/// The modes this process can create.
fn modes() -> Vec<Barrier> {
    let mut modes = vec![Barrier::Symmetric];
    if Barrier::Asymmetric.available() {
        modes.push(Barrier::Asymmetric);
    } else {
        eprintln!("membarrier unavailable here: asymmetric cases skipped");
    }
    modes
}

fn create(name: &ShmName, barrier: Barrier) -> Ring {
    create_kind(name, Kind::Spsc, barrier)
}

fn create_kind(name: &ShmName, kind: Kind, barrier: Barrier) -> Ring {
    RingBuilder::new(kind)
        .message::<u64>()
        .capacity(4)
        .barrier(barrier)
        .create_shm(&name.0)
        .expect("create the ring")
}

fn open(name: &str) -> Result<Ring, OpenError> {
    OpenOptions::new().message::<u64>().open_shm(name)
}

#[test]
fn the_mode_is_recorded_and_every_opener_sees_it() {
    for barrier in modes() {
        let name = ShmName::new("barrier-rec");
        let ring = create(&name, barrier);
        assert_eq!(ring.barrier(), barrier);
        let other = open(&name.0).unwrap();
        assert_eq!(other.barrier(), barrier);
        assert_eq!(other.identity().barrier, barrier.as_raw());
    }
}

#[test]
fn the_default_is_the_best_this_process_can_honour() {
    let ring = RingBuilder::new(Kind::Mpmc).create_anonymous().unwrap();
    assert_eq!(ring.barrier(), Barrier::best_available());
}

#[test]
fn a_process_that_cannot_register_is_refused_an_asymmetric_ring() {
    if !Barrier::Asymmetric.available() {
        eprintln!("membarrier unavailable here: nothing to refuse");
        return;
    }
    let name = ShmName::new("barrier-refuse");
    let _ring = create(&name, Barrier::Asymmetric);
    let child = spawn_child(
        "child_entry",
        "refused",
        &[
            ("RINGWAY_TEST_SHM", name.0.clone()),
            (BARRIER_ENV, "symmetric".into()),
        ],
    );
    reap(child, "the refused child");
}

/// Both directions of one pairing, over both ring kinds: the child produces
/// to a parked parent, then the parent produces to a parked child.
fn pairing(barrier: Barrier, child_env: &[(&str, String)]) {
    for kind in [Kind::Spsc, Kind::Mpmc] {
        for (parent_role, child_role) in [("consumer", "producer"), ("producer", "consumer")] {
            let name = ShmName::new("barrier-pair");
            let ring = create_kind(&name, kind, barrier);
            let mut vars = vec![("RINGWAY_TEST_SHM", name.0.clone())];
            vars.extend(child_env.iter().cloned());
            let child = spawn_child("child_entry", child_role, &vars);
            match parent_role {
                "consumer" => consume_parked(&ring),
                _ => produce_slowly(&ring),
            }
            reap(child, &format!("{barrier} {kind} ring, child {child_role}"));
        }
    }
}

#[test]
fn symmetric_ring_between_registered_processes() {
    pairing(Barrier::Symmetric, &[]);
}

#[test]
fn symmetric_ring_with_a_process_that_cannot_register() {
    pairing(Barrier::Symmetric, &[(BARRIER_ENV, "symmetric".into())]);
}

#[test]
fn asymmetric_ring_between_registered_processes() {
    if !Barrier::Asymmetric.available() {
        eprintln!("membarrier unavailable here: skipped");
        return;
    }
    pairing(Barrier::Asymmetric, &[]);
}

/// Pops `MESSAGES` in order, parking (no spin) for each.
fn consume_parked(ring: &Ring) {
    match ring.kind() {
        Kind::Spsc => consume_parked_in::<Spsc>(ring),
        Kind::Mpmc => consume_parked_in::<Mpmc>(ring),
        other => panic!("these tests make slot rings, not {other}"),
    }
}

/// Pushes `MESSAGES`, pausing between them so that the consumer parks.
fn produce_slowly(ring: &Ring) {
    match ring.kind() {
        Kind::Spsc => produce_slowly_in::<Spsc>(ring),
        Kind::Mpmc => produce_slowly_in::<Mpmc>(ring),
        other => panic!("these tests make slot rings, not {other}"),
    }
}

fn consume_parked_in<K: Flavor>(ring: &Ring) {
    let mut rx = Consumer::<K, u64>::attach(ring).expect("consumer role");
    rx.set_wait_strategy(WaitStrategy::Park);
    for expected in 0..MESSAGES {
        let got = rx.pop_timeout(PATIENCE);
        assert_eq!(got.ok(), Some(expected), "a wakeup was lost or late");
    }
}

fn produce_slowly_in<K: Flavor>(ring: &Ring) {
    let mut tx = Producer::<K, u64>::attach(ring).expect("producer role");
    for i in 0..MESSAGES {
        std::thread::sleep(Duration::from_millis(3));
        tx.push_blocking(i).unwrap();
    }
}

/// Entry point of the child processes the tests above spawn.
#[test]
#[ignore = "entry point of the child processes the other tests spawn"]
fn child_entry() {
    let role = std::env::var(CHILD_ENV).expect("run by a parent test");
    let name = std::env::var("RINGWAY_TEST_SHM").expect("ring name");
    match role.as_str() {
        "refused" => {
            assert!(!Barrier::Asymmetric.available());
            match open(&name) {
                Err(OpenError::BarrierUnavailable {
                    barrier: Barrier::Asymmetric,
                }) => {}
                other => panic!("an asymmetric ring was not refused: {other:?}"),
            }
            let e = RingBuilder::new(Kind::Spsc)
                .barrier(Barrier::Asymmetric)
                .create_anonymous()
                .unwrap_err();
            assert!(matches!(e, CreateError::BarrierUnavailable), "{e:?}");
            let ring = RingBuilder::new(Kind::Spsc).create_anonymous().unwrap();
            assert_eq!(ring.barrier(), Barrier::Symmetric);
        }
        "consumer" => consume_parked(&open(&name).unwrap()),
        "producer" => produce_slowly(&open(&name).unwrap()),
        other => panic!("unknown child role {other}"),
    }
}
