//! Wake-up latency of the ways an event loop can wait for a ringway ring,
//! measured as a ping-pong between two threads over two SPSC rings, where
//! each side waits *without spinning* for every message (so every round trip
//! is two wake-ups; a round trip divided by two is one wake-up).
//!
//! ```sh
//! cargo run --release -p ringway-async --example wake_latency [ROUND_TRIPS]
//! ```
//!
//! | row | waiter | notifier |
//! |---|---|---|
//! | futex (blocking) | `pop_blocking`, `WaitStrategy::Park` | the ring's notify (`FUTEX_WAKE`) |
//! | io_uring FUTEX_WAIT + poll | `Readiness::arm` + `poll(2)` on its fd | the same notify, unchanged |
//! | helper thread futex_waitv + eventfd | a helper thread per process in `futex_waitv`, writing the waiter's eventfd; `poll(2)` | the same notify, unchanged |
//! | eventfd written by the notifier | `poll(2)` + `read` on an eventfd | `write` to the peer's eventfd (no ring: the lower bound of that design, which needs the notifier to know the fd) |
//! | tokio AsyncConsumer | `pop().await` on a current-thread runtime per side | the same notify, unchanged |
//! | tokio UnixStream | `read_exact().await` of 8 bytes | `write_all` |
//!
//! The median and 99th percentile of the round trips are printed per row.
//! The machine's load changes the figures a lot: compare rows of one run.

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ringway::spsc::{Consumer, Producer};
use ringway::{Kind, Ring, RingBuilder, WaitStrategy};
use ringway_async::{AsyncConsumer, Readiness};
use ringway_sync::{Armed, ExternalWaiter};

fn ring() -> Ring {
    RingBuilder::new(Kind::Spsc)
        .capacity(64)
        .message::<u64>()
        .create_anonymous()
        .expect("anonymous ring")
}

/// Two rings, and the handles of each side: (ping side, pong side).
#[allow(clippy::type_complexity)]
fn pair() -> (
    (Producer<u64>, Consumer<u64>),
    (Producer<u64>, Consumer<u64>),
) {
    let (a, b) = (ring(), ring());
    (
        (Producer::attach(&a).unwrap(), Consumer::attach(&b).unwrap()),
        (Producer::attach(&b).unwrap(), Consumer::attach(&a).unwrap()),
    )
}

fn poll_in(fd: RawFd) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, -1) };
    assert!(rc >= 0);
}

/// Runs `ping` (timed, returns per-round-trip times) against `pong` on
/// another thread.
fn run(
    pong: impl FnOnce() + Send + 'static,
    ping: impl FnOnce() -> Vec<Duration>,
) -> Vec<Duration> {
    let t = std::thread::spawn(pong);
    let times = ping();
    t.join().unwrap();
    times
}

fn timed(n: usize, mut round_trip: impl FnMut(u64)) -> Vec<Duration> {
    let mut times = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let start = Instant::now();
        round_trip(i);
        times.push(start.elapsed());
    }
    times
}

fn blocking(n: usize) -> Vec<Duration> {
    let ((mut tx, mut rx), (mut tx2, mut rx2)) = pair();
    rx.set_wait_strategy(WaitStrategy::Park);
    rx2.set_wait_strategy(WaitStrategy::Park);
    run(
        move || {
            for _ in 0..n {
                let v = rx2.pop_blocking().unwrap();
                tx2.try_push(v).unwrap();
            }
        },
        move || {
            timed(n, |i| {
                tx.try_push(i).unwrap();
                assert_eq!(rx.pop_blocking().unwrap(), i);
            })
        },
    )
}

fn uring_pop(readiness: &mut Readiness, rx: &mut Consumer<u64>) -> u64 {
    let ring = rx.ring().clone();
    loop {
        if let Some(v) = readiness
            .arm(ring.data_event(), ring.barrier(), || rx.try_pop().ok())
            .unwrap()
        {
            return v;
        }
        poll_in(readiness.fd());
    }
}

fn io_uring(n: usize) -> Vec<Duration> {
    let ((mut tx, mut rx), (mut tx2, mut rx2)) = pair();
    run(
        move || {
            let mut r = Readiness::new().unwrap();
            for _ in 0..n {
                let v = uring_pop(&mut r, &mut rx2);
                tx2.try_push(v).unwrap();
            }
        },
        move || {
            let mut r = Readiness::new().unwrap();
            timed(n, |i| {
                tx.try_push(i).unwrap();
                assert_eq!(uring_pop(&mut r, &mut rx), i);
            })
        },
    )
}

