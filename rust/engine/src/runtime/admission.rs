//! Who may connect: at most `max_connections` sockets at once, and `max_connections_per_ip`
//! from one address. A client past a limit gets an HTTP 503 with `Retry-After` (a TLS alert
//! on wss://, see `answer_refusal`), and the server warns once per `WARNING_INTERVAL`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::context::ServerContext;
use super::handshake::{first_byte, refuse, REFUSAL_DRAIN_TIME, TLS_HANDSHAKE_RECORD};
use super::warnings::WarningLimiter;
use crate::config::ServerConfig;
use crate::event::ServerEvent;
use crate::proto::upgrade::service_unavailable;

/// Descriptors the automatic `max_connections` leaves to the rest of the process: at least
/// this many, or an eighth of the limit when that is more. They cover what the game opens
/// (resources, saves, logs, its own sockets: a headless Godot holds about 20 at start), the
/// server's own (listener, spare, runtime: under 10) and the refusals being answered
/// (`MAX_DRAINING_REFUSALS`). An eighth keeps the share growing with the limit for games that
/// raise it and open more. Under a tiny limit (256 or less) the reserve is half of it, so the
/// server still takes connections.
pub const DESCRIPTOR_RESERVE_MIN: usize = 128;

/// Refused clients answered at once, each for at most the refusal drain (500 ms); past that
/// many a refused client is closed without an answer, so a flood of refusals stays cheap.
pub const MAX_DRAINING_REFUSALS: usize = 32;

/// What the 503 tells a refused client to wait before it tries again.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// The descriptors kept for the rest of the process under a soft `RLIMIT_NOFILE` of
/// `soft_limit`: `max(DESCRIPTOR_RESERVE_MIN, soft_limit / 8)`, at most half the limit.
pub fn descriptor_reserve(soft_limit: usize) -> usize {
    DESCRIPTOR_RESERVE_MIN
        .max(soft_limit / 8)
        .min(soft_limit / 2)
}

/// The automatic `max_connections` for a soft descriptor limit (`None`: unlimited): the limit
/// less `descriptor_reserve`.
pub fn automatic_max_connections(soft_limit: Option<u64>) -> usize {
    match soft_limit.map(usize::try_from) {
        Some(Ok(limit)) => limit.saturating_sub(descriptor_reserve(limit)),
        None | Some(Err(_)) => usize::MAX,
    }
}

/// The process's soft `RLIMIT_NOFILE`; `None` when it is unlimited.
#[cfg(unix)]
fn soft_descriptor_limit() -> Option<u64> {
    use rustix::process::{getrlimit, Resource};
    getrlimit(Resource::Nofile).current
}

/// Windows has no descriptor limit to keep a reserve under: sockets are handles, which a
/// process may hold millions of. The automatic `max_connections` is no limit there.
#[cfg(windows)]
fn soft_descriptor_limit() -> Option<u64> {
    None
}

/// The limit a client ran into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    Total(usize),
    PerIp(usize),
}

/// The connection limits of one server and the count of connections per address.
pub(crate) struct Admission {
    max_connections: usize,
    /// 0: no limit (and no count is kept).
    max_per_ip: usize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl Admission {
    /// The limits of `config`; an automatic `max_connections` is read from the process's
    /// descriptor limit now.
    pub fn new(config: &ServerConfig) -> Self {
        let max_connections = config
            .max_connections
            .unwrap_or_else(|| automatic_max_connections(soft_descriptor_limit()));
        Self {
            max_connections,
            max_per_ip: config.max_connections_per_ip,
            per_ip: Mutex::default(),
        }
    }

    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Whether one more connection from `ip` fits while `open` sockets are open. Only the
    /// accept loop calls this and `enter`, so nothing comes in between.
    pub fn check(&self, ip: IpAddr, open: usize) -> Result<(), Limit> {
        if open >= self.max_connections {
            return Err(Limit::Total(self.max_connections));
        }
        if self.max_per_ip > 0
            && self.per_ip.lock().get(&ip).copied().unwrap_or(0) >= self.max_per_ip
        {
            return Err(Limit::PerIp(self.max_per_ip));
        }
        Ok(())
    }

    /// Counts a connection from `ip` (see `OpenSocket`).
    pub fn enter(&self, ip: IpAddr) {
        if self.max_per_ip > 0 {
            *self.per_ip.lock().entry(ip).or_insert(0) += 1;
        }
    }

    /// A connection from `ip` closed: its address is forgotten with its last connection.
    pub fn leave(&self, ip: IpAddr) {
        if self.max_per_ip == 0 {
            return;
        }
        let mut per_ip = self.per_ip.lock();
        if let Some(count) = per_ip.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&ip);
            }
        }
    }
}

/// The accept loop's refusals: how many are being answered, and the rate-limited warning.
#[derive(Default)]
pub(crate) struct Refusals {
    draining: Arc<AtomicUsize>,
    warnings: WarningLimiter,
}

impl Refusals {
    /// Refuses `tcp`, which ran into `limit`: answered (503 or TLS alert) in a task of its own
    /// while fewer than `MAX_DRAINING_REFUSALS` are, else closed at once.
    pub fn refuse(
        &mut self,
        tcp: TcpStream,
        address: SocketAddr,
        limit: Limit,
        context: &ServerContext,
    ) {
        if let Some(held_back) = self.warnings.allow(Instant::now()) {
            context.report(ServerEvent::HandshakeFailed {
                address,
                reason: warning(limit, address, held_back),
            });
        }
        if self.draining.load(Ordering::Acquire) >= MAX_DRAINING_REFUSALS {
            return; // Dropping `tcp` closes it.
        }
        let draining = Draining::new(&self.draining);
        let tls = context.config.tls.is_some();
        tokio::spawn(async move {
            let _draining = draining;
            answer_refusal(tcp, limit, tls).await;
        });
    }
}

