//! Request/response round trips across processes: ringway-rpc against a
//! UNIX stream socket, with 1 and 4 client processes.
//!
//! ```sh
//! cargo run --release -p ringway-rpc --example rpc_bench [CALLS_PER_CLIENT]
//! ```
//!
//! Each client process (this binary re-executed) makes its calls one after
//! another (16-byte request `[client, i]`, 16-byte answer, checked) and
//! reports the median and 99th percentile of its round trips; the parent
//! serves (ringway: one server thread; socket: one thread per connection,
//! blocking reads and writes) and reports the calls per second over all
//! clients. The load of the machine moves these figures a lot: compare rows
//! of one run.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ringway_rpc::{Client, Server};

fn answer(q: [u64; 2]) -> [u64; 2] {
    [q[0], q[1].wrapping_mul(3) + 1]
}

/// One client's calls; prints "median_ns p99_ns".
fn client(kind: &str, target: &str, me: u64, calls: u64) {
    let mut times = Vec::with_capacity(calls as usize);
    match kind {
        "ringway" => {
            let mut c = loop {
                match Client::connect(target) {
                    Ok(c) => break c,
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            };
            for i in 0..calls {
                let q = [me, i];
                let start = Instant::now();
                let r: [u64; 2] = c.call(&q, None).expect("call");
                times.push(start.elapsed());
                assert_eq!(r, answer(q));
            }
        }
        "unix" => {
            let mut s = UnixStream::connect(target).expect("connect");
            let mut buf = [0u8; 16];
            for i in 0..calls {
                let q = [me, i];
                let start = Instant::now();
                s.write_all(bytemuck::bytes_of(&q)).unwrap();
                s.read_exact(&mut buf).unwrap();
                times.push(start.elapsed());
                assert_eq!(bytemuck::pod_read_unaligned::<[u64; 2]>(&buf), answer(q));
            }
        }
        other => panic!("unknown kind {other}"),
    }
    times.sort();
    println!(
        "{} {}",
        times[times.len() / 2].as_nanos(),
        times[times.len() * 99 / 100].as_nanos()
    );
}

fn spawn_clients(kind: &str, target: &str, n: u64, calls: u64) -> Vec<std::process::Child> {
    (0..n)
        .map(|me| {
            Command::new(std::env::current_exe().unwrap())
                .args(["client", kind, target, &me.to_string(), &calls.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// Collects the clients' medians; returns (mean of medians, worst p99).
fn collect(children: Vec<std::process::Child>) -> (f64, f64) {
    let mut med = 0.0;
    let mut p99: f64 = 0.0;
    let n = children.len() as f64;
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let s = String::from_utf8(out.stdout).unwrap();
        let mut it = s.split_whitespace().map(|v| v.parse::<f64>().unwrap());
        med += it.next().unwrap() / n;
        p99 = p99.max(it.next().unwrap());
    }
    (med / 1e3, p99 / 1e3)
}

fn bench_ringway(n: u64, calls: u64) -> (f64, f64, f64) {
    let name = format!("/ringway-rpc-bench-{}", std::process::id());
    let mut server = Server::create(&name, 1024).unwrap();
    let children = spawn_clients("ringway", &name, n, calls);
    let mut start = None;
    for _ in 0..n * calls {
        let q = server.recv(None).unwrap();
        start.get_or_insert_with(Instant::now);
        let r: [u64; 2] = q.decode().unwrap();
        server.respond(&q, &answer(r)).unwrap();
    }
    let secs = start.unwrap().elapsed().as_secs_f64();
    let (med, p99) = collect(children);
    (med, p99, (n * calls) as f64 / secs)
}

fn bench_unix(n: u64, calls: u64) -> (f64, f64, f64) {
    let path = std::env::temp_dir().join(format!("ringway-rpc-bench-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let children = spawn_clients("unix", path.to_str().unwrap(), n, calls);
    let start = Instant::now();
    let servers: Vec<_> = (0..n)
        .map(|_| {
            let (mut s, _) = listener.accept().unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 16];
                for _ in 0..calls {
                    s.read_exact(&mut buf).unwrap();
                    let q: [u64; 2] = bytemuck::pod_read_unaligned(&buf);
                    s.write_all(bytemuck::bytes_of(&answer(q))).unwrap();
                }
            })
        })
        .collect();
    for t in servers {
        t.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    let (med, p99) = collect(children);
    (med, p99, (n * calls) as f64 / secs)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("client") {
        client(
            &args[2],
            &args[3],
            args[4].parse().unwrap(),
            args[5].parse().unwrap(),
        );
        return;
    }
    let calls: u64 = args.get(1).map_or(20_000, |s| s.parse().unwrap());
    println!("{calls} calls per client process; 16-byte request and answer");
    println!(
        "| mechanism | clients | median RT µs | worst client p99 µs | calls/s (all clients) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for n in [1, 4] {
        let (med, p99, rate) = bench_ringway(n, calls);
        println!("| ringway-rpc | {n} | {med:.1} | {p99:.1} | {rate:.0} |");
        let (med, p99, rate) = bench_unix(n, calls);
        println!("| UNIX stream socket | {n} | {med:.1} | {p99:.1} | {rate:.0} |");
    }
}