/// One process's helper thread: waits with `futex_waitv` on its control
/// word and on the word of the (here: one) armed waiter, and writes the
/// waiter's eventfd when the latter changes.
struct Helper {
    control: AtomicU32,
    /// Address and epoch of the armed request (0: none).
    word: AtomicUsize,
    epoch: AtomicU32,
    eventfd: RawFd,
}

#[repr(C)]
struct FutexWaitv {
    val: u64,
    uaddr: u64,
    flags: u32,
    reserved: u32,
}

impl Helper {
    fn spawn() -> Arc<Helper> {
        // SAFETY: plain syscall.
        let eventfd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        assert!(eventfd >= 0);
        let h = Arc::new(Helper {
            control: AtomicU32::new(0),
            word: AtomicUsize::new(0),
            epoch: AtomicU32::new(0),
            eventfd,
        });
        let hh = Arc::clone(&h);
        std::thread::spawn(move || hh.run());
        h
    }

    fn run(&self) {
        loop {
            let control = self.control.load(Ordering::Acquire);
            if control == u32::MAX {
                return;
            }
            let word = self.word.load(Ordering::Acquire);
            let mut waitv = vec![FutexWaitv {
                val: u64::from(control),
                uaddr: self.control.as_ptr() as u64,
                flags: 2, // FUTEX2_SIZE_U32, shared
                reserved: 0,
            }];
            if word != 0 {
                waitv.push(FutexWaitv {
                    val: u64::from(self.epoch.load(Ordering::Acquire)),
                    uaddr: word as u64,
                    flags: 2,
                    reserved: 0,
                });
            }
            // SAFETY: `waitv` is a valid array of futex_waitv for the call.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_futex_waitv,
                    waitv.as_ptr(),
                    waitv.len() as u32,
                    0u32,
                    std::ptr::null::<libc::timespec>(),
                    libc::CLOCK_MONOTONIC,
                )
            };
            let word_changed = rc == 1
                || (rc < 0
                    && word != 0
                    && std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
                    // SAFETY: `word` points into a live ring mapping.
                    && unsafe { (*(word as *const AtomicU32)).load(Ordering::Acquire) }
                        != self.epoch.load(Ordering::Acquire));
            if word_changed {
                self.word.store(0, Ordering::Release);
                let one = 1u64;
                // SAFETY: 8 bytes from `one` to our eventfd.
                unsafe { libc::write(self.eventfd, (&raw const one).cast(), 8) };
            }
        }
    }

    fn submit(&self, word: *const u32, epoch: u32) {
        self.epoch.store(epoch, Ordering::Release);
        self.word.store(word as usize, Ordering::Release);
        self.control.fetch_add(1, Ordering::Release);
        // SAFETY: futex wake on our own word.
        unsafe {
            libc::syscall(libc::SYS_futex, self.control.as_ptr(), libc::FUTEX_WAKE, 1);
        }
    }

    fn stop(&self) {
        self.control.store(u32::MAX, Ordering::Release);
        // SAFETY: as in `submit`.
        unsafe {
            libc::syscall(libc::SYS_futex, self.control.as_ptr(), libc::FUTEX_WAKE, 1);
        }
    }
}

fn helper_pop(h: &Helper, w: &mut ExternalWaiter, rx: &mut Consumer<u64>) -> u64 {
    let ring = rx.ring().clone();
    loop {
        match w.arm(ring.data_event(), ring.barrier(), || rx.try_pop().ok()) {
            Armed::Ready(v) => return v,
            Armed::Sleep(req) => h.submit(req.word(), req.epoch()),
            Armed::InFlight => {}
        }
        poll_in(h.eventfd);
        let mut buf = [0u8; 8];
        // SAFETY: 8 bytes into `buf`.
        unsafe { libc::read(h.eventfd, buf.as_mut_ptr().cast(), 8) };
        w.completed();
    }
}

fn helper_thread(n: usize) -> Vec<Duration> {
    let ((mut tx, mut rx), (mut tx2, mut rx2)) = pair();
    let (ha, hb) = (Helper::spawn(), Helper::spawn());
    let hb2 = Arc::clone(&hb);
    let times = run(
        move || {
            let mut w = ExternalWaiter::new();
            for _ in 0..n {
                let v = helper_pop(&hb2, &mut w, &mut rx2);
                tx2.try_push(v).unwrap();
            }
            w.disarm(rx2.ring().data_event());
        },
        || {
            let mut w = ExternalWaiter::new();
            let t = timed(n, |i| {
                tx.try_push(i).unwrap();
                assert_eq!(helper_pop(&ha, &mut w, &mut rx), i);
            });
            w.disarm(rx.ring().data_event());
            t
        },
    );
    ha.stop();
    hb.stop();
    times
}

