//! Ending connections: close handshakes started by either side, invalid closes, the close
//! timeout, clients that vanish, and stopping the server.

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use gdws_engine::{CloseError, Limits, SendError, ServerConfig, ServerEvent, STOP_GRACE};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    }
}

/// A client closes with `sent`: the server must report `CloseRequest{code, reason}` then a clean
/// `Disconnected`, and the client must get the close reply.
fn check_client_close(sent: Option<CloseFrame>, code: u16, reason: &str) {
    let clients = Clients::new();
    let mut server = start();
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    clients.run(ws.close(sent.clone())).unwrap();
    assert_eq!(
        event(&mut server),
        ServerEvent::CloseRequest {
            id,
            code,
            reason: reason.to_owned()
        }
    );
    assert!(
        disconnected(&mut server, id),
        "a completed handshake is clean"
    );
    assert!(server.peer(id).is_none());
    // The reply echoes the client's frame (RFC 6455 5.5.1), then the server ends the stream.
    assert_eq!(clients.run(recv_close(&mut ws)), sent);
    server.stop();
}

#[test]
fn a_client_close_with_code_and_reason() {
    check_client_close(Some(close_frame(4000, "done")), 4000, "done");
    check_client_close(Some(close_frame(1000, "")), 1000, "");
}

#[test]
fn a_trailing_nul_in_the_client_reason_is_stripped_once() {
    // Stock Godot 3 clients end their reasons with a NUL byte.
    check_client_close(Some(close_frame(1001, "bye\0")), 1001, "bye");
    check_client_close(Some(close_frame(1001, "x\0\0")), 1001, "x\0");
}

#[test]
fn a_client_close_without_status_reports_code_0() {
    check_client_close(None, 0, "");
}

#[test]
fn a_server_close_reaches_the_client_and_ends_cleanly() {
    let clients = Clients::new();
    let mut server = start();
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    // Unread input at close time is dropped.
    clients.run(ws.send(Message::text("unread"))).unwrap();
    assert_eq!(event(&mut server), ServerEvent::Message { id });
    assert_eq!(server.peer(id).unwrap().available_packets(), 1);

    server.peer_mut(id).unwrap().close(4001, "bye").unwrap();
    let peer = server.peer_mut(id).expect("the peer stays while closing");
    assert!(!peer.is_open());
    assert_eq!(peer.available_packets(), 0);
    assert_eq!(peer.get_packet(), None);
    assert_eq!(peer.put_packet(text("late")), Err(SendError::NotConnected));
    assert_eq!(peer.close(1000, ""), Err(CloseError::NotConnected));

    // The client has not answered yet: the peer stays, nothing happens.
    no_event(&mut server, Duration::from_millis(200));
    assert!(server.peer(id).is_some());

    // Input that crossed the close on the wire is dropped too.
    clients.run(ws.send(Message::text("crossing"))).unwrap();
    let frame = clients.run(recv_close(&mut ws)).expect("a close status");
    assert_eq!(frame.code, CloseCode::from(4001));
    assert_eq!(frame.reason.as_str(), "bye", "exactly the reason, no NUL");

    // No CloseRequest for the client's reply, no Message for "crossing".
    assert!(
        disconnected(&mut server, id),
        "a completed handshake is clean"
    );
    assert!(server.peer(id).is_none());
    server.stop();
}

#[test]
fn invalid_closes_are_refused_and_send_nothing() {
    let clients = Clients::new();
    let mut server = start();
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);
    let peer = server.peer_mut(id).unwrap();

    for code in [1005, 1006, 999, 5000, 0, -1] {
        assert_eq!(peer.close(code, ""), Err(CloseError::InvalidCode(code)));
    }
    let long = "r".repeat(124);
    assert_eq!(peer.close(1000, &long), Err(CloseError::ReasonTooLong(124)));
    // Bytes count, not characters: 62 two-byte characters are 124 bytes.
    let accents = "é".repeat(62);
    assert_eq!(
        peer.close(1000, &accents),
        Err(CloseError::ReasonTooLong(124))
    );
    assert!(peer.is_open());

    // Nothing was sent: the next thing the client gets is this message.
    peer.put_packet(text("still open")).unwrap();
    assert_eq!(clients.run(recv(&mut ws)), Message::text("still open"));

    // 123 bytes is allowed and arrives whole.
    let longest = "é".repeat(61) + "x";
    assert_eq!(longest.len(), 123);
    server.peer_mut(id).unwrap().close(3000, &longest).unwrap();
    let frame = clients.run(recv_close(&mut ws)).unwrap();
    assert_eq!(frame.code, CloseCode::from(3000));
    assert_eq!(frame.reason.as_str(), longest);
    assert!(disconnected(&mut server, id));
    server.stop();
}

