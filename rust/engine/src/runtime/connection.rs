//! Drives one established WebSocket connection: feeds queued packets to the socket, reads
//! messages while the peer's unread limits allow (TCP backpressure otherwise), and runs the
//! close handshake with a deadline. One task per connection, no locks on the data path.
//!
//! Its life is a `Phase`:
//!
//! ```text
//! Open ──Close command──────────► Closing { by: Server } ──client's close, end of stream──► clean
//! Open ──client's close frame───► Closing { by: Client } ──our reply out, end of stream───► clean
//! Open, Closing ──server stop, broken protocol──► Ending ──close frame flushed, FIN──► Draining
//! Open ──overflow (a relay or peer-list update did not fit: close 1008)──► Ending
//! Open ──nothing read in two heartbeat ticks (see `heartbeat`)──► not clean
//! Draining ──client's FIN──► not clean
//! Closing, Ending, Draining ──deadline──► not clean
//! ```
//!
//! An open connection idle for a while lets go of tungstenite and its buffers until the next
//! input or command (`socket`).

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::Either;
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{sleep_until, timeout, Instant, Sleep};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::context::{Event, OpenSocket, ServerContext};
use super::frame_gate::FrameGate;
use super::heartbeat::effective_interval;
use super::queue::{Command, Commands, Overflow, OverflowCause, PeerCounters, Route};
use super::socket::Socket;
use super::transport::Transport;
use super::verification::Hold;
use super::warnings::WarningLimiter;
use crate::event::ServerEvent;
use crate::packet::{Packet, PeerId};
use crate::proto::close::strip_nul;
use crate::proto::multiplayer;
use crate::proto::request::ClientRequest;

/// How many steps one poll may take before yielding to other connections.
const POLL_BUDGET: usize = 64;
/// How long the end of a connection may wait to tell the client (TLS close_notify, then FIN).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);
/// The reason of the close 1008 of a peer that could not take what it had to.
pub const OVERFLOW_REASON: &str = "too slow: the outbound queue overflowed";

/// Registers an upgraded connection as a peer (a new id, or the one its `hold` reserved; in
/// multiplayer mode the join is announced) and tells the main thread; returns the future that
/// drives it to its end, then unregisters it and reports the disconnection, however the task
/// ends (see `Registration`). `open` counts its socket until then.
///
/// Not an `async fn`: one would keep its arguments (the WebSocket among them) in its state
/// beside the connection they were moved into, for the peer's whole life. The future kept is
/// the connection's (boxed) and what it needs at its end.
pub(crate) fn run_peer<S: Transport>(
    ws: WebSocketStream<FrameGate<S>>,
    address: SocketAddr,
    protocol: String,
    request: ClientRequest,
    hold: Option<Hold>,
    open: OpenSocket,
    context: Arc<ServerContext>,
) -> impl Future<Output = ()> + Send {
    let (route, commands) = Route::new(context.config.limits);
    let counters = route.counters.clone();
    let registered = match hold {
        None => context.registry.register(route.clone()),
        Some(hold) => hold.register(route.clone()),
    };
    let Some(id) = registered else {
        // Boxed: the rare path would otherwise size every peer's future.
        return Either::Left(Box::pin(close_too_late(ws, open, context)));
    };
    let registration = Registration {
        id,
        context: context.clone(),
        was_clean: false,
        _open: open,
    };
    let peer = context.new_peer(id, address, protocol, request, route);
    context.send_event(Event::Connected(peer));
    let connection = Box::new(Connection::new(id, ws, commands, counters, context));
    Either::Right(async move {
        // The whole registration, not only the field assigned (closures capture fields):
        // it must live until the connection ends.
        let mut registration = registration;
        registration.was_clean = connection.run().await;
    })
}

/// The server is stopping. This client finished its handshake just too late to become a
/// peer; it still gets the close 1001 the others get, not a bare end of stream.
async fn close_too_late<S: Transport>(
    mut ws: WebSocketStream<FrameGate<S>>,
    _open: OpenSocket,
    context: Arc<ServerContext>,
) {
    let away = CloseFrame {
        code: CloseCode::Away,
        reason: "".into(),
    };
    let _ = timeout(context.config.close_timeout, ws.close(Some(away))).await;
}

