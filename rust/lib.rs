//! gdws: a threaded WebSocket server for Godot 3, as a GDNative library of two classes.

// The engine (crate `gdws_engine`, `rust/engine/`) is a plain tokio WebSocket server; `godot`
// exposes it as Godot classes. This file registers them and nothing else.

mod godot;

fn init(handle: gdnative::prelude::InitHandle) {
    handle.add_class::<godot::WebSocketServer>();
    handle.add_class::<godot::WebSocketPeer>();
}

gdnative::prelude::godot_init!(init);
