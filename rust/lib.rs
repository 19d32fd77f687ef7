//! gdws: a threaded WebSocket server for Godot 3, as a GDNative library of two classes.

// The engine (crate `gdws_engine`, `rust/engine/`) is a plain tokio WebSocket server; `godot`
// exposes it as Godot classes. This file registers them and nothing else.

mod godot;

fn init(handle: gdnative::prelude::InitHandle) {
    handle.add_class::<godot::WebSocketServer>();
    handle.add_class::<godot::WebSocketPeer>();
}

gdnative::init::godot_gdnative_init!();
gdnative::init::godot_gdnative_terminate!();
// gdnative's class registration, which `godot::godot_nativescript_init` (the entry point Godot
// calls) runs first.
gdnative::init::godot_nativescript_init!(init as gdws_register_classes);
