//! The protocol as pure code: functions on bytes and numbers that own no socket and read no
//! clock. The runtime calls them; they never call the runtime.

pub mod client_text;
pub mod close;
pub mod limits;
pub mod multiplayer;
pub mod subprotocol;
pub mod upgrade;
