//! The server running on tokio: the listener and the handshake, one task per connection, the
//! per-peer queues between those tasks and the main thread, the bound on warnings, and the main
//! thread's handle.

pub(crate) mod accept_error;
pub(crate) mod admission;
pub(crate) mod connection;
pub(crate) mod context;
pub(crate) mod frame_gate;
pub(crate) mod handshake;
pub(crate) mod listener;
pub(crate) mod peer;
pub(crate) mod queue;
pub(crate) mod read_ahead;
pub(crate) mod registry;
pub(crate) mod server;
pub(crate) mod transport;
pub(crate) mod warnings;