fn warning(limit: Limit, address: SocketAddr, held_back: u32) -> String {
    let what = match limit {
        Limit::Total(max) => {
            format!("the server is full: max_connections ({max}) connections are open")
        }
        Limit::PerIp(max) => format!(
            "max_connections_per_ip ({max}) connections from {} are open",
            address.ip()
        ),
    };
    format!("{what}{}", since_last_warning(held_back, " refused"))
}

/// `" (N more<what> since the last warning)"`, or nothing when none was held back.
pub(crate) fn since_last_warning(held_back: u32, what: &str) -> String {
    match held_back {
        0 => String::new(),
        n => format!(" ({n} more{what} since the last warning)"),
    }
}

/// Counts one refusal being answered for as long as it lives.
struct Draining(Arc<AtomicUsize>);

impl Draining {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count.clone())
    }
}

impl Drop for Draining {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A TLS 1.0-framed fatal `internal_error` alert: the server cannot go on for a reason that is
/// not the client's (RFC 8446 6.2). TLS has no "busy" alert.
const TLS_INTERNAL_ERROR_ALERT: [u8; 7] = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x50];

/// On ws:// the 503 goes out at once, before the request is read. On wss:// no TLS work is
/// done for a refused client: a TLS client (its first byte a handshake record) gets a fatal
/// `internal_error` alert in the clear, which every TLS client reports at once; a plain HTTP
/// client gets the 503 it can read. Either way the usual refusal drain and close follow.
async fn answer_refusal(mut tcp: TcpStream, limit: Limit, tls: bool) {
    let plain = !tls
        || matches!(
            tokio::time::timeout(REFUSAL_DRAIN_TIME, first_byte(&tcp)).await,
            Ok(Ok(first)) if first != TLS_HANDSHAKE_RECORD && first.is_ascii_alphabetic()
        );
    let answer = if plain {
        service_unavailable(refusal_body(limit), RETRY_AFTER_SECONDS)
    } else {
        TLS_INTERNAL_ERROR_ALERT.to_vec()
    };
    refuse(&mut tcp, &answer).await;
}

/// The 503's body: which limit, without the numbers (a client need not know them).
fn refusal_body(limit: Limit) -> &'static str {
    match limit {
        Limit::Total(_) => "the server is full (max_connections); try again later",
        Limit::PerIp(_) => {
            "too many connections from your address (max_connections_per_ip); try again later"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_automatic_limit_leaves_an_eighth_at_least_the_minimum_at_most_half() {
        assert_eq!(automatic_max_connections(Some(1024)), 1024 - 128);
        assert_eq!(automatic_max_connections(Some(4096)), 4096 - 512);
        assert_eq!(automatic_max_connections(Some(65536)), 65536 - 8192);
        assert_eq!(automatic_max_connections(Some(256)), 256 - 128);
        assert_eq!(automatic_max_connections(Some(200)), 100);
        assert_eq!(automatic_max_connections(Some(64)), 32);
        assert_eq!(automatic_max_connections(Some(0)), 0);
        assert_eq!(automatic_max_connections(None), usize::MAX);
    }

    fn admission(max_connections: usize, max_per_ip: usize) -> Admission {
        let mut config = ServerConfig::new(0);
        config.max_connections = Some(max_connections);
        config.max_connections_per_ip = max_per_ip;
        Admission::new(&config)
    }

    #[test]
    fn the_total_limit_counts_every_open_socket() {
        let admission = admission(2, 0);
        let ip = IpAddr::from([127, 0, 0, 1]);
        assert_eq!(admission.check(ip, 0), Ok(()));
        assert_eq!(admission.check(ip, 1), Ok(()));
        assert_eq!(admission.check(ip, 2), Err(Limit::Total(2)));
    }

    #[test]
    fn the_per_ip_limit_counts_each_address_until_its_connections_leave() {
        let admission = admission(100, 2);
        let (a, b) = (IpAddr::from([127, 0, 0, 1]), IpAddr::from([127, 0, 0, 2]));
        admission.enter(a);
        admission.enter(a);
        assert_eq!(admission.check(a, 2), Err(Limit::PerIp(2)));
        assert_eq!(admission.check(b, 2), Ok(()));
        admission.leave(a);
        assert_eq!(admission.check(a, 1), Ok(()));
        admission.leave(a);
        assert!(
            admission.per_ip.lock().is_empty(),
            "forgotten with its last connection"
        );
    }

    #[test]
    fn without_a_per_ip_limit_no_address_is_kept() {
        let admission = admission(100, 0);
        let ip = IpAddr::from([127, 0, 0, 1]);
        for _ in 0..10 {
            admission.enter(ip);
        }
        assert_eq!(admission.check(ip, 10), Ok(()));
        assert!(admission.per_ip.lock().is_empty());
    }

    #[test]
    fn the_warning_names_the_limit_the_address_and_what_was_held_back() {
        let address: SocketAddr = "127.0.0.2:4000".parse().unwrap();
        assert_eq!(
            warning(Limit::Total(3), address, 0),
            "the server is full: max_connections (3) connections are open"
        );
        assert_eq!(
            warning(Limit::PerIp(1), address, 7),
            "max_connections_per_ip (1) connections from 127.0.0.2 are open (7 more refused \
             since the last warning)"
        );
    }
}
