//! The server as Godot's NetworkedMultiplayerPeer: the net interface calls MultiplayerAPI makes.

use std::cell::Ref;

use bytes::Bytes;
use gdnative::core_types::GodotError;

use super::errors::{describe_send_error, send_error_code};
use super::ffi::{MultiplayerPeerImpl, PacketPeerImpl};
use super::log;
use super::pump;
use super::state::ServerState;
use gdws_engine::{PeerId, SendError, Server};

/// NetworkedMultiplayerPeer.ConnectionStatus
const CONNECTION_DISCONNECTED: i64 = 0;
const CONNECTION_CONNECTED: i64 = 2;

impl PacketPeerImpl for ServerState {
    fn get_packet(&self) -> Result<Ref<'_, Bytes>, GodotError> {
        if !self.engine().is_multiplayer() {
            log::error(
                "WebSocketServer.get_packet",
                "the server itself has packets only as a multiplayer peer \
                 (listen(port, protocols, true)); use get_peer(id).get_packet()",
            );
            return Err(GodotError::Unconfigured);
        }
        let (_, payload) = self
            .engine()
            .with_mut(Server::take_multiplayer_packet)
            .ok_or(GodotError::Unconfigured)?
            .ok_or(GodotError::Unavailable)?;
        // Kept until the next call, as the trait asks.
        *self.current_packet.borrow_mut() = payload;
        Ok(self.current_packet.borrow())
    }

    fn put_packet(&self, data: &[u8]) -> Result<(), GodotError> {
        if !self.engine().is_multiplayer() {
            log::error(
                "WebSocketServer.put_packet",
                "the server itself sends only as a multiplayer peer \
                 (listen(port, protocols, true)); use get_peer(id).put_packet()",
            );
            return Err(GodotError::Unconfigured);
        }
        let target = self.target_peer.get();
        self.engine()
            .with(|server| {
                let refused = server.send_multiplayer(target, data);
                multiplayer_send_result(target, &refused, |id| server.peer(id).is_some())
            })
            .ok_or(GodotError::Unconfigured)?
    }

    fn available_packet_count(&self) -> i64 {
        self.engine()
            .with(|server| {
                if server.config().multiplayer {
                    server.multiplayer_packet_count() as i64
                } else {
                    0
                }
            })
            .unwrap_or(0)
    }

    fn max_packet_size(&self) -> i64 {
        self.engine().max_packet_size()
    }
}

impl MultiplayerPeerImpl for ServerState {
    fn set_transfer_mode(&self, mode: i64) {
        self.transfer_mode.set(mode);
    }

    fn transfer_mode(&self) -> i64 {
        self.transfer_mode.get()
    }

    fn set_target_peer(&self, id: i64) {
        self.target_peer.set(id);
    }

    fn packet_peer(&self) -> i64 {
        self.engine()
            .with_mut(Server::multiplayer_packet_peer)
            .flatten()
            .map_or(0, i64::from)
    }

    fn is_server(&self) -> bool {
        true
    }

    fn poll(&self) {
        pump::poll(self);
    }

    fn unique_id(&self) -> i32 {
        1
    }

    fn set_refuse_new_connections(&self, refuse: bool) {
        self.refuse_new_connections.set(refuse);
        self.engine()
            .with(|server| server.set_refuse_new_connections(refuse));
    }

    fn is_refusing_new_connections(&self) -> bool {
        self.refuse_new_connections.get()
    }

    fn connection_status(&self) -> i64 {
        if self.is_listening() {
            CONNECTION_CONNECTED
        } else {
            CONNECTION_DISCONNECTED
        }
    }
}

/// The Godot error for a multiplayer send that some destinations refused. A target the server
/// still `knows` refuses as not connected only while it is leaving (the game hears of it at the
/// next poll): that fails quietly, the game did nothing wrong.
fn multiplayer_send_result(
    target: i64,
    refused: &[(PeerId, SendError)],
    knows: impl Fn(PeerId) -> bool,
) -> Result<(), GodotError> {
    let Some((id, error)) = refused.first() else {
        return Ok(());
    };
    if let [(id, SendError::NotConnected)] = refused {
        if knows(*id) {
            return Err(GodotError::Failed);
        }
    }
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