/// A registered peer, until its connection task ends. Dropped when the task returns, panics
/// (tokio catches the panic; the unwinding drops the task's state) or is dropped by the
/// runtime's shutdown: each way the peer is unregistered (in multiplayer mode every other peer
/// gets SYS_DEL) and the main thread hears `Disconnected`, so no ghost peer is left.
struct Registration {
    id: PeerId,
    context: Arc<ServerContext>,
    /// Whether a close handshake completed; false unless the connection ran to its end.
    was_clean: bool,
    _open: OpenSocket,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.context.registry.unregister(self.id);
        self.context.report(ServerEvent::Disconnected {
            id: self.id,
            was_clean: self.was_clean,
        });
    }
}

/// Where a connection is in its life (see the module's header).
enum Phase {
    /// Messages flow both ways.
    Open,
    /// A close frame went one way; the connection waits for the end of the handshake. Input is
    /// dropped, output refused.
    Closing { by: Initiator, deadline: Deadline },
    /// Ending without waiting for the client (server stop, broken protocol): once the output,
    /// our close frame last, is flushed, our FIN goes out.
    Ending { deadline: Deadline },
    /// Our FIN is out: what the client still sends is read and dropped until it closes too.
    /// Closing a socket with unread input makes the kernel send a reset, which can destroy the
    /// close frame before the client reads it.
    Draining { deadline: Deadline },
}

/// Who started a close handshake.
enum Initiator {
    /// The server (the game's `close`), and whether the client's reply has come.
    Server { replied: bool },
    /// The client; tungstenite queued our reply.
    Client,
}

impl Phase {
    fn is_open(&self) -> bool {
        matches!(self, Phase::Open)
    }

    /// Ending or draining: the close frame is out or on its way, no frame is read.
    fn is_ending(&self) -> bool {
        matches!(self, Phase::Ending { .. } | Phase::Draining { .. })
    }

    /// Whether a close handshake completed, were the stream to end now.
    fn handshake_completed(&self) -> bool {
        matches!(
            self,
            Phase::Closing {
                by: Initiator::Client | Initiator::Server { replied: true },
                ..
            }
        )
    }

    fn deadline(&mut self) -> Option<&mut Deadline> {
        match self {
            Phase::Open => None,
            Phase::Closing { deadline, .. }
            | Phase::Ending { deadline }
            | Phase::Draining { deadline } => Some(deadline),
        }
    }
}

/// The one timer of a connection that is closing: when it gives up on the client.
struct Deadline(Pin<Box<Sleep>>);

impl Deadline {
    fn after(now: Instant, timeout: Duration) -> Self {
        Self(Box::pin(sleep_until(now + timeout)))
    }

    fn poll_passed(&mut self, cx: &mut Context<'_>) -> bool {
        self.0.as_mut().poll(cx).is_ready()
    }
}

pub(crate) struct Connection<S> {
    id: PeerId,
    socket: Socket<S>,
    commands: Commands,
    counters: Arc<PeerCounters>,
    context: Arc<ServerContext>,
    warnings: WarningLimiter,
    phase: Phase,
    /// A message read from the socket that waits for room in the unread limits.
    held: Option<Packet>,
    /// Fed to the socket, not yet flushed: given back to the queue counters on flush.
    unflushed_bytes: usize,
    unflushed_packets: usize,
    needs_flush: bool,
    /// Heartbeat ticks since the last message, control frames included, was read.
    silent_ticks: u8,
    /// A heartbeat ping is fed to the socket and not yet flushed: no second one is fed, so a
    /// client that reads nothing holds at most one of ours (tungstenite buffers it ahead of
    /// the queued commands, in `CONTROL_ROOM`).
    ping_unflushed: bool,
    /// A message came in or went out since the last rest tick (see `socket`).
    active: bool,
    /// The last rest tick found the connection inactive: it rests at each read that finds
    /// nothing, until a message comes in or goes out (a heartbeat's ping and pong wake a
    /// resting connection only for their moment).
    drowsy: bool,
}

impl<S: Transport> Connection<S> {
    pub fn new(
        id: PeerId,
        ws: WebSocketStream<FrameGate<S>>,
        commands: Commands,
        counters: Arc<PeerCounters>,
        context: Arc<ServerContext>,
    ) -> Self {
        Self {
            id,
            socket: Socket::new(ws),
            commands,
            counters,
            context,
            warnings: WarningLimiter::default(),
            phase: Phase::Open,
            held: None,
            unflushed_bytes: 0,
            unflushed_packets: 0,
            needs_flush: false,
            silent_ticks: 0,
            ping_unflushed: false,
            active: false,
            // A new connection rests at its first empty read: one that waits after its
            // handshake (as most do, for a while) never holds tungstenite's buffers, and a
            // thousand connecting at once do not hold a thousand at once.
            drowsy: true,
        }
    }

