//! The live connections of one server: unique peer ids, the routes other connections relay
//! through, the multiplayer join/leave announcements, and a way to reach every connection when
//! the server stops (including those the main thread has not heard of yet).

use std::collections::BTreeMap;

use bytes::Bytes;
use parking_lot::RwLock;
use rand::Rng;
use tokio::sync::Notify;

use super::queue::{Bound, Command, Route, Wake};
use crate::error::SendError;
use crate::packet::{Packet, PeerId};
use crate::proto::multiplayer::{encode_system, PacketType, Relay, SERVER_ID};

pub(crate) struct Registry {
    state: RwLock<RegistryState>,
    /// Announce joins and leaves with the multiplayer protocol's SYS_* messages.
    multiplayer: bool,
    /// Signalled when the last connection leaves.
    emptied: Notify,
}

#[derive(Default)]
struct RegistryState {
    /// Ordered by id: joins are announced in ascending id order, as the stock server does.
    routes: BTreeMap<PeerId, Route>,
    stopping: bool,
}

impl Registry {
    pub fn new(multiplayer: bool) -> Self {
        Self {
            state: RwLock::default(),
            multiplayer,
            emptied: Notify::new(),
        }
    }

    /// Gives a new connection a random id no live connection has; `None` once the server
    /// stops. In multiplayer mode the join is announced under the same lock, so every pair of
    /// peers learns of each other exactly once: SYS_ID(new) and SYS_ADD(1) to the new peer,
    /// then for each existing peer X, SYS_ADD(new) to X and SYS_ADD(X) to the new peer.
    pub fn register(&self, route: Route) -> Option<PeerId> {
        let mut state = self.state.write();
        if state.stopping {
            return None;
        }
        let mut rng = rand::thread_rng();
        let id = loop {
            let id = rng.gen_range(2..=i32::MAX);
            if !state.routes.contains_key(&id) {
                break id;
            }
        };
        if self.multiplayer {
            announce(&route, PacketType::SysId, id);
            announce(&route, PacketType::SysAdd, SERVER_ID);
            let joined = encode_system(PacketType::SysAdd, id);
            for (&other_id, other) in &state.routes {
                system_send(other, joined.clone());
                announce(&route, PacketType::SysAdd, other_id);
            }
        }
        state.routes.insert(id, route);
        Some(id)
    }

    /// Forgets a connection; in multiplayer mode every other peer gets SYS_DEL(id).
    pub fn unregister(&self, id: PeerId) {
        let mut state = self.state.write();
        if state.routes.remove(&id).is_some() && self.multiplayer {
            let left = encode_system(PacketType::SysDel, id);
            for other in state.routes.values() {
                system_send(other, left.clone());
            }
        }
        if state.routes.is_empty() {
            self.emptied.notify_one();
        }
    }

    /// Sends `packet`, unchanged, to the clients `relay` names. Returns the destinations that
    /// refused it (full queue, or no such peer for a single target).
    pub fn relay(&self, relay: Relay, packet: &Bytes) -> Vec<(PeerId, SendError)> {
        let state = self.state.read();
        let mut refused = Vec::new();
        let mut send = |id: PeerId, route: &Route| {
            let packet = Packet::binary(packet.clone());
            if let Err(e) = route.enqueue(packet, Bound::Limited, Wake::Now) {
                refused.push((id, e));
            }
        };
        match relay {
            Relay::None => {}
            Relay::One(target) => match state.routes.get(&target) {
                Some(route) => send(target, route),
                None => refused.push((target, SendError::NotConnected)),
            },
            _ => {
                for (&id, route) in state.routes.iter().filter(|(id, _)| relay.includes(**id)) {
                    send(id, route);
                }
            }
        }
        refused
    }

    /// Refuses new connections and tells every live one to close.
    pub fn shutdown_all(&self) {
        let mut state = self.state.write();
        state.stopping = true;
        for route in state.routes.values() {
            let _ = route.command(Command::Shutdown);
        }
    }

    /// How many connections are registered (past their handshake, not yet gone).
    pub fn len(&self) -> usize {
        self.state.read().routes.len()
    }

    /// Resolves once no connection is left.
    pub async fn wait_empty(&self) {
        loop {
            if self.state.read().routes.is_empty() {
                return;
            }
            // `notify_one` keeps a permit, so a wake between the check and here is not lost.
            self.emptied.notified().await;
        }
    }
}

fn announce(route: &Route, kind: PacketType, id: PeerId) {
    system_send(route, encode_system(kind, id));
}

/// System messages bypass the outbound limits: losing one would leave a client with a wrong
/// peer list. A closed connection is fine to miss.
fn system_send(route: &Route, data: Bytes) {
    let _ = route.enqueue(Packet::binary(data), Bound::Unlimited, Wake::Now);
}
