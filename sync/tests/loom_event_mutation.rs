//! Proof that the loom models can catch the bug they exist for: with either
//! `fence(SeqCst)` of the store-buffering pair removed from `src/event.rs`, loom
//! must find the lost wakeup (an untimed waiter blocked forever: a deadlock).
//!
//! Built only with a mutation selected, so it never runs by default:
//!
//! ```text
//! RUSTFLAGS='--cfg loom --cfg ringway_mutation="notify_without_fence"' \
//!   LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom-mutation \
//!   cargo test -p ringway-sync --release --test loom_event_mutation
//! ```
//!
//! and the same with `ringway_mutation="park_without_fence"`, and with
//! `ringway_mutation="sleep_without_flag"` (a waiter that sleeps without
//! announcing it in `seq`'s sleeping bit, so the notifier skips the wake). The
//! test passes when the model fails.

#![cfg(all(
    loom,
    any(
        ringway_mutation = "notify_without_fence",
        ringway_mutation = "park_without_fence",
        ringway_mutation = "sleep_without_flag"
    )
))]

use loom::sync::atomic::{AtomicU32, Ordering};
use loom::sync::Arc;
use loom::thread;
use ringway_sync::{Event, WaitStrategy};

#[test]
#[should_panic(expected = "deadlock")]
fn a_missing_fence_loses_a_wakeup() {
    loom::model(|| {
        let shared = Arc::new((Event::new(), AtomicU32::new(0)));
        let notifier = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                // Release: pairs with the waiter's Acquire load.
                shared.1.store(1, Ordering::Release);
                shared.0.notify();
            })
        };
        // Acquire: pairs with the notifier's Release store.
        let got = shared.0.wait(WaitStrategy::Park, None, || {
            (shared.1.load(Ordering::Acquire) == 1).then_some(())
        });
        assert_eq!(got, Ok(()));
        notifier.join().unwrap();
    });
}
