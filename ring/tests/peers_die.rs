//! Peers that die: each "Why" of issue 11 reproduced with a real child
//! process (this test binary run again) that is SIGKILLed at a known point,
//! and what the survivors see afterwards.
//!
//! The child does one thing (`peer_child`), then sleeps until it is killed;
//! the parent waits until the ring shows the child's state (its peer entry,
//! its claim, its waiter registration) before it kills it.
// Integration tests run real mappings and processes; loom builds run the
// models in loom-tests instead.
#![cfg(not(loom))]

use ringway_test_support as common;

use std::process::Child;
use std::time::{Duration, Instant};

use common::{spawn_child, ShmName, TempPath, CHILD_ENV};
use ringway::peer::{Liveness, PEER_TABLE_LEN};
use ringway::{mpmc, spsc};
use ringway::{
    HandleError, Kind, OpenOptions, PopError, PopTimeoutError, PushError, PushTimeoutError, Ring,
    RingBuilder, Role,
};

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);
/// The bound a survivor must see a death within, generous for a loaded
/// machine (the design bound is `peer::LIVENESS_SLICE`, 25 ms, plus a check;
/// `scripts/torture.sh` reports the measured figures).
const DETECT_BOUND: Duration = Duration::from_secs(2);

/// The tests of this file run one at a time: one of them counts this
/// process's futex syscalls (`ringway_sync::stats`), which the parked and
/// woken waiters of the others would add to.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Kills (SIGKILL) and reaps the child on drop, also when a test fails.
struct Killed(Option<Child>);

impl Killed {
    fn kill(&mut self) -> Instant {
        let mut child = self.0.take().expect("child still running");
        child.kill().expect("SIGKILL the child");
        let at = Instant::now();
        child.wait().expect("reap the child");
        at
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Clone)]
enum Where {
    Shm(String),
    File(String),
}

impl Where {
    fn var(&self) -> String {
        match self {
            Where::Shm(n) => format!("shm:{n}"),
            Where::File(p) => format!("file:{p}"),
        }
    }

    fn open(spec: &str) -> Ring {
        let opts = OpenOptions::new().message::<u64>();
        match spec.split_once(':') {
            Some(("shm", name)) => opts.open_shm(name).expect("child opens the shm ring"),
            Some(("file", path)) => opts.open_file(path).expect("child opens the file ring"),
            _ => panic!("bad ring spec {spec}"),
        }
    }
}

fn child(action: &str, at: &Where) -> Killed {
    Killed(Some(spawn_child(
        "peer_child",
        action,
        &[("RINGWAY_PEER_RING", at.var())],
    )))
}

