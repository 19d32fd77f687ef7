//! A tokio WebSocket server with events out and commands in. It knows nothing of Godot: the
//! `godot` layer drives it from the main thread through [`Server`].

mod config;
mod connection;
mod error;
mod event;
mod listener;
pub mod multiplayer;
mod peer;
mod protocols;
mod read_ahead;
mod registry;
mod server;
mod tls;
pub mod upgrade;

pub use config::{BindAddress, Limits, ServerConfig};
pub use error::{CloseError, ListenError, SendError};
pub use event::ServerEvent;
pub use peer::{Packet, Peer, PeerId};
pub use protocols::choose_protocol;
pub use server::{HeldWakes, Server};
pub use tls::{Pem, TlsConfig, TlsError, MAX_PEM_BYTES};
