//! What the connection tasks of one server share with each other and with the main thread's
//! handle, and the events they send it.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::Sender;
use parking_lot::RwLock;
use tokio::sync::Semaphore;

use super::admission::Admission;
use super::handshake::tls_handshake_slots;
use super::peer::Peer;
use super::queue::{Route, WakeBatch};
use super::registry::Registry;
use super::warnings::WarningGate;
use crate::config::ServerConfig;
use crate::event::ServerEvent;
use crate::packet::{Packet, PeerId};
use crate::proto::request::ClientRequest;
use crate::tls::TlsConfig;

/// What the network threads tell the main thread, in order per peer.
#[derive(Debug)]
pub(crate) enum Event {
    /// The handshake finished; the main thread takes ownership of the peer's view.
    Connected(Peer),
    Message {
        id: PeerId,
        packet: Packet,
    },
    /// A valid upgrade request is held as `id` for the game's answer (`verification`).
    VerifyRequest {
        id: PeerId,
        request: ClientRequest,
    },
    /// The request held as `id` ended without becoming a peer; once the main thread takes
    /// this, a new peer may have the id.
    HoldEnded(PeerId),
    /// An event for the game as it is (a close request, a disconnection, a warning, a failed
    /// handshake); the main thread drops those of peers it no longer knows.
    Report(ServerEvent),
}

pub(crate) struct ServerContext {
    pub config: ServerConfig,
    pub events: Sender<Event>,
    pub registry: Registry,
    pub refuse_new_connections: AtomicBool,
    /// The main thread's held wakes of connection tasks (see `WakeBatch`).
    pub wakes: Arc<WakeBatch>,
    /// Accepted sockets not yet closed: handshaking, peers, and peers closing.
    pub open_sockets: AtomicUsize,
    /// The connection limits, and the open sockets per address (see `OpenSocket`).
    pub admission: Admission,
    /// Accept calls that failed (see `Server::accept_failures`).
    pub accept_failures: AtomicUsize,
    /// Connections that closed without sending a byte (port scans, load balancers' TCP
    /// checks): counted here instead of reported.
    pub silent_connections: AtomicUsize,
    /// The server-wide bound on warnings and failed handshakes (see `report`).
    pub warnings: WarningGate,
    /// TLS handshakes past their ClientHello, `tls_handshake_slots()` at once.
    pub tls_handshakes: Semaphore,
    /// What a wss:// server's new connections are served with: `config.tls` at first, then
    /// what `Server::replace_tls` put there (see `current_tls`). `None` on a ws:// server.
    tls: RwLock<Option<Arc<TlsConfig>>>,
    /// Multiplayer mode: the packets for the server that the peers hold unread, all peers
    /// together. Kept by the peers on the main thread (see `Peer`).
    pub multiplayer_unread: Arc<AtomicUsize>,
}

impl ServerContext {
    pub fn new(config: ServerConfig, events: Sender<Event>) -> Self {
        let registry = Registry::new(config.multiplayer);
        let admission = Admission::new(&config);
        let warnings = WarningGate::new(config.warnings, Instant::now());
        let tls = RwLock::new(config.tls.clone().map(Arc::new));
        Self {
            config,
            events,
            registry,
            refuse_new_connections: AtomicBool::new(false),
            wakes: Arc::default(),
            open_sockets: AtomicUsize::new(0),
            admission,
            accept_failures: AtomicUsize::new(0),
            silent_connections: AtomicUsize::new(0),
            warnings,
            tls_handshakes: Semaphore::new(tls_handshake_slots()),
            tls,
            multiplayer_unread: Arc::default(),
        }
    }

    /// The TLS configuration a connection accepted now is served with; `None` on a ws://
    /// server. A connection keeps the one it started with for its whole life.
    pub fn current_tls(&self) -> Option<Arc<TlsConfig>> {
        self.tls.read().clone()
    }

    /// Serves the connections accepted from now on with `tls`; connected peers keep theirs.
    /// False on a ws:// server, which stays one.
    pub fn replace_tls(&self, tls: TlsConfig) -> bool {
        match &mut *self.tls.write() {
            Some(current) => {
                *current = Arc::new(tls);
                true
            }
            None => false,
        }
    }

    /// The main thread's view of a peer that just finished its handshake.
    pub fn new_peer(
        &self,
        id: PeerId,
        address: SocketAddr,
        protocol: String,
        request: ClientRequest,
        route: Route,
    ) -> Peer {
        let multiplayer_unread = self
            .config
            .multiplayer
            .then(|| self.multiplayer_unread.clone());
        Peer::new(
            id,
            address,
            protocol,
            request,
            route,
            self.wakes.clone(),
            multiplayer_unread,
        )
    }

    /// Tells the main thread. The receiver is gone only when the server stopped, which wants
    /// no more events.
    pub fn send_event(&self, event: Event) {
        let _ = self.events.send(event);
    }

    /// Tells the main thread about `event`. Warnings and failed handshakes pass the
    /// server-wide bound first: one held back is only counted (see `WarningGate`).
    pub fn report(&self, event: ServerEvent) {
        if event.is_warning() && !self.warnings.admit(Instant::now()) {
            return;
        }
        self.send_event(Event::Report(event));
    }
}

/// Counts one accepted socket from `ip` in `open_sockets` and `admission` for as long as it
/// lives. Made by the accept loop, which checked the limits first.
pub(crate) struct OpenSocket {
    context: Arc<ServerContext>,
    ip: IpAddr,
}

impl OpenSocket {
    pub fn new(context: &Arc<ServerContext>, ip: IpAddr) -> Self {
        context.open_sockets.fetch_add(1, Ordering::AcqRel);
        context.admission.enter(ip);
        Self {
            context: context.clone(),
            ip,
        }
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.context.admission.leave(self.ip);
        self.context.open_sockets.fetch_sub(1, Ordering::AcqRel);
    }
}