    /// Runs until the connection ends; returns whether a close handshake completed. Then
    /// shuts the stream down (unless the drain did already), so a TLS client gets its
    /// close_notify before the TCP FIN.
    pub async fn run(mut self: Box<Self>) -> bool {
        let was_clean = poll_fn(|cx| self.poll_run(cx)).await;
        if !matches!(self.phase, Phase::Draining { .. }) {
            let _ = timeout(SHUTDOWN_TIMEOUT, self.socket.stream_mut().shutdown()).await;
        }
        was_clean
    }

    /// tungstenite, made anew if the connection was at rest.
    fn ws(&mut self, cx: &mut Context<'_>) -> &mut WebSocketStream<FrameGate<S>> {
        if self.socket.is_resting() {
            self.counters.set_resting(false);
        }
        self.socket.awake(&self.context.config.limits, cx)
    }

    /// A message came in or went out: the connection is not idle.
    fn note_activity(&mut self) {
        self.active = true;
        self.drowsy = false;
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        for _ in 0..POLL_BUDGET {
            let mut progressed = match self.poll_write(cx) {
                Ok(progressed) => progressed,
                Err(()) => return Poll::Ready(false),
            };
            if self.phase.is_ending() {
                // Only the close frame matters now; a failed stream may end before it is out.
                if !self.needs_flush && self.poll_drain(cx).is_ready() {
                    return Poll::Ready(false);
                }
            } else {
                match self.poll_read(cx) {
                    ReadStep::Progress => progressed = true,
                    ReadStep::Idle => {}
                    ReadStep::Ended(clean) => return Poll::Ready(clean),
                }
            }
            // After the steps that may have set it, so a new deadline is registered before the
            // task waits.
            if let Some(deadline) = self.phase.deadline() {
                if deadline.poll_passed(cx) {
                    return Poll::Ready(false);
                }
            }
            if !progressed {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Feeds commands to the socket while it accepts more, then flushes. `Err` ends the
    /// connection (the socket failed).
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Result<bool, ()> {
        let mut progressed = false;
        if self.phase.is_open() {
            if let Some(overflow) = self.counters.poll_overflow(cx) {
                let warning = overflow_warning(self.id, overflow);
                self.close_overflowed(warning, Instant::now(), cx);
                progressed = true;
            } else if self.counters.take_heartbeat() {
                self.on_heartbeat(cx)?;
                progressed = true;
            }
            if self.counters.take_rest_tick() {
                self.drowsy = !self.active;
                self.active = false;
            }
        }
        loop {
            // At rest the write buffer is empty: ready.
            if self.phase.is_open() && !self.socket.is_resting() {
                match Pin::new(self.ws(cx)).poll_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => self.on_write_error(e)?,
                    Poll::Pending => break,
                }
            }
            let command = match self.commands.poll_next(cx) {
                Poll::Ready(Some(command)) => command,
                // The main thread dropped the peer: the server is going away.
                Poll::Ready(None) if !self.phase.is_ending() => Command::Shutdown,
                Poll::Ready(None) | Poll::Pending => break,
            };
            progressed = true;
            self.apply(command, Instant::now(), cx)?;
        }
        if self.needs_flush {
            match Pin::new(self.ws(cx)).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    self.counters
                        .remove_queued(self.unflushed_bytes, self.unflushed_packets);
                    self.unflushed_bytes = 0;
                    self.unflushed_packets = 0;
                    self.ping_unflushed = false;
                    progressed = true;
                }
                Poll::Ready(Err(e)) => self.on_write_error(e)?,
                Poll::Pending => {}
            }
        }
        Ok(progressed)
    }

