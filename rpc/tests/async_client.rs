//! The async client against a server thread, the async server against
//! client threads, and deadlines with late
//! answers (which the next call must discard), blocking and async.

use ringway_test_support as common;

use std::time::{Duration, Instant};

use common::ShmName;
use ringway_rpc::{AsyncClient, AsyncServer, Client, Delivery, RpcError, Server};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .unwrap()
}

/// A server thread answering `x -> x + 1` to `n` calls.
fn serve_increments(server: Server, n: u64) -> std::thread::JoinHandle<Server> {
    std::thread::spawn(move || {
        let mut server = server;
        for _ in 0..n {
            let q = server
                .recv(Some(Instant::now() + Duration::from_secs(30)))
                .expect("a request");
            let x: u64 = q.decode().unwrap();
            server.respond(&q, &(x + 1)).unwrap();
        }
        server
    })
}

#[test]
fn async_calls_are_answered_in_order() {
    const N: u64 = 5_000;
    let name = ShmName::new("rpc-async");
    let server = serve_increments(Server::create(&name.0, 64).unwrap(), N + 1);
    runtime().block_on(async {
        let mut client = AsyncClient::connect(&name.0).unwrap();
        for i in 0..N {
            let got: u64 = client
                .call(&i, Some(Instant::now() + Duration::from_secs(30)))
                .await
                .unwrap();
            assert_eq!(got, i + 1);
        }
        let bytes = client.call_bytes(&41u64.to_ne_bytes(), None).await.unwrap();
        assert_eq!(bytes, 42u64.to_ne_bytes());
    });
    server.join().unwrap();
}

/// The server side of the late-answer scenario: takes call 1 at once,
/// answers it only after the client's signal that it timed out, then
/// answers call 2.
fn answer_late(server: &mut Server, timed_out: &std::sync::mpsc::Receiver<()>) {
    let long = || Some(Instant::now() + Duration::from_secs(30));
    let first = server.recv(long()).unwrap();
    assert_eq!(first.decode::<u64>().unwrap(), 1);
    timed_out.recv_timeout(Duration::from_secs(30)).unwrap();
    server.respond(&first, &100u64).unwrap();
    let second = server.recv(long()).unwrap();
    assert_eq!(second.decode::<u64>().unwrap(), 2);
    server.respond(&second, &200u64).unwrap();
}

/// A call whose deadline passes returns Timeout; the server's late answer
/// to it is discarded by the next call, which gets its own (blocking client).
#[test]
fn a_late_answer_is_discarded() {
    let name = ShmName::new("rpc-late");
    let mut server = Server::create(&name.0, 64).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let client_name = name.0.clone();
    let client = std::thread::spawn(move || {
        let mut client = Client::connect(&client_name).unwrap();
        let short = Some(Instant::now() + Duration::from_millis(100));
        assert!(matches!(
            client.call::<u64, u64>(&1, short),
            Err(RpcError::Timeout)
        ));
        tx.send(()).unwrap();
        client.call::<u64, u64>(&2, Some(Instant::now() + Duration::from_secs(30)))
    });
    answer_late(&mut server, &rx);
    assert_eq!(
        client.join().unwrap().unwrap(),
        200,
        "the late 100 was discarded"
    );
}

/// The same with the async client.
#[test]
fn a_late_answer_is_discarded_async() {
    let name = ShmName::new("rpc-late-async");
    let mut server = Server::create(&name.0, 64).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let client_name = name.0.clone();
    let client = std::thread::spawn(move || {
        runtime().block_on(async {
            let mut client = AsyncClient::connect(&client_name).unwrap();
            let short = Some(Instant::now() + Duration::from_millis(100));
            assert!(matches!(
                client.call::<u64, u64>(&1, short).await,
                Err(RpcError::Timeout)
            ));
            tx.send(()).unwrap();
            client
                .call::<u64, u64>(&2, Some(Instant::now() + Duration::from_secs(30)))
                .await
        })
    });
    answer_late(&mut server, &rx);
    assert_eq!(
        client.join().unwrap().unwrap(),
        200,
        "the late 100 was discarded"
    );
}

/// Requests whose caller's deadline passed before the server took them are
/// not served.
#[test]
fn expired_requests_are_skipped() {
    let name = ShmName::new("rpc-expired");
    let mut server = Server::create(&name.0, 64).unwrap();
    let mut client = Client::connect(&name.0).unwrap();
    let past = Some(Instant::now());
    assert!(matches!(
        client.call::<u64, u64>(&1, past),
        Err(RpcError::Timeout)
    ));
    assert!(matches!(
        server.recv(Some(Instant::now() + Duration::from_millis(50))),
        Err(RpcError::Timeout)
    ));
    assert_eq!(server.dropped_expired(), 1);
}

#[test]
fn oversized_payloads_are_refused() {
    let name = ShmName::new("rpc-size");
    let _server = Server::create(&name.0, 64).unwrap();
    let mut client = Client::connect(&name.0).unwrap();
    let big = [0u8; ringway_rpc::MAX_PAYLOAD + 1];
    let mut out = [0u8; 8];
    assert!(matches!(
        client.call_bytes(&big, &mut out, None),
        Err(RpcError::TooLarge { len }) if len == big.len()
    ));
}

#[test]
fn connecting_to_nothing_fails() {
    let name = ShmName::new("rpc-none");
    assert!(matches!(Client::connect(&name.0), Err(RpcError::Open(_))));
}

/// An `AsyncServer` serving two blocking client threads (which it does not
/// know until their first request) on a current-thread runtime.
#[test]
fn async_server_serves_client_threads() {
    const N: u64 = 2_000;
    let name = ShmName::new("rpc-async-server");
    runtime().block_on(async {
        let mut server = AsyncServer::create(&name.0, 64).unwrap();
        let clients: Vec<_> = (0..2u64)
            .map(|c| {
                let name = name.0.clone();
                std::thread::spawn(move || {
                    let mut client = Client::connect(&name).unwrap();
                    for i in 0..N {
                        let x = c << 32 | i;
                        let got: u64 = client
                            .call(&x, Some(Instant::now() + Duration::from_secs(30)))
                            .unwrap();
                        assert_eq!(got, x + 1);
                    }
                })
            })
            .collect();
        for _ in 0..2 * N {
            let q = tokio::time::timeout(Duration::from_secs(30), server.recv())
                .await
                .expect("a request within 30 s")
                .unwrap();
            let x: u64 = q.decode().unwrap();
            assert_eq!(server.respond(&q, &(x + 1)).unwrap(), Delivery::Delivered);
        }
        for c in clients {
            c.join().unwrap();
        }
        assert_eq!(server.get_mut().clients(), 2);
    });
}
