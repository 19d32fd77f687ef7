//! Verification before the upgrade (`verify_clients`): a held request is answered by the game
//! with an accept or a rejection the client sees, in the same poll or a later one, and times
//! out with a 503; a client that leaves while held, or a server that stops, leaves nothing
//! behind; in multiplayer mode a held client is no peer until accepted.

mod common;

use std::time::{Duration, Instant};

use common::mp::{self, data, recv_packet, Client};
use common::tls::{connect_wss, tls_connect, KeyKind, Pki};
use common::*;
use gdws_engine::{
    ClientRequest, PeerId, Server, ServerEvent, VerifyError, MAX_REJECT_REASON_BYTES,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

type Handshake = JoinHandle<Result<(Ws, Response), WsError>>;

fn verifying_server() -> Server {
    start_with(|config| config.verify_clients = true)
}

/// Starts a client's handshake to `path` (with an `X-Token: secret` header) on `clients`;
/// it finishes once the server answers.
fn start_client(clients: &Clients, server: &Server, path: &str) -> Handshake {
    let url = format!("ws://{}{path}", server.local_addr());
    let mut request = url.into_client_request().unwrap();
    let token = HeaderValue::from_static("secret");
    request.headers_mut().insert("X-Token", token);
    clients.spawn(async move {
        let tcp = TcpStream::connect(request.uri().authority().unwrap().as_str())
            .await
            .unwrap();
        tokio_tungstenite::client_async(request, tcp).await
    })
}

/// The next event must be a `VerifyRequest`: returns its id and request.
#[track_caller]
fn verify_request(server: &mut Server) -> (PeerId, ClientRequest) {
    match event(server) {
        ServerEvent::VerifyRequest { id, request } => (id, request),
        other => panic!("expected VerifyRequest, got {other:?}"),
    }
}

/// The HTTP error a refused client saw: its status and body.
#[track_caller]
fn refusal(clients: &Clients, handshake: Handshake) -> (StatusCode, String) {
    match clients.run(handshake).unwrap() {
        Err(WsError::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            (
                response.status(),
                String::from_utf8_lossy(body).into_owned(),
            )
        }
        other => panic!("expected an HTTP error, got {:?}", other.map(|_| ())),
    }
}

/// Accepts the request held as `id`: the peer connects as `id` and the client's handshake
/// succeeds.
fn admit(clients: &Clients, server: &mut Server, id: PeerId, handshake: Handshake) -> Ws {
    assert_eq!(server.accept_client(id), Ok(()));
    assert_eq!(connected(server).0, id);
    clients.run(handshake).unwrap().unwrap().0
}

/// Sends `text` from `ws` and expects the server to file it for `id`; echoes it back.
fn echo<S: AsyncRead + AsyncWrite + Unpin>(
    clients: &Clients,
    server: &mut Server,
    ws: &mut WebSocketStream<S>,
    id: PeerId,
    text: &str,
) {
    clients.run(send_all(ws, [Message::text(text)]));
    let packet = message(server, id);
    assert_eq!(packet.data.as_ref(), text.as_bytes());
    server.peer(id).unwrap().put_packet(packet).unwrap();
    assert_eq!(clients.run(recv(ws)), Message::text(text));
}

#[test]
fn an_accepted_client_becomes_the_peer_the_request_named() {
    let clients = Clients::new();
    let mut server = verifying_server();
    let handshake = start_client(&clients, &server, "/play?room=3&token=abc");
    let (id, request) = verify_request(&mut server);
    assert_eq!(request.path(), "/play?room=3&token=abc");
    assert_eq!(request.header("x-token"), Some("secret"));
    // Held: no peer yet, and the client has no answer.
    assert!(server.peer(id).is_none());
    assert_eq!(server.open_connections(), 0);
    assert!(!handshake.is_finished());

    assert_eq!(server.accept_client(id), Ok(()));
    assert_eq!(connected(&mut server).0, id);
    assert_eq!(server.peer(id).unwrap().request(), &request);
    let (mut ws, response) = clients.run(handshake).unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    echo(&clients, &mut server, &mut ws, id, "in");
    assert_eq!(server.accept_client(id), Err(VerifyError::NotWaiting(id)));
    assert_eq!(
        server.reject_client(id, 403, ""),
        Err(VerifyError::NotWaiting(id))
    );
    server.stop();
}

#[test]
fn a_rejected_client_sees_the_status_and_reason_and_the_game_hears_nothing_more() {
    let clients = Clients::new();
    let mut server = verifying_server();
    for (status, reason) in [(403, ""), (401, "bad token"), (499, "custom")] {
        let handshake = start_client(&clients, &server, "/play?token=wrong");
        let (id, _) = verify_request(&mut server);
        assert_eq!(server.reject_client(id, status, reason), Ok(()));
        let (got, body) = refusal(&clients, handshake);
        assert_eq!(got.as_u16() as i64, status);
        assert_eq!(body, format!("{reason}\n"));
        assert_eq!(server.accept_client(id), Err(VerifyError::NotWaiting(id)));
        no_event(&mut server, Duration::from_millis(100));
    }
    wait_until("the refused sockets are closed", || {
        server.open_sockets() == 0
    });
    server.stop();
}

#[test]
fn a_bad_status_or_reason_is_refused_and_the_request_still_waits() {
    let clients = Clients::new();
    let mut server = verifying_server();
    let handshake = start_client(&clients, &server, "/");
    let (id, _) = verify_request(&mut server);
    for status in [101, 200, 399, 600, -403, i64::MAX] {
        let refused = server.reject_client(id, status, "");
        assert_eq!(refused, Err(VerifyError::InvalidStatus(status)));
    }
    let long = "x".repeat(MAX_REJECT_REASON_BYTES + 1);
    let refused = server.reject_client(id, 403, &long);
    assert_eq!(refused, Err(VerifyError::ReasonTooLong(long.len())));
    let unknown = (2..).find(|other| *other != id).unwrap();
    assert_eq!(
        server.accept_client(unknown),
        Err(VerifyError::NotWaiting(unknown))
    );
    let longest = "y".repeat(MAX_REJECT_REASON_BYTES);
    assert_eq!(server.reject_client(id, 400, &longest), Ok(()));
    assert_eq!(
        refusal(&clients, handshake),
        (StatusCode::BAD_REQUEST, format!("{longest}\n"))
    );
    server.stop();
}

#[test]
fn no_answer_within_the_handshake_timeout_is_a_503() {
    let clients = Clients::new();
    let timeout = Duration::from_millis(400);
    let mut server = start_with(|config| {
        config.verify_clients = true;
        config.handshake_timeout = timeout;
    });
    let started = Instant::now();
    let handshake = start_client(&clients, &server, "/");
    let (id, _) = verify_request(&mut server);
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("client_verify_request"), "{reason}");
    let Err(WsError::Http(response)) = clients.run(handshake).unwrap() else {
        panic!("expected an HTTP error");
    };
    assert_ended_at_timeout(started.elapsed(), timeout);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["Retry-After"], "5");
    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or_default());
    assert!(body.contains("in time"), "{body}");
    assert_eq!(server.accept_client(id), Err(VerifyError::NotWaiting(id)));
    wait_until("the socket is closed", || server.open_sockets() == 0);
    server.stop();
}

