//! The live connections of one server: unique peer ids, the routes other connections relay
//! through, the multiplayer join/leave announcements, the ids reserved for requests held for the
//! game's verification, and a way to reach every connection when the server stops (including
//! those the main thread has not heard of yet).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use bytes::Bytes;
use parking_lot::RwLock;
use rand::Rng;
use tokio::sync::{oneshot, Notify};

use super::queue::{Bound, Command, OverflowCause, Route, SYSTEM_RESERVE_PACKETS};
use super::verification::Answer;
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
    /// The ids of connections that ended and whose `Disconnected` event the main thread has
    /// not taken yet: given to no new peer until then, or the game would hear of the new peer
    /// before the old one left, and lose it when it does.
    leaving: HashSet<PeerId>,
    /// Requests held for the game's verification (`ServerConfig::verify_clients`), by the id
    /// each one's client will have: reserved for it, so the game can key what it learns from
    /// the request on the peer's id. Each keeps the channel of its answer until the game
    /// answers or the server stops (which drops it: the held task refuses the client).
    held: HashMap<PeerId, Option<oneshot::Sender<Answer>>>,
    /// Ids to try before random ones (`Server::propose_peer_ids`, for tests).
    proposed: VecDeque<PeerId>,
    stopping: bool,
}

impl RegistryState {
    /// Whether `id` is a client id no connection holds.
    fn is_free(&self, id: PeerId) -> bool {
        id > SERVER_ID
            && !self.routes.contains_key(&id)
            && !self.leaving.contains(&id)
            && !self.held.contains_key(&id)
    }

    /// No connection registered and no request held.
    fn is_empty(&self) -> bool {
        self.routes.is_empty() && self.held.is_empty()
    }

    /// A client id no connection holds: a proposed one if any is free, else a random one.
    fn free_id(&mut self) -> PeerId {
        while let Some(id) = self.proposed.pop_front() {
            if self.is_free(id) {
                return id;
            }
        }
        let mut rng = rand::thread_rng();
        loop {
            let id = rng.gen_range(2..=i32::MAX);
            if self.is_free(id) {
                return id;
            }
        }
    }

    /// The bound of a system message: past the outbound limits by one message per peer and
    /// `SYSTEM_RESERVE_PACKETS`.
    fn system_bound(&self) -> Bound {
        Bound::System {
            extra: self.routes.len() + SYSTEM_RESERVE_PACKETS,
        }
    }
}

impl Registry {
    pub fn new(multiplayer: bool) -> Self {
        Self {
            state: RwLock::default(),
            multiplayer,
            emptied: Notify::new(),
        }
    }

    /// Gives a new connection an id no connection holds, nor one whose end the main thread has
    /// not taken (see `release`); `None` once the server stops. In multiplayer mode the join is
    /// announced under the same lock, so every pair of peers learns of each other exactly once:
    /// SYS_ID(new) and SYS_ADD(1) to the new peer, then for each existing peer X, SYS_ADD(new)
    /// to X and SYS_ADD(X) to the new peer.
    pub fn register(&self, route: Route) -> Option<PeerId> {
        let mut state = self.state.write();
        if state.stopping {
            return None;
        }
        let id = state.free_id();
        self.join(&mut state, id, route);
        Some(id)
    }

    /// Registers an accepted request held as `id` (see `hold`) as peer `id`, as `register`
    /// does; `None` once the server stops.
    pub fn register_held(&self, id: PeerId, route: Route) -> Option<PeerId> {
        let mut state = self.state.write();
        state.held.remove(&id);
        if state.stopping {
            self.notify_if_empty(&state);
            return None;
        }
        self.join(&mut state, id, route);
        Some(id)
    }

    /// Adds `route` as peer `id`, announcing the join in multiplayer mode (see `register`).
    fn join(&self, state: &mut RegistryState, id: PeerId, route: Route) {
        if self.multiplayer {
            let bound = state.system_bound();
            announce(&route, bound, PacketType::SysId, id);
            announce(&route, bound, PacketType::SysAdd, SERVER_ID);
            let joined = encode_system(PacketType::SysAdd, id);
            for (&other_id, other) in &state.routes {
                system_send(other, bound, joined.clone());
                announce(&route, bound, PacketType::SysAdd, other_id);
            }
        }
        state.routes.insert(id, route);
    }