/// Waits until `cond` holds of the ring (polling), or fails the test.
fn wait_until(ring: &Ring, what: &str, mut cond: impl FnMut(&Ring) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond(ring) {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Whether `f` holds within 10 calls per `peer::CLOCK_EVERY`, a few
/// milliseconds apart (a guard, not a timing assertion).
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    (0..10 * ringway::peer::CLOCK_EVERY).any(|_| {
        let yes = f();
        if !yes {
            std::thread::sleep(Duration::from_millis(1));
        }
        yes
    })
}

fn other_pids(ring: &Ring) -> Vec<u32> {
    let me = std::process::id();
    ring.peers()
        .iter()
        .map(|p| p.pid)
        .filter(|&p| p != me)
        .collect()
}

/// Entry point of the child processes. Not a test on its own.
#[test]
#[ignore = "entry point of the child processes the other tests spawn"]
fn peer_child() {
    let action = std::env::var(CHILD_ENV).expect("run by a parent test");
    let ring = Where::open(&std::env::var("RINGWAY_PEER_RING").unwrap());
    // Handles live until the process is killed.
    let mut keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    match action.as_str() {
        "mpmc-producer-open-chunk" => {
            let mut tx = mpmc::Producer::<u64>::attach(&ring).unwrap();
            let chunk = tx.write_chunk(1).unwrap();
            assert_eq!(chunk.len(), 1);
            std::mem::forget(chunk);
            keep.push(Box::new(tx));
        }
        "mpmc-consumer-open-chunk" => {
            let mut rx = mpmc::Consumer::<u64>::attach(&ring).unwrap();
            let chunk = rx.read_chunk(2).unwrap();
            assert_eq!(chunk.len(), 2);
            std::mem::forget(chunk);
            keep.push(Box::new(rx));
        }
        "mpmc-producer" => keep.push(Box::new(mpmc::Producer::<u64>::attach(&ring).unwrap())),
        "spsc-producer-3" => {
            let mut tx = spsc::Producer::<u64>::attach(&ring).unwrap();
            for i in 0..3 {
                tx.try_push(i).unwrap();
            }
            keep.push(Box::new(tx));
        }
        "spsc-producer" => keep.push(Box::new(spsc::Producer::<u64>::attach(&ring).unwrap())),
        "spsc-consumer" => keep.push(Box::new(spsc::Consumer::<u64>::attach(&ring).unwrap())),
        "spsc-consumer-parked" => {
            let mut rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
            rx.set_wait_strategy(ringway::WaitStrategy::Park);
            // Parks until killed (nobody pushes).
            let _ = rx.pop_blocking();
            panic!("the parked consumer was not killed");
        }
        other => panic!("unknown child action {other}"),
    }
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn mpmc_ring(name: &ShmName, capacity: u64) -> Ring {
    RingBuilder::new(Kind::Mpmc)
        .capacity(capacity)
        .message::<u64>()
        .create_shm(&name.0)
        .unwrap()
}

fn spsc_ring(at: &Where, capacity: u64) -> Ring {
    let b = RingBuilder::new(Kind::Spsc)
        .capacity(capacity)
        .message::<u64>();
    match at {
        Where::Shm(n) => b.create_shm(n).unwrap(),
        Where::File(p) => b.create_file(p).unwrap(),
    }
}

/// Why 1: a producer killed with an open write chunk stalled every consumer
/// at its position. Now its claim is tombstoned and the messages of live
/// producers behind it come through.
#[test]
fn a_producer_killed_with_an_open_chunk_does_not_stall_consumers() {
    let _serial = serial();
    let name = ShmName::new("die-p-chunk");
    let ring = mpmc_ring(&name, 8);
    let mut killed = child("mpmc-producer-open-chunk", &Where::Shm(name.0.clone()));
    wait_until(&ring, "the child's claim", |r| {
        r.peers().iter().any(|p| p.claim == (0, 1))
    });
    let mut tx = mpmc::Producer::<u64>::attach(&ring).unwrap();
    for v in 1..=5 {
        tx.try_push(v).unwrap();
    }
    let mut rx = mpmc::Consumer::<u64>::attach(&ring).unwrap();
    assert_eq!(rx.try_pop(), Err(PopError::Busy), "stalled at position 0");
    let killed_at = killed.kill();
    for v in 1..=5 {
        assert_eq!(rx.pop_timeout(PATIENCE), Ok(v));
    }
    let healed = killed_at.elapsed();
    assert!(healed < DETECT_BOUND, "healed after {healed:?}");
    eprintln!("consumer moved past the dead producer's claim {healed:?} after the kill");
    assert!(ring.peers().iter().all(|p| p.pid == std::process::id()));
    assert_eq!(ring.snapshot().reaped, 1);
}

/// Why 2: a consumer killed between claim and release stalled the producers
/// once the ring wrapped. Now its slots are freed and its messages counted
/// as lost.
#[test]
fn a_consumer_killed_with_a_claim_does_not_stall_producers() {
    let _serial = serial();
    let name = ShmName::new("die-c-chunk");
    let ring = mpmc_ring(&name, 4);
    let mut tx = mpmc::Producer::<u64>::attach(&ring).unwrap();
    for v in 0..4 {
        tx.try_push(v).unwrap();
    }
    let mut killed = child("mpmc-consumer-open-chunk", &Where::Shm(name.0.clone()));
    wait_until(&ring, "the child's claim", |r| {
        r.peers().iter().any(|p| p.claim == (0, 2))
    });
    let mut rx = mpmc::Consumer::<u64>::attach(&ring).unwrap();
    assert_eq!(rx.try_pop(), Ok(2));
    assert_eq!(rx.try_pop(), Ok(3));
    killed.kill();
    for v in 4..8 {
        tx.push_timeout(v, PATIENCE).unwrap();
    }
    for v in 4..8 {
        assert_eq!(rx.pop_timeout(PATIENCE), Ok(v));
    }
    assert_eq!(
        ring.lost(),
        2,
        "the dead consumer's two messages are counted"
    );
    assert_eq!(ring.snapshot().lost, 2);
}

/// Why 3: producer-table entries of dead processes were never reclaimed, so
/// after 32 deaths `attach` failed for good. Now more producers than the
/// table has entries die one after another, and attach still works.
#[test]
fn dead_producers_never_exhaust_the_table() {
    let _serial = serial();
    let name = ShmName::new("die-many");
    let ring = mpmc_ring(&name, 4);
    for _ in 0..PEER_TABLE_LEN + 4 {
        let mut killed = child("mpmc-producer", &Where::Shm(name.0.clone()));
        wait_until(&ring, "the child's entry", |r| !other_pids(r).is_empty());
        killed.kill();
        // Attaching reaps the dead entries it meets.
        let tx = mpmc::Producer::<u64>::attach(&ring).unwrap();
        drop(tx);
        assert!(ring.peers().iter().all(|p| p.liveness == Liveness::Alive));
    }
    let _all: Vec<_> = (0..PEER_TABLE_LEN)
        .map(|_| mpmc::Producer::<u64>::attach(&ring).unwrap())
        .collect();
    assert!(matches!(
        mpmc::Producer::<u64>::attach(&ring),
        Err(HandleError::TooManyPeers)
    ));
}

/// Why 4: a consumer killed while parked left the waiter count at 1 and
/// every push made a FUTEX_WAKE; in a file ring that survived restarts. Now
/// the restarted consumer's attach clears it and pushes make no syscall.
#[test]
fn a_consumer_killed_while_parked_leaves_no_waiter() {
    let _serial = serial();
    let name = ShmName::new("die-parked");
    let path = TempPath::new("die-parked");
    for at in [
        Where::Shm(name.0.clone()),
        Where::File(path.0.display().to_string()),
    ] {
        let ring = spsc_ring(&at, 1 << 12);
        let mut tx = spsc::Producer::<u64>::attach(&ring).unwrap();
        let mut killed = child("spsc-consumer-parked", &at);
        wait_until(&ring, "the child parked", |r| {
            r.snapshot().data_waiters == 1 && r.peers().iter().any(|p| p.waiting)
        });
        killed.kill();
        let mut rx = spsc::Consumer::<u64>::attach(&ring).expect("takeover of a dead consumer");
        assert_eq!(
            ring.snapshot().data_waiters,
            0,
            "the dead waiter was undone"
        );
        let before = ringway_sync::stats();
        for i in 0..100_000u64 {
            tx.try_push(i).unwrap();
            assert_eq!(rx.try_pop(), Ok(i));
        }
        let made = ringway_sync::stats().since(before);
        assert_eq!(made.wake_syscalls, 0, "pushes made wake syscalls: {made:?}");
        drop((tx, rx));
        drop(ring);
        match at {
            Where::Shm(n) => Ring::remove_shm(&n).unwrap(),
            Where::File(p) => std::fs::remove_file(p).unwrap(),
        }
    }
}

/// Why 4 without a restart: the producer finds the dead consumer when the
/// ring fills, reaps it (its waiter registration with it) and gets PeerGone.
#[test]
fn a_producer_reaps_a_dead_consumer_when_the_ring_fills() {
    let _serial = serial();
    let name = ShmName::new("die-parked-full");
    let ring = spsc_ring(&Where::Shm(name.0.clone()), 8);
    let mut tx = spsc::Producer::<u64>::attach(&ring).unwrap();
    let mut killed = child("spsc-consumer-parked", &Where::Shm(name.0.clone()));
    wait_until(&ring, "the child parked", |r| {
        r.snapshot().data_waiters == 1
    });
    killed.kill();
    for i in 0..8 {
        tx.try_push(i).unwrap();
    }
    // The non-blocking calls look every `peer::CLOCK_EVERY` full results.
    assert!(eventually(|| matches!(
        tx.try_push(8),
        Err(PushError::PeerGone(8))
    )));
    assert_eq!(ring.snapshot().data_waiters, 0);
    // Reported once: afterwards the producer waits for a new consumer.
    assert_eq!(
        tx.push_timeout(8, Duration::from_millis(100)),
        Err(PushTimeoutError::Timeout(8))
    );
}

/// Why 5: a dead SPSC holder blocked a restarted process with RoleTaken.
/// Now attach takes the role over and continues from the shared cursor.
#[test]
fn a_dead_spsc_producer_is_taken_over_and_the_stream_continues() {
    let _serial = serial();
    let path = TempPath::new("die-takeover");
    let at = Where::File(path.0.display().to_string());
    let ring = spsc_ring(&at, 16);
    let mut killed = child("spsc-producer-3", &at);
    wait_until(&ring, "three messages", |r| r.snapshot().tail == 3);
    assert!(matches!(
        spsc::Producer::<u64>::attach(&ring),
        Err(HandleError::RoleTaken { .. })
    ));
    killed.kill();
    let mut tx = spsc::Producer::<u64>::attach(&ring).expect("takeover");
    tx.try_push(3).unwrap();
    let mut rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    for v in 0..4 {
        assert_eq!(rx.try_pop(), Ok(v), "nothing lost or duplicated");
    }
}

/// Why 5: the role names a registration, not a pid. A dead holder whose pid
/// now belongs to a live process (pid reuse) is dead; a live holder whose
/// recorded pid means nothing here (another pid namespace) is alive.
#[test]
fn liveness_does_not_trust_pids() {
    let _serial = serial();
    let name = ShmName::new("die-pids");
    let at = Where::Shm(name.0.clone());
    let ring = spsc_ring(&at, 16);
    let entry_pid_at = |index: usize| {
        ringway::peer::PEERS_OFFSET + 128 + index * core::mem::size_of::<ringway::peer::PeerEntry>()
    };
    let shm = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(format!("/dev/shm{}", name.0))
        .unwrap();
    let poke_pid = |index: usize, pid: u32| {
        use std::os::unix::fs::FileExt;
        shm.write_all_at(&pid.to_le_bytes(), entry_pid_at(index) as u64)
            .unwrap();
    };
    // A live holder recorded under a pid that does not exist here.
    let mut live = child("spsc-producer", &at);
    wait_until(&ring, "the child's entry", |r| !other_pids(r).is_empty());
    let index = ring.peers()[0].index;
    poke_pid(index, 0x7fff_fff0);
    assert!(matches!(
        spsc::Producer::<u64>::attach(&ring),
        Err(HandleError::RoleTaken {
            pid: 0x7fff_fff0,
            ..
        })
    ));
    assert_eq!(ring.peers()[0].liveness, Liveness::Alive);
    // Dead, and its pid now names a live process (this one).
    live.kill();
    poke_pid(index, std::process::id());
    assert_eq!(ring.peers()[0].liveness, Liveness::Dead);
    spsc::Producer::<u64>::attach(&ring).expect("a recycled pid is no false alive");
    assert_eq!(ring.reclaim_role(Role::Consumer), Ok(false));
}

/// Why 6: nothing told a consumer that its producer died. Now a parked
/// consumer gets PeerGone once the ring is drained, within the slice bound.
#[test]
fn a_parked_consumer_learns_that_its_producer_died() {
    let _serial = serial();
    let name = ShmName::new("die-gone");
    let at = Where::Shm(name.0.clone());
    let ring = spsc_ring(&at, 16);
    let mut rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    let mut killed = child("spsc-producer-3", &at);
    wait_until(&ring, "three messages", |r| r.snapshot().tail == 3);
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        killed.kill()
    });
    for v in 0..3 {
        assert_eq!(rx.pop_blocking(), Ok(v), "the published messages first");
    }
    assert_eq!(rx.pop_blocking(), Err(PopTimeoutError::PeerGone));
    let killed_at = killer.join().unwrap();
    let seen = killed_at.elapsed();
    assert!(seen < DETECT_BOUND, "death seen {seen:?} after the kill");
    eprintln!("parked SPSC consumer saw PeerGone {seen:?} after SIGKILL");
    // Reported once: afterwards the handle waits for a new producer.
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    // A new producer makes the ring live again.
    let mut tx = spsc::Producer::<u64>::attach(&ring).unwrap();
    assert_eq!(rx.try_pop(), Err(PopError::Empty));
    tx.try_push(3).unwrap();
    assert_eq!(rx.try_pop(), Ok(3));
}

