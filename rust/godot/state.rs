//! The server's state: what a WebSocketServer object shares with the net interface Godot calls.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;
use gdnative::prelude::*;

use super::engine_server::{report_unknown_peer, EngineServer};
use super::peer::WebSocketPeer;
use super::signals::MessageSignals;
use gdws_engine::{ListenError, PeerId, PeerMap, Server, ServerConfig};

/// NetworkedMultiplayerPeer.TransferMode.TRANSFER_MODE_RELIABLE
const TRANSFER_MODE_RELIABLE: i64 = 2;

/// The running engine server, the WebSocketPeer objects handed out, and what Godot set on the
/// server as a NetworkedMultiplayerPeer (read and written by `multiplayer`). Lifecycle here,
/// the event pump in `pump`.
pub(crate) struct ServerState {
    /// The WebSocketServer object, to emit signals from a poll that came through Godot.
    owner_id: i64,
    engine: Rc<EngineServer>,
    /// The WebSocketPeer objects handed out by `get_peer`, one per live peer: each is
    /// forgotten when the poll that reports its peer gone takes the peer from the engine, and
    /// all of them at `stop()`, so the peer of every object here is the engine's.
    peer_objects: RefCell<PeerMap<Instance<WebSocketPeer, Shared>>>,
    /// Kept across `listen()`s: each new engine server starts with it.
    pub(super) refuse_new_connections: Cell<bool>,
    pub(super) target_peer: Cell<i64>,
    pub(super) transfer_mode: Cell<i64>,
    /// Multiplayer mode: the packet last returned to Godot, which reads it after the call.
    pub(super) current_packet: RefCell<Bytes>,
    message_signals: MessageSignals,
}

impl ServerState {
    pub fn new(owner_id: i64) -> Self {
        Self {
            owner_id,
            engine: Rc::default(),
            peer_objects: RefCell::default(),
            refuse_new_connections: Cell::new(false),
            target_peer: Cell::new(0),
            transfer_mode: Cell::new(TRANSFER_MODE_RELIABLE),
            current_packet: RefCell::default(),
            message_signals: MessageSignals::new(),
        }
    }

    /// The WebSocketServer object's instance id.
    pub fn owner_id(&self) -> i64 {
        self.owner_id
    }

    /// What `poll()` names the signals of messages with.
    pub fn message_signals(&self) -> &MessageSignals {
        &self.message_signals
    }

    pub fn engine(&self) -> &EngineServer {
        &self.engine
    }

    pub fn is_listening(&self) -> bool {
        self.engine.is_listening()
    }

    /// Starts the engine server. The caller checked that none runs.
    pub fn listen(&self, config: ServerConfig) -> Result<(), ListenError> {
        let server = Server::listen(config)?;
        server.set_refuse_new_connections(self.refuse_new_connections.get());
        self.engine.start(server);
        Ok(())
    }

    /// Stops the engine server (bounded wait, no signals) and forgets every peer.
    pub fn stop(&self) {
        let server = self.engine.take();
        let peer_objects = std::mem::take(&mut *self.peer_objects.borrow_mut());
        // Dropped outside the borrow: freeing a WebSocketPeer runs Godot code.
        drop(peer_objects);
        if let Some(server) = server {
            server.stop();
        }
    }

    /// The WebSocketPeer object for peer `id`, made on first use and kept while it lives.
    pub fn peer_object(&self, id: i64) -> Option<Instance<WebSocketPeer, Shared>> {
        // A handler calls get_peer for every message: a peer with an object is live (see
        // `peer_objects`), so it is found without asking the engine.
        if let Ok(id) = PeerId::try_from(id) {
            if let Some(object) = self.peer_objects.borrow().get(&id) {
                return Some(object.clone());
            }
        }
        if !self.engine.has_peer(id) {
            report_unknown_peer("get_peer", id, self.is_listening());
            return None;
        }
        let id = id as PeerId; // In range: has_peer checked it.
        let object = WebSocketPeer::attached(Rc::downgrade(&self.engine), id);
        self.peer_objects.borrow_mut().insert(id, object.clone());
        Some(object)
    }

    /// Forgets the WebSocketPeer object of peer `id`, which has gone. The caller drops it
    /// outside every borrow: freeing it runs Godot code.
    pub fn forget_peer_object(&self, id: PeerId) -> Option<Instance<WebSocketPeer, Shared>> {
        self.peer_objects.borrow_mut().remove(&id)
    }
}
