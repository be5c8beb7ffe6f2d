//! Thin, checked wrappers over the libc calls the bench needs: CPU pinning,
//! pipes, FIFOs, socket pairs, POSIX message queues, eventfd, raw reads and
//! writes, and a last-resort watchdog.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn check_size(rc: libc::ssize_t) -> io::Result<usize> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// The CPUs this process may run on, in order.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Vec::new();
    }
    // SAFETY: CPU_ISSET reads the set; i is below CPU_SETSIZE.
    (0..libc::CPU_SETSIZE as usize)
        .filter(|&i| unsafe { libc::CPU_ISSET(i, &set) })
        .collect()
}

/// Pins the calling thread (and so a single-threaded process) to `cpu`.
pub(crate) fn pin_to(cpu: usize) -> io::Result<()> {
    // SAFETY: as in `allowed_cpus`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes bit `cpu` (< CPU_SETSIZE, from allowed_cpus) of our set.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    check(unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) })?;
    Ok(())
}

/// Asks the kernel to SIGKILL this process when its parent dies, so a bench
/// peer never outlives the bench.
pub(crate) fn die_with_parent() {
    // SAFETY: prctl(PR_SET_PDEATHSIG) only reads its integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
}

extern "C" fn on_alarm(_: libc::c_int) {
    const MSG: &[u8] = b"ringway: bench watchdog fired: a peer stopped answering\n";
    // SAFETY: write and _exit are async-signal-safe; MSG is a static buffer.
    unsafe {
        libc::write(2, MSG.as_ptr().cast(), MSG.len());
        libc::_exit(3);
    }
}

/// Arms (or, with 0, disarms) a watchdog that ends the process after `secs`
/// seconds: the last resort against a blocking call whose peer is gone.
pub(crate) fn watchdog(secs: u32) {
    // SAFETY: installs a handler that only calls async-signal-safe functions.
    unsafe { libc::signal(libc::SIGALRM, on_alarm as *const () as libc::sighandler_t) };
    // SAFETY: alarm only reads its argument.
    unsafe { libc::alarm(secs) };
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: callers pass a descriptor that a syscall just returned to us
    // and that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Takes ownership of an inherited descriptor number.
///
/// # Safety
/// `fd` must be open and owned by nothing else in this process.
pub(crate) unsafe fn inherit(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller's promise.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A pipe: (read end, write end), close-on-exec.
pub(crate) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// A connected UNIX socket pair of `ty` (SOCK_STREAM or SOCK_DGRAM), close-on-exec.
pub(crate) fn socketpair(ty: libc::c_int) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    check(unsafe {
        libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr())
    })?;
    Ok((owned(fds[0]), owned(fds[1])))
}

/// An eventfd (counter 0), close-on-exec.
pub(crate) fn eventfd() -> io::Result<OwnedFd> {
    // SAFETY: eventfd only reads its integer arguments.
    Ok(owned(check(unsafe {
        libc::eventfd(0, libc::EFD_CLOEXEC)
    })?))
}

/// Creates the FIFO `path`.
pub(crate) fn mkfifo(path: &Path) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: `c` is NUL-terminated.
    check(unsafe { libc::mkfifo(c.as_ptr(), 0o600) })?;
    Ok(())
}

fn cpath(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::ErrorKind::InvalidInput.into())
}

/// Opens one end of a FIFO without blocking on the peer: the read end opens
/// at once; the write end is retried until a reader has it open (or `deadline`).
pub(crate) fn open_fifo(
    path: &Path,
    write: bool,
    deadline: std::time::Instant,
) -> io::Result<OwnedFd> {
    let c = cpath(path)?;
    let flags = libc::O_NONBLOCK
        | libc::O_CLOEXEC
        | if write {
            libc::O_WRONLY
        } else {
            libc::O_RDONLY
        };
    loop {
        // SAFETY: `c` is NUL-terminated.
        let fd = unsafe { libc::open(c.as_ptr(), flags) };
        if fd >= 0 {
            return Ok(owned(fd));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ENXIO) || std::time::Instant::now() > deadline {
            return Err(e);
        }
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
}

/// Sets or clears O_NONBLOCK.
pub(crate) fn set_nonblocking(fd: &impl AsRawFd, yes: bool) -> io::Result<()> {
    let fd = fd.as_raw_fd();
    // SAFETY: fcntl F_GETFL/F_SETFL on an open descriptor.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    let flags = if yes {
        flags | libc::O_NONBLOCK
    } else {
        flags & !libc::O_NONBLOCK
    };
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags) })?;
    Ok(())
}

