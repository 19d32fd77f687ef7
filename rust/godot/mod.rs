//! The Godot side: NativeScript classes over the engine, and the net interface binding.

mod args;
mod batch;
mod engine_server;
mod errors;
mod fault;
mod ffi;
mod log;
mod multiplayer;
mod peer;
mod pool;
mod pump;
mod server;
mod signals;
mod state;
mod tls;

pub use peer::WebSocketPeer;
pub use server::WebSocketServer;
