//! What a server is told before it listens: address, subprotocols, timeouts and per-peer limits.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use crate::proto::limits::Limits;
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
}

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
