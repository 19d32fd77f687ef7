//! What the game hears of, in the order it happened for each peer.

use std::net::SocketAddr;

use crate::packet::PeerId;
use crate::proto::request::ClientRequest;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    Connected {
        id: PeerId,
        protocol: String,
    },
    /// With `ServerConfig::verify_clients`: a valid upgrade request waits for the game's
    /// `Server::accept_client(id)` or `reject_client(id, ..)`. `id` is the one the client has
    /// as a peer once accepted; nothing more is heard of it if it is refused, times out or
    /// leaves.
    VerifyRequest {
        id: PeerId,
        request: ClientRequest,
    },
    /// A message was filed in the peer's unread queue.
    Message {
        id: PeerId,
    },
    /// The client started the close handshake (code 0 when its frame had no status).
    CloseRequest {
        id: PeerId,
        code: u16,
        reason: String,
    },
    /// Last event of a peer: it is gone from the server (after this event).
    Disconnected {
        id: PeerId,
        was_clean: bool,
    },
    /// A peer misbehaved (rate-limited per peer); the game may want to log it.
    Warning {
        id: PeerId,
        message: String,
    },
    /// A connection failed before becoming a peer.
    HandshakeFailed {
        address: SocketAddr,
        reason: String,
    },
    /// This many warnings and failed handshakes were held back by the server-wide bound
    /// (`ServerConfig::warnings`) since the last such notice. It comes once the events before
    /// it are taken, at most once per `WARNING_INTERVAL`.
    WarningsSuppressed {
        count: u64,
    },
}

impl ServerEvent {
    /// Whether the server-wide bound on warnings applies to this event: warnings and failed
    /// handshakes. The others are never held back.
    pub fn is_warning(&self) -> bool {
        matches!(self, Self::Warning { .. } | Self::HandshakeFailed { .. })
    }
}