#[test]
fn a_request_answered_in_a_later_poll_waits_while_other_peers_exchange_messages() {
    let clients = Clients::new();
    let mut server = verifying_server();
    let handshake = start_client(&clients, &server, "/first");
    let (first, _) = verify_request(&mut server);
    let mut first_ws = admit(&clients, &mut server, first, handshake);

    let held = start_client(&clients, &server, "/second");
    let (second, request) = verify_request(&mut server);
    assert_eq!(request.path(), "/second");
    // Many polls later, the held client still waits and the peer's messages still flow.
    for round in 0..20 {
        echo(
            &clients,
            &mut server,
            &mut first_ws,
            first,
            &format!("{round}"),
        );
    }
    assert!(!held.is_finished());
    let mut second_ws = admit(&clients, &mut server, second, held);
    echo(&clients, &mut server, &mut second_ws, second, "late");
    echo(&clients, &mut server, &mut first_ws, first, "still");
    server.stop();
}

/// The raw upgrade request of a client that will leave while held.
async fn raw_upgrade(server: &Server) -> TcpStream {
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    let request = "GET /raw HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";
    tcp.write_all(request.as_bytes()).await.unwrap();
    tcp
}

#[test]
fn a_client_that_leaves_while_held_is_forgotten_and_its_id_freed() {
    let clients = Clients::new();
    let mut server = verifying_server();
    // Gone before the game heard of it: the game hears nothing.
    let tcp = clients.run(raw_upgrade(&server));
    wait_until("the request is held", || server.pending_events() == 1);
    drop(tcp);
    wait_until("the socket is closed", || server.open_sockets() == 0);
    no_event(&mut server, Duration::from_millis(100));

    // Gone after: the answers fail, and the id is free again once the game polled.
    let tcp = clients.run(raw_upgrade(&server));
    let (id, request) = verify_request(&mut server);
    assert_eq!(request.path(), "/raw");
    drop(tcp);
    wait_until("the socket is closed", || server.open_sockets() == 0);
    no_event(&mut server, Duration::from_millis(100));
    assert_eq!(server.accept_client(id), Err(VerifyError::NotWaiting(id)));
    assert_eq!(
        server.reject_client(id, 403, ""),
        Err(VerifyError::NotWaiting(id))
    );
    server.propose_peer_ids(&[id]);
    let handshake = start_client(&clients, &server, "/again");
    let (again, _) = verify_request(&mut server);
    assert_eq!(again, id, "the id of the client that left is free");
    admit(&clients, &mut server, id, handshake);
    server.stop();
}

