//! `trusted_proxies`: a trusted source's PROXY protocol header (v1 or v2, before the HTTP
//! request on ws:// and before TLS on wss://) or its `X-Forwarded-For`/`Forwarded`/`X-Real-IP`
//! names the peer's address; an untrusted source's headers are ignored and its PROXY header is
//! refused (HTTP 400 on ws://, a TLS alert on wss://). Clients bound to 127.0.0.2 stand for a
//! host other than the proxy on 127.0.0.1.

mod common;

use std::net::SocketAddr;

use common::hostile::{raw_request, read_response_head, UPGRADE_HEAD};
use common::tls::{tls_over, KeyKind, Pki};
use common::*;
use futures_util::SinkExt;
use gdws_engine::{PeerId, Server, ServerEvent, TrustedProxies};
use ppp::v2::{Addresses, Builder, Command, Protocol, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

fn trusted(entries: &[&str]) -> TrustedProxies {
    let (trusted, errors) = TrustedProxies::parse(entries.iter().copied());
    assert!(errors.is_empty(), "{errors:?}");
    trusted
}

/// A ws:// server trusting `entries`.
fn trusting(entries: &[&str]) -> Server {
    start_with(|config| config.trusted_proxies = trusted(entries))
}

/// A wss:// server with a P-256 leaf of `pki` for `localhost`, trusting `entries`.
fn tls_server(pki: &Pki, entries: &[&str]) -> Server {
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    start_with(|config| {
        config.tls = Some(pki.server_tls(&leaf));
        config.trusted_proxies = trusted(entries);
    })
}

/// A TCP connection to `addr` from `local` (127.0.0.1 or 127.0.0.2).
async fn connect_from(local: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{local}:0").parse().unwrap()).unwrap();
    socket.connect(addr).await.expect("TCP connect")
}

/// A v2 header from `source` to `destination` (both of one family).
fn v2_header(command: Command, source: &str, destination: SocketAddr) -> Vec<u8> {
    let addresses: Addresses = (source.parse::<SocketAddr>().unwrap(), destination).into();
    assert_ne!(addresses, Addresses::Unspecified);
    Builder::with_addresses(Version::Two | command, Protocol::Stream, addresses)
        .build()
        .unwrap()
}

fn v1_header(source: &str, source_port: u16, destination: SocketAddr) -> Vec<u8> {
    format!(
        "PROXY TCP4 {source} {} {source_port} {}\r\n",
        destination.ip(),
        destination.port()
    )
    .into_bytes()
}

/// A connection to `addr` that has sent `header`, and its local address.
async fn after_header(addr: SocketAddr, header: &[u8]) -> (TcpStream, SocketAddr) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(header).await.unwrap();
    let local = tcp.local_addr().unwrap();
    (tcp, local)
}

