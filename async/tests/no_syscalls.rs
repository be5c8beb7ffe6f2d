//! The syscall counters are per process, so this check has a test binary
//! of its own: no other test's waits can land in its window.

use std::task::{Context, Waker};

use ringway::{spsc, Kind, RingBuilder};
use ringway_async::{arm_syscalls, AsyncConsumer, AsyncProducer};

/// Popping messages that are already there makes no syscall of any kind we
/// count (no wait, wake, barrier, or io_uring submission), and neither does
/// pushing into a ring that has room.
#[test]
fn busy_pops_and_pushes_make_no_syscall() {
    let ring = RingBuilder::new(Kind::Spsc)
        .capacity(1024)
        .message::<u64>()
        .create_anonymous()
        .unwrap();
    let tx = spsc::Producer::<u64>::attach(&ring).unwrap();
    let rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tx = AsyncProducer::new(tx).unwrap();
        let mut rx = AsyncConsumer::new(rx).unwrap();
        // Arm once (empty ring), so the counters below start after a real wait.
        let mut cx = Context::from_waker(Waker::noop());
        assert!(rx.poll_pop(&mut cx).is_pending());
        tx.push(0).await.unwrap();
        assert_eq!(rx.pop().await.unwrap(), 0);
        assert!(arm_syscalls() > 0, "the empty ring armed a wait");

        let sync_before = ringway_sync::stats();
        let arms_before = arm_syscalls();
        for round in 0..10u64 {
            for i in 0..1000 {
                tx.push(round * 1000 + i).await.unwrap();
            }
            for i in 0..1000 {
                assert_eq!(rx.pop().await.unwrap(), round * 1000 + i);
            }
        }
        let sync = ringway_sync::stats().since(sync_before);
        assert_eq!(sync.wait_syscalls, 0, "{sync:?}");
        assert_eq!(sync.wake_syscalls, 0, "{sync:?}");
        assert_eq!(sync.barrier_syscalls, 0, "{sync:?}");
        assert_eq!(arm_syscalls(), arms_before);
    });
}
