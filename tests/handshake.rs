//! The HTTP upgrade: subprotocol choice, handshake timeout, bad requests, refusing new
//! connections, connections that send nothing, and the bound on TLS handshakes at once.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::tls::{connect_wss, KeyKind, Pki};
use common::*;
use gdws_engine::{tls_handshake_slots, Server, ServerEvent, WarningBudget};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, ClientConnection};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::Error as WsError;

fn server_with_protocols(protocols: &[&str]) -> Server {
    start_with(|config| config.protocols = protocols.iter().map(|p| p.to_string()).collect())
}

/// A client that offers `offered` must be rejected with HTTP 400, and the server must report
/// a `HandshakeFailed` naming the client's address and the subprotocols.
fn assert_rejected(server: &mut Server, clients: &Clients, offered: &[&str]) {
    let addr = server.local_addr();
    let (local, result) = clients.run(async {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        (local, handshake(tcp, offered).await)
    });
    match result {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
            // The body says why.
            let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
            assert!(body.contains("subprotocol"), "{body}");
        }
        other => panic!(
            "expected HTTP 400 for {offered:?}, got {:?}",
            other.map(|_| ())
        ),
    }
    let reason = handshake_failed(server, Some(local));
    assert!(reason.contains("subprotocol"), "{reason}");
}

#[test]
fn the_first_offered_protocol_the_server_accepts_wins() {
    let clients = Clients::new();
    let mut server = server_with_protocols(&["b", "a"]);
    let (_ws, response) = clients
        .run(connect(server.local_addr(), &["a", "b"]))
        .unwrap();
    let header = response.headers().get("Sec-WebSocket-Protocol").unwrap();
    assert_eq!(header, "a");
    let (id, protocol) = connected(&mut server);
    assert_eq!(protocol, "a");
    assert_eq!(server.peer(id).unwrap().protocol(), "a");
    server.stop();
}

#[test]
fn no_common_protocol_is_rejected_with_400() {
    let clients = Clients::new();
    let mut server = server_with_protocols(&["a", "b"]);
    assert_rejected(&mut server, &clients, &["x", "y"]);
    // A client offering none to a server that lists some.
    assert_rejected(&mut server, &clients, &[]);
    // The server goes on: a matching client is taken.
    clients
        .run(connect(server.local_addr(), &["y", "b"]))
        .unwrap();
    assert_eq!(connected(&mut server).1, "b");
    server.stop();

    // A client offering some to a server that lists none.
    let mut server = server_with_protocols(&[]);
    assert_rejected(&mut server, &clients, &["a"]);
    server.stop();
}

#[test]
fn no_protocols_on_either_side_is_accepted_with_an_empty_protocol() {
    let clients = Clients::new();
    let mut server = server_with_protocols(&[]);
    let (_ws, response) = clients.run(connect(server.local_addr(), &[])).unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert!(response.headers().get("Sec-WebSocket-Protocol").is_none());
    let (id, protocol) = connected(&mut server);
    assert_eq!(protocol, "");
    assert_eq!(server.peer(id).unwrap().protocol(), "");
    server.stop();
}

/// Connects, lets `stall` write whatever it likes (or nothing), and measures how long the
/// server takes to close the socket, from before the connect (so from before the server's
/// clock starts, at its accept). Returns that time and the client's address.
fn time_until_dropped<F, Fut>(
    server: &Server,
    clients: &Clients,
    stall: F,
) -> (Duration, SocketAddr)
where
    F: FnOnce(TcpStream) -> Fut,
    Fut: std::future::Future<Output = TcpStream>,
{
    let addr = server.local_addr();
    clients.run(async {
        let started = Instant::now();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let mut tcp = stall(tcp).await;
        read_until_closed(&mut tcp).await;
        (started.elapsed(), local)
    })
}

fn assert_handshake_timed_out(server: &mut Server, local: SocketAddr) {
    let reason = handshake_failed(server, Some(local));
    assert!(reason.contains("handshake_timeout"), "{reason}");
}

#[test]
fn a_silent_client_is_dropped_at_the_handshake_timeout() {
    let clients = Clients::new();
    let timeout = Duration::from_secs(1);
    let mut server = start_with(|config| config.handshake_timeout = timeout);
    let (elapsed, local) = time_until_dropped(&server, &clients, |tcp| async { tcp });
    assert_ended_at_timeout(elapsed, timeout);
    assert_handshake_timed_out(&mut server, local);
    server.stop();
}

