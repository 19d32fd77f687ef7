//! The event pump: `poll()` turns the engine events that are ready into signals, one at a time.

use super::ffi::object_from_instance_id;
use super::signals;
use super::state::ServerState;
use gdws_engine::{Server, ServerEvent};

/// Emits a signal on the server object for each event that was ready when the poll began,
/// one at a time, so a handler can call back into the server (even `stop()` or `poll()`).
/// The object is looked up again for each signal: a handler may have freed it.
pub(crate) fn poll(state: &ServerState) {
    let engine = state.engine();
    // What the handlers send goes out when the poll ends, each connection's all at once.
    let ready = engine.with(|server| {
        let pending = server.pending_events();
        if pending == 0 {
            server.lend_core_if_shared();
            return None;
        }
        Some((pending, server.config().multiplayer, server.hold_wakes()))
    });
    let Some((mut budget, multiplayer, _held_wakes)) = ready.flatten() else {
        return;
    };
    loop {
        let next = |server: &mut Server| server.next_event_within(&mut budget);
        let Some(event) = engine.with_mut(next).flatten() else {
            return;
        };
        if let ServerEvent::Disconnected { id, .. } = &event {
            // Dropped here, outside every borrow: freeing a WebSocketPeer runs Godot code.
            drop(state.forget_peer_object(*id));
        }
        let Some(owner) = object_from_instance_id(state.owner_id()) else {
            return;
        };
        signals::emit(&owner, state.message_signals(), event, multiplayer);
    }
}