    /// Holds a valid upgrade request for the game's verdict: reserves the id its client will
    /// have as a peer (no join is announced) and returns it with the channel the game's answer
    /// comes by; `None` once the server stops. The holder ends the hold with `register_held` or
    /// `end_hold`.
    pub fn hold(&self) -> Option<(PeerId, oneshot::Receiver<Answer>)> {
        let mut state = self.state.write();
        if state.stopping {
            return None;
        }
        let id = state.free_id();
        let (answer, answered) = oneshot::channel();
        state.held.insert(id, Some(answer));
        Some((id, answered))
    }

    /// Whether the request held as `id` still waits for the game's answer: not answered, and
    /// its task still waits (it stops at the deadline, or when the client leaves).
    pub fn awaits_answer(&self, id: PeerId) -> bool {
        let state = self.state.read();
        matches!(state.held.get(&id), Some(Some(answer)) if !answer.is_closed())
    }

    /// Gives the request held as `id` the game's `answer`; `Err` when none waits for one (an
    /// unknown id, an answered request, or one whose wait ended: timed out, client gone).
    pub fn answer(&self, id: PeerId, answer: Answer) -> Result<(), Answer> {
        let channel = self.state.write().held.get_mut(&id).and_then(Option::take);
        match channel {
            Some(channel) => channel.send(answer),
            None => Err(answer),
        }
    }

    /// The request held as `id` ended without becoming a peer: its id stays taken until
    /// `release`, like a peer's that left.
    pub fn end_hold(&self, id: PeerId) {
        let mut state = self.state.write();
        if state.held.remove(&id).is_some() {
            state.leaving.insert(id);
        }
        self.notify_if_empty(&state);
    }

    fn notify_if_empty(&self, state: &RegistryState) {
        if state.is_empty() {
            self.emptied.notify_one();
        }
    }

    /// Forgets a connection, whose id stays taken until `release`; in multiplayer mode every
    /// other peer gets SYS_DEL(id).
    pub fn unregister(&self, id: PeerId) {
        let mut state = self.state.write();
        if state.routes.remove(&id).is_some() {
            state.leaving.insert(id);
            if self.multiplayer {
                let bound = state.system_bound();
                let left = encode_system(PacketType::SysDel, id);
                for other in state.routes.values() {
                    system_send(other, bound, left.clone());
                }
            }
        }
        self.notify_if_empty(&state);
    }

    /// The main thread took the `Disconnected` event of `id`: a new peer may have it.
    pub fn release(&self, id: PeerId) {
        self.state.write().leaving.remove(&id);
    }

    /// The ids new peers get next, before random ones (each skipped if taken).
    pub fn propose_ids(&self, ids: impl IntoIterator<Item = PeerId>) {
        self.state.write().proposed.extend(ids);
    }

    /// Sends `packet` from client `from`, unchanged, to the clients `relay` names. A
    /// destination whose queue is full is closed for not keeping up (see
    /// `Route::enqueue_or_overflow`): nothing is dropped while it stays. `Err` with the
    /// target when the one peer named is not connected.
    pub fn relay(&self, from: PeerId, relay: Relay, packet: &Bytes) -> Result<(), PeerId> {
        let state = self.state.read();
        let send = |route: &Route| {
            let packet = Packet::binary(packet.clone());
            route.enqueue_or_overflow(packet, Bound::Limited, OverflowCause::Relay { from });
        };
        match relay {
            Relay::None => {}
            Relay::One(target) => send(state.routes.get(&target).ok_or(target)?),
            _ => {
                let targets = state.routes.iter().filter(|(id, _)| relay.includes(**id));
                targets.for_each(|(_, route)| send(route));
            }
        }
        Ok(())
    }

    /// A heartbeat tick: flags and wakes every registered connection once (see `heartbeat`).
    pub fn request_heartbeats(&self) {
        for route in self.state.read().routes.values() {
            route.counters.request_heartbeat();
        }
    }

