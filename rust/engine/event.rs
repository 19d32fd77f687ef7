//! What the network threads tell the main thread, in order per peer.

use std::net::SocketAddr;

use super::peer::{Packet, Peer, PeerId};

#[derive(Debug)]
pub(crate) enum Event {
    /// The handshake finished; the main thread takes ownership of the peer's view.
    Connected(Peer),
    Message {
        id: PeerId,
        packet: Packet,
    },
    /// The client started the close handshake (code 0 when its frame had no status).
    CloseRequest {
        id: PeerId,
        code: u16,
        reason: String,
    },
    /// Last event of a peer.
    Disconnected {
        id: PeerId,
        was_clean: bool,
    },
    /// A peer misbehaved (rate-limited per peer); the game may want to log it.
    Warning {
        id: PeerId,
        message: String,
    },
    /// A connection that never became a peer.
    HandshakeFailed {
        address: SocketAddr,
        reason: String,
    },
}
