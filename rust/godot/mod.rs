//! The Godot side: NativeScript classes over the engine, and the net interface binding.

mod args;
mod core;
mod errors;
mod fault;
mod ffi;
mod log;
mod peer;
mod server;
mod tls;

pub use peer::WebSocketPeer;
pub use server::WebSocketServer;