/// One `read(2)`.
pub(crate) fn read(fd: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is writable for its length.
    check_size(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// One `write(2)`.
pub(crate) fn write(fd: &impl AsRawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is readable for its length.
    check_size(unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) })
}

/// Sends up to `msgs.len() / size` datagrams of `size` bytes with one
/// `sendmmsg`; returns how many went.
pub(crate) fn sendmmsg(fd: &impl AsRawFd, msgs: &[u8], size: usize) -> io::Result<usize> {
    let n = msgs.len() / size;
    let mut iov: Vec<libc::iovec> = (0..n)
        .map(|i| libc::iovec {
            iov_base: msgs[i * size..].as_ptr() as *mut libc::c_void,
            iov_len: size,
        })
        .collect();
    // SAFETY: mmsghdr is plain data; zero is "no address, no control".
    let mut hdrs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (h, v) in hdrs.iter_mut().zip(iov.iter_mut()) {
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points at one iovec over `msgs`, which outlives the call.
    check(unsafe { libc::sendmmsg(fd.as_raw_fd(), hdrs.as_mut_ptr(), n as u32, 0) })
        .map(|n| n as usize)
}

/// Receives up to `buf.len() / size` datagrams with one `recvmmsg`; returns
/// their lengths.
pub(crate) fn recvmmsg(
    fd: &impl AsRawFd,
    buf: &mut [u8],
    size: usize,
    lens: &mut Vec<usize>,
) -> io::Result<()> {
    let n = buf.len() / size;
    let base = buf.as_mut_ptr();
    let mut iov: Vec<libc::iovec> = (0..n)
        .map(|i| libc::iovec {
            // SAFETY: i * size < buf.len().
            iov_base: unsafe { base.add(i * size) }.cast(),
            iov_len: size,
        })
        .collect();
    // SAFETY: as in `sendmmsg`.
    let mut hdrs: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (h, v) in hdrs.iter_mut().zip(iov.iter_mut()) {
        h.msg_hdr.msg_iov = v;
        h.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: every header points at its own `size`-byte piece of `buf`.
    let got = check(unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr(),
            n as u32,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    })? as usize;
    lens.clear();
    lens.extend(hdrs[..got].iter().map(|h| h.msg_len as usize));
    Ok(())
}

/// A POSIX message queue descriptor, closed on drop.
#[derive(Debug)]
pub(crate) struct Mq(libc::mqd_t);

impl Mq {
    /// Creates (exclusively) or opens the queue `name`.
    pub(crate) fn open(
        name: &str,
        create: Option<(i64, i64)>,
        nonblocking: bool,
    ) -> io::Result<Mq> {
        let c = CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let mut flags = libc::O_RDWR | libc::O_CLOEXEC;
        if nonblocking {
            flags |= libc::O_NONBLOCK;
        }
        let fd = match create {
            Some((maxmsg, msgsize)) => {
                // SAFETY: mq_attr is plain data.
                let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
                attr.mq_maxmsg = maxmsg;
                attr.mq_msgsize = msgsize;
                // SAFETY: `c` is NUL-terminated; `attr` is valid for the call.
                unsafe {
                    libc::mq_open(
                        c.as_ptr(),
                        flags | libc::O_CREAT | libc::O_EXCL,
                        0o600 as libc::mode_t,
                        &attr as *const libc::mq_attr,
                    )
                }
            }
            // SAFETY: `c` is NUL-terminated.
            None => unsafe { libc::mq_open(c.as_ptr(), flags) },
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Mq(fd))
    }

    /// Removes the queue's name.
    pub(crate) fn unlink(name: &str) {
        if let Ok(c) = CString::new(name) {
            // SAFETY: `c` is NUL-terminated.
            unsafe { libc::mq_unlink(c.as_ptr()) };
        }
    }

    /// Sends one message.
    pub(crate) fn send(&self, msg: &[u8]) -> io::Result<()> {
        // SAFETY: `msg` is readable for its length.
        check(unsafe { libc::mq_send(self.0, msg.as_ptr().cast(), msg.len(), 0) })?;
        Ok(())
    }

    /// Receives one message into `buf` (at least the queue's message size).
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: `buf` is writable for its length.
        check_size(unsafe {
            libc::mq_receive(
                self.0,
                buf.as_mut_ptr().cast(),
                buf.len(),
                std::ptr::null_mut(),
            )
        })
    }
}