/// The upgrade of a client that sends `headers` (name, value) besides the usual ones.
async fn upgrade_with_headers(tcp: TcpStream, headers: &[(&str, &str)]) -> Ws {
    let mut request = format!("ws://{}/", tcp.peer_addr().unwrap())
        .into_client_request()
        .unwrap();
    for (name, value) in headers {
        request.headers_mut().append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    tokio_tungstenite::client_async(request, tcp)
        .await
        .unwrap()
        .0
}

/// The next event is the new peer's `Connected`: its id and the address the server gives it.
#[track_caller]
fn peer_address(server: &mut Server) -> (PeerId, SocketAddr) {
    let (id, _) = connected(server);
    (id, server.peer(id).unwrap().address())
}

/// A message each way: the stream after the headers is the client's, byte for byte.
#[track_caller]
fn exchange<S>(server: &mut Server, clients: &Clients, id: PeerId, ws: &mut WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    clients
        .run(ws.send(Message::text("through the proxy")))
        .unwrap();
    assert_eq!(message(server, id), text("through the proxy"));
    server.peer(id).unwrap().put_packet(text("back")).unwrap();
    assert_eq!(clients.run(recv(ws)), Message::text("back"));
}

#[test]
fn a_trusted_proxy_s_v1_header_names_the_client_on_ws() {
    let (mut server, clients) = (trusting(&["127.0.0.1"]), Clients::new());
    let addr = server.local_addr();
    let mut ws = clients.run(async {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        // Byte by byte: the server must wait for the rest of a header it has begun.
        tcp.set_nodelay(true).unwrap();
        for byte in v1_header("203.0.113.7", 56324, addr) {
            tcp.write_all(&[byte]).await.unwrap();
        }
        handshake(tcp, &[]).await.unwrap().0
    });
    let (id, address) = peer_address(&mut server);
    assert_eq!(address, "203.0.113.7:56324".parse().unwrap());
    exchange(&mut server, &clients, id, &mut ws);
}

#[test]
fn a_v2_header_and_the_request_in_one_write_lose_and_take_no_byte() {
    let (mut server, clients) = (trusting(&["127.0.0.1"]), Clients::new());
    let addr = server.local_addr();
    let mut ws = clients.run(async {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let to = "[2001:db8::1]:443".parse().unwrap();
        let mut bytes = v2_header(Command::Proxy, "[2001:db8::7]:4000", to);
        bytes.extend_from_slice(format!("{UPGRADE_HEAD}\r\n").as_bytes());
        // A first frame right behind the request, as a client may pipeline it.
        bytes.extend_from_slice(&client_frame(true, 0x1, b"pipelined"));
        tcp.write_all(&bytes).await.unwrap();
        let head = read_response_head(&mut tcp).await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        WebSocketStream::from_raw_socket(tcp, Role::Client, None).await
    });
    let (id, address) = peer_address(&mut server);
    assert_eq!(address, "[2001:db8::7]:4000".parse().unwrap());
    assert_eq!(message(&mut server, id), text("pipelined"));
    exchange(&mut server, &clients, id, &mut ws);
}

#[test]
fn a_trusted_proxy_s_v2_header_comes_before_tls_on_wss() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let mut server = tls_server(&pki, &["127.0.0.1"]);
    let addr = server.local_addr();
    let mut wss = clients.run(async {
        let header = v2_header(Command::Proxy, "198.51.100.20:61000", addr);
        let (tcp, _) = after_header(addr, &header).await;
        let tls = tls_over(tcp, pki.client(), "localhost").await.unwrap();
        let request = format!("wss://localhost:{}/", addr.port())
            .into_client_request()
            .unwrap();
        tokio_tungstenite::client_async(request, tls)
            .await
            .unwrap()
            .0
    });
    let (id, address) = peer_address(&mut server);
    assert_eq!(address, "198.51.100.20:61000".parse().unwrap());
    exchange(&mut server, &clients, id, &mut wss);
}

#[test]
fn a_v2_local_header_keeps_the_proxy_s_address_and_a_lone_header_is_silent() {
    let (mut server, clients) = (trusting(&["127.0.0.1"]), Clients::new());
    let addr = server.local_addr();
    let local_header = v2_header(Command::Local, "10.9.9.9:1", addr);
    let (ws, local) = clients.run(async {
        let (tcp, local) = after_header(addr, &local_header).await;
        (handshake(tcp, &[]).await.unwrap().0, local)
    });
    let (_, address) = peer_address(&mut server);
    assert_eq!(address, local);
    drop(ws);

    // A proxy's TCP health check with check-send-proxy: the header, then the close.
    let before = server.silent_connections();
    clients.run(async {
        let (mut tcp, _) = after_header(addr, &local_header).await;
        tcp.shutdown().await.unwrap();
        read_until_closed(&mut tcp).await;
    });
    wait_until("the lone header is counted silent", || {
        server.silent_connections() == before + 1
    });
}

#[test]
fn an_untrusted_source_s_proxy_header_is_a_400_on_ws() {
    for entries in [&[][..], &["127.0.0.2", "10.0.0.0/8"]] {
        let mut server = trusting(entries);
        let clients = Clients::new();
        let addr = server.local_addr();
        for header in [
            v1_header("203.0.113.7", 1000, addr),
            v2_header(Command::Proxy, "203.0.113.7:1000", addr),
        ] {
            let mut request = header;
            request.extend_from_slice(format!("{UPGRADE_HEAD}\r\n").as_bytes());
            let (answer, local) = clients.run(raw_request(addr, &request));
            let reason = "a PROXY protocol header from 127.0.0.1, which is not in trusted_proxies";
            assert_eq!(answer.status, 400, "{}", answer.text);
            assert!(
                answer.text.ends_with(&format!("\r\n\r\n{reason}\n")),
                "{}",
                answer.text
            );
            assert_eq!(handshake_failed(&mut server, Some(local)), reason);
        }
        assert_eq!(server.peers().count(), 0);
    }
}

