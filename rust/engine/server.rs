//! The main thread's handle on a listening server: start it, drain its events one at a time,
//! reach its peers, stop it. Every call returns at once; the network runs on the server's own
//! tokio runtime.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver, TryRecvError};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::config::ServerConfig;
use super::error::ListenError;
use super::event::Event;
use super::listener::{accept_loop, bind, ListenerContext};
use super::peer::{Peer, PeerId};
use super::registry::Registry;

/// How long `stop()` lets connections send their close frames, and then lets the runtime's
/// threads finish.
const STOP_GRACE: Duration = Duration::from_millis(500);

/// What the game hears of, in the order it happened for each peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerEvent {
    Connected {
        id: PeerId,
        protocol: String,
    },
    /// A message was filed in the peer's unread queue.
    Message {
        id: PeerId,
    },
    CloseRequest {
        id: PeerId,
        code: u16,
        reason: String,
    },
    /// The peer is gone from the server (after this event).
    Disconnected {
        id: PeerId,
        was_clean: bool,
    },
    /// A connection failed before becoming a peer.
    HandshakeFailed {
        address: SocketAddr,
        reason: String,
    },
}

pub struct Server {
    runtime: Option<Runtime>,
    context: Arc<ListenerContext>,
    accept_task: JoinHandle<()>,
    events: Receiver<Event>,
    peers: HashMap<PeerId, Peer>,
    local_addr: SocketAddr,
}

impl Server {
    /// Binds at once (bind errors come back here) and starts accepting on background threads.
    pub fn listen(config: ServerConfig) -> Result<Self, ListenError> {
        let listener = bind(config.bind, config.port)?;
        let local_addr = listener.local_addr().map_err(ListenError::CantCreate)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads())
            .thread_name("gdws-io")
            .enable_all()
            .build()
            .map_err(ListenError::Runtime)?;
        let (events_tx, events) = unbounded();
        let context = Arc::new(ListenerContext {
            config,
            events: events_tx,
            registry: Registry::default(),
            refuse_new_connections: Default::default(),
        });
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(ListenError::CantCreate)?
        };
        let accept_task = runtime.spawn(accept_loop(listener, context.clone()));
        Ok(Self {
            runtime: Some(runtime),
            context,
            accept_task,
            events,
            peers: HashMap::new(),
            local_addr,
        })
    }

    /// The address the server listens on (its port, when it was asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn config(&self) -> &ServerConfig {
        &self.context.config
    }

    /// Takes the next event, if one is ready, and updates the peers to match: a peer is
    /// reachable from its `Connected` event until its `Disconnected` event.
    pub fn next_event(&mut self) -> Option<ServerEvent> {
        loop {
            let event = match self.events.try_recv() {
                Ok(event) => event,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => return None,
            };
            if let Some(event) = self.apply(event) {
                return Some(event);
            }
        }
    }

    /// How many events are waiting (some may be dropped on the way, e.g. input for a peer the
    /// server is closing). A poll that handles only these cannot be kept busy forever.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Like `next_event`, but waits up to `timeout` for one. Blocks the calling thread: for
    /// tests and tools, never for a game's main thread.
    pub fn wait_event(&mut self, timeout: Duration) -> Option<ServerEvent> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let event = self.events.recv_deadline(deadline).ok()?;
            if let Some(event) = self.apply(event) {
                return Some(event);
            }
        }
    }

    fn apply(&mut self, event: Event) -> Option<ServerEvent> {
        match event {
            Event::Connected(peer) => {
                let id = peer.id();
                let protocol = peer.protocol().to_owned();
                self.peers.insert(id, peer);
                Some(ServerEvent::Connected { id, protocol })
            }
            Event::Message { id, packet } => {
                let peer = self.peers.get_mut(&id)?;
                peer.receive(packet).then_some(ServerEvent::Message { id })
            }
            Event::CloseRequest { id, code, reason } => self
                .peers
                .contains_key(&id)
                .then_some(ServerEvent::CloseRequest { id, code, reason }),
            Event::Disconnected { id, was_clean } => self
                .peers
                .remove(&id)
                .map(|_| ServerEvent::Disconnected { id, was_clean }),
            Event::HandshakeFailed { address, reason } => {
                Some(ServerEvent::HandshakeFailed { address, reason })
            }
        }
    }

    pub fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(&id)
    }

    pub fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.peers.get_mut(&id)
    }

    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    /// New TCP connections are closed at once while set; handshakes under way go on.
    pub fn set_refuse_new_connections(&self, refuse: bool) {
        self.context
            .refuse_new_connections
            .store(refuse, Ordering::Release);
    }

    pub fn is_refusing_new_connections(&self) -> bool {
        self.context.refuse_new_connections.load(Ordering::Acquire)
    }

    /// Closes the listener and every connection (close 1001), emits nothing, and joins the
    /// network threads, waiting at most about twice `STOP_GRACE`.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        self.accept_task.abort();
        self.context.registry.shutdown_all();
        let registry = &self.context.registry;
        runtime.block_on(async {
            let _ = tokio::time::timeout(STOP_GRACE, registry.wait_empty()).await;
        });
        runtime.shutdown_timeout(STOP_GRACE);
        self.peers.clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// One or two I/O threads: the main thread keeps a core of its own on small machines.
fn worker_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().clamp(1, 2))
        .unwrap_or(1)
}