impl Drop for Mq {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::mq_close(self.0) };
    }
}

/// The largest message a POSIX message queue may carry here.
pub(crate) fn mq_msgsize_max() -> usize {
    std::fs::read_to_string("/proc/sys/fs/mqueue/msgsize_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(8192)
}

/// Whether stderr is a terminal (for the progress line).
pub(crate) fn stderr_is_tty() -> bool {
    // SAFETY: isatty only reads its argument.
    unsafe { libc::isatty(2) == 1 }
}

/// CPU time spent on the whole machine and by this process and its reaped
/// children, to tell how much of a stretch of time other processes (and the
/// hypervisor, as steal) took.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CpuSnapshot {
    /// Busy time of all CPUs (user, nice, system, irq, softirq, steal), seconds.
    machine: f64,
    /// User + system time of this process and its reaped children, seconds.
    own: f64,
    at: std::time::Instant,
}

fn machine_busy_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let f: Vec<u64> = line
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is inside user).
    let busy = f.first()? + f.get(1)? + f.get(2)? + f.get(5)? + f.get(6)? + f.get(7).unwrap_or(&0);
    // SAFETY: sysconf only reads its argument.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(busy as f64 / hz)
}

fn own_seconds() -> f64 {
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: rusage is plain data; getrusage writes it.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid rusage to write.
        if unsafe { libc::getrusage(who, &mut ru) } == 0 {
            for tv in [ru.ru_utime, ru.ru_stime] {
                total += tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
            }
        }
    }
    total
}

impl CpuSnapshot {
    /// Now.
    pub(crate) fn take() -> Option<CpuSnapshot> {
        Some(CpuSnapshot {
            machine: machine_busy_seconds()?,
            own: own_seconds(),
            at: std::time::Instant::now(),
        })
    }

    /// Share of the machine's CPU capacity since `self` used by anything
    /// but this process and the children it reaped in between (0..1;
    /// /proc/stat counts in 10 ms ticks, so short stretches are coarse).
    pub(crate) fn others_since(&self) -> Option<f64> {
        let now = CpuSnapshot::take()?;
        // SAFETY: sysconf only reads its argument.
        let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as f64;
        let wall = (now.at - self.at).as_secs_f64();
        if wall <= 0.0 {
            return None;
        }
        let others = (now.machine - self.machine) - (now.own - self.own);
        Some((others / (cpus * wall)).clamp(0.0, 1.0))
    }
}

/// Set by SIGINT, SIGTERM or SIGHUP once [`catch_interrupts`] ran.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_interrupt(_: libc::c_int) {
    // Relaxed: a flag polled by the bench's loops; nothing is published with it.
    if INTERRUPTED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        // A second signal: give up on cleaning up.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(130) };
    }
}

/// Turns SIGINT, SIGTERM and SIGHUP into a flag that the bench's loops check
/// (through `Watch::check`), so that an interrupted bench still removes its
/// names and reaps its peer. No SA_RESTART: a blocking read returns EINTR and
/// its loop sees the flag. A second signal exits at once.
pub(crate) fn catch_interrupts() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction is plain data; the handler only touches an atomic
        // and calls _exit, both async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_interrupt as *const () as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Whether an interrupt arrived.
pub(crate) fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed)
}
