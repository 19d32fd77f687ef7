//! The main thread's handle on a listening server: start it, drain its events one at a time,
//! reach its peers, stop it. Every call returns at once; the network runs on the server's own
//! tokio runtime.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use crossbeam_channel::{unbounded, Receiver, TryRecvError};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::context::{Event, ServerContext};
use super::heartbeat::spawn_heartbeat;
use super::listener::{accept_loop, bind};
use super::peer::Peer;
use super::queue::WakeBatch;
use super::socket::spawn_rest_tick;
use super::verification::Answer;
use crate::config::ServerConfig;
use crate::error::{ListenError, SendError, VerifyError};
use crate::event::ServerEvent;
use crate::packet::{Packet, PeerId, PeerMap};
use crate::proto::multiplayer::{encode_data, Relay, HEADER_SIZE, SERVER_ID};
use crate::tls::TlsConfig;

/// How long `stop()` lets connections send their close frames, and then lets the runtime's
/// threads finish.
pub const STOP_GRACE: Duration = Duration::from_millis(500);

pub struct Server {
    runtime: Option<Runtime>,
    context: Arc<ServerContext>,
    accept_task: JoinHandle<()>,
    /// The heartbeat tick, when `heartbeat_interval` is on.
    heartbeat_task: Option<JoinHandle<()>>,
    /// The rest tick (see `socket`).
    rest_task: JoinHandle<()>,
    events: Receiver<Event>,
    peers: PeerMap<Peer>,
    /// Multiplayer mode: the senders of the packets filed in the peers' unread queues, in
    /// arrival order across peers (the MultiplayerAPI reads them in that order). A peer that
    /// closes drops its unread packets and never files more, so its entries left here are
    /// skipped (see `skip_dropped_arrivals`).
    arrivals: VecDeque<PeerId>,
    /// `batch_receive` (plain mode only): messages are held here for `take_messages`, in
    /// arrival order, instead of being announced. Each stays counted against its peer's input
    /// limits until taken, as an unread message in a peer's queue does.
    batch_receive: bool,
    held: VecDeque<(PeerId, Packet)>,
    local_addr: SocketAddr,
    /// The process may run on one core only, so the network thread shares it with the game.
    one_core: bool,
}

/// See `Server::hold_wakes`; the wakes go out when this is dropped.
pub struct HeldWakes(Arc<WakeBatch>);

