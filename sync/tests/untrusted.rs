//! Peer-written garbage in an Event's words: the counts saturate instead of
//! wrapping, and waits still end (at the latest at their deadline).

#![cfg(not(loom))] // Real threads and syscalls: see loom_event.rs for the loom models.

mod common;

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use common::{eventually, far_deadline, nonzero, promptly, SharedMap};
use ringway_sync::{Timeout, WaitStrategy};

/// Byte offsets of the Event's words (pinned ABI: seq, then waiters).
const SEQ: usize = 0;
const WAITERS: usize = 4;

#[test]
fn a_saturated_waiter_count_does_not_wrap_to_zero() {
    let map = SharedMap::new(2);
    map.word32(0, WAITERS).store(u32::MAX, Ordering::Relaxed);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            promptly("waiter", || {
                map.event(0).wait(WaitStrategy::Park, far_deadline(), || {
                    nonzero(map.word64(1))
                })
            })
        });
        // Registering must not wrap u32::MAX to 0 ("nobody waits"): the notify
        // below must still see a waiter and wake it.
        thread::sleep(Duration::from_millis(20));
        assert_eq!(map.event(0).waiters(), u32::MAX);
        map.word64(1).store(3, Ordering::Release);
        map.event(0).notify();
        assert_eq!(waiter.join().unwrap(), Ok(3));
    });
    assert_ne!(map.event(0).waiters(), 0);
}

#[test]
fn a_zeroed_waiter_count_does_not_wrap_to_max() {
    let map = SharedMap::new(2);
    let start = Instant::now();
    let deadline = start + Duration::from_millis(200);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            map.event(0).wait(WaitStrategy::Park, Some(deadline), || {
                nonzero(map.word64(1))
            })
        });
        eventually("the waiter registers", || map.event(0).waiters() == 1);
        // A peer zeroes the count: this notify then skips the wake (documented:
        // a writer of the mapping can stall a waiter), and the deadline ends the
        // wait, whose last re-check finds the value.
        map.word32(0, WAITERS).store(0, Ordering::Relaxed);
        map.word64(1).store(4, Ordering::Release);
        map.event(0).notify();
        assert_eq!(waiter.join().unwrap(), Ok(4));
    });
    // Deregistering from 0 stays at 0 rather than wrapping to u32::MAX.
    assert_eq!(map.event(0).waiters(), 0);
}

#[test]
fn any_sequence_value_works() {
    for seq in [0, 1, 0x7fff_ffff, u32::MAX] {
        let map = SharedMap::new(2);
        map.word32(0, SEQ).store(seq, Ordering::Relaxed);
        thread::scope(|s| {
            let waiter = s.spawn(|| {
                promptly("waiter", || {
                    map.event(0).wait(WaitStrategy::Park, far_deadline(), || {
                        nonzero(map.word64(1))
                    })
                })
            });
            eventually("the waiter registers", || map.event(0).waiters() == 1);
            thread::sleep(Duration::from_millis(5));
            map.word64(1).store(8, Ordering::Release);
            map.event(0).notify();
            assert_eq!(waiter.join().unwrap(), Ok(8));
        });
        // The notify moved the sequence to the next epoch with the sleeping
        // flag (bit 0) clear, wrapping at u32::MAX.
        assert_eq!(
            map.word32(0, SEQ).load(Ordering::Relaxed),
            (seq | 1).wrapping_add(1)
        );
        let past = Some(Instant::now());
        assert_eq!(
            map.event(0).wait(WaitStrategy::Park, past, || None::<()>),
            Err(Timeout)
        );
    }
}
