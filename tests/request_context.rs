//! What the handshake's HTTP carries besides the upgrade: the request a peer made (path,
//! headers, URL), the game's extra 101 headers, `allowed_origins` (403 for a foreign page) and
//! the plain-HTTP health check, each with real tokio-tungstenite clients and raw HTTP
//! requests.

mod common;

use std::time::Duration;

use common::hostile::{raw_request, UPGRADE_HEAD};
use common::tls::{tls_connect, KeyKind, Pki};
use common::*;
use gdws_engine::{
    ExtraHeaders, HealthCheckPath, Origin, RequestPolicy, Server, ServerConfig, ServerEvent,
    HEALTH_CHECK_BODY,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, Response};
use tokio_tungstenite::tungstenite::Error as WsError;

/// A client request for `path` on `server` with `headers` added (repeated names are appended).
fn request(server: &Server, path: &str, headers: &[(&'static str, &str)]) -> Request {
    let url = format!("ws://{}{path}", server.local_addr());
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request
            .headers_mut()
            .append(*name, value.parse().expect("a header value"));
    }
    request
}

fn try_connect(clients: &Clients, request: Request) -> Result<(Ws, Response), WsError> {
    clients.run(async {
        let tcp = TcpStream::connect(request.uri().authority().unwrap().as_str())
            .await
            .expect("TCP connect");
        tokio_tungstenite::client_async(request, tcp).await
    })
}

/// What the server answered with an HTTP error: the status and the body.
fn refused(result: Result<(Ws, Response), WsError>) -> (u16, String) {
    match result {
        Err(WsError::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            (
                response.status().as_u16(),
                String::from_utf8_lossy(body).into(),
            )
        }
        other => panic!("expected an HTTP refusal, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn a_peer_keeps_its_request_path_query_and_headers() {
    let clients = Clients::new();
    let mut server = start();
    let request = request(
        &server,
        "/play?room=3&token=abc",
        &[("X-Tag", "a"), ("Cookie", "session=1"), ("x-tag", "b")],
    );
    let _ws = try_connect(&clients, request).unwrap();
    let (id, _) = connected(&mut server);
    let host = server.local_addr().to_string();
    let peer_request = server.peer(id).unwrap().request().clone();
    assert_eq!(peer_request.path(), "/play?room=3&token=abc");
    assert_eq!(peer_request.header("host"), Some(host.as_str()));
    assert_eq!(peer_request.header("x-tag"), Some("a, b"));
    assert_eq!(peer_request.header("cookie"), Some("session=1"));
    assert!(peer_request.header("sec-websocket-key").is_some());
    assert_eq!(
        peer_request.url(server.config().tls.is_some()),
        format!("ws://{host}/play?room=3&token=abc")
    );
}

fn with_policy(change: impl FnOnce(&mut RequestPolicy)) -> Server {
    start_with(|config: &mut ServerConfig| change(&mut config.request_policy))
}

fn lines(lines: &[&str]) -> Vec<String> {
    lines.iter().map(|line| line.to_string()).collect()
}

#[test]
fn extra_headers_arrive_in_the_101() {
    let clients = Clients::new();
    let mut server = with_policy(|policy| {
        policy.extra_headers =
            ExtraHeaders::parse(&lines(&["X-Server: gdws", "Set-Cookie: seen=1"])).unwrap();
    });
    let (_ws, response) = try_connect(&clients, request(&server, "/", &[])).unwrap();
    assert_eq!(response.headers()["x-server"], "gdws");
    assert_eq!(response.headers()["set-cookie"], "seen=1");
    connected(&mut server);
}

const GAME_ORIGIN: &str = "https://game.example";

fn allowing_the_game() -> Server {
    with_policy(|policy| policy.allowed_origins = vec![Origin::parse(GAME_ORIGIN).unwrap()])
}

#[test]
fn a_foreign_origin_gets_403_saying_why_and_a_warning() {
    let clients = Clients::new();
    let mut server = allowing_the_game();
    let foreign = request(&server, "/", &[("Origin", "https://evil.example")]);
    let (status, body) = refused(try_connect(&clients, foreign));
    let why = "the origin \"https://evil.example\" is not in allowed_origins";
    assert_eq!((status, body.as_str()), (403, format!("{why}\n").as_str()));
    assert_eq!(handshake_failed(&mut server, None), why);
}

#[test]
fn a_listed_origin_in_any_case_and_a_request_without_origin_connect() {
    let clients = Clients::new();
    let mut server = allowing_the_game();
    let listed = request(&server, "/", &[("Origin", "https://GAME.example:443")]);
    let _browser = try_connect(&clients, listed).unwrap();
    connected(&mut server);
    // Native clients (tungstenite, Godot's WebSocketClient) send no Origin.
    let _native = try_connect(&clients, request(&server, "/", &[])).unwrap();
    connected(&mut server);
}

fn health_checked() -> Server {
    with_policy(|policy| policy.health_check = HealthCheckPath::parse("/health").unwrap())
}

fn ok_head() -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        HEALTH_CHECK_BODY.len()
    )
}

#[test]
fn a_health_check_gets_200_and_is_no_peer_no_event_and_no_silent_connection() {
    let clients = Clients::new();
    let mut server = health_checked();
    let addr = server.local_addr();
    for (request, expected) in [
        (
            "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
            ok_head() + HEALTH_CHECK_BODY,
        ),
        // HAProxy's option httpchk speaks HTTP/1.0 unless told otherwise.
        (
            "GET /health?from=lb HTTP/1.0\r\n\r\n",
            ok_head() + HEALTH_CHECK_BODY,
        ),
        ("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n", ok_head()),
    ] {
        // `raw_request` reads until the server closes the connection.
        let (answer, _) = clients.run(raw_request(addr, request.as_bytes()));
        assert_eq!(answer.text, expected, "{request:?}");
    }
    wait_until("the health checks' sockets are closed", || {
        server.open_sockets() == 0
    });
    // The next event is the one of the next client: the health checks made none.
    let (answer, local) = clients.run(raw_request(addr, b"GET /other HTTP/1.1\r\n\r\n"));
    assert_eq!(answer.status, 400);
    handshake_failed(&mut server, Some(local));
    assert_eq!(server.silent_connections(), 0);
    assert_eq!(server.peers().count(), 0);
}

#[test]
fn on_wss_the_health_check_speaks_https() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let mut server = start_with(|config| {
        config.tls = Some(pki.server_tls(&leaf));
        config.request_policy.health_check = HealthCheckPath::parse("/health").unwrap();
    });
    let addr = server.local_addr();
    let answer = clients.run(async {
        let mut tls = tls_connect(addr, pki.client(), "localhost").await.unwrap();
        tls.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = tls.read_to_end(&mut answer).await;
        String::from_utf8(answer).unwrap()
    });
    assert_eq!(answer, ok_head() + HEALTH_CHECK_BODY);
    wait_until("the health check's socket is closed", || {
        server.open_sockets() == 0
    });
    no_event(&mut server, Duration::from_millis(200));
}

