//! The tokio adapter within one process: a producer thread against an async
//! consumer (and the reverse), cancellation, Stream/Sink, MPMC handles, and the raw readiness fd with poll(2).

use ringway_test_support as common;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::Rng;
use ringway::{mpmc, spsc, Kind, Ring, RingBuilder};
use ringway_async::{AsyncConsumer, AsyncProducer, Readiness};

fn ring(kind: Kind, capacity: u64) -> Ring {
    RingBuilder::new(kind)
        .capacity(capacity)
        .message::<u64>()
        .create_anonymous()
        .expect("anonymous ring")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap()
}

/// A producer thread that pushes `0..n`, pausing at random.
fn paused_producer(ring: &Ring, n: u64, seed: u64) -> std::thread::JoinHandle<()> {
    let mut tx = spsc::Producer::<u64>::attach(ring).unwrap();
    std::thread::spawn(move || {
        let mut rng = Rng(seed);
        for v in 0..n {
            tx.push_blocking(v).unwrap();
            if rng.next() % 64 == 0 {
                std::thread::sleep(Duration::from_micros(rng.next() % 200));
            }
        }
    })
}

#[test]
fn async_pop_gets_every_message_from_a_pausing_producer() {
    const N: u64 = 20_000;
    let ring = ring(Kind::Spsc, 64);
    let producer = paused_producer(&ring, N, 7);
    let rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    runtime().block_on(async {
        let mut rx = AsyncConsumer::new(rx).unwrap();
        for expected in 0..N {
            let got = tokio::time::timeout(Duration::from_secs(30), rx.pop())
                .await
                .expect("a lost wakeup: no message within 30 s")
                .unwrap();
            assert_eq!(got, expected);
        }
    });
    producer.join().unwrap();
    assert_eq!(ring.snapshot().data_waiters, 0, "the consumer deregistered");
}

#[test]
fn async_push_waits_for_space_from_a_pausing_consumer() {
    const N: u64 = 20_000;
    let ring = ring(Kind::Spsc, 16);
    let mut rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    let consumer = std::thread::spawn(move || {
        let mut rng = Rng(11);
        for expected in 0..N {
            assert_eq!(rx.pop_blocking().unwrap(), expected);
            if rng.next() % 64 == 0 {
                std::thread::sleep(Duration::from_micros(rng.next() % 200));
            }
        }
    });
    let tx = spsc::Producer::<u64>::attach(&ring).unwrap();
    runtime().block_on(async {
        let mut tx = AsyncProducer::new(tx).unwrap();
        for v in 0..N {
            tokio::time::timeout(Duration::from_secs(30), tx.push(v))
                .await
                .expect("a lost wakeup: no space within 30 s")
                .unwrap();
        }
    });
    consumer.join().unwrap();
    assert_eq!(
        ring.snapshot().space_waiters,
        0,
        "the producer deregistered"
    );
}

/// Pop futures dropped at random points (a select against a short timer)
/// while the producer pushes: no message is lost or duplicated.
#[test]
fn dropped_pop_futures_lose_no_message() {
    const N: u64 = 5_000;
    let ring = ring(Kind::Spsc, 8);
    let producer = paused_producer(&ring, N, 3);
    let rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    let cancelled = runtime().block_on(async {
        let mut rx = AsyncConsumer::new(rx).unwrap();
        let mut expected = 0;
        let mut cancelled = 0u64;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while expected < N {
            assert!(
                tokio::time::Instant::now() < deadline,
                "stuck at {expected}"
            );
            tokio::select! {
                got = rx.pop() => {
                    assert_eq!(got.unwrap(), expected);
                    expected += 1;
                }
                () = tokio::time::sleep(Duration::from_micros(50)) => cancelled += 1,
            }
        }
        cancelled
    });
    producer.join().unwrap();
    // Not a check on timing: only that the test exercised what it claims.
    assert!(cancelled > 0, "no pop future was ever cancelled");
}

/// A pending push future dropped before the ring had room has not pushed.
#[test]
fn a_dropped_push_future_has_not_pushed() {
    let ring = ring(Kind::Spsc, 2);
    let tx = spsc::Producer::<u64>::attach(&ring).unwrap();
    let mut rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    runtime().block_on(async {
        let mut tx = AsyncProducer::new(tx).unwrap();
        tx.push(1).await.unwrap();
        tx.push(2).await.unwrap();
        {
            let fut = pin!(tx.push(3));
            let mut cx = Context::from_waker(Waker::noop());
            assert!(fut.poll(&mut cx).is_pending(), "the ring is full");
        }
        assert_eq!(rx.try_pop(), Ok(1));
        assert_eq!(rx.try_pop(), Ok(2));
        assert!(rx.try_pop().is_err(), "the dropped push must not land");
        tx.push(4).await.unwrap();
        assert_eq!(rx.try_pop(), Ok(4));
    });
}

