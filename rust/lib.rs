//! gdws: a threaded WebSocket server for Godot 3, as a GDNative library.
//!
//! `engine` is a plain tokio WebSocket server; `godot` exposes it as Godot classes.

pub mod engine;
#[cfg(feature = "godot")]
mod godot;

#[cfg(feature = "godot")]
fn init(handle: gdnative::prelude::InitHandle) {
    handle.add_class::<godot::WebSocketServer>();
    handle.add_class::<godot::WebSocketPeer>();
}

#[cfg(feature = "godot")]
gdnative::prelude::godot_init!(init);