/// A bare socket that reads nothing and answers nothing is sent a close: the server drops it when
/// `config`'s close_timeout runs out, after sending the close frame.
fn check_close_never_answered(config: impl FnOnce(&mut ServerConfig)) {
    let clients = Clients::new();
    let mut server = start_with(config);
    let timeout = server.config().close_timeout;
    let mut tcp = clients.run(raw_ws(server.local_addr()));
    let (id, _) = connected(&mut server);

    // Before the close, so before the connection's clock starts.
    let started = Instant::now();
    server.peer_mut(id).unwrap().close(1000, "").unwrap();
    // The wait for the event must outlast twice the timeout, to tell a late drop from none.
    let ended = server
        .wait_event(2 * timeout + T)
        .expect("the connection ends");
    let elapsed = started.elapsed();
    assert_eq!(
        ended,
        ServerEvent::Disconnected {
            id,
            was_clean: false
        }
    );
    assert_ended_at_timeout(elapsed, timeout);
    // The close frame was sent, then the connection ended.
    assert_eq!(
        clients.run(read_close_frame(&mut tcp)),
        (1000, String::new())
    );
    clients.run(read_until_closed(&mut tcp));
    server.stop();
}

#[test]
fn a_client_that_never_answers_a_close_is_dropped_at_the_close_timeout() {
    check_close_never_answered(|config| config.close_timeout = Duration::from_secs(1));
}

#[test]
fn the_default_close_timeout_is_3_s_and_bounds_a_close_never_answered() {
    let default = ServerConfig::new(0).close_timeout;
    assert_eq!(default, Duration::from_secs(3), "README's 3 s bound");
    check_close_never_answered(|_| {});
}

#[test]
fn a_client_that_vanishes_is_an_unclean_disconnect() {
    let clients = Clients::new();
    let mut server = start();

    // Its socket closed without a close frame (FIN).
    let ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);
    drop(ws);
    assert!(!disconnected(&mut server, id), "no CloseRequest before it");

    // Its socket reset (RST), with a message half written.
    let mut tcp = clients.run(raw_ws(server.local_addr()));
    let (id, _) = connected(&mut server);
    clients.run(async {
        let half = client_frame(true, 0x1, b"never finished");
        tcp.write_all(&half[..8]).await.unwrap();
    });
    socket2::SockRef::from(&tcp)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(tcp);
    assert!(!disconnected(&mut server, id), "no CloseRequest before it");
    assert_eq!(server.next_event(), None);
    server.stop();
}

#[test]
fn stop_closes_every_client_with_1001_promptly() {
    let clients = Clients::new();
    let mut server = start();
    let addr = server.local_addr();
    let mut sockets: Vec<Ws> = (0..3).map(|_| clients.connect(addr)).collect();
    for _ in 0..3 {
        connected(&mut server);
    }
    // A handshake under way, and a peer the game has not heard of yet.
    let mut pending = clients.run(TcpStream::connect(addr)).unwrap();
    sockets.push(clients.connect(addr));

    stop_within_bound(server);

    for mut ws in sockets {
        let frame = clients.run(recv_close(&mut ws)).expect("a close status");
        assert_eq!(frame.code, CloseCode::Away);
    }
    clients.run(read_until_closed(&mut pending));
    // The listener is gone.
    assert!(!clients.run(can_connect(addr)));
}

#[test]
fn stop_returns_promptly_with_a_client_that_does_not_read() {
    let clients = Clients::new();
    let mut server = start_with(|config| {
        config.limits = Limits {
            out_bytes: plug_size() + (1 << 20),
            ..Limits::default()
        }
    });
    let mut tcp = stalled_client(&clients, &server).into_inner();
    let (id, _) = connected(&mut server);
    // Plug the sockets and fill the queue: the close frame cannot get out.
    fill_queue(&server, id, 64 * 1024);
    assert!(server.peer(id).unwrap().buffered_amount() > plug_size());

    // Its close frame cannot get out before its close timeout (3 s), past STOP_GRACE: stop()
    // waits the whole grace for it, then lets it go.
    assert!(server.config().close_timeout > STOP_BOUND);
    let elapsed = stop_within_bound(server);
    assert!(
        elapsed >= STOP_GRACE,
        "stop() did not wait its grace: {elapsed:?}"
    );
    // The client reads what made it out, then sees the connection end.
    clients.run(read_until_closed(&mut tcp));
}

#[test]
fn dropping_the_server_stops_it_too() {
    let clients = Clients::new();
    let mut server = start();
    let addr = server.local_addr();
    let mut ws = clients.connect(addr);
    connected(&mut server);
    drop(server);
    let frame = clients.run(recv_close(&mut ws)).expect("a close status");
    assert_eq!(frame.code, CloseCode::Away);
    assert!(!clients.run(can_connect(addr)));
}
