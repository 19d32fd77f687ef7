//! Helpers for hostile clients: raw HTTP requests and their answers, the outcome of a
//! misbehaving WebSocket client, a well-behaved bystander that must keep working meanwhile, and
//! the engine's own accounting that must come back to where it was.

use std::net::SocketAddr;

use gdws_engine::{PeerId, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

use super::*;

/// A valid upgrade request head without its final empty line.
pub const UPGRADE_HEAD: &str = "GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n";

/// What the server answered a raw request: the HTTP status, and everything it sent.
pub struct HttpAnswer {
    pub status: u16,
    pub text: String,
}

/// Writes `request` on a new connection, reads until the server closes it, and parses the
/// status line. Returns the answer and the client's address (as the server reports it).
pub async fn raw_request(addr: SocketAddr, request: &[u8]) -> (HttpAnswer, SocketAddr) {
    let mut tcp = TcpStream::connect(addr).await.expect("TCP connect");
    let local = tcp.local_addr().unwrap();
    // The server may refuse before it read everything (a head over the limit).
    let _ = tcp.write_all(request).await;
    let mut received = Vec::new();
    let _ = tcp.read_to_end(&mut received).await;
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {text:?}"));
    (HttpAnswer { status, text }, local)
}

/// Reads the server's HTTP response head, byte by byte so that nothing after it is taken.
pub async fn read_response_head(tcp: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(tcp.read_u8().await.expect("the response head"));
    }
    String::from_utf8(head).expect("the response head is text")
}

/// A well-behaved client connected through a misbehaving one's visit.
pub struct Bystander {
    pub ws: Ws,
    pub id: PeerId,
    exchanged: u32,
}

impl Bystander {
    pub fn connect(server: &mut Server, clients: &Clients) -> Self {
        let ws = clients.connect(server.local_addr());
        let (id, _) = connected(server);
        Self {
            ws,
            id,
            exchanged: 0,
        }
    }

    /// One message each way, which must arrive whole and in order.
    #[track_caller]
    pub fn exchange(&mut self, server: &mut Server, clients: &Clients) {
        self.exchanged += 1;
        let up = format!("up {}", self.exchanged);
        clients.run(send_all(&mut self.ws, [Message::text(up.clone())]));
        assert_eq!(
            message(server, self.id),
            text(&up),
            "the bystander's message"
        );
        let down = format!("down {}", self.exchanged);
        let peer = server
            .peer(self.id)
            .expect("the bystander is still connected");
        peer.put_packet(text(&down)).unwrap();
        assert_eq!(clients.run(recv(&mut self.ws)), Message::text(down));
    }
}

/// What the engine holds while only the bystanders are connected: sockets, registered peers,
/// and the bystanders' queues (which the exchanges leave empty).
#[track_caller]
pub fn assert_back_to_baseline(server: &Server, bystanders: &[&Bystander]) {
    let expected = bystanders.len();
    wait_until("the misbehaving client's socket is released", || {
        server.open_sockets() == expected
    });
    assert_eq!(server.open_connections(), expected, "registered peers");
    assert_eq!(server.peers().count(), expected, "peers the game knows");
    for bystander in bystanders {
        let peer = server.peer(bystander.id).unwrap();
        wait_until("the bystander's queue is flushed", || {
            peer.buffered_amount() == 0
        });
        assert_eq!(peer.available_packets(), 0);
    }
}

/// How many times the repeated cases run: more under `GDWS_LONG=1`.
pub fn repetitions(short: usize, long: usize) -> usize {
    match std::env::var("GDWS_LONG").as_deref() {
        Ok("1") => long,
        _ => short,
    }
}
