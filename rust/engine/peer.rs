//! One connected client: the counters shared with its connection task, and the main thread's
//! view of it (unread packets, outbound limits, close state).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TryRecvError};
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;

use super::config::Limits;
use super::error::{CloseError, SendError};

/// A peer id: random in 2..=i32::MAX (1 is the server), unique among live peers.
pub type PeerId = i32;

/// A complete message as the game sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub data: Bytes,
    pub is_text: bool,
}

/// What the main thread asks of a connection task.
#[derive(Debug)]
pub(crate) enum Command {
    Send(Packet),
    /// Start the close handshake; drop unread and further input.
    Close {
        code: u16,
        reason: String,
    },
    SetNoDelay(bool),
    /// The server stops: send a close frame and end without waiting for the reply.
    Shutdown,
}

/// Counters shared by the main thread and the connection task.
#[derive(Default, Debug)]
pub(crate) struct PeerShared {
    /// Messages handed to the main thread (in the event channel or in `Peer::inbound`) and not
    /// yet taken by the game. The connection stops reading its socket while these are at the
    /// inbound limit.
    pub unread_bytes: AtomicUsize,
    pub unread_packets: AtomicUsize,
    /// Woken when the game takes a packet, so a paused reader resumes.
    pub reader_waker: AtomicWaker,
    /// Bytes and messages queued for sending and not yet flushed to the socket.
    pub queued_bytes: AtomicUsize,
    pub queued_packets: AtomicUsize,
    /// Woken when a command is queued, so the connection task writes it.
    pub writer_waker: AtomicWaker,
    /// In the held wakes of a `WakeBatch`.
    wake_held: AtomicBool,
}

impl PeerShared {
    /// Whether one more inbound message of `len` bytes fits in the unread limits.
    pub fn has_inbound_room(&self, len: usize, limits: &Limits) -> bool {
        self.unread_packets.load(Ordering::Acquire) < limits.in_packets
            && self.unread_bytes.load(Ordering::Acquire) + len <= limits.in_bytes
    }

    pub fn add_unread(&self, len: usize) {
        self.unread_bytes.fetch_add(len, Ordering::AcqRel);
        self.unread_packets.fetch_add(1, Ordering::AcqRel);
    }

    /// The game took (or dropped) an unread message: make room and wake the reader.
    pub fn remove_unread(&self, len: usize) {
        self.unread_bytes.fetch_sub(len, Ordering::AcqRel);
        self.unread_packets.fetch_sub(1, Ordering::AcqRel);
        self.reader_waker.wake();
    }

    pub fn remove_queued(&self, bytes: usize, packets: usize) {
        self.queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
        self.queued_packets.fetch_sub(packets, Ordering::AcqRel);
    }
}

/// Holds back the main thread's wakes of connection tasks while it handles a batch of events
/// (one `poll()`): every packet the game sends in the batch is queued at once, and each task
/// with new output is woken once at the end, to write all of it in one go. Woken one packet at
/// a time, a task on the same core preempts the main thread for every packet.
#[derive(Default, Debug)]
pub(crate) struct WakeBatch {
    /// Holds open (they nest: a signal handler may poll again).
    holding: AtomicUsize,
    held: Mutex<Vec<Arc<PeerShared>>>,
}

impl WakeBatch {
    /// From now on, wakes asked for by `wake` wait for the matching `release`.
    pub fn hold(&self) {
        self.holding.fetch_add(1, Ordering::AcqRel);
    }

    /// Ends a `hold`; the last one wakes every connection task held back.
    pub fn release(&self) {
        if self.holding.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        let held = std::mem::take(&mut *self.held.lock());
        for shared in held {
            shared.wake_held.store(false, Ordering::Release);
            shared.writer_waker.wake();
        }
    }

    /// Wakes the connection task of `shared` now, or at `release` while holding.
    fn wake(&self, shared: &Arc<PeerShared>) {
        if self.holding.load(Ordering::Acquire) == 0 {
            shared.writer_waker.wake();
        } else if !shared.wake_held.swap(true, Ordering::AcqRel) {
            self.held.lock().push(shared.clone());
        }
    }
}

/// A connection task's end of its command queue.
pub(crate) struct Commands {
    receiver: Receiver<Command>,
    shared: Arc<PeerShared>,
}

impl Commands {
    /// The next command; `Ready(None)` once every sender is gone (the server went away).
    pub fn poll_next(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Command>> {
        use std::task::Poll;
        for attempt in 0..2 {
            match self.receiver.try_recv() {
                Ok(command) => return Poll::Ready(Some(command)),
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                // Checked again after registering, so a command queued in between still wakes us.
                Err(TryRecvError::Empty) if attempt == 0 => {
                    self.shared.writer_waker.register(cx.waker())
                }
                Err(TryRecvError::Empty) => {}
            }
        }
        Poll::Pending
    }
}

/// The way to a peer's connection task: its command queue and the counters that bound it.
/// Cloned into the registry, so other connections can relay to the peer without the main
/// thread.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    commands: Sender<Command>,
    pub shared: Arc<PeerShared>,
    pub limits: Limits,
}

impl Route {
    /// A new peer's route and its connection task's end of the command queue.
    pub fn new(limits: Limits) -> (Self, Commands) {
        let (commands, receiver) = crossbeam_channel::unbounded();
        let shared = Arc::new(PeerShared::default());
        let receiver = Commands {
            receiver,
            shared: shared.clone(),
        };
        let route = Self {
            commands,
            shared,
            limits,
        };
        (route, receiver)
    }

