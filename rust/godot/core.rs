//! The state one `WebSocketServer` object shares with the net interface Godot calls and with
//! the `WebSocketPeer` objects it hands out: the running engine server, and the poll that
//! turns engine events into signals.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use bytes::Bytes;
use gdnative::core_types::GodotError;
use gdnative::prelude::*;

use super::errors::{describe_send_error, send_error_code};
use super::ffi::{object_from_instance_id, MultiplayerPeerImpl, PacketPeerImpl};
use super::log;
use super::peer::WebSocketPeer;
use gdws_engine::proto::multiplayer::HEADER_SIZE;
use gdws_engine::{ListenError, Peer, PeerId, SendError, Server, ServerConfig, ServerEvent};

/// NetworkedMultiplayerPeer.ConnectionStatus
const CONNECTION_DISCONNECTED: i64 = 0;
const CONNECTION_CONNECTED: i64 = 2;
/// NetworkedMultiplayerPeer.TransferMode.TRANSFER_MODE_RELIABLE
const TRANSFER_MODE_RELIABLE: i64 = 2;

pub(crate) struct ServerCore {
    /// The WebSocketServer object, to emit signals from a poll that came through Godot.
    owner_id: i64,
    state: RefCell<CoreState>,
}

struct CoreState {
    server: Option<Server>,
    refuse_new_connections: bool,
    target_peer: i64,
    transfer_mode: i64,
    /// The WebSocketPeer objects handed out by `get_peer`, one per live peer.
    peer_objects: HashMap<PeerId, Instance<WebSocketPeer, Shared>>,
    /// Multiplayer mode: the packet last returned to Godot, which reads it after the call.
    current_packet: Bytes,
}

impl ServerCore {
    pub fn new(owner_id: i64) -> Self {
        Self {
            owner_id,
            state: RefCell::new(CoreState {
                server: None,
                refuse_new_connections: false,
                target_peer: 0,
                transfer_mode: TRANSFER_MODE_RELIABLE,
                peer_objects: HashMap::new(),
                current_packet: Bytes::new(),
            }),
        }
    }

    pub fn is_listening(&self) -> bool {
        self.state.borrow().server.is_some()
    }

    /// Listening with `gd_mp_api = true`.
    pub fn is_multiplayer(&self) -> bool {
        let state = self.state.borrow();
        state
            .server
            .as_ref()
            .is_some_and(|server| server.config().multiplayer)
    }

    /// Starts the engine server. The caller checked that none runs.
    pub fn listen(&self, config: ServerConfig) -> Result<(), ListenError> {
        let server = Server::listen(config)?;
        let mut state = self.state.borrow_mut();
        server.set_refuse_new_connections(state.refuse_new_connections);
        state.server = Some(server);
        Ok(())
    }

    /// Stops the engine server (bounded wait, no signals) and forgets every peer.
    pub fn stop(&self) {
        let (server, peer_objects) = {
            let mut state = self.state.borrow_mut();
            (state.server.take(), std::mem::take(&mut state.peer_objects))
        };
        // Dropped outside the borrow: freeing a WebSocketPeer runs Godot code.
        drop(peer_objects);
        if let Some(server) = server {
            server.stop();
        }
    }

    /// Emits a signal on the server object for each event that was ready when the poll began,
    /// one at a time, so a handler can call back into the server (even `stop()` or `poll()`).
    /// The object is looked up again for each signal: a handler may have freed it.
    pub fn poll_events(&self) {
        // What the handlers send goes out when the poll ends, each connection's all at once.
        let (mut budget, multiplayer, _held_wakes) = {
            let state = self.state.borrow();
            let Some(server) = state.server.as_ref() else {
                return;
            };
            let pending = server.pending_events();
            if pending == 0 {
                server.lend_core_if_shared();
                return;
            }
            (pending, server.config().multiplayer, server.hold_wakes())
        };
        while budget > 0 {
            budget -= 1;
            let (event, forgotten) = {
                let mut state = self.state.borrow_mut();
                let Some(event) = state.server.as_mut().and_then(Server::next_event) else {
                    return;
                };
                let forgotten = match &event {
                    ServerEvent::Disconnected { id, .. } => state.peer_objects.remove(id),
                    _ => None,
                };
                (event, forgotten)
            };
            drop(forgotten);
            let Some(owner) = object_from_instance_id(self.owner_id) else {
                return;
            };
            emit(&owner, event, multiplayer);
        }
    }