impl Drop for HeldWakes {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Server {
    /// Binds at once (bind errors come back here) and starts accepting on background threads.
    pub fn listen(config: ServerConfig) -> Result<Self, ListenError> {
        let listener = bind(config.bind, config.port)?;
        let local_addr = listener.local_addr().map_err(ListenError::CantCreate)?;
        let cores = available_cores();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores.min(2))
            .thread_name("gdws-io")
            .enable_all()
            .build()
            .map_err(ListenError::Runtime)?;
        let (events_tx, events) = unbounded();
        let batch_receive = config.batch_receive && !config.multiplayer;
        let context = Arc::new(ServerContext::new(config, events_tx));
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(ListenError::CantCreate)?
        };
        let accept_task = runtime.spawn(accept_loop(listener, context.clone()));
        let (heartbeat_task, rest_task) = {
            let _entered = runtime.enter();
            (spawn_heartbeat(&context), spawn_rest_tick(&context))
        };
        Ok(Self {
            runtime: Some(runtime),
            context,
            accept_task,
            heartbeat_task,
            rest_task,
            events,
            peers: PeerMap::default(),
            arrivals: VecDeque::new(),
            batch_receive,
            held: VecDeque::new(),
            local_addr,
            one_core: cores == 1,
        })
    }

    /// The address the server listens on (its port, when it was asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The configuration the server was started with (`config().tls` stays the first TLS
    /// configuration; `replace_tls` changes what new connections get).
    pub fn config(&self) -> &ServerConfig {
        &self.context.config
    }

    /// Serves the wss:// connections accepted from now on with `tls` (a renewed certificate,
    /// say), without touching the connected peers or the listening socket. False on a ws://
    /// server, which stays one.
    pub fn replace_tls(&self, tls: TlsConfig) -> bool {
        self.context.replace_tls(tls)
    }

    /// The largest packet a peer's queue takes from the game: the outbound byte limit, less
    /// the header in multiplayer mode.
    pub fn max_packet_size(&self) -> usize {
        let config = &self.context.config;
        let header = if config.multiplayer { HEADER_SIZE } else { 0 };
        config.limits.out_bytes.saturating_sub(header)
    }

    /// Takes the next event, if one is ready, and updates the peers to match: a peer is
    /// reachable from its `Connected` event until its `Disconnected` event.
    /// Once the channel is empty, the notice of warnings held back comes out, when due.
    pub fn next_event(&mut self) -> Option<ServerEvent> {
        let mut unbounded = usize::MAX;
        self.next_event_within(&mut unbounded)
    }

    /// Like `next_event`, taking at most `budget` events off the channel, each one taken
    /// counted (reported or not): a poll that handles the `pending_events()` of its start ends
    /// even while messages it files without a report (`batch_receive`) keep coming.
    pub fn next_event_within(&mut self, budget: &mut usize) -> Option<ServerEvent> {
        while *budget > 0 {
            *budget -= 1;
            let event = match self.events.try_recv() {
                Ok(event) => event,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
                    return self.suppressed_warnings();
                }
            };
            if let Some(event) = self.apply(event) {
                return Some(event);
            }
        }
        None
    }

    /// Holds back the wakes of connection tasks for packets sent (`Peer::put_packet`,
    /// `send_multiplayer`) until the returned guard is dropped: for the handling of one batch of
    /// events, so each connection writes everything the game sent in it at once.
    pub fn hold_wakes(&self) -> HeldWakes {
        self.context.wakes.hold();
        HeldWakes(self.context.wakes.clone())
    }

    /// For a game loop that found no events: when the process has one core, gives the rest of
    /// this time slice to the network thread, which may be waiting for the core with the writes
    /// of the last batch or the input of the next. A main thread in a busy loop otherwise keeps
    /// half the core spinning on empty polls (bench/: busy-loop echo and bulk throughput nearly
    /// doubled). With more cores the network threads run on their own, and this does nothing.
    pub fn lend_core_if_shared(&self) {
        if self.one_core {
            std::thread::yield_now();
        }
    }

    /// How many events are waiting (some may be dropped on the way, e.g. input for a peer the
    /// server is closing). A poll that handles only these cannot be kept busy forever.
    pub fn pending_events(&self) -> usize {
        let notice = self.context.warnings.notice_due(std::time::Instant::now());
        self.events.len() + usize::from(notice)
    }

    /// The notice of the warnings the server-wide bound held back, when the bound lets it out.
    fn suppressed_warnings(&self) -> Option<ServerEvent> {
        let count = self
            .context
            .warnings
            .take_notice(std::time::Instant::now())?;
        Some(ServerEvent::WarningsSuppressed { count })
    }

    /// Like `next_event`, but waits up to `timeout` for one. Blocks the calling thread: for
    /// tests and tools, never for a game's main thread.
    pub fn wait_event(&mut self, timeout: Duration) -> Option<ServerEvent> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if self.events.is_empty() {
                if let Some(notice) = self.suppressed_warnings() {
                    return Some(notice);
                }
            }
            let event = self.events.recv_deadline(deadline).ok()?;
            if let Some(event) = self.apply(event) {
                return Some(event);
            }
        }
    }

    fn apply(&mut self, event: Event) -> Option<ServerEvent> {
        match event {
            Event::Connected(peer) => {
                let id = peer.id();
                if self.batch_receive {
                    // Messages of the id's previous holder that the game did not take are not
                    // the new peer's.
                    self.held.retain(|(from, _)| *from != id);
                }
                let protocol = peer.protocol().to_owned();
                self.peers.insert(id, peer);
                Some(ServerEvent::Connected { id, protocol })
            }
            Event::Message { id, packet } => {
                let peer = self.peers.get_mut(&id)?;
                if self.batch_receive {
                    if peer.receive_for_server(&packet) {
                        self.held.push_back((id, packet));
                    }
                    return None;
                }
                if !peer.receive(packet) {
                    return None;
                }
                if peer.is_multiplayer() {
                    self.arrivals.push_back(id);
                }
                Some(ServerEvent::Message { id })
            }
            // A request whose wait ended (its client left) before the game heard of it is
            // not announced: the game hears nothing of that id.
            Event::VerifyRequest { id, request } => self
                .context
                .registry
                .awaits_answer(id)
                .then_some(ServerEvent::VerifyRequest { id, request }),
            Event::HoldEnded(id) => {
                self.context.registry.release(id);
                None
            }
            Event::Report(event @ ServerEvent::CloseRequest { id, .. }) => {
                self.peers.contains_key(&id).then_some(event)
            }
            Event::Report(event @ ServerEvent::Disconnected { id, .. }) => {
                // From here on the game knows the peer left: a new peer may have its id.
                self.context.registry.release(id);
                let mut peer = self.peers.remove(&id)?;
                if peer.is_multiplayer() {
                    // Before a new peer with this id files packets, which are not these.
                    self.arrivals.retain(|from| *from != id);
                }
                peer.drop_unread();
                if self.batch_receive && !peer.is_open() {
                    // The game closed it: none of its unread messages reaches the game. The
                    // messages of a peer that left by itself are still taken, after the news.
                    self.held.retain(|(from, _)| *from != id);
                }
                Some(event)
            }
            Event::Report(event) => {
                if event.is_warning() {
                    self.context.warnings.taken();
                }
                Some(event)
            }
        }
    }

    /// How many connections the network threads hold past their handshake, including those the
    /// game has not heard of yet and those whose `Disconnected` event it has not taken yet.
    pub fn open_connections(&self) -> usize {
        self.context.registry.len()
    }

    pub fn peer(&self, id: PeerId) -> Option<&Peer> {
        self.peers.get(&id)
    }

    pub fn peer_mut(&mut self, id: PeerId) -> Option<&mut Peer> {
        self.peers.get_mut(&id)
    }

    pub fn peers(&self) -> impl Iterator<Item = &Peer> {
        self.peers.values()
    }

    /// Multiplayer mode: how many packets for the server wait.
    pub fn multiplayer_packet_count(&self) -> usize {
        self.context.multiplayer_unread.load(Ordering::Relaxed)
    }

    /// Multiplayer mode: the sender of the next packet (`get_packet_peer`).
    pub fn multiplayer_packet_peer(&mut self) -> Option<PeerId> {
        self.skip_dropped_arrivals();
        self.arrivals.front().copied()
    }

    /// Multiplayer mode: takes the next packet for the server, without its header.
    pub fn take_multiplayer_packet(&mut self) -> Option<(PeerId, Bytes)> {
        self.skip_dropped_arrivals();
        let from = self.arrivals.pop_front()?;
        let packet = self.peers.get_mut(&from)?.take_multiplayer_packet()?;
        // The connection checked the header (`multiplayer::route`).
        let payload = packet.data.slice(HEADER_SIZE.min(packet.data.len())..);
        Some((from, payload))
    }

    /// `batch_receive`: takes every message held since the last call, with its sender, in
    /// arrival order across peers. Messages are held as `next_event` takes them off the
    /// channel, so these are what the polls so far delivered; those of a peer that left by
    /// itself come too (the game heard of its end first), those of a peer the game closed do
    /// not. Empty without `batch_receive`.
    pub fn take_messages(&mut self) -> Vec<(PeerId, Packet)> {
        let mut messages = Vec::with_capacity(self.held.len());
        for (from, packet) in self.held.drain(..) {
            if let Some(peer) = self.peers.get(&from) {
                peer.taken_by_server(&packet);
                if !peer.is_open() {
                    continue;
                }
            }
            messages.push((from, packet));
        }
        messages
    }

    /// Drops the arrivals at the front whose packets their peer no longer holds (it closed
    /// or is gone): a peer's packets are taken in order, so its entry at the front is its
    /// oldest packet exactly when it holds any.
    fn skip_dropped_arrivals(&mut self) {
        while let Some(from) = self.arrivals.front() {
            match self.peers.get(from) {
                Some(peer) if peer.holds_unread() => return,
                _ => {
                    self.arrivals.pop_front();
                }
            }
        }
    }

    /// Multiplayer mode: sends `payload` from the server (id 1) to `target`: 0 every peer,
    /// < 0 every peer but `-target`, > 1 that peer. Encoded once, shared by every queue. The
    /// peers that refused it (full queue, unknown or leaving target) come back as errors; a
    /// broadcast leaves out the peers that are leaving (closing, or their connection ended),
    /// which the game hears of at its next poll.
    pub fn send_multiplayer(&self, target: i64, payload: &[u8]) -> Vec<(PeerId, SendError)> {
        let to = i32::try_from(target).unwrap_or(i32::MIN);
        let data = encode_data(SERVER_ID, to, payload);
        let send = |peer: &Peer| {
            let packet = Packet::binary(data.clone());
            peer.put_packet(packet).err().map(|e| (peer.id(), e))
        };
        match Relay::from_server(to) {
            Relay::One(to) => match self.peers.get(&to) {
                Some(peer) => send(peer).into_iter().collect(),
                None => vec![(to, SendError::NotConnected)],
            },
            relay => {
                let targets = self
                    .peers
                    .values()
                    .filter(|peer| relay.includes(peer.id()) && !peer.is_leaving());
                targets.filter_map(send).collect()
            }
        }
    }

    /// Lets the client held as `id` (`ServerEvent::VerifyRequest`) in: it gets its 101 and
    /// becomes peer `id` (`Connected` follows). `Err` when no request held as `id` waits for
    /// an answer.
    pub fn accept_client(&self, id: PeerId) -> Result<(), VerifyError> {
        self.answer(id, Answer::Accept)
    }

    /// Refuses the client held as `id` with the HTTP error `status` (400-599) and `reason`
    /// (at most `MAX_REJECT_REASON_BYTES`, then a newline) as the body. Nothing more is heard
    /// of it.
    pub fn reject_client(&self, id: PeerId, status: i64, reason: &str) -> Result<(), VerifyError> {
        self.answer(id, Answer::reject(status, reason)?)
    }

    fn answer(&self, id: PeerId, answer: Answer) -> Result<(), VerifyError> {
        let answered = self.context.registry.answer(id, answer);
        answered.map_err(|_| VerifyError::NotWaiting(id))
    }

    /// The ids the next peers get, in order, before random ones; an id a connection holds (or
    /// held, until the game took its `Disconnected`), or one below 2, is skipped. A test hook,
    /// hidden from the docs: it makes id collisions happen on demand.
    #[doc(hidden)]
    pub fn propose_peer_ids(&self, ids: &[PeerId]) {
        self.context.registry.propose_ids(ids.iter().copied());
    }

    /// Accepted sockets the network side still holds: handshakes under way (which
    /// `open_connections` does not count), peers, and peers closing. What a misbehaving client
    /// cost is given back when this returns to its count from before.
    pub fn open_sockets(&self) -> usize {
        self.context.open_sockets.load(Ordering::Acquire)
    }

    /// The connection limit in force: `ServerConfig::max_connections`, or the automatic one
    /// read from the descriptor limit at `listen`.
    pub fn max_connections(&self) -> usize {
        self.context.admission.max_connections()
    }

    /// Accept calls that failed since `listen` (out of descriptors or memory, or a connection
    /// that failed before it was taken): each one woke the accept loop without a connection to
    /// serve. Growing fast, it tells the descriptor limit is too low for `max_connections`.
    pub fn accept_failures(&self) -> usize {
        self.context.accept_failures.load(Ordering::Relaxed)
    }

    /// Connections that closed without sending a byte (port scans, load balancers' TCP
    /// checks), which are not reported as failed handshakes.
    pub fn silent_connections(&self) -> usize {
        self.context.silent_connections.load(Ordering::Relaxed)
    }

    /// New TCP connections are closed at once while set; handshakes under way go on.
    pub fn set_refuse_new_connections(&self, refuse: bool) {
        self.context
            .refuse_new_connections
            .store(refuse, Ordering::Release);
    }

    pub fn is_refusing_new_connections(&self) -> bool {
        self.context.refuse_new_connections.load(Ordering::Acquire)
    }

    /// Closes the listener and every connection (close 1001), refuses the held requests (503),
    /// emits nothing, and joins the network threads, waiting at most about twice `STOP_GRACE`.
    pub fn stop(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        self.accept_task.abort();
        if let Some(heartbeat) = &self.heartbeat_task {
            heartbeat.abort();
        }
        self.rest_task.abort();
        self.context.registry.shutdown_all();
        if tokio::runtime::Handle::try_current().is_ok() {
            // Inside some async context (never Godot's main thread) we may not block: the
            // connections are dropped without waiting for their close frames.
            runtime.shutdown_background();
        } else {
            let registry = &self.context.registry;
            runtime.block_on(async {
                let _ = tokio::time::timeout(STOP_GRACE, registry.wait_empty()).await;
            });
            runtime.shutdown_timeout(STOP_GRACE);
        }
        for (_, mut peer) in self.peers.drain() {
            peer.drop_unread();
        }
        self.arrivals.clear();
        self.held.clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// How many cores the process may run on (its CPU affinity and quota). The runtime gets one or
/// two I/O threads: the main thread keeps a core of its own on small machines.
pub(crate) fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