    /// Queues a command and wakes the connection task. Fails once the task has ended.
    pub fn command(&self, command: Command) -> Result<(), SendError> {
        self.commands
            .send(command)
            .map_err(|_| SendError::NotConnected)?;
        self.shared.writer_waker.wake();
        Ok(())
    }

    /// Queues a message unless the outbound limits would be passed.
    pub fn send(&self, packet: Packet) -> Result<(), SendError> {
        self.queue(packet)?;
        self.shared.writer_waker.wake();
        Ok(())
    }

    /// Like `send`, but the wake waits for the end of the main thread's batch, if one is on.
    fn send_batched(&self, packet: Packet, wakes: &WakeBatch) -> Result<(), SendError> {
        self.queue(packet)?;
        wakes.wake(&self.shared);
        Ok(())
    }

    /// Queues a message unless the outbound limits would be passed, without waking the task.
    fn queue(&self, packet: Packet) -> Result<(), SendError> {
        let len = packet.data.len();
        let queued_bytes = self.shared.queued_bytes.load(Ordering::Acquire);
        let queued_packets = self.shared.queued_packets.load(Ordering::Acquire);
        if queued_packets >= self.limits.out_packets || queued_bytes + len > self.limits.out_bytes {
            return Err(SendError::QueueFull {
                queued_bytes,
                queued_packets,
                packet: len,
            });
        }
        self.queue_unchecked(packet)
    }

    /// Queues a message whatever the limits: for the few protocol messages that must not be
    /// lost (multiplayer joins and leaves, one per peer).
    pub fn send_unchecked(&self, packet: Packet) -> Result<(), SendError> {
        self.queue_unchecked(packet)?;
        self.shared.writer_waker.wake();
        Ok(())
    }

    fn queue_unchecked(&self, packet: Packet) -> Result<(), SendError> {
        let len = packet.data.len();
        self.shared.queued_bytes.fetch_add(len, Ordering::AcqRel);
        self.shared.queued_packets.fetch_add(1, Ordering::AcqRel);
        if self.commands.send(Command::Send(packet)).is_err() {
            self.shared.remove_queued(len, 1);
            return Err(SendError::NotConnected);
        }
        Ok(())
    }
}

/// The main thread's view of a connected peer.
#[derive(Debug)]
pub struct Peer {
    id: PeerId,
    address: SocketAddr,
    protocol: String,
    route: Route,
    /// The server's batch of held wakes (see `WakeBatch`).
    wakes: Arc<WakeBatch>,
    inbound: VecDeque<Packet>,
    /// Set once the server started a close: input is dropped, output refused.
    closing: bool,
}

impl Peer {
    pub(crate) fn new(
        id: PeerId,
        address: SocketAddr,
        protocol: String,
        route: Route,
        wakes: Arc<WakeBatch>,
    ) -> Self {
        Self {
            id,
            address,
            protocol,
            route,
            wakes,
            inbound: VecDeque::new(),
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
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// False once the server started closing this peer.
    pub fn is_open(&self) -> bool {
        !self.closing
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
        self.route.send_batched(packet, &self.wakes)
    }

    /// Takes the oldest unread message.
    pub fn get_packet(&mut self) -> Option<Packet> {
        let packet = self.inbound.pop_front()?;
        self.route.shared.remove_unread(packet.data.len());
        Some(packet)
    }

    pub fn available_packets(&self) -> usize {
        self.inbound.len()
    }

    /// Bytes queued for this peer and not yet written to its socket.
    pub fn buffered_amount(&self) -> usize {
        self.route.shared.queued_bytes.load(Ordering::Acquire)
    }

    /// Starts the close handshake with `code` and `reason` and drops unread input. The peer
    /// stays until the handshake ends (or the close timeout passes).
    pub fn close(&mut self, code: i64, reason: &str) -> Result<(), CloseError> {
        if self.closing {
            return Err(CloseError::NotConnected);
        }
        let code = sendable_close_code(code).ok_or(CloseError::InvalidCode(code))?;
        if reason.len() > 123 {
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
        let _ = self.route.command(Command::SetNoDelay(enabled));
    }

    /// Files a message from the connection task; dropped (and its room given back) when the
    /// server is closing this peer. Returns whether the game should hear of it.
    pub(crate) fn receive(&mut self, packet: Packet) -> bool {
        if self.closing {
            self.route.shared.remove_unread(packet.data.len());
            return false;
        }
        self.inbound.push_back(packet);
        true
    }

    pub(crate) fn route(&self) -> &Route {
        &self.route
    }

    fn drop_unread(&mut self) {
        for packet in self.inbound.drain(..) {
            self.route.shared.remove_unread(packet.data.len());
        }
    }
}

/// The close codes an endpoint may send (RFC 6455 section 7.4 and the IANA registry).
fn sendable_close_code(code: i64) -> Option<u16> {
    match code {
        1000..=1003 | 1007..=1014 | 3000..=4999 => u16::try_from(code).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_out_of_range_close_codes_are_refused() {
        for code in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            assert!(sendable_close_code(code).is_some(), "{code}");
        }
        for code in [-1, 0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 70000] {
            assert_eq!(sendable_close_code(code), None, "{code}");
        }
    }
}