    /// Runs `f` on peer `id`, or prints why not (naming `call`) and returns None.
    pub fn with_peer<R>(&self, call: &str, id: i64, f: impl FnOnce(&mut Peer) -> R) -> Option<R> {
        let mut state = self.state.borrow_mut();
        let peer = i32::try_from(id)
            .ok()
            .and_then(|id| state.server.as_mut()?.peer_mut(id));
        match peer {
            Some(peer) => Some(f(peer)),
            None => {
                drop(state);
                report_unknown_peer(call, id, self.is_listening());
                None
            }
        }
    }

    pub fn has_peer(&self, id: i64) -> bool {
        let state = self.state.borrow();
        match (state.server.as_ref(), i32::try_from(id)) {
            (Some(server), Ok(id)) => server.peer(id).is_some(),
            _ => false,
        }
    }

    /// The WebSocketPeer object for peer `id`, made on first use and kept while it lives.
    pub fn peer_object(self: &Rc<Self>, id: i64) -> Option<Instance<WebSocketPeer, Shared>> {
        if !self.has_peer(id) {
            report_unknown_peer("get_peer", id, self.is_listening());
            return None;
        }
        let id = id as PeerId; // In range: has_peer checked it.
        if let Some(object) = self.state.borrow().peer_objects.get(&id) {
            return Some(object.clone());
        }
        let object = WebSocketPeer::attached(Rc::downgrade(self), id);
        self.state
            .borrow_mut()
            .peer_objects
            .insert(id, object.clone());
        Some(object)
    }

    /// The largest packet a peer accepts from us (less the header in multiplayer mode).
    pub fn max_packet_size(&self) -> i64 {
        let state = self.state.borrow();
        state.server.as_ref().map_or(0, |server| {
            let header = if server.config().multiplayer {
                HEADER_SIZE
            } else {
                0
            };
            server.config().limits.out_bytes.saturating_sub(header) as i64
        })
    }
}

impl PacketPeerImpl for ServerCore {
    fn get_packet(&self) -> Result<Bytes, GodotError> {
        if !self.is_multiplayer() {
            log::error(
                "WebSocketServer.get_packet",
                "the server itself has packets only as a multiplayer peer \
                 (listen(port, protocols, true)); use get_peer(id).get_packet()",
            );
            return Err(GodotError::Unconfigured);
        }
        let mut state = self.state.borrow_mut();
        let server = state.server.as_mut().ok_or(GodotError::Unconfigured)?;
        let (_, payload) = server
            .take_multiplayer_packet()
            .ok_or(GodotError::Unavailable)?;
        // Kept until the next call, as the trait asks.
        state.current_packet = payload.clone();
        Ok(payload)
    }

    fn put_packet(&self, data: &[u8]) -> Result<(), GodotError> {
        if !self.is_multiplayer() {
            log::error(
                "WebSocketServer.put_packet",
                "the server itself sends only as a multiplayer peer \
                 (listen(port, protocols, true)); use get_peer(id).put_packet()",
            );
            return Err(GodotError::Unconfigured);
        }
        let state = self.state.borrow();
        let server = state.server.as_ref().ok_or(GodotError::Unconfigured)?;
        let target = state.target_peer;
        let refused = server.send_multiplayer(target, data);
        drop(state);
        multiplayer_send_result(target, &refused)
    }

    fn available_packet_count(&self) -> i64 {
        let state = self.state.borrow();
        match state.server.as_ref() {
            Some(server) if server.config().multiplayer => server.multiplayer_packet_count() as i64,
            _ => 0,
        }
    }

    fn max_packet_size(&self) -> i64 {
        ServerCore::max_packet_size(self)
    }
}

