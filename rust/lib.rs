//! gdws: a threaded WebSocket server for Godot 3, as a GDNative library.
//!
//! `engine` is a plain tokio WebSocket server; `godot` exposes it as Godot classes.

pub mod engine;
mod godot;

use gdnative::prelude::*;

fn init(handle: InitHandle) {
    handle.add_class::<godot::WebSocketServer>();
    handle.add_class::<godot::WebSocketPeer>();
}

godot_init!(init);