#[test]
fn a_slow_partial_request_is_dropped_at_the_handshake_timeout() {
    // The timeout runs from TCP accept: trickling bytes does not extend it.
    let clients = Clients::new();
    let timeout = Duration::from_secs(1);
    let mut server = start_with(|config| config.handshake_timeout = timeout);
    let (elapsed, local) = time_until_dropped(&server, &clients, |mut tcp| async move {
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        tcp
    });
    assert_ended_at_timeout(elapsed, timeout);
    assert_handshake_timed_out(&mut server, local);
    server.stop();
}

#[test]
fn garbage_instead_of_a_request_fails_cleanly() {
    let clients = Clients::new();
    // A long timeout, so a prompt close shows the garbage was refused, not timed out.
    let mut server = start_with(|config| config.handshake_timeout = Duration::from_secs(20));
    let requests: [(&[u8], &str); 3] = [
        // What a TLS ClientHello starts with: named as a wss:// client (see tests/tls.rs).
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
            "TLS (wss://) client",
        ),
        (b"HELLO WORLD\r\n\r\n", "invalid WebSocket handshake"),
        // Plain HTTP without the upgrade headers.
        (
            b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
            "invalid WebSocket handshake",
        ),
    ];
    for (request, expected) in requests {
        let (elapsed, local) = time_until_dropped(&server, &clients, |mut tcp| async move {
            tcp.write_all(request).await.unwrap();
            tcp
        });
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        let reason = handshake_failed(&mut server, Some(local));
        assert!(reason.contains(expected), "{reason}");
    }
    // The server is unharmed.
    clients.connect(server.local_addr());
    connected(&mut server);
    server.stop();
}

#[test]
fn refuse_new_connections_closes_new_sockets_until_cleared() {
    let clients = Clients::new();
    let mut server = start_with(|config| config.handshake_timeout = Duration::from_secs(20));
    let addr = server.local_addr();
    assert!(!server.is_refusing_new_connections());

    // Connected before refusing: stays connected.
    let mut kept = clients.connect(addr);
    let (kept_id, _) = connected(&mut server);

    server.set_refuse_new_connections(true);
    assert!(server.is_refusing_new_connections());
    // Closed at once, well before the (long) handshake timeout, with no event.
    let (elapsed, _) = time_until_dropped(&server, &clients, |tcp| async { tcp });
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    // A real client fails its handshake.
    assert!(clients.run(connect(addr, &[])).is_err());

    server.set_refuse_new_connections(false);
    assert!(!server.is_refusing_new_connections());
    clients.connect(addr);
    // The refused connections left no event: the next one is the new client.
    let (id, _) = connected(&mut server);
    assert_ne!(id, kept_id);

    // The peer from before still works.
    server
        .peer(kept_id)
        .unwrap()
        .put_packet(text("hi"))
        .unwrap();
    assert_eq!(
        clients.run(recv(&mut kept)),
        tokio_tungstenite::tungstenite::Message::text("hi")
    );
    server.stop();
}

// ---- port scans and load-balancer checks ----

/// Connections that close (`reset` false) or reset (`reset` true) without sending a byte.
fn silent_visits(server: &Server, clients: &Clients, count: usize, reset: bool) {
    let addr = server.local_addr();
    clients.run(async {
        for _ in 0..count {
            let tcp = TcpStream::connect(addr).await.unwrap();
            if reset {
                // Linger 0: the close sends a reset instead of a FIN.
                socket2::SockRef::from(&tcp)
                    .set_linger(Some(Duration::ZERO))
                    .unwrap();
            }
            drop(tcp);
        }
    });
}

/// Silent connections and resets leave no event (the next one is the good client's), and
/// they are counted.
fn assert_silent_visits_are_counted_not_reported(
    mut server: Server,
    connect_good: impl Fn(&Server),
) {
    let clients = Clients::new();
    let before = server.silent_connections();
    silent_visits(&server, &clients, 20, false);
    wait_until("the silent connections are counted", || {
        server.silent_connections() == before + 20
    });
    silent_visits(&server, &clients, 20, true);
    // Linux hands a connection reset in the backlog to accept; Windows drops it there, so the
    // server may never see some of them.
    let resets_seen = if cfg!(windows) { 0..=20 } else { 20..=20 };
    if cfg!(not(windows)) {
        wait_until("the resets are counted", || {
            server.silent_connections() == before + 40
        });
    }
    // The good client (it leaves at once) is the first event: the visits reported nothing.
    connect_good(&server);
    connected(&mut server);
    wait_until("the visits' sockets are closed", || {
        server.open_sockets() <= 1
    });
    let resets = server.silent_connections() - before - 20;
    assert!(resets_seen.contains(&resets), "{resets} resets counted");
    server.stop();
}

