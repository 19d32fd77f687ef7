//! The event pump: `poll()` turns the engine events that are ready into signals, one at a time.

use super::ffi::object_from_instance_id;
use super::signals;
use super::state::ServerState;
use gdnative::prelude::{Reference, TRef};
use gdws_engine::{Server, ServerEvent};

/// Emits a signal on the server object for each event that was ready when the poll began,
/// one at a time, so a handler can call back into the server (even `stop()` or `poll()`).
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
    let Some((mut budget, multiplayer, held_wakes)) = ready.flatten() else {
        return;
    };
    let Some(owner) = object_from_instance_id(state.owner_id()) else {
        return;
    };
    // A handler may drop the game's last reference to the server, and Godot aborts when an
    // object is freed while it emits a signal: the poll holds a reference until its last one
    // (the game's call holds none, see `ffi::register_direct_methods`), which also keeps
    // `owner` valid for all of them. Dropped last, after the held wakes went out.
    let _alive = owner.cast::<Reference>().map(TRef::claim);
    let _held_wakes = held_wakes;
    loop {
        let next = |server: &mut Server| server.next_event_within(&mut budget);
        let Some(event) = engine.with_mut(next).flatten() else {
            return;
        };
        if let ServerEvent::Disconnected { id, .. } = &event {
            // Dropped here, outside every borrow: freeing a WebSocketPeer runs Godot code.
            drop(state.forget_peer_object(*id));
        }
        signals::emit(&owner, state.message_signals(), event, multiplayer);
    }
}