#[test]
fn an_id_held_for_verification_is_given_to_no_other_client() {
    let clients = Clients::new();
    let mut server = verifying_server();
    let first = start_client(&clients, &server, "/");
    let (held, _) = verify_request(&mut server);
    server.propose_peer_ids(&[held]);
    let second = start_client(&clients, &server, "/");
    let (other, _) = verify_request(&mut server);
    assert_ne!(other, held);
    server.accept_client(other).unwrap();
    server.accept_client(held).unwrap();
    let mut ids = [connected(&mut server).0, connected(&mut server).0];
    ids.sort();
    let mut expected = [held, other];
    expected.sort();
    assert_eq!(ids, expected);
    clients.run(first).unwrap().unwrap();
    clients.run(second).unwrap().unwrap();
    server.stop();
}

#[test]
fn stop_refuses_held_requests_with_a_503_within_its_bound() {
    let clients = Clients::new();
    let mut server = verifying_server();
    let handshakes: Vec<_> = (0..3)
        .map(|_| start_client(&clients, &server, "/"))
        .collect();
    for _ in &handshakes {
        verify_request(&mut server);
    }
    stop_within_bound(server);
    for handshake in handshakes {
        let (status, body) = refusal(&clients, handshake);
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("stopping"), "{body}");
    }
}