#[test]
fn connections_that_close_without_a_byte_are_counted_not_reported() {
    let clients = Clients::new();
    let server = start();
    assert_silent_visits_are_counted_not_reported(server, |server| {
        clients.connect(server.local_addr());
    });
}

#[test]
fn connections_that_close_without_a_byte_are_counted_not_reported_on_wss() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let server = start_with(|config| config.tls = Some(pki.server_tls(&leaf)));
    assert_silent_visits_are_counted_not_reported(server, |server| {
        let addr = server.local_addr();
        clients
            .run(connect_wss(addr, pki.client(), "localhost"))
            .expect("wss:// connect");
    });
}

// ---- TLS handshakes at once ----

/// A connection that sends the ClientHello of `client` (the first `send` bytes of it, or all)
/// and then nothing, never answering the server.
async fn stalled_tls_client(
    addr: SocketAddr,
    client: Arc<ClientConfig>,
    send: Option<usize>,
) -> TcpStream {
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = ClientConnection::new(client, name).unwrap();
    let mut hello = Vec::new();
    tls.write_tls(&mut hello).unwrap();
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let send = send.unwrap_or(hello.len());
    tcp.write_all(&hello[..send]).await.unwrap();
    tcp
}

/// A wss:// server that reports every failed handshake (the test counts them).
fn counted_tls_server(pki: &Pki, handshake_timeout: Duration) -> Server {
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    start_with(|config| {
        config.tls = Some(pki.server_tls(&leaf));
        config.handshake_timeout = handshake_timeout;
        config.warnings = WarningBudget::UNLIMITED;
    })
}

#[test]
fn clients_that_stall_before_their_client_hello_ends_hold_no_tls_slot() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let mut server = counted_tls_server(&pki, Duration::from_secs(5));
    let addr = server.local_addr();
    let stalled = 2 * tls_handshake_slots();
    let started = Instant::now();
    let _held: Vec<TcpStream> = clients.run(async {
        let mut held = Vec::new();
        for _ in 0..stalled {
            // A record header and a few bytes of the hello it announces.
            held.push(stalled_tls_client(addr, pki.client(), Some(16)).await);
        }
        held
    });
    let (_ws, _) = clients
        .run(connect_wss(addr, pki.client(), "localhost"))
        .expect("wss:// connect");
    let took = started.elapsed();
    // Before any of the stalled ones timed out.
    connected(&mut server);
    println!("RELIABILITY tls_half_hello_stalled={stalled}");
    println!(
        "RELIABILITY tls_half_hello_good_client_ms={}",
        took.as_millis()
    );
    server.stop();
}

#[test]
fn stalled_tls_handshakes_fill_the_slots_until_their_timeout_frees_them() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let timeout = Duration::from_secs(2);
    let mut server = counted_tls_server(&pki, timeout);
    let addr = server.local_addr();
    let slots = tls_handshake_slots();
    let _held: Vec<TcpStream> = clients.run(async {
        let mut held = Vec::new();
        for _ in 0..slots {
            let mut tcp = stalled_tls_client(addr, pki.client(), None).await;
            // The server's answer shows it took a slot for this one.
            let mut byte = [0u8; 1];
            assert_eq!(tcp.read(&mut byte).await.unwrap(), 1);
            held.push(tcp);
        }
        held
    });
    let good_started = Instant::now();
    let (_ws, _) = clients
        .run(connect_wss(addr, pki.client(), "localhost"))
        .expect("wss:// connect within the handshake timeout");
    let good_took = good_started.elapsed();
    // The stalled ones were dropped at their timeout, and only then did the good client get
    // a slot: a stalled one's failure comes first.
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("handshake_timeout"), "{reason}");
    let mut failed = 1u128;
    loop {
        match event(&mut server) {
            ServerEvent::HandshakeFailed { reason, .. } => {
                assert!(reason.contains("handshake_timeout"), "{reason}");
                failed += 1;
            }
            ServerEvent::Connected { .. } => break,
            other => panic!("{other:?}"),
        }
    }
    // It still made it within its own timeout, counted from after theirs started.
    assert!(good_took < timeout, "{good_took:?}");
    for (key, value) in [
        ("slots", slots as u128),
        ("timeout_ms", timeout.as_millis()),
        ("failed_before_good", failed),
        ("good_client_waited_ms", good_took.as_millis()),
    ] {
        println!("RELIABILITY tls_full_{key}={value}");
    }
    server.stop();
}
