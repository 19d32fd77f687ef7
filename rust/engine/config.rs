//! What a server is told before it listens: address, subprotocols, timeouts and per-peer limits.

use std::net::IpAddr;
use std::time::Duration;

use super::tls::TlsConfig;

/// Where the server listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindAddress {
    /// Every interface: an IPv6 socket that also takes IPv4 (`"*"` in Godot), or IPv4 alone
    /// where the machine has no IPv6.
    Any,
    /// One address, and only its family.
    Ip(IpAddr),
}

impl BindAddress {
    /// Parses Godot's `bind_ip`: `"*"` or an IPv4/IPv6 address. `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        if text == "*" {
            return Some(Self::Any);
        }
        text.parse().ok().map(Self::Ip)
    }
}

/// Per-peer buffer limits, in bytes and messages, each way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest inbound message, and most unread bytes held for one peer. Default 64 KiB.
    pub in_bytes: usize,
    /// Most unread messages held for one peer. Default 1024.
    pub in_packets: usize,
    /// Most bytes queued for sending to one peer. Default 64 KiB.
    pub out_bytes: usize,
    /// Most messages queued for sending to one peer. Default 1024.
    pub out_packets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            in_bytes: 64 * 1024,
            in_packets: 1024,
            out_bytes: 64 * 1024,
            out_packets: 1024,
        }
    }
}

impl Limits {
    /// Godot's `set_buffers(in_kb, in_packets, out_kb, out_packets)`: like the stock class, each
    /// value is rounded up to a power of two. `None` when a value is not positive.
    pub fn from_godot(in_kb: i64, in_packets: i64, out_kb: i64, out_packets: i64) -> Option<Self> {
        let round = |value: i64| -> Option<usize> {
            let value = usize::try_from(value).ok().filter(|v| *v > 0)?;
            value.checked_next_power_of_two()
        };
        Some(Self {
            in_bytes: round(in_kb)?.checked_mul(1024)?,
            in_packets: round(in_packets)?,
            out_bytes: round(out_kb)?.checked_mul(1024)?,
            out_packets: round(out_packets)?,
        })
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
    /// Speak Godot's high-level multiplayer protocol (`gd_mp_api`): announce joins and leaves,
    /// relay client-to-client packets, hand the game only what is addressed to the server.
    pub multiplayer: bool,
    /// Serve wss:// with this certificate and key; `None` serves plain ws://.
    pub tls: Option<TlsConfig>,
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
            multiplayer: false,
            tls: None,
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
        assert_eq!(BindAddress::parse("localhost"), None);
        assert_eq!(BindAddress::parse("300.1.1.1"), None);
    }

    #[test]
    fn godot_buffers_round_up_to_powers_of_two() {
        let limits = Limits::from_godot(100, 1000, 64, 3).unwrap();
        assert_eq!(limits.in_bytes, 128 * 1024);
        assert_eq!(limits.in_packets, 1024);
        assert_eq!(limits.out_bytes, 64 * 1024);
        assert_eq!(limits.out_packets, 4);
        assert_eq!(Limits::from_godot(0, 1, 1, 1), None);
        assert_eq!(Limits::from_godot(1, 1, -4, 1), None);
    }
}
