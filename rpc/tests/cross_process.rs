//! Request/response across processes: client and server processes are this
//! test binary run again (`common::spawn_child`), killed by the kernel if
//! the test dies.

use ringway_test_support as common;

use std::time::{Duration, Instant};

use common::{reap, spawn_child, ShmName, CHILD_ENV};
use ringway_rpc::{AsyncClient, Client, Delivery, RpcError, Server};

/// Calls per client process in the many-clients test.
fn calls() -> u64 {
    std::env::var("RINGWAY_RPC_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// What the server answers to request `[tag, x]`.
fn answer(request: [u64; 2]) -> [u64; 2] {
    [
        request[0],
        request[1].wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xdead_beef,
    ]
}

/// Connects, retrying (bounded) until the server has created its ring.
fn connect(name: &str) -> Client {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match Client::connect(name) {
            Ok(c) => return c,
            Err(RpcError::Open(_)) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("connect: {e}"),
        }
    }
}

#[test]
#[ignore = "entry point of the child processes the tests below spawn"]
fn child_entry() {
    let role = std::env::var(CHILD_ENV).expect("run by a parent test");
    let name = std::env::var("RINGWAY_TEST_SHM").unwrap();
    match role.as_str() {
        "client" => {
            let me: u64 = std::env::var("RINGWAY_TEST_CLIENT")
                .unwrap()
                .parse()
                .unwrap();
            let mut client = connect(&name);
            for i in 0..calls() {
                let request = [me << 32 | i, i.wrapping_mul(31) + me];
                let deadline = Some(Instant::now() + Duration::from_secs(30));
                let got: [u64; 2] = client.call(&request, deadline).expect("call");
                assert_eq!(
                    got,
                    answer(request),
                    "client {me} call {i}: unmatched response"
                );
            }
        }
        "silent_server" => {
            // Answers every client's first call, then takes requests and
            // never answers: its clients block until it dies.
            let mut server = Server::create(&name, 64).unwrap();
            loop {
                let Ok(request) = server.recv(None) else {
                    continue;
                };
                if request.call_id() == 1 {
                    let r: [u64; 2] = request.decode().unwrap();
                    server.respond(&request, &answer(r)).unwrap();
                }
            }
        }
        "doomed_client" => {
            let mut client = connect(&name);
            let got: [u64; 2] = client.call(&[1u64, 2], None).unwrap();
            assert_eq!(got, answer([1, 2]));
            // The server never answers this one; the parent kills us.
            let _ = client.call::<_, [u64; 2]>(&[3u64, 4], None);
            unreachable!("the parent kills this process first");
        }
        other => panic!("unknown child role {other}"),
    }
}

/// 4 client processes x `calls()` calls (10^5 by default) against one
/// server; every response is checked against its request by the client,
/// and the server sees every call.
#[test]
fn four_clients_each_make_many_calls() {
    let name = ShmName::new("rpc-many");
    let mut server = Server::create(&name.0, 1024).unwrap();
    let children: Vec<_> = (0..4u64)
        .map(|c| {
            spawn_child(
                "child_entry",
                "client",
                &[
                    ("RINGWAY_TEST_SHM", name.0.clone()),
                    ("RINGWAY_TEST_CLIENT", c.to_string()),
                ],
            )
        })
        .collect();
    let total = 4 * calls();
    let start = Instant::now();
    let mut per_client = [0u64; 4];
    for _ in 0..total {
        let request = server
            .recv(Some(Instant::now() + Duration::from_secs(60)))
            .expect("a request within 60 s");
        let r: [u64; 2] = request.decode().unwrap();
        let client = (r[0] >> 32) as usize;
        assert_eq!(
            r[0] & 0xffff_ffff,
            per_client[client],
            "client {client} skipped a call"
        );
        per_client[client] += 1;
        assert_eq!(
            server.respond(&request, &answer(r)).unwrap(),
            Delivery::Delivered
        );
    }
    let took = start.elapsed();
    for (i, child) in children.into_iter().enumerate() {
        reap(child, &format!("client {i}"));
    }
    assert_eq!(per_client, [calls(); 4]);
    eprintln!(
        "{total} calls from 4 client processes in {took:?} ({:.1} µs per call)",
        took.as_secs_f64() * 1e6 / total as f64
    );
}

/// Killing the server makes every blocked call (blocking and async) return
/// `ServerGone`, within 100 ms of the kill.
#[test]
fn killing_the_server_fails_blocked_calls_quickly() {
    let name = ShmName::new("rpc-kill");
    let mut server = spawn_child(
        "child_entry",
        "silent_server",
        &[("RINGWAY_TEST_SHM", name.0.clone())],
    );
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    // Three blocking clients and one async client, each in its own thread.
    let mut clients: Vec<_> = (0..3u64)
        .map(|c| {
            let name = name.0.clone();
            let ready = ready_tx.clone();
            std::thread::spawn(move || {
                let mut client = connect(&name);
                let first: [u64; 2] = client
                    .call(&[c, 1], Some(Instant::now() + Duration::from_secs(30)))
                    .expect("the first call is answered");
                assert_eq!(first, answer([c, 1]));
                ready.send(()).unwrap();
                let blocked = client.call::<_, [u64; 2]>(&[c, 2], None);
                (blocked, Instant::now())
            })
        })
        .collect();
    clients.push({
        let name = name.0.clone();
        let ready = ready_tx.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                .build()
                .unwrap();
            rt.block_on(async {
                drop(connect(&name)); // waits for the server's ring
                let mut client = AsyncClient::connect(&name).unwrap();
                let first: [u64; 2] = client
                    .call(&[9u64, 1], Some(Instant::now() + Duration::from_secs(30)))
                    .await
                    .expect("the first call is answered");
                assert_eq!(first, answer([9, 1]));
                ready.send(()).unwrap();
                let blocked = client.call::<_, [u64; 2]>(&[9u64, 2], None).await;
                (blocked, Instant::now())
            })
        })
    });
    for _ in 0..4 {
        ready_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("client ready");
    }
    // Let the three calls reach their sleep (not needed for correctness:
    // a call that has not slept yet sees the dead server all the same).
    std::thread::sleep(Duration::from_millis(100));
    server.kill().unwrap();
    let killed = Instant::now();
    for c in clients {
        let (result, returned) = c.join().unwrap();
        assert!(matches!(result, Err(RpcError::ServerGone)), "{result:?}");
        let after = returned.saturating_duration_since(killed);
        eprintln!("a blocked call returned ServerGone {after:?} after the kill");
        assert!(after < Duration::from_millis(100), "took {after:?}");
    }
    let _ = server.wait();
}

