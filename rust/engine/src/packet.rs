//! What the server carries: complete messages, and the ids of the peers they come from and go to.

use bytes::Bytes;

/// A peer id: random in 2..=i32::MAX (1 is the server), unique among live peers.
pub type PeerId = i32;

/// A complete message as the game sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub data: Bytes,
    pub is_text: bool,
}

impl Packet {
    pub fn binary(data: Bytes) -> Self {
        Self {
            data,
            is_text: false,
        }
    }
}