    fn apply(&mut self, command: Command, now: Instant, cx: &mut Context<'_>) -> Result<(), ()> {
        match command {
            Command::Send(packet) => {
                let len = packet.data.len();
                if !self.phase.is_open() {
                    self.counters.remove_queued(len, 1);
                    return Ok(());
                }
                let message = if packet.is_text {
                    // Checked as UTF-8 by `Peer::put_packet`.
                    match packet.data.try_into() {
                        Ok(text) => Message::Text(text),
                        Err(_) => {
                            self.counters.remove_queued(len, 1);
                            return Ok(());
                        }
                    }
                } else {
                    Message::Binary(packet.data)
                };
                self.note_activity();
                self.unflushed_bytes += len;
                self.unflushed_packets += 1;
                self.needs_flush = true;
                if let Err(e) = Pin::new(self.ws(cx)).start_send(message) {
                    self.on_write_error(e)?;
                }
            }
            Command::Close { code, reason } => {
                // Later than a close of the client's or a server stop, it has nothing to add.
                if self.phase.is_open() {
                    self.send_close(CloseCode::from(code), reason, cx);
                    self.phase = Phase::Closing {
                        by: Initiator::Server { replied: false },
                        deadline: self.close_deadline(now),
                    };
                }
            }
            Command::Shutdown => self.end(CloseCode::Away, "", now, cx),
            Command::SetNoDelay => {
                // Best effort, like the stock class: a failure leaves the old setting.
                let no_delay = self.counters.take_no_delay();
                let _ = self.socket.stream().set_nodelay(no_delay);
            }
            Command::Panic => panic!(
                "panic injected into the connection task of peer {}",
                self.id
            ),
        }
        Ok(())
    }

    /// A heartbeat tick, on an open connection. A client that sent nothing since the tick
    /// before last is dropped: `Err`, not clean and without a close frame (it is not
    /// listening), as Godot 4 does. Otherwise it gets a ping, unless the last one is still
    /// waiting for the socket.
    fn on_heartbeat(&mut self, cx: &mut Context<'_>) -> Result<(), ()> {
        if self.held.is_some() {
            // Reading is paused until the game takes its packets: the silence is ours.
            self.silent_ticks = 0;
        }
        if self.silent_ticks >= 2 {
            let interval = effective_interval(self.context.config.heartbeat_interval)
                .unwrap_or_default()
                .as_secs_f64();
            self.context.report(ServerEvent::Warning {
                id: self.id,
                message: format!(
                    "peer {} sent nothing (no data, ping or pong) for 2 heartbeat intervals \
                     of {interval} s; disconnecting",
                    self.id
                ),
            });
            return Err(());
        }
        self.silent_ticks += 1;
        if self.ping_unflushed {
            return Ok(());
        }
        match Pin::new(self.ws(cx)).start_send(Message::Ping(Bytes::new())) {
            Ok(()) => {
                self.ping_unflushed = true;
                self.needs_flush = true;
                Ok(())
            }
            // The write buffer is at its bound: the next tick tries again.
            Err(WsError::WriteBufferFull(_)) => Ok(()),
            Err(e) => self.on_write_error(e),
        }
    }

    /// The deadline of a close that starts at `now`.
    fn close_deadline(&self, now: Instant) -> Deadline {
        Deadline::after(now, self.context.config.close_timeout)
    }

    /// Ends without waiting for the client: a close frame with `code` and `reason` where one
    /// may still be sent, then the drain. A close handshake under way keeps its deadline.
    fn end(&mut self, code: CloseCode, reason: &str, now: Instant, cx: &mut Context<'_>) {
        let deadline = match std::mem::replace(&mut self.phase, Phase::Open) {
            Phase::Open => {
                self.send_close(code, reason.to_owned(), cx);
                self.close_deadline(now)
            }
            Phase::Closing { deadline, .. } => deadline,
            ending @ (Phase::Ending { .. } | Phase::Draining { .. }) => {
                self.phase = ending;
                return;
            }
        };
        self.phase = Phase::Ending { deadline };
    }

    /// Ends a connection that is ending: FIN after our close frame, then discards input
    /// until the client closes too (see `Phase::Draining`).
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let stream = self.socket.stream_mut();
        if let Phase::Ending { .. } = self.phase {
            if Pin::new(&mut *stream).poll_shutdown(cx).is_pending() {
                return Poll::Pending;
            }
            if let Phase::Ending { deadline } = std::mem::replace(&mut self.phase, Phase::Open) {
                self.phase = Phase::Draining { deadline };
            }
        }
        let mut scratch = [0u8; 4096];
        for _ in 0..POLL_BUDGET {
            let mut buffer = ReadBuf::new(&mut scratch);
            match Pin::new(&mut *stream).poll_read(cx, &mut buffer) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(())) if !buffer.filled().is_empty() => continue,
                // End of stream or a failed socket: either way the client is done.
                Poll::Ready(_) => return Poll::Ready(()),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// The peer could not take a packet it had to (a relay, a system message): it is closed
    /// with 1008, and the game told once why (`warning`). The close frame waits behind what is
    /// queued; a peer that reads nothing is dropped at the close timeout.
    fn close_overflowed(&mut self, warning: String, now: Instant, cx: &mut Context<'_>) {
        self.context.report(ServerEvent::Warning {
            id: self.id,
            message: warning,
        });
        self.end(CloseCode::Policy, OVERFLOW_REASON, now, cx);
    }