#[test]
fn an_upgrade_of_the_health_path_still_upgrades() {
    let clients = Clients::new();
    let mut server = health_checked();
    let _ws = try_connect(&clients, request(&server, "/health", &[])).unwrap();
    let (id, _) = connected(&mut server);
    assert_eq!(server.peer(id).unwrap().request().path(), "/health");
    // And a raw one of the same path: the 101.
    let upgrade = UPGRADE_HEAD.replace("GET /chat", "GET /health") + "\r\n";
    let addr = server.local_addr();
    let text = clients.run(async {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(upgrade.as_bytes()).await.unwrap();
        common::hostile::read_response_head(&mut tcp).await
    });
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text}"
    );
}

#[test]
fn without_a_health_check_path_the_same_request_is_a_failed_handshake() {
    let clients = Clients::new();
    let mut server = start();
    let addr = server.local_addr();
    let (answer, local) = clients.run(raw_request(addr, b"GET /health HTTP/1.1\r\n\r\n"));
    assert_eq!(answer.status, 400);
    let reason = handshake_failed(&mut server, Some(local));
    assert!(
        reason.starts_with("invalid WebSocket handshake"),
        "{reason}"
    );
}

#[test]
fn a_full_server_answers_a_health_check_503() {
    let clients = Clients::new();
    let mut server = start_with(|config| {
        config.max_connections = Some(1);
        config.request_policy.health_check = HealthCheckPath::parse("/health").unwrap();
    });
    let _ws = clients.connect(server.local_addr());
    connected(&mut server);
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    let (answer, _) = clients.run(raw_request(server.local_addr(), request));
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert!(answer.text.contains("\r\nRetry-After: "), "{}", answer.text);
    // Refused at the accept, before the request is read: the full server's warning.
    match event(&mut server) {
        ServerEvent::HandshakeFailed { reason, .. } => {
            assert!(reason.contains("max_connections (1)"), "{reason}")
        }
        other => panic!("expected the full server's warning, got {other:?}"),
    }
}