#[test]
fn stream_and_sink_move_a_sequence() {
    use futures_core::Stream;
    use futures_sink::Sink;
    const N: u64 = 2_000;
    let ring = ring(Kind::Spsc, 4);
    let tx = spsc::Producer::<u64>::attach(&ring).unwrap();
    let rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    runtime().block_on(async {
        let sender = tokio::spawn(async move {
            let mut tx = AsyncProducer::new(tx).unwrap();
            for v in 0..N {
                std::future::poll_fn(|cx| std::pin::Pin::new(&mut tx).poll_ready(cx))
                    .await
                    .unwrap();
                std::pin::Pin::new(&mut tx).start_send(v).unwrap();
            }
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut tx).poll_flush(cx))
                .await
                .unwrap();
        });
        let mut rx = AsyncConsumer::new(rx).unwrap();
        for expected in 0..N {
            let got = std::future::poll_fn(|cx| std::pin::Pin::new(&mut rx).poll_next(cx)).await;
            assert_eq!(got.unwrap().unwrap(), expected);
        }
        sender.await.unwrap();
    });
}

/// MPMC handles: two async producers (tasks) into one async consumer.
#[test]
fn mpmc_handles_work_too() {
    const N: u64 = 3_000;
    let ring = ring(Kind::Mpmc, 8);
    runtime().block_on(async {
        let mut tasks = Vec::new();
        for p in 0..2u64 {
            let tx = mpmc::Producer::<u64>::attach(&ring).unwrap();
            tasks.push(tokio::spawn(async move {
                let mut tx = AsyncProducer::new(tx).unwrap();
                for i in 0..N {
                    tx.push(p << 32 | i).await.unwrap();
                }
            }));
        }
        let mut rx = AsyncConsumer::new(mpmc::Consumer::<u64>::attach(&ring).unwrap()).unwrap();
        let mut next = [0u64; 2];
        for _ in 0..2 * N {
            let v = rx.pop().await.unwrap();
            let p = (v >> 32) as usize;
            assert_eq!(v & 0xffff_ffff, next[p], "producer {p} out of order");
            next[p] += 1;
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
}

/// The raw fd, as a C caller or a hand-written epoll loop uses it: arm,
/// poll(2) for POLLIN, arm again.
#[test]
fn raw_readiness_fd_with_poll() {
    let ring = ring(Kind::Spsc, 4);
    let mut tx = spsc::Producer::<u64>::attach(&ring).unwrap();
    let mut rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    let mut readiness = Readiness::new().unwrap();
    let event = ring.data_event();

    let mut take = || rx.try_pop().ok();
    assert_eq!(
        readiness.arm(event, ring.barrier(), &mut take).unwrap(),
        None
    );
    assert!(readiness.is_armed());
    assert_eq!(ring.snapshot().data_waiters, 1);
    assert!(!poll_in(readiness.fd(), 0), "nothing published yet");

    let pusher = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        tx.try_push(9).unwrap();
    });
    assert!(
        poll_in(readiness.fd(), 10_000),
        "the push's notify makes the fd readable"
    );
    assert_eq!(
        readiness.arm(event, ring.barrier(), &mut take).unwrap(),
        Some(9)
    );
    assert!(!readiness.is_armed());
    assert_eq!(ring.snapshot().data_waiters, 0);
    assert!(!poll_in(readiness.fd(), 0), "arm reaped the completion");
    pusher.join().unwrap();
}

fn poll_in(fd: i32, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, count 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
    assert!(rc >= 0, "poll: {}", std::io::Error::last_os_error());
    rc == 1 && pfd.revents & libc::POLLIN != 0
}

#[test]
fn pending_poll_is_pending() {
    // A consumer polled on an empty ring is Pending, registered, and the
    // registration is undone when it is dropped.
    let ring = ring(Kind::Spsc, 4);
    let rx = spsc::Consumer::<u64>::attach(&ring).unwrap();
    runtime().block_on(async {
        let mut rx = AsyncConsumer::new(rx).unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(matches!(rx.poll_pop(&mut cx), Poll::Pending));
        assert_eq!(ring.snapshot().data_waiters, 1);
        drop(rx);
        assert_eq!(ring.snapshot().data_waiters, 0);
    });
}
