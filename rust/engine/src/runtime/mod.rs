//! The server running on tokio: the listener and the handshake, one task per connection, the
//! per-peer queues between those tasks and the main thread, the bound on warnings, the requests held for
//! the game's verification, and the main thread's handle.

pub(crate) mod accept_error;
pub(crate) mod admission;
pub(crate) mod connection;
pub(crate) mod context;
pub(crate) mod frame_gate;
pub(crate) mod handshake;
pub(crate) mod heartbeat;
pub(crate) mod listener;
pub(crate) mod peer;
pub(crate) mod proxy_protocol;
pub(crate) mod queue;
pub(crate) mod read_ahead;
pub(crate) mod registry;
pub(crate) mod server;
pub(crate) mod socket;
pub(crate) mod transport;
pub(crate) mod verification;
pub(crate) mod warnings;
