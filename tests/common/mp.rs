//! Multiplayer mode on the wire for the engine tests: the packet format spoken by hand (a
//! 9-byte header: type u8, from i32 LE, to i32 LE; then the payload), a server in multiplayer
//! mode, clients that check every join they see, and the fence that proves an absence of input.
//!
//! A client's absence of input is checked with a fence: once everything under test is on its
//! way, the server sends a fence packet to every peer; each client reads up to the fence and
//! must have received exactly the expected packets before it.

use gdws_engine::{Limits, PeerId, Server, ServerEvent};
use tokio_tungstenite::tungstenite::Message;

use super::*;

pub const DATA: u8 = 0;
pub const SYS_ADD: u8 = 1;
pub const SYS_DEL: u8 = 2;
pub const SYS_ID: u8 = 3;
/// The server's peer id.
pub const SERVER: PeerId = 1;
pub const FENCE: &[u8] = b"fence";

// ---- wire format ----

pub fn mp_packet(kind: u8, from: PeerId, to: PeerId, payload: &[u8]) -> Vec<u8> {
    let mut packet = vec![kind];
    packet.extend(from.to_le_bytes());
    packet.extend(to.to_le_bytes());
    packet.extend_from_slice(payload);
    packet
}

/// A game packet.
pub fn data(from: PeerId, to: PeerId, payload: &[u8]) -> Vec<u8> {
    mp_packet(DATA, from, to, payload)
}

/// A system message as the server sends it: 13 bytes, from = 1, to = 0, then the id.
pub fn sys(kind: u8, id: PeerId) -> Vec<u8> {
    mp_packet(kind, SERVER, 0, &id.to_le_bytes())
}

/// An id no peer in `taken` has (nor the server's 1).
pub fn unused_id(taken: &[PeerId]) -> PeerId {
    (2..).find(|id| !taken.contains(id)).unwrap()
}

// ---- server side ----

pub fn start_mp() -> Server {
    start_mp_with(Limits::default())
}

pub fn start_mp_with(limits: Limits) -> Server {
    start_with(|config| {
        config.multiplayer = true;
        config.limits = limits;
    })
}

/// The next event must be `Message` for `from`, and the packet it filed for the server must be
/// `payload` (header removed) from `from`.
#[track_caller]
pub fn server_gets(server: &mut Server, from: PeerId, payload: &[u8]) {
    assert_eq!(event(server), ServerEvent::Message { id: from });
    assert_eq!(server.multiplayer_packet_peer(), Some(from));
    let (sender, got) = server
        .take_multiplayer_packet()
        .expect("a packet was filed");
    assert_eq!((sender, &got[..]), (from, payload));
}

/// The next event must be a `Warning` about `id`: returns its message.
#[track_caller]
pub fn warning(server: &mut Server, id: PeerId) -> String {
    match event(server) {
        ServerEvent::Warning { id: got, message } if got == id => {
            assert!(!message.is_empty());
            message
        }
        other => panic!("expected a Warning about {id}, got {other:?}"),
    }
}

// ---- client side ----

pub struct Client {
    pub ws: Ws,
    pub id: PeerId,
}

/// The next message, which must be binary.
pub async fn recv_packet(ws: &mut Ws) -> Vec<u8> {
    match recv(ws).await {
        Message::Binary(data) => data.to_vec(),
        other => panic!("expected a binary message, got {other:?}"),
    }
}

pub fn send(clients: &Clients, client: &mut Client, packets: impl IntoIterator<Item = Vec<u8>>) {
    clients.run(send_all(
        &mut client.ws,
        packets.into_iter().map(Message::binary),
    ));
}

/// Connects a client and checks the join on every side: the server's `Connected`, then the new
/// client's SYS_ID(new), SYS_ADD(1) and SYS_ADD(X) for each of `existing` in ascending order,
/// and SYS_ADD(new) for each of `existing`.
pub fn join(clients: &Clients, server: &mut Server, existing: &mut [Client]) -> Client {
    let ws = clients.connect(server.local_addr());
    join_with(clients, server, existing, ws)
}

pub fn join_with(
    clients: &Clients,
    server: &mut Server,
    existing: &mut [Client],
    ws: Ws,
) -> Client {
    let mut client = Client {
        ws,
        id: connected(server).0,
    };
    let id = client.id;
    let mut others: Vec<PeerId> = existing.iter().map(|c| c.id).collect();
    others.sort_unstable();
    clients.run(async {
        assert_eq!(recv_packet(&mut client.ws).await, sys(SYS_ID, id));
        assert_eq!(recv_packet(&mut client.ws).await, sys(SYS_ADD, SERVER));
        for other in others {
            assert_eq!(recv_packet(&mut client.ws).await, sys(SYS_ADD, other));
        }
        for other in existing.iter_mut() {
            assert_eq!(recv_packet(&mut other.ws).await, sys(SYS_ADD, id));
        }
    });
    client
}

pub fn join_many(clients: &Clients, server: &mut Server, count: usize) -> Vec<Client> {
    let mut all = Vec::new();
    for _ in 0..count {
        let client = join(clients, server, &mut all);
        all.push(client);
    }
    all
}

/// Sends a fence from the server to every peer; returns, for each of `all`, the packets it
/// received before the fence.
pub fn fence(clients: &Clients, server: &Server, all: &mut [Client]) -> Vec<Vec<Vec<u8>>> {
    assert_eq!(server.send_multiplayer(0, FENCE), vec![]);
    let fence = data(SERVER, 0, FENCE);
    all.iter_mut()
        .map(|client| {
            clients.run(async {
                let mut got = Vec::new();
                loop {
                    let packet = recv_packet(&mut client.ws).await;
                    if packet == fence {
                        return got;
                    }
                    got.push(packet);
                }
            })
        })
        .collect()
}