impl MultiplayerPeerImpl for ServerCore {
    fn set_transfer_mode(&self, mode: i64) {
        self.state.borrow_mut().transfer_mode = mode;
    }

    fn transfer_mode(&self) -> i64 {
        self.state.borrow().transfer_mode
    }

    fn set_target_peer(&self, id: i64) {
        self.state.borrow_mut().target_peer = id;
    }

    fn packet_peer(&self) -> i64 {
        let mut state = self.state.borrow_mut();
        state
            .server
            .as_mut()
            .and_then(Server::multiplayer_packet_peer)
            .map_or(0, i64::from)
    }

    fn is_server(&self) -> bool {
        true
    }

    fn poll(&self) {
        self.poll_events();
    }

    fn unique_id(&self) -> i32 {
        1
    }

    fn set_refuse_new_connections(&self, refuse: bool) {
        let mut state = self.state.borrow_mut();
        state.refuse_new_connections = refuse;
        if let Some(server) = state.server.as_ref() {
            server.set_refuse_new_connections(refuse);
        }
    }

    fn is_refusing_new_connections(&self) -> bool {
        self.state.borrow().refuse_new_connections
    }

    fn connection_status(&self) -> i64 {
        if self.is_listening() {
            CONNECTION_CONNECTED
        } else {
            CONNECTION_DISCONNECTED
        }
    }
}

/// The signal for `event`: as a multiplayer peer the server speaks to MultiplayerAPI
/// (`peer_connected`, `peer_packet`, `peer_disconnected`) instead of `client_*` and
/// `data_received`; `client_close_request` fires in both modes, like the stock class.
fn emit(owner: &Object, event: ServerEvent, multiplayer: bool) {
    match event {
        ServerEvent::Connected { id, .. } if multiplayer => {
            owner.emit_signal("peer_connected", &[id.to_variant()]);
        }
        ServerEvent::Message { id } if multiplayer => {
            owner.emit_signal("peer_packet", &[id.to_variant()]);
        }
        ServerEvent::Disconnected { id, .. } if multiplayer => {
            owner.emit_signal("peer_disconnected", &[id.to_variant()]);
        }
        ServerEvent::Connected { id, protocol } => {
            owner.emit_signal(
                "client_connected",
                &[id.to_variant(), protocol.to_variant()],
            );
        }
        ServerEvent::Message { id } => {
            owner.emit_signal("data_received", &[id.to_variant()]);
        }
        ServerEvent::CloseRequest { id, code, reason } => {
            owner.emit_signal(
                "client_close_request",
                &[id.to_variant(), code.to_variant(), reason.to_variant()],
            );
        }
        ServerEvent::Disconnected { id, was_clean } => {
            owner.emit_signal(
                "client_disconnected",
                &[id.to_variant(), was_clean.to_variant()],
            );
        }
        ServerEvent::Warning { message, .. } => {
            // The engine's message starts with "peer <id>".
            log::warn("WebSocketServer.poll", message);
        }
        ServerEvent::HandshakeFailed { address, reason } => {
            log::warn(
                "WebSocketServer.poll",
                format!("connection from {address} refused: {reason}"),
            );
        }
    }
}

/// The Godot error for a multiplayer send that some destinations refused.
fn multiplayer_send_result(target: i64, refused: &[(PeerId, SendError)]) -> Result<(), GodotError> {
    let Some((id, error)) = refused.first() else {
        return Ok(());
    };
    let more = match refused.len() {
        1 => String::new(),
        n => format!(" (and {} more peers)", n - 1),
    };
    log::error(
        "WebSocketServer.put_packet",
        format!(
            "target {target}: peer {id}: {}{more}",
            describe_send_error(error)
        ),
    );
    Err(match error {
        SendError::NotConnected if target > 1 => GodotError::InvalidParameter,
        other => send_error_code(other),
    })
}

fn report_unknown_peer(call: &str, id: i64, listening: bool) {
    let call = format!("WebSocketServer.{call}");
    if listening {
        log::error(&call, format!("no peer with id {id}"));
    } else {
        log::error(
            &call,
            format!("no peer with id {id} (the server is not listening)"),
        );
    }
}
