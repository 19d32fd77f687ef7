//! A tokio WebSocket server with events out and commands in. It knows nothing of Godot: the
//! gdws library drives it from Godot's main thread through [`Server`].
//!
//! Two rooms: [`proto`] is the protocol as pure code on bytes (no socket, no clock), `runtime`
//! runs it on tokio (the listener, one task per connection, the per-peer queues and the
//! main thread's handle). The files beside them are the vocabulary both share.

mod config;
mod error;
mod event;
mod packet;
pub mod proto;
mod runtime;
mod tls;

pub use config::{BindAddress, ServerConfig, MIN_HEARTBEAT_INTERVAL, MIN_REST_AFTER, REST_AFTER};
pub use error::{CloseError, ListenError, SendError, VerifyError};
pub use event::ServerEvent;
pub use packet::{Packet, PeerId, PeerMap};
pub use proto::limits::{Limits, MAX_BUFFER_BYTES};
pub use proto::policy::{ExtraHeaders, HealthCheckPath, Origin, RequestPolicy, HEALTH_CHECK_BODY};
pub use proto::request::ClientRequest;
pub use proto::subprotocol::choose_protocol;
pub use proto::trusted_proxies::{IpRange, TrustedProxies};
pub use runtime::accept_error::ACCEPT_BACKOFF;
pub use runtime::admission::{
    automatic_max_connections, descriptor_reserve, DESCRIPTOR_RESERVE_MIN, MAX_DRAINING_REFUSALS,
    RETRY_AFTER_SECONDS,
};
pub use runtime::connection::OVERFLOW_REASON;
pub use runtime::handshake::{tls_handshake_slots, REFUSAL_DRAIN_TIME, TLS_HANDSHAKES_PER_CORE};
pub use runtime::listener::{
    BACKLOG, TCP_KEEPALIVE_IDLE, TCP_KEEPALIVE_INTERVAL, TCP_KEEPALIVE_RETRIES,
};
pub use runtime::peer::Peer;
pub use runtime::queue::SYSTEM_RESERVE_PACKETS;
pub use runtime::server::{HeldWakes, Server, STOP_GRACE};
pub use runtime::verification::{MAX_REJECT_REASON_BYTES, REJECT_STATUSES};
pub use runtime::warnings::{WarningBudget, WARNING_INTERVAL};
pub use tls::{Pem, TlsConfig, TlsError, MAX_PEM_BYTES};