/// A client that dies with a call pending: the answer is dropped, the server
/// forgets it and removes its response ring, and serves others on.
#[test]
fn a_dead_clients_response_is_dropped() {
    let name = ShmName::new("rpc-doomed");
    let mut server = Server::create(&name.0, 64).unwrap();
    let mut child = spawn_child(
        "child_entry",
        "doomed_client",
        &[("RINGWAY_TEST_SHM", name.0.clone())],
    );
    let deadline = Some(Instant::now() + Duration::from_secs(30));
    let first = server.recv(deadline).unwrap();
    let r: [u64; 2] = first.decode().unwrap();
    assert_eq!(
        server.respond(&first, &answer(r)).unwrap(),
        Delivery::Delivered
    );
    let pending = server.recv(deadline).unwrap();
    assert_eq!(server.clients(), 1);
    let ring_name = format!("{}.c{}.1", name.0, pending.client_pid());
    assert!(
        shm_exists(&ring_name),
        "{ring_name} should exist while the client lives"
    );

    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        server.respond(&pending, &[0u64; 2]).unwrap(),
        Delivery::Delivered,
        "the ring had room: the first answer to a dead client still lands"
    );
    assert_eq!(server.sweep(), 1, "the dead client is forgotten");
    assert_eq!(server.clients(), 0);
    assert!(!shm_exists(&ring_name), "its response ring is removed");
    assert_eq!(
        server.respond(&pending, &[0u64; 2]).unwrap(),
        Delivery::ClientGone
    );

    // And the server serves a new client.
    let name2 = name.0.clone();
    let other = std::thread::spawn(move || {
        let mut c = connect(&name2);
        c.call::<_, [u64; 2]>(&[7u64, 8], Some(Instant::now() + Duration::from_secs(30)))
    });
    let q = server.recv(deadline).unwrap();
    let r: [u64; 2] = q.decode().unwrap();
    server.respond(&q, &answer(r)).unwrap();
    assert_eq!(other.join().unwrap().unwrap(), answer([7, 8]));
}

fn shm_exists(name: &str) -> bool {
    std::path::Path::new("/dev/shm")
        .join(name.trim_start_matches('/'))
        .exists()
}
