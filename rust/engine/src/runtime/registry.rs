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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::limits::Limits;
    use crate::proto::multiplayer::Header;
    use crate::runtime::queue::tests::drain;
    use crate::runtime::queue::Commands;

    /// The system messages a peer was sent, as (type, peer id).
    fn announcements(commands: &Commands) -> Vec<(u8, PeerId)> {
        drain(commands)
            .into_iter()
            .map(|command| match command {
                Command::Send(packet) => {
                    let header = Header::parse(&packet.data).unwrap();
                    assert_eq!(
                        (header.from, header.to, packet.data.len()),
                        (SERVER_ID, 0, 13)
                    );
                    let id = i32::from_le_bytes(packet.data[9..13].try_into().unwrap());
                    (header.kind, id)
                }
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn join(registry: &Registry) -> (PeerId, Commands) {
        let (route, commands) = Route::new(Limits::default());
        (registry.register(route).unwrap(), commands)
    }

    const ID: u8 = PacketType::SysId as u8;
    const ADD: u8 = PacketType::SysAdd as u8;
    const DEL: u8 = PacketType::SysDel as u8;

    #[test]
    fn a_join_is_announced_to_the_new_peer_and_to_every_other_in_id_order() {
        let registry = Registry::new(true);
        let (a, a_commands) = join(&registry);
        assert_eq!(announcements(&a_commands), [(ID, a), (ADD, SERVER_ID)]);
        let (b, b_commands) = join(&registry);
        let (c, c_commands) = join(&registry);
        assert_eq!(announcements(&a_commands), [(ADD, b), (ADD, c)]);
        let mut before_c = [a, b];
        before_c.sort();
        assert_eq!(
            announcements(&c_commands),
            [
                (ID, c),
                (ADD, SERVER_ID),
                (ADD, before_c[0]),
                (ADD, before_c[1])
            ]
        );
        assert_eq!(announcements(&b_commands).len(), 2 + 1 + 1);
        assert_eq!(registry.len(), 3);

        registry.unregister(b);
        assert_eq!(announcements(&a_commands), [(DEL, b)]);
        assert_eq!(announcements(&c_commands), [(DEL, b)]);
        assert_eq!(registry.len(), 2);
    }

    #[test]
    fn plain_mode_announces_nothing_and_ids_are_unique_and_in_range() {
        let registry = Registry::new(false);
        let joined: Vec<_> = (0..200).map(|_| join(&registry)).collect();
        let mut ids: Vec<_> = joined.iter().map(|(id, _)| *id).collect();
        assert!(ids.iter().all(|id| *id >= 2));
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 200);
        assert!(joined
            .iter()
            .all(|(_, commands)| drain(commands).is_empty()));
        registry.unregister(ids[0]);
        assert!(joined
            .iter()
            .all(|(_, commands)| drain(commands).is_empty()));
    }

    #[test]
    fn a_relay_reports_each_destination_that_refused() {
        let registry = Registry::new(false);
        let (a, _a_commands) = join(&registry);
        let full = Limits {
            out_packets: 1,
            ..Limits::default()
        };
        let (route, b_commands) = Route::new(full);
        let b = registry.register(route).unwrap();
        let packet = Bytes::from_static(b"relayed");
        assert!(registry.relay(Relay::One(b), &packet).is_empty());
        let refused = registry.relay(Relay::AllBut { sender: SERVER_ID }, &packet);
        assert!(
            matches!(&refused[..], [(id, SendError::QueueFull { .. })] if *id == b),
            "{refused:?}"
        );
        let unknown = (2..).find(|id| ![a, b].contains(id)).unwrap();
        assert_eq!(
            registry.relay(Relay::One(unknown), &packet),
            [(unknown, SendError::NotConnected)]
        );
        assert!(registry.relay(Relay::None, &packet).is_empty());
        assert_eq!(drain(&b_commands).len(), 1);
    }

    #[tokio::test]
    async fn a_shutdown_tells_every_peer_and_refuses_new_ones_until_empty() {
        let registry = Registry::new(true);
        let (a, a_commands) = join(&registry);
        announcements(&a_commands);
        registry.shutdown_all();
        assert!(matches!(&drain(&a_commands)[..], [Command::Shutdown]));
        assert!(registry.register(Route::new(Limits::default()).0).is_none());
        let emptied = registry.wait_empty();
        registry.unregister(a);
        emptied.await;
        assert_eq!(registry.len(), 0);
    }
}
