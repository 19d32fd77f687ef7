//! What a server is told before it listens: address, subprotocols, timeouts and per-peer limits.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::proto::limits::Limits;
use crate::proto::policy::RequestPolicy;
use crate::proto::trusted_proxies::TrustedProxies;
use crate::runtime::warnings::WarningBudget;
use crate::tls::TlsConfig;

/// Where the server listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindAddress {
    /// Every interface: an IPv6 socket that also takes IPv4 (`"*"`), or IPv4 alone
    /// where the machine has no IPv6.
    Any,
    /// One address, and only its family.
    Ip(IpAddr),
}

impl BindAddress {
    /// Parses `"*"` (every interface) or an IPv4/IPv6 address. `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::Any);
        }
        text.parse().ok().map(Self::Ip)
    }
}

/// `"*"` for every interface, else the address: what `parse` reads.
impl fmt::Display for BindAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("*"),
            Self::Ip(ip) => ip.fmt(f),
        }
    }
}

/// Everything `Server::listen` needs.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub bind: BindAddress,
    /// 0 asks the system for a free port (see `Server::local_addr`).
    pub port: u16,
    /// Subprotocols the server accepts, in no particular order; empty for none.
    pub protocols: Vec<String>,
    /// From TCP accept to the end of the HTTP upgrade, TLS handshake included. Default 3 s.
    pub handshake_timeout: Duration,
    /// How long a close handshake may take before the connection is dropped. Default 3 s.
    pub close_timeout: Duration,
    pub limits: Limits,
    /// How many warnings and failed handshakes reach the game, all peers together. Default
    /// `WarningBudget::DEFAULT`.
    pub warnings: WarningBudget,
    /// Speak Godot's high-level multiplayer protocol (`proto::multiplayer`): announce joins and
    /// leaves, relay client-to-client packets, hand the game only what is addressed to the
    /// server.
    pub multiplayer: bool,
    /// Serve wss:// with this certificate and key; `None` serves plain ws://.
    pub tls: Option<TlsConfig>,
    /// At most this many connections at once, counted from the TCP accept (handshakes hold
    /// descriptors too) until the socket is closed; one more gets HTTP 503. `None` (the
    /// default): the process's soft descriptor limit at `listen`, less a reserve for the game
    /// (`automatic_max_connections`).
    pub max_connections: Option<usize>,
    /// At most this many connections at once from one IP address; 0 (the default): no limit.
    pub max_connections_per_ip: usize,
    /// The handshake's extra 101 headers, allowed origins and health check; the default is the
    /// stock server's (none, any, none).
    pub request_policy: RequestPolicy,
    /// Hold each valid upgrade request before its 101 until the game answers the
    /// `ServerEvent::VerifyRequest` with `Server::accept_client` or `reject_client`; no answer
    /// within `handshake_timeout` of the accept is a 503. Default false: every valid request is
    /// upgraded at once.
    pub verify_clients: bool,
    /// Whose PROXY protocol header and `X-Forwarded-For`/`Forwarded`/`X-Real-IP` name the
    /// client (`proto::forwarded`); empty (the default): nobody's, every peer is its TCP source.
    /// `max_connections_per_ip` counts TCP sources: behind a proxy, the proxy.
    pub trusted_proxies: TrustedProxies,
    /// Ping every open peer this often, and drop (uncleanly) a peer from which nothing at all
    /// has arrived for two intervals (see `runtime::heartbeat`). `Duration::ZERO` (the
    /// default): off. A shorter one than `MIN_HEARTBEAT_INTERVAL` is raised to it.
    pub heartbeat_interval: Duration,
    /// Hold every message for `Server::take_messages`, in arrival order across peers, instead
    /// of announcing each one with `ServerEvent::Message` (one event, so one signal, per message
    /// is most of what a message costs the game's main thread). No effect with `multiplayer`,
    /// whose packets are the server's already. Default false.
    pub batch_receive: bool,
    /// A connection with no message in or out for this long (up to twice this) lets go of its
    /// WebSocket read and write buffers until its next message (see `runtime::socket`). Default
    /// `REST_AFTER`; zero checks every `MIN_REST_AFTER`.
    pub rest_after: Duration,
}

/// How long a connection is idle, at least, before it lets go of its buffers. Letting go
/// after every message makes a busy connection make them anew for each one (a version that did
/// measured bulk echo 8 % slower, reallocating 64 KB buffers); idle for a second, it is idle.
pub const REST_AFTER: Duration = Duration::from_secs(1);

/// The shortest interval of the rest tick: it walks every connection.
pub const MIN_REST_AFTER: Duration = Duration::from_millis(1);

/// The shortest heartbeat interval. A peer is dropped after two intervals of silence, and one
/// lost TCP segment delays its pong by Linux's minimum retransmission timeout (200 ms): at
/// 0.25 s, the 0.5 s window still lets a healthy peer's retransmitted pong arrive. Shorter
/// intervals would also wake every idle peer more than four times a second.
pub const MIN_HEARTBEAT_INTERVAL: Duration = Duration::from_millis(250);

impl ServerConfig {
    pub fn new(port: u16) -> Self {
        Self {
            bind: BindAddress::Any,
            port,
            protocols: Vec::new(),
            handshake_timeout: Duration::from_secs(3),
            close_timeout: Duration::from_secs(3),
            limits: Limits::default(),
            warnings: WarningBudget::DEFAULT,
            multiplayer: false,
            tls: None,
            max_connections: None,
            max_connections_per_ip: 0,
            request_policy: RequestPolicy::default(),
            verify_clients: false,
            trusted_proxies: TrustedProxies::default(),
            heartbeat_interval: Duration::ZERO,
            batch_receive: false,
            rest_after: REST_AFTER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_address_parses_star_and_both_families() {
        assert_eq!(BindAddress::parse("*"), Some(BindAddress::Any));
        assert_eq!(
            BindAddress::parse("127.0.0.1"),
            Some(BindAddress::Ip("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            BindAddress::parse("::1"),
            Some(BindAddress::Ip("::1".parse().unwrap()))
        );
        for text in ["*", "127.0.0.1", "::1", "fe80::1"] {
            assert_eq!(BindAddress::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(BindAddress::parse("localhost"), None);
        assert_eq!(BindAddress::parse("300.1.1.1"), None);
    }
}