#[test]
fn on_wss_a_refused_proxy_header_gets_a_tls_alert() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let mut server = tls_server(&pki, &["127.0.0.1"]);
    let addr = server.local_addr();
    let mut too_long = ppp::v2::PROTOCOL_PREFIX.to_vec();
    too_long.extend_from_slice(&[0x21, 0x11, 0x10, 0x00]);
    let cases = [
        (
            "127.0.0.2",
            v2_header(Command::Proxy, "203.0.113.7:1000", addr),
            "a PROXY protocol header from 127.0.0.2, which is not in trusted_proxies",
        ),
        (
            "127.0.0.1",
            too_long,
            "a PROXY v2 header of 4112 bytes, over the 4096 taken",
        ),
    ];
    for (from, header, reason) in cases {
        let (error, local) = clients.run(async {
            let mut tcp = connect_from(from, addr).await;
            let local = tcp.local_addr().unwrap();
            tcp.write_all(&header).await.unwrap();
            let error = tls_over(tcp, pki.client(), "localhost").await.unwrap_err();
            (error.to_string(), local)
        });
        assert!(error.contains("HandshakeFailure"), "{error}");
        assert_eq!(handshake_failed(&mut server, Some(local)), reason);
    }
}

#[test]
fn a_trusted_proxy_s_broken_header_is_refused_with_the_reason() {
    let (mut server, clients) = (trusting(&["127.0.0.1"]), Clients::new());
    let addr = server.local_addr();
    let mut too_long = ppp::v2::PROTOCOL_PREFIX.to_vec();
    too_long.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    let cases: [(&[u8], &str); 4] = [
        (
            b"PROXY TCP4 203.0.113.300 10.0.0.1 1 2\r\n",
            "an invalid PROXY v1 header: Header contains invalid IP address for the source.",
        ),
        (
            &[b"PROXY TCP4 ", &[b'1'; 120][..]].concat(),
            "a PROXY v1 header without its CRLF within 107 bytes",
        ),
        (
            &too_long,
            "a PROXY v2 header of 65551 bytes, over the 4096 taken",
        ),
        (
            b"PROXY TCP4 GET / HTTP/1.1\r\n",
            "an invalid PROXY v1 header: Header contains invalid IP address for the source.",
        ),
    ];
    for (start, reason) in cases {
        let mut request = start.to_vec();
        request.extend_from_slice(format!("{UPGRADE_HEAD}\r\n").as_bytes());
        let (answer, local) = clients.run(raw_request(addr, &request));
        assert_eq!(answer.status, 400, "{}", answer.text);
        assert!(
            answer.text.ends_with(&format!("\r\n\r\n{reason}\n")),
            "{}",
            answer.text
        );
        assert_eq!(handshake_failed(&mut server, Some(local)), reason);
    }
}

#[test]
fn a_trusted_proxy_s_forwarding_headers_name_the_client_without_a_port() {
    let (mut server, clients) = (trusting(&["127.0.0.1"]), Clients::new());
    let addr = server.local_addr();
    let cases = [
        (
            "x-forwarded-for",
            "198.51.100.1, 203.0.113.7",
            "203.0.113.7:0",
        ),
        (
            "forwarded",
            "for=\"[2001:db8::7]:4711\";proto=http",
            "[2001:db8::7]:4711",
        ),
        ("x-real-ip", "203.0.113.9", "203.0.113.9:0"),
        // The proxy's own entry is trusted: the one before it is the client.
        ("x-forwarded-for", "203.0.113.5, 127.0.0.1", "203.0.113.5:0"),
    ];
    let mut open = Vec::new();
    for (name, value, client) in cases {
        let mut ws = clients.run(async {
            let tcp = TcpStream::connect(addr).await.unwrap();
            upgrade_with_headers(tcp, &[(name, value)]).await
        });
        let (id, address) = peer_address(&mut server);
        assert_eq!(address.to_string(), client, "{name}: {value}");
        exchange(&mut server, &clients, id, &mut ws);
        open.push(ws);
    }
}