#[test]
fn in_multiplayer_mode_a_held_client_joins_only_once_accepted() {
    let clients = Clients::new();
    let mut server = start_with(|config| {
        config.verify_clients = true;
        config.multiplayer = true;
    });
    let handshake = start_client(&clients, &server, "/");
    let (first_id, _) = verify_request(&mut server);
    server.accept_client(first_id).unwrap();
    let (ws, _) = clients.run(handshake).unwrap().unwrap();
    let mut first = mp::join_with(&clients, &mut server, &mut [], ws);
    assert_eq!(first.id, first_id);

    let held = start_client(&clients, &server, "/");
    let (held_id, _) = verify_request(&mut server);
    // Not a peer: the server's broadcast skips it, the first peer heard of no join, and a
    // packet for it is not relayed.
    assert_eq!(server.peers().count(), 1);
    assert!(server.peer(held_id).is_none());
    mp::send(&clients, &mut first, [data(first_id, held_id, b"early")]);
    let warning = mp::warning(&mut server, first_id);
    assert!(warning.contains("not connected"), "{warning}");
    assert_eq!(
        mp::fence(&clients, &server, std::slice::from_mut(&mut first)),
        [Vec::<Vec<u8>>::new()]
    );

    server.accept_client(held_id).unwrap();
    let (ws, _) = clients.run(held).unwrap().unwrap();
    let mut others = [first];
    let second = mp::join_with(&clients, &mut server, &mut others, ws);
    assert_eq!(second.id, held_id);
    let [mut first] = others;
    mp::send(&clients, &mut first, [data(first_id, held_id, b"now")]);
    let Client { mut ws, .. } = second;
    assert_eq!(
        clients.run(recv_packet(&mut ws)),
        data(first_id, held_id, b"now")
    );
    server.stop();
}

#[test]
fn a_held_request_counts_toward_max_connections() {
    let clients = Clients::new();
    let mut server = start_with(|config| {
        config.verify_clients = true;
        config.max_connections = Some(1);
    });
    let held = start_client(&clients, &server, "/");
    let (id, _) = verify_request(&mut server);
    let (status, _) = refusal(&clients, start_client(&clients, &server, "/"));
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("max_connections"), "{reason}");
    admit(&clients, &mut server, id, held);
    server.stop();
}

#[test]
fn a_client_that_sends_before_its_answer_gets_400() {
    let clients = Clients::new();
    let mut server = verifying_server();
    let mut tcp = clients.run(raw_upgrade(&server));
    let (id, _) = verify_request(&mut server);
    let reply = clients.run(async {
        let frame = client_frame(true, 1, b"too early");
        tcp.write_all(&frame).await.unwrap();
        let mut reply = Vec::new();
        tcp.read_to_end(&mut reply).await.unwrap();
        String::from_utf8_lossy(&reply).into_owned()
    });
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    assert!(reply.contains("before the server answered"), "{reply}");
    let reason = handshake_failed(&mut server, None);
    assert!(reason.contains("before the server answered"), "{reason}");
    assert_eq!(server.accept_client(id), Err(VerifyError::NotWaiting(id)));
    server.stop();
}

#[test]
fn over_tls_a_held_client_is_accepted_refused_or_forgotten_when_it_leaves() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let mut server = start_with(|config| {
        config.verify_clients = true;
        config.tls = Some(pki.server_tls(&leaf));
    });
    let addr = server.local_addr();
    let accepted = clients.spawn(connect_wss(addr, pki.client(), "localhost"));
    let (id, _) = verify_request(&mut server);
    server.accept_client(id).unwrap();
    assert_eq!(connected(&mut server).0, id);
    let (mut wss, _) = clients.run(accepted).unwrap().unwrap();
    echo(&clients, &mut server, &mut wss, id, "over tls");

    let refused = clients.spawn(connect_wss(addr, pki.client(), "localhost"));
    let (other, _) = verify_request(&mut server);
    server.reject_client(other, 403, "no").unwrap();
    let error = clients.run(refused).unwrap().map(|_| ()).unwrap_err();
    assert!(error.contains("403"), "{error}");

    let mut tls = clients
        .run(tls_connect(addr, pki.client(), "localhost"))
        .unwrap();
    let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    clients.run(tls.write_all(request.as_bytes())).unwrap();
    let (left, _) = verify_request(&mut server);
    drop(tls);
    wait_until("the held TLS socket is closed", || {
        server.open_sockets() == 1
    });
    no_event(&mut server, Duration::from_millis(100));
    assert_eq!(
        server.accept_client(left),
        Err(VerifyError::NotWaiting(left))
    );
    echo(&clients, &mut server, &mut wss, id, "still");
    server.stop();
}
