//! gdws: a threaded WebSocket server for Godot 3, as a GDNative library.
//!
//! `engine` is a plain tokio WebSocket server; `godot` exposes it as Godot classes.

pub mod engine;

use gdnative::prelude::*;

fn init(_handle: InitHandle) {}

godot_init!(init);
