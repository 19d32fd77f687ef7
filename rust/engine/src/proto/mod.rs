//! The protocol as pure code: functions on bytes and numbers that own no socket and read no
//! clock. The runtime calls them; they never call the runtime.

pub mod client_text;
pub mod close;
pub mod forwarded;
pub mod limits;
pub mod multiplayer;
pub mod policy;
pub mod proxy_header;
pub mod request;
pub mod subprotocol;
pub mod trusted_proxies;
pub mod upgrade;