fn eventfd_direct(n: usize) -> Vec<Duration> {
    // SAFETY: plain syscalls.
    let (a, b) = unsafe {
        (
            libc::eventfd(0, libc::EFD_CLOEXEC),
            libc::eventfd(0, libc::EFD_CLOEXEC),
        )
    };
    let signal = |fd: RawFd| {
        let one = 1u64;
        // SAFETY: 8 bytes to an eventfd.
        unsafe { libc::write(fd, (&raw const one).cast(), 8) };
    };
    let wait = |fd: RawFd| {
        poll_in(fd);
        let mut buf = [0u8; 8];
        // SAFETY: 8 bytes into `buf`.
        unsafe { libc::read(fd, buf.as_mut_ptr().cast(), 8) };
    };
    run(
        move || {
            for _ in 0..n {
                wait(b);
                signal(a);
            }
        },
        move || {
            timed(n, |_| {
                signal(b);
                wait(a);
            })
        },
    )
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap()
}

fn tokio_ring(n: usize) -> Vec<Duration> {
    let ((mut tx, rx), (mut tx2, rx2)) = pair();
    run(
        move || {
            tokio_rt().block_on(async {
                let mut rx2 = AsyncConsumer::new(rx2).unwrap();
                for _ in 0..n {
                    let v = rx2.pop().await.unwrap();
                    tx2.try_push(v).unwrap();
                }
            });
        },
        move || {
            tokio_rt().block_on(async {
                let mut rx = AsyncConsumer::new(rx).unwrap();
                let mut times = Vec::with_capacity(n);
                for i in 0..n as u64 {
                    let start = Instant::now();
                    tx.try_push(i).unwrap();
                    assert_eq!(rx.pop().await.unwrap(), i);
                    times.push(start.elapsed());
                }
                times
            })
        },
    )
}

fn tokio_unix(n: usize) -> Vec<Duration> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    run(
        move || {
            tokio_rt().block_on(async {
                let mut b = tokio::net::UnixStream::from_std(b).unwrap();
                let mut buf = [0u8; 8];
                for _ in 0..n {
                    b.read_exact(&mut buf).await.unwrap();
                    b.write_all(&buf).await.unwrap();
                }
            });
        },
        move || {
            tokio_rt().block_on(async {
                let mut a = tokio::net::UnixStream::from_std(a).unwrap();
                let mut times = Vec::with_capacity(n);
                let mut buf = [0u8; 8];
                for i in 0..n as u64 {
                    let start = Instant::now();
                    a.write_all(&i.to_le_bytes()).await.unwrap();
                    a.read_exact(&mut buf).await.unwrap();
                    assert_eq!(u64::from_le_bytes(buf), i);
                    times.push(start.elapsed());
                }
                times
            })
        },
    )
}

fn report(name: &str, mut times: Vec<Duration>, base: Option<Duration>) -> Duration {
    times.sort();
    let med = times[times.len() / 2];
    let p99 = times[times.len() * 99 / 100];
    let ratio = base.map_or(String::from("1.00x"), |b| {
        format!("{:.2}x", med.as_secs_f64() / b.as_secs_f64())
    });
    println!(
        "| {name:<40} | {:>8.1} | {:>8.1} | {ratio:>6} |",
        med.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    med
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |s| s.parse().expect("round trips"));
    // Warm up the membarrier registration and the allocator.
    let _ = blocking(100);
    println!("{n} round trips per row, two threads, no spinning: every round trip is two wake-ups");
    println!("| waiter | median RT µs | p99 RT µs | vs futex |");
    println!("|---|---:|---:|---:|");
    let base = report("futex (blocking, Park)", blocking(n), None);
    report("io_uring FUTEX_WAIT + poll(2)", io_uring(n), Some(base));
    report(
        "helper thread futex_waitv + eventfd",
        helper_thread(n),
        Some(base),
    );
    report(
        "eventfd written by the notifier",
        eventfd_direct(n),
        Some(base),
    );
    report("tokio AsyncConsumer (io_uring)", tokio_ring(n), Some(base));
    report("tokio UnixStream", tokio_unix(n), Some(base));
}