#[test]
fn a_client_that_is_no_trusted_proxy_gets_neither_header_honoured() {
    // Trusting 127.0.0.1 only; the hostile client speaks from 127.0.0.2.
    let (mut server, clients) = (trusting(&["127.0.0.1"]), Clients::new());
    let addr = server.local_addr();
    let (_ws, local) = clients.run(async {
        let tcp = connect_from("127.0.0.2", addr).await;
        let local = tcp.local_addr().unwrap();
        let headers = [
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=203.0.113.8"),
            ("x-real-ip", "203.0.113.9"),
        ];
        (upgrade_with_headers(tcp, &headers).await, local)
    });
    let (_, address) = peer_address(&mut server);
    assert_eq!(address, local);

    let (answer, local) = clients.run(async {
        let mut tcp = connect_from("127.0.0.2", addr).await;
        let local = tcp.local_addr().unwrap();
        let mut request = v1_header("203.0.113.7", 1000, addr);
        request.extend_from_slice(format!("{UPGRADE_HEAD}\r\n").as_bytes());
        tcp.write_all(&request).await.unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).await.unwrap();
        (answer, local)
    });
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert_eq!(
        handshake_failed(&mut server, Some(local)),
        "a PROXY protocol header from 127.0.0.2, which is not in trusted_proxies"
    );

    // The same headers from the trusted 127.0.0.1 are honoured.
    let _trusted = clients.run(async {
        let tcp = connect_from("127.0.0.1", addr).await;
        upgrade_with_headers(tcp, &[("x-forwarded-for", "203.0.113.7")]).await
    });
    let (_, address) = peer_address(&mut server);
    assert_eq!(address, "203.0.113.7:0".parse().unwrap());
}

#[test]
fn behind_a_proxy_header_the_client_s_own_forwarding_headers_are_ignored() {
    // A trusted proxy in TCP mode passes the client's HTTP through untouched: the client wrote
    // this X-Forwarded-For, and the client (named by the PROXY header) is not trusted.
    let (mut server, clients) = (trusting(&["127.0.0.1"]), Clients::new());
    let addr = server.local_addr();
    let header = v2_header(Command::Proxy, "198.51.100.20:61000", addr);
    let _ws = clients.run(async {
        let (tcp, _) = after_header(addr, &header).await;
        upgrade_with_headers(tcp, &[("x-forwarded-for", "203.0.113.66")]).await
    });
    let (_, address) = peer_address(&mut server);
    assert_eq!(address, "198.51.100.20:61000".parse().unwrap());
}

#[test]
fn max_connections_per_ip_counts_the_proxy_not_the_clients_behind_it() {
    let mut server = start_with(|config| {
        config.trusted_proxies = trusted(&["127.0.0.1"]);
        config.max_connections_per_ip = 1;
    });
    let clients = Clients::new();
    let addr = server.local_addr();
    let header = v1_header("203.0.113.7", 1000, addr);
    let _first = clients.run(async {
        let (tcp, _) = after_header(addr, &header).await;
        handshake(tcp, &[]).await.unwrap().0
    });
    let (_, address) = peer_address(&mut server);
    assert_eq!(address, "203.0.113.7:1000".parse().unwrap());
    // Another client through the same proxy: the proxy's address is at its limit.
    let mut request = v1_header("203.0.113.8", 1000, addr);
    request.extend_from_slice(format!("{UPGRADE_HEAD}\r\n").as_bytes());
    let (answer, _) = clients.run(raw_request(addr, &request));
    assert_eq!(answer.status, 503, "{}", answer.text);
    let reason = handshake_failed(&mut server, None);
    assert!(
        reason.contains("connections from 127.0.0.1 are open"),
        "{reason}"
    );
}

#[test]
fn a_verified_client_behind_a_trusted_proxy_has_the_forwarded_address() {
    let mut server = start_with(|config| {
        config.trusted_proxies = trusted(&["127.0.0.1"]);
        config.verify_clients = true;
    });
    let clients = Clients::new();
    let addr = server.local_addr();
    let handshake = clients.spawn(async move {
        let tcp = TcpStream::connect(addr).await.unwrap();
        upgrade_with_headers(tcp, &[("x-forwarded-for", "203.0.113.7")]).await
    });
    let id = match event(&mut server) {
        ServerEvent::VerifyRequest { id, request } => {
            assert_eq!(request.header("x-forwarded-for"), Some("203.0.113.7"));
            id
        }
        other => panic!("expected VerifyRequest, got {other:?}"),
    };
    server.accept_client(id).unwrap();
    let (connected_id, address) = peer_address(&mut server);
    assert_eq!(connected_id, id);
    assert_eq!(address.to_string(), "203.0.113.7:0");
    let mut ws = clients.run(handshake).unwrap();
    exchange(&mut server, &clients, id, &mut ws);
    server.stop();
}
