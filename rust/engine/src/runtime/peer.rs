//! The main thread's view of one connected peer: its unread messages, its way to the
//! connection task, and whether the server is closing it.
//!
//! Every message a peer sends the game, plain or multiplayer, is filed in its unread queue
//! here and obeys one rule: once the server closes the peer, its unread input is dropped and
//! no more is filed. In multiplayer mode the queue holds the packets addressed to the server,
//! which the server hands out in arrival order across peers (`Server::take_multiplayer_packet`)
//! instead of one peer at a time.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::queue::{Bound, Command, Route, Wake, WakeBatch};
use crate::error::{CloseError, SendError};
use crate::packet::{Packet, PeerId};
use crate::proto::close::{sendable_close_code, MAX_REASON_BYTES};
use crate::proto::request::ClientRequest;

/// The main thread's view of a connected peer.
#[derive(Debug)]
pub struct Peer {
    id: PeerId,
    address: SocketAddr,
    protocol: String,
    request: ClientRequest,
    route: Route,
    /// The server's batch of held wakes (see `WakeBatch`).
    wakes: Arc<WakeBatch>,
    inbound: VecDeque<Packet>,
    /// Multiplayer mode: the server's count of unread packets across all peers, which this
    /// peer's filing, taking and dropping keep up to date. `None` in plain mode.
    multiplayer_unread: Option<Arc<AtomicUsize>>,
    /// Set once the server started a close: input is dropped, output refused.
    closing: bool,
}

impl Peer {
    pub(crate) fn new(
        id: PeerId,
        address: SocketAddr,
        protocol: String,
        request: ClientRequest,
        route: Route,
        wakes: Arc<WakeBatch>,
        multiplayer_unread: Option<Arc<AtomicUsize>>,
    ) -> Self {
        Self {
            id,
            address,
            protocol,
            request,
            route,
            wakes,
            inbound: VecDeque::new(),
            multiplayer_unread,
            closing: false,
        }
    }

    pub fn id(&self) -> PeerId {
        self.id
    }

    /// The client's address; IPv4 clients of a dual-stack server show as plain IPv4.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The subprotocol agreed in the handshake, "" for none.
    /// What the client asked for in its upgrade request: the path and the headers.
    pub fn request(&self) -> &ClientRequest {
        &self.request
    }

    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// False once the server started closing this peer.
    pub fn is_open(&self) -> bool {
        !self.closing
    }

    /// Whether the peer is on its way out: the server is closing it, or its connection ended
    /// and the game hears `Disconnected` at its next poll. It takes no more packets.
    pub fn is_leaving(&self) -> bool {
        self.closing || self.route.has_ended()
    }

    /// Makes this peer's connection task panic. A test hook, hidden from the docs: it proves
    /// that a panic there still unregisters the peer and reports its disconnection. Nothing a
    /// client sends reaches it.
    #[doc(hidden)]
    pub fn inject_panic(&self) {
        let _ = self.route.command(Command::Panic);
    }

    /// Queues a message. Refuses, sending nothing, when the peer is closing or the outbound
    /// limits would be passed.
    pub fn put_packet(&self, packet: Packet) -> Result<(), SendError> {
        if self.closing {
            return Err(SendError::NotConnected);
        }
        if packet.is_text && std::str::from_utf8(&packet.data).is_err() {
            return Err(SendError::InvalidUtf8);
        }
        self.route
            .enqueue(packet, Bound::Limited, Wake::Batched(&self.wakes))
    }

    /// Takes the oldest unread message. In multiplayer mode there are none here: the packets
    /// are the server's, taken in arrival order with `Server::take_multiplayer_packet`.
    pub fn get_packet(&mut self) -> Option<Packet> {
        match self.multiplayer_unread {
            Some(_) => None,
            None => self.take_oldest(),
        }
    }

    /// How many unread messages `get_packet` has (none in multiplayer mode).
    pub fn available_packets(&self) -> usize {
        match self.multiplayer_unread {
            Some(_) => 0,
            None => self.inbound.len(),
        }
    }

    /// Bytes queued for this peer and not yet written to its socket.
    pub fn buffered_amount(&self) -> usize {
        self.route.counters.queued_bytes()
    }

    /// Starts the close handshake with `code` and `reason` and drops unread input. The peer
    /// stays until the handshake ends (or the close timeout passes).
    pub fn close(&mut self, code: i64, reason: &str) -> Result<(), CloseError> {
        if self.closing {
            return Err(CloseError::NotConnected);
        }
        let code = sendable_close_code(code).ok_or(CloseError::InvalidCode(code))?;
        if reason.len() > MAX_REASON_BYTES {
            return Err(CloseError::ReasonTooLong(reason.len()));
        }
        self.closing = true;
        self.drop_unread();
        // A failed send means the task already ended; its Disconnected event is on the way.
        let _ = self.route.command(Command::Close {
            code,
            reason: reason.to_owned(),
        });
        Ok(())
    }

    /// TCP_NODELAY on or off (on by default).
    pub fn set_no_delay(&self, enabled: bool) {
        self.route.set_no_delay(enabled);
    }

    /// Files a message from the connection task; dropped (and its room given back) when the
    /// server is closing this peer. Returns whether the game should hear of it.
    pub(crate) fn receive(&mut self, packet: Packet) -> bool {
        if self.closing {
            self.route.counters.remove_unread(packet.data.len());
            return false;
        }
        self.inbound.push_back(packet);
        if let Some(unread) = &self.multiplayer_unread {
            unread.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// `batch_receive`: whether a message from the connection task goes to the game, held by
    /// the server (`Server::take_messages`) and counted against this peer's input limits until
    /// `taken_by_server`. When the server is closing this peer it is dropped, its room given
    /// back, as `receive` does.
    pub(crate) fn receive_for_server(&mut self, packet: &Packet) -> bool {
        if self.closing {
            self.route.counters.remove_unread(packet.data.len());
            return false;
        }
        true
    }

    /// `batch_receive`: the server handed over (or dropped) a message it held for this peer.
    pub(crate) fn taken_by_server(&self, packet: &Packet) {
        self.route.counters.remove_unread(packet.data.len());
    }

    pub(crate) fn is_multiplayer(&self) -> bool {
        self.multiplayer_unread.is_some()
    }

    /// Whether any message is filed, whatever the mode.
    pub(crate) fn holds_unread(&self) -> bool {
        !self.inbound.is_empty()
    }

    /// Multiplayer mode: the oldest packet for the server, header included.
    pub(crate) fn take_multiplayer_packet(&mut self) -> Option<Packet> {
        self.take_oldest()
    }

    /// Drops every unread message, giving its room back: at a close, and when the peer goes.
    pub(crate) fn drop_unread(&mut self) {
        while self.take_oldest().is_some() {}
    }

    fn take_oldest(&mut self) -> Option<Packet> {
        let packet = self.inbound.pop_front()?;
        self.route.counters.remove_unread(packet.data.len());
        if let Some(unread) = &self.multiplayer_unread {
            unread.fetch_sub(1, Ordering::Relaxed);
        }
        Some(packet)
    }
}