/// Why 6, MPMC: consumers learn when every producer is gone; a clean detach
/// is not a death.
#[test]
fn mpmc_consumers_learn_when_every_producer_is_gone() {
    let _serial = serial();
    let name = ShmName::new("die-gone-mpmc");
    let ring = mpmc_ring(&name, 8);
    let mut rx = mpmc::Consumer::<u64>::attach(&ring).unwrap();
    let tx = mpmc::Producer::<u64>::attach(&ring).unwrap();
    let mut a = child("mpmc-producer", &Where::Shm(name.0.clone()));
    let mut b = child("mpmc-producer", &Where::Shm(name.0.clone()));
    wait_until(&ring, "two children", |r| other_pids(r).len() == 2);
    a.kill();
    drop(tx);
    assert_eq!(
        rx.pop_timeout(Duration::from_millis(200)),
        Err(PopTimeoutError::Timeout),
        "one producer lives"
    );
    b.kill();
    assert_eq!(rx.pop_timeout(PATIENCE), Err(PopTimeoutError::PeerGone));
}

/// A waiter that a live peer wakes again and again (a consumer of a
/// stream that parks between messages) still looks at its peers once a
/// slice: the looks follow one schedule per handle (`peer/wait.rs`), not a
/// fresh slice per wait, which a stream restarted before it ever ended.
/// Seen through reaping: the consumer's look reaps a dead producer that
/// held nothing, and nobody else looks (the live producer never finds the
/// ring full).
#[test]
fn a_consumer_woken_by_a_stream_still_looks_at_its_peers() {
    let _serial = serial();
    let name = ShmName::new("die-stream-looks");
    let ring = mpmc_ring(&name, 64);
    let mut rx = mpmc::Consumer::<u64>::attach(&ring).unwrap();
    let mut dead = child("mpmc-producer", &Where::Shm(name.0.clone()));
    wait_until(&ring, "the child", |r| other_pids(r).len() == 1);
    let pid = other_pids(&ring)[0];
    let mut tx = mpmc::Producer::<u64>::attach(&ring).unwrap();
    // A first wait, while the child lives: its look finds two producers.
    assert_eq!(
        rx.pop_timeout(Duration::from_millis(1)),
        Err(PopTimeoutError::Timeout)
    );
    dead.kill();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let streamer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tx.push_timeout(n, PATIENCE).unwrap();
                n += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    // Many slices, each one a stream of short waits (a guard, not a
    // timing assertion).
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut popped = 0u64;
    while ring.peers().iter().any(|p| p.pid == pid) && Instant::now() < deadline {
        assert_eq!(rx.pop_timeout(PATIENCE), Ok(popped));
        popped += 1;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    streamer.join().unwrap();
    assert!(
        !ring.peers().iter().any(|p| p.pid == pid),
        "the consumer never looked at its peers in {popped} waits"
    );
}

/// A reaper that counts a death wakes the ring's sleepers, and a sleeper
/// whose peer's role lost a holder looks at once: a consumer parked while
/// another handle (here a tool's `reap_dead`, in a pipeline a restarted
/// peer's attach) finds its producer dead does not sleep out its slice.
#[test]
fn a_parked_consumer_is_woken_by_the_reaper_of_its_producer() {
    let _serial = serial();
    let name = ShmName::new("die-woken");
    let at = Where::Shm(name.0.clone());
    let ring = spsc_ring(&at, 16);
    let mut killed = child("spsc-producer", &at);
    wait_until(&ring, "the producer", |r| r.snapshot().producer_owner != 0);
    let consumer = {
        let ring = ring.clone();
        std::thread::spawn(move || {
            let mut rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
            rx.set_wait_strategy(ringway::WaitStrategy::Park);
            let got = rx.pop_timeout(PATIENCE);
            (got, Instant::now())
        })
    };
    // Asleep: registered, and the sleep announced (bit 0 of the futex word).
    wait_until(&ring, "the consumer asleep", |r| {
        let event = format!("{:?}", r.data_event());
        let seq: u64 = event
            .split("seq: ")
            .nth(1)
            .and_then(|s| s.split(',').next())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        r.snapshot().data_waiters == 1 && seq & 1 == 1
    });
    killed.kill();
    let before = ringway_sync::stats();
    let reaped_at = Instant::now();
    assert_eq!(ring.reap_dead(), 1, "the dead producer");
    let made = ringway_sync::stats().since(before);
    assert!(made.wake_syscalls >= 1, "the reaper woke nobody: {made:?}");
    let (got, returned) = consumer.join().unwrap();
    assert_eq!(got, Err(PopTimeoutError::PeerGone));
    eprintln!(
        "parked consumer returned PeerGone {:?} after another handle reaped its producer",
        returned.saturating_duration_since(reaped_at)
    );
}