    /// A rest tick: flags and wakes every registered connection that is awake (see `socket`).
    pub fn request_rests(&self) {
        for route in self.state.read().routes.values() {
            route.counters.request_rest();
        }
    }

    /// Refuses new connections, tells every live one to close and every held request that
    /// no answer comes (dropping its channel: its client is refused).
    pub fn shutdown_all(&self) {
        let mut state = self.state.write();
        state.stopping = true;
        for route in state.routes.values() {
            let _ = route.command(Command::Shutdown);
        }
        for answer in state.held.values_mut() {
            answer.take();
        }
    }

    /// How many connections are registered (past their handshake, not yet gone).
    pub fn len(&self) -> usize {
        self.state.read().routes.len()
    }

    /// Resolves once no connection is left, held requests included.
    pub async fn wait_empty(&self) {
        loop {
            if self.state.read().is_empty() {
                return;
            }
            // `notify_one` keeps a permit, so a wake between the check and here is not lost.
            self.emptied.notified().await;
        }
    }
}

fn announce(route: &Route, bound: Bound, kind: PacketType, id: PeerId) {
    system_send(route, bound, encode_system(kind, id));
}

/// A system message must not be lost: a peer that cannot take it would have a wrong peer
/// list, and is closed instead (see `SYSTEM_RESERVE_PACKETS`).
fn system_send(route: &Route, bound: Bound, data: Bytes) {
    let packet = Packet::binary(data);
    route.enqueue_or_overflow(packet, bound, OverflowCause::SystemMessage);
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
    fn a_relay_to_a_full_queue_overflows_that_destination_only() {
        let registry = Registry::new(false);
        let (a, a_commands) = join(&registry);
        let full = Limits {
            out_packets: 1,
            ..Limits::default()
        };
        let (route, b_commands) = Route::new(full);
        let b_counters = route.counters.clone();
        let b = registry.register(route).unwrap();
        let packet = Bytes::from_static(b"relayed");
        assert_eq!(registry.relay(a, Relay::One(b), &packet), Ok(()));
        assert!(b_counters.overflow().is_none());
        assert_eq!(
            registry.relay(a, Relay::AllBut { sender: SERVER_ID }, &packet),
            Ok(())
        );
        let overflow = b_counters.overflow().expect("b could not take the relay");
        assert_eq!(overflow.cause, OverflowCause::Relay { from: a });
        assert_eq!(
            (overflow.queued_packets, overflow.packet),
            (1, packet.len())
        );
        let unknown = (2..).find(|id| ![a, b].contains(id)).unwrap();
        assert_eq!(
            registry.relay(a, Relay::One(unknown), &packet),
            Err(unknown)
        );
        assert_eq!(registry.relay(a, Relay::None, &packet), Ok(()));
        assert_eq!(drain(&b_commands).len(), 1);
        assert_eq!(drain(&a_commands).len(), 1, "a got the broadcast");
    }

    #[test]
    fn system_messages_pass_the_limits_by_the_reserve_then_overflow() {
        let registry = Registry::new(true);
        let tight = Limits {
            out_packets: 1,
            ..Limits::default()
        };
        let (route, _stuck_commands) = Route::new(tight);
        let stuck = route.counters.clone();
        registry.register(route).unwrap();
        // SYS_ID and SYS_ADD(1) are in the stuck peer's queue; it takes no more.
        let mut announced = 2;
        while stuck.overflow().is_none() {
            let (id, _commands) = join(&registry);
            registry.unregister(id);
            registry.release(id);
            announced += 2;
            assert!(
                announced < 2 * SYSTEM_RESERVE_PACKETS + 10,
                "never overflowed"
            );
        }
        // Its queue took the limit, plus the reserve and one for each peer (itself alone
        // when the peer that left is announced).
        let overflow = stuck.overflow().unwrap();
        assert_eq!(
            overflow.queued_packets,
            tight.out_packets + SYSTEM_RESERVE_PACKETS + 1
        );
        assert_eq!(overflow.cause, OverflowCause::SystemMessage);
        assert_eq!(overflow.packet, 13);
    }

    #[test]
    fn a_join_of_more_peers_than_the_queue_takes_still_fits() {
        let registry = Registry::new(true);
        let tight = Limits {
            out_packets: 4,
            ..Limits::default()
        };
        let joined: Vec<_> = (0..SYSTEM_RESERVE_PACKETS + 10)
            .map(|_| {
                let (route, commands) = Route::new(tight);
                let counters = route.counters.clone();
                registry.register(route).unwrap();
                (counters, commands)
            })
            .collect();
        let (last, commands) = joined.last().unwrap();
        assert!(last.overflow().is_none(), "{:?}", last.overflow());
        assert_eq!(drain(commands).len(), 2 + SYSTEM_RESERVE_PACKETS + 9);
    }

    #[test]
    fn an_id_stays_taken_until_the_main_thread_took_its_end() {
        let registry = Registry::new(false);
        registry.propose_ids([5]);
        let (five, _commands) = join(&registry);
        assert_eq!(five, 5);
        registry.unregister(5);
        assert_eq!(registry.len(), 0);
        registry.propose_ids([5, 6]);
        assert_eq!(join(&registry).0, 6, "5 is not released yet");
        registry.release(5);
        registry.propose_ids([5]);
        assert_eq!(join(&registry).0, 5);
        registry.propose_ids([0, 1, -3]);
        assert!(join(&registry).0 >= 2, "never the server's id or below");
    }

    #[test]
    fn a_held_request_reserves_its_id_and_joins_only_when_registered() {
        let registry = Registry::new(true);
        let (_, a_commands) = join(&registry);
        announcements(&a_commands);
        registry.propose_ids([7]);
        let (held, answered) = registry.hold().unwrap();
        assert_eq!(held, 7);
        registry.propose_ids([7]);
        let (other, other_commands) = join(&registry);
        assert_ne!(other, 7, "a held id is taken");
        assert_eq!(announcements(&a_commands), [(ADD, other)]);
        drop(other_commands);
        assert_eq!(registry.len(), 2, "a held request is no peer");

        assert!(registry.awaits_answer(7));
        assert!(registry.answer(7, Answer::Accept).is_ok());
        assert!(matches!(answered.blocking_recv(), Ok(Answer::Accept)));
        assert!(!registry.awaits_answer(7), "answered");
        assert!(registry.answer(7, Answer::Accept).is_err());
        let (route, held_commands) = Route::new(Limits::default());
        assert_eq!(registry.register_held(7, route), Some(7));
        assert_eq!(announcements(&a_commands), [(ADD, 7)]);
        assert_eq!(
            announcements(&held_commands)[..2],
            [(ID, 7), (ADD, SERVER_ID)]
        );
    }

    #[test]
    fn a_hold_that_ends_frees_its_id_once_released_and_stops_waiting_with_its_task() {
        let registry = Registry::new(false);
        registry.propose_ids([9]);
        let (held, answered) = registry.hold().unwrap();
        assert_eq!(held, 9);
        // The task stopped waiting (deadline, client gone): the request waits no more.
        drop(answered);
        assert!(!registry.awaits_answer(9));
        assert!(registry.answer(9, Answer::Accept).is_err());
        registry.end_hold(9);
        registry.propose_ids([9, 10]);
        assert_eq!(join(&registry).0, 10, "9 is not released yet");
        registry.release(9);
        registry.propose_ids([9]);
        assert_eq!(join(&registry).0, 9);
    }

    #[tokio::test]
    async fn a_shutdown_drops_the_held_answers_and_waits_for_the_holds() {
        let registry = Registry::new(false);
        let (held, answered) = registry.hold().unwrap();
        registry.shutdown_all();
        assert!(
            answered.await.is_err(),
            "the holder hears that no answer comes"
        );
        assert!(registry.hold().is_none());
        let waited = futures_util::FutureExt::now_or_never(registry.wait_empty());
        assert!(
            waited.is_none(),
            "a stop waits for the held request to be answered"
        );
        registry.end_hold(held);
        registry.wait_empty().await;
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
