//! What the server carries: complete messages, and the ids of the peers they come from and go to.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use bytes::Bytes;
use rustc_hash::FxHasher;

/// A peer id: random in 2..=i32::MAX (1 is the server), unique among live peers.
pub type PeerId = i32;

/// Something per peer, found by id on the main thread for every message (several times in a
/// typical handler). Fx, not the default SipHash: the ids are random already, and the keys come
/// from the server, not from clients, so there is no collision attack to resist.
pub type PeerMap<V> = HashMap<PeerId, V, BuildHasherDefault<FxHasher>>;

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