    /// Queues a close frame, on an open connection; from then on it takes no input.
    fn send_close(&mut self, code: CloseCode, reason: String, cx: &mut Context<'_>) {
        self.held = None;
        self.needs_flush = true;
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if let Err(e) = Pin::new(self.ws(cx)).start_send(Message::Close(Some(frame))) {
            // Nothing more can be written; reading on finds out how the connection ends.
            let _ = self.on_write_error(e);
        }
    }

    /// A connection closed by the close handshake only stops the writing (reading on finds
    /// out how it ends); any other failure ends the connection.
    fn on_write_error(&mut self, error: WsError) -> Result<(), ()> {
        match error {
            WsError::ConnectionClosed | WsError::AlreadyClosed if !self.phase.is_open() => {
                self.needs_flush = false;
                Ok(())
            }
            _ => Err(()),
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> ReadStep {
        if let Some(packet) = self.held.take() {
            if !self.deliver(packet, cx) {
                return ReadStep::Idle;
            }
        }
        // At rest, the socket says when there is input: only then is tungstenite made anew.
        if self.socket.poll_read_ready(cx).is_pending() {
            return ReadStep::Idle;
        }
        let message = match Pin::new(self.ws(cx)).poll_next(cx) {
            Poll::Pending => return self.rest(cx),
            Poll::Ready(None) => return ReadStep::Ended(self.phase.handshake_completed()),
            Poll::Ready(Some(Ok(message))) => message,
            Poll::Ready(Some(Err(error))) => return self.on_read_error(error, Instant::now(), cx),
        };
        self.silent_ticks = 0;
        if message.is_text() || message.is_binary() {
            self.note_activity();
        }
        let open = self.phase.is_open();
        match message {
            Message::Text(_) if open && self.context.config.multiplayer => {
                self.warn("sent a text message, which the multiplayer protocol does not use");
            }
            Message::Binary(data) if open && self.context.config.multiplayer => {
                self.route_multiplayer(data, cx);
            }
            Message::Text(text) if open => {
                let packet = Packet {
                    data: text.into(),
                    is_text: true,
                };
                self.deliver(packet, cx);
            }
            Message::Binary(data) if open => {
                self.deliver(Packet::binary(data), cx);
            }
            Message::Close(frame) => self.on_close_frame(frame, Instant::now()),
            // tungstenite queued the pong: flushed now, so that it is not left in a buffer
            // for the next read (and so that the connection may rest, with nothing to send).
            Message::Ping(_) => self.needs_flush = true,
            // Pongs and input after our close are dropped.
            _ => {}
        }
        ReadStep::Progress
    }

    /// tungstenite's read got `Pending`: an open, drowsy connection with nothing left to flush
    /// lets go of tungstenite if the stream allows (`Socket::rest`; a message being held back
    /// from the game would have stopped the read before tungstenite), and waits on the socket
    /// instead.
    fn rest(&mut self, cx: &mut Context<'_>) -> ReadStep {
        if !self.drowsy || !self.phase.is_open() || self.needs_flush || !self.socket.rest() {
            return ReadStep::Idle;
        }
        self.counters.set_resting(true);
        self.commands.shrink();
        // tungstenite's waker went with it: this registers the task's own on the socket. Input
        // that came in between is read at once.
        match self.socket.poll_read_ready(cx) {
            Poll::Pending => ReadStep::Idle,
            Poll::Ready(_) => ReadStep::Progress,
        }
    }

    /// The client's close frame: the reply to ours, or a close request the game hears of
    /// (tungstenite queued the reply; reading on flushes it and ends the stream).
    fn on_close_frame(&mut self, frame: Option<CloseFrame>, now: Instant) {
        match &mut self.phase {
            Phase::Open => {
                let (code, reason) = match frame {
                    Some(frame) => (u16::from(frame.code), strip_nul(frame.reason.as_str())),
                    None => (0, String::new()),
                };
                self.context.report(ServerEvent::CloseRequest {
                    id: self.id,
                    code,
                    reason,
                });
                self.phase = Phase::Closing {
                    by: Initiator::Client,
                    deadline: self.close_deadline(now),
                };
            }
            Phase::Closing {
                by: Initiator::Server { replied },
                ..
            } => *replied = true,
            _ => {}
        }
    }

    /// A multiplayer packet: relayed to the other clients it names right here, on the I/O
    /// thread, and handed to the main thread only when the server is a destination.
    fn route_multiplayer(&mut self, data: Bytes, cx: &mut Context<'_>) {
        let delivery = match multiplayer::route(self.id, &data) {
            Ok((_, delivery)) => delivery,
            Err(rejection) => return self.warn(&format!("sent {rejection}; dropped")),
        };
        if let Err(target) = self.context.registry.relay(self.id, delivery.relay, &data) {
            self.warn(&format!(
                "sent a packet to peer {target}, which is not connected; dropped"
            ));
        }
        if delivery.to_server {
            self.deliver(Packet::binary(data), cx);
        }
    }

    /// Tells the main thread about something this peer did wrong, at most once per
    /// `WARNING_INTERVAL`.
    fn warn(&mut self, what: &str) {
        if let Some(suppressed) = self.warnings.allow(Instant::now()) {
            let also = match suppressed {
                0 => String::new(),
                n => format!(" ({n} similar warnings suppressed)"),
            };
            self.context.report(ServerEvent::Warning {
                id: self.id,
                message: format!("peer {} {what}{also}", self.id),
            });
        }
    }

    /// Hands a message to the main thread if the unread limits have room; otherwise holds it
    /// and pauses reading until the game takes a packet. Returns whether it was handed over.
    fn deliver(&mut self, packet: Packet, cx: &mut Context<'_>) -> bool {
        let len = packet.data.len();
        let limits = &self.context.config.limits;
        if !self.counters.poll_inbound_room(len, limits, cx) {
            self.held = Some(packet);
            return false;
        }
        self.counters.add_unread(len);
        self.context.send_event(Event::Message {
            id: self.id,
            packet,
        });
        true
    }

    /// A broken frame or message: tell the client why with the matching close code, then end.
    fn on_read_error(&mut self, error: WsError, now: Instant, cx: &mut Context<'_>) -> ReadStep {
        let (code, what) = match &error {
            WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => (
                CloseCode::Size,
                format!("sent a message of {size} bytes, over the {max_size}-byte input limit"),
            ),
            WsError::Capacity(e) => (CloseCode::Size, format!("sent too much ({e})")),
            WsError::Utf8(_) => (CloseCode::Invalid, "sent text that is not UTF-8".to_owned()),
            // The client vanished (end of stream without a close frame): nothing to say.
            WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
                return ReadStep::Ended(false)
            }
            WsError::Protocol(e) => (
                CloseCode::Protocol,
                format!("broke the WebSocket protocol ({e})"),
            ),
            // The socket failed or the client vanished: nothing to say.
            _ => return ReadStep::Ended(false),
        };
        self.warn(&format!("{what}; closing with {}", u16::from(code)));
        // Frames are read only while open or closing; a broken one ends the connection with a
        // deadline of its own, even in a close handshake.
        if self.phase.is_open() {
            self.send_close(code, String::new(), cx);
        }
        self.held = None;
        self.phase = Phase::Ending {
            deadline: self.close_deadline(now),
        };
        ReadStep::Progress
    }
}

/// The warning for peer `id`, closed for `overflow`.
fn overflow_warning(id: PeerId, overflow: &Overflow) -> String {
    let what = match overflow.cause {
        OverflowCause::SystemMessage => "a peer list update (SYS_ADD/SYS_DEL)".to_owned(),
        OverflowCause::Relay { from } => format!("a packet relayed from peer {from}"),
    };
    format!(
        "peer {id} cannot keep up: {what} of {} bytes did not fit in its outbound queue \
         ({} bytes in {} packets queued); closing with 1008",
        overflow.packet, overflow.queued_bytes, overflow.queued_packets
    )
}

enum ReadStep {
    Progress,
    Idle,
    Ended(bool),
}

#[cfg(test)]
#[path = "connection_tests.rs"]
mod tests;
