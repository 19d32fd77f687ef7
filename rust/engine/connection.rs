//! Drives one established WebSocket connection: feeds queued packets to the socket, reads
//! messages while the peer's unread limits allow (TCP backpressure otherwise), and runs the
//! close handshake with a deadline. One task per connection, no locks on the data path.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout, Instant, Sleep};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use bytes::Bytes;

use super::event::{Event, ServerEvent};
use super::listener::ListenerContext;
use super::multiplayer;
use super::peer::{Command, Commands, Packet, PeerId, PeerShared};

/// How many steps one poll may take before yielding to other connections.
const POLL_BUDGET: usize = 64;
/// At most one warning per connection in this interval; the rest are counted.
const WARNING_INTERVAL: Duration = Duration::from_secs(1);

/// A byte stream a connection runs on, with the TCP socket underneath it.
pub(crate) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    fn tcp(&self) -> &TcpStream;
}

impl Transport for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Transport for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// How long the end of a connection may wait to tell the client (TLS close_notify, then FIN).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

pub(crate) struct Connection<S> {
    id: PeerId,
    ws: WebSocketStream<S>,
    commands: Commands,
    shared: Arc<PeerShared>,
    context: Arc<ListenerContext>,
    warnings: WarningLimiter,
    /// A message read from the socket that waits for room in the unread limits.
    held: Option<Packet>,
    /// Fed to the socket, not yet flushed: given back to the queue counters on flush.
    unflushed_bytes: usize,
    unflushed_packets: usize,
    needs_flush: bool,
    /// False once no more frames may be written (close sent or connection closed).
    writable: bool,
    /// The server started the close: input is dropped from then on.
    closed_by_us: bool,
    close_frame_received: bool,
    close_deadline: Option<Pin<Box<Sleep>>>,
    /// End as soon as the output is flushed, clean or not (server stop, protocol error).
    end_after_flush: Option<bool>,
    /// Sent our FIN after the last frame (on the way out, see `poll_drain`).
    write_shut_down: bool,
}

impl<S: Transport> Connection<S> {
    pub fn new(
        id: PeerId,
        ws: WebSocketStream<S>,
        commands: Commands,
        shared: Arc<PeerShared>,
        context: Arc<ListenerContext>,
    ) -> Self {
        Self {
            id,
            ws,
            commands,
            shared,
            context,
            warnings: WarningLimiter::default(),
            held: None,
            unflushed_bytes: 0,
            unflushed_packets: 0,
            needs_flush: false,
            writable: true,
            closed_by_us: false,
            close_frame_received: false,
            close_deadline: None,
            end_after_flush: None,
            write_shut_down: false,
        }
    }

    /// Runs until the connection ends; returns whether a close handshake completed. Then
    /// shuts the stream down (unless the drain did already), so a TLS client gets its
    /// close_notify before the TCP FIN.
    pub async fn run(mut self) -> bool {
        let was_clean = poll_fn(|cx| self.poll_run(cx)).await;
        if !self.write_shut_down {
            let _ = timeout(SHUTDOWN_TIMEOUT, self.ws.get_mut().shutdown()).await;
        }
        was_clean
    }

    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        for _ in 0..POLL_BUDGET {
            if let Some(deadline) = self.close_deadline.as_mut() {
                if deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(false);
                }
            }
            let mut progressed = match self.poll_write(cx) {
                Ok(progressed) => progressed,
                Err(()) => return Poll::Ready(false),
            };
            if let Some(clean) = self.end_after_flush {
                if !self.needs_flush {
                    return self.poll_drain(cx).map(|()| clean);
                }
            }
            match self.poll_read(cx) {
                ReadStep::Progress => progressed = true,
                ReadStep::Idle => {}
                ReadStep::Ended(clean) => return Poll::Ready(clean),
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
        loop {
            if self.writable {
                match Pin::new(&mut self.ws).poll_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => self.on_write_error(e)?,
                    Poll::Pending => break,
                }
            }
            let command = match self.commands.poll_next(cx) {
                Poll::Ready(Some(command)) => command,
                // The main thread dropped the peer: the server is going away.
                Poll::Ready(None) if self.end_after_flush.is_none() => Command::Shutdown,
                Poll::Ready(None) | Poll::Pending => break,
            };
            progressed = true;
            self.apply(command)?;
        }
        if self.needs_flush {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.needs_flush = false;
                    self.shared
                        .remove_queued(self.unflushed_bytes, self.unflushed_packets);
                    self.unflushed_bytes = 0;
                    self.unflushed_packets = 0;
                    progressed = true;
                }
                Poll::Ready(Err(e)) => self.on_write_error(e)?,
                Poll::Pending => {}
            }
        }
        Ok(progressed)
    }

    fn apply(&mut self, command: Command) -> Result<(), ()> {
        match command {
            Command::Send(packet) => {
                let len = packet.data.len();
                if !self.writable {
                    self.shared.remove_queued(len, 1);
                    return Ok(());
                }
                let message = if packet.is_text {
                    // Checked as UTF-8 by `Peer::put_packet`.
                    match packet.data.try_into() {
                        Ok(text) => Message::Text(text),
                        Err(_) => {
                            self.shared.remove_queued(len, 1);
                            return Ok(());
                        }
                    }
                } else {
                    Message::Binary(packet.data)
                };
                self.unflushed_bytes += len;
                self.unflushed_packets += 1;
                self.needs_flush = true;
                if let Err(e) = Pin::new(&mut self.ws).start_send(message) {
                    self.on_write_error(e)?;
                }
            }
            Command::Close { code, reason } => {
                self.start_close(CloseCode::from(code), reason);
                self.close_deadline = Some(Box::pin(sleep(self.context.config.close_timeout)));
            }
            Command::Shutdown => {
                self.start_close(CloseCode::Away, String::new());
                self.end_after_flush = Some(false);
                self.close_deadline
                    .get_or_insert_with(|| Box::pin(sleep(self.context.config.close_timeout)));
            }
            Command::SetNoDelay(enabled) => {
                // Best effort, like the stock class: a failure leaves the old setting.
                let _ = self.ws.get_ref().tcp().set_nodelay(enabled);
            }
        }
        Ok(())
    }

    /// Ends a connection we are closing without a handshake: FIN after our close frame, then
    /// discard input until the client closes too. Closing a socket with unread input makes the
    /// kernel send a reset, which can destroy the close frame before the client reads it.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let stream = self.ws.get_mut();
        if !self.write_shut_down {
            if Pin::new(&mut *stream).poll_shutdown(cx).is_pending() {
                return Poll::Pending;
            }
            self.write_shut_down = true;
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

    /// Queues a close frame (once) and stops taking input and output.
    fn start_close(&mut self, code: CloseCode, reason: String) {
        self.closed_by_us = true;
        self.held = None;
        if !self.writable {
            return;
        }
        self.writable = false;
        self.needs_flush = true;
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        if let Err(e) = Pin::new(&mut self.ws).start_send(Message::Close(Some(frame))) {
            // Nothing more can be written; reading on finds out how the connection ends.
            let _ = self.on_write_error(e);
        }
    }

    /// A closed connection only stops the writing; any other failure ends the connection.
    fn on_write_error(&mut self, error: WsError) -> Result<(), ()> {
        self.writable = false;
        match error {
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                self.needs_flush = false;
                Ok(())
            }
            _ => Err(()),
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> ReadStep {
        if self.end_after_flush.is_some() {
            // Only the close frame matters now; a failed stream may end before it is out.
            return ReadStep::Idle;
        }
        if let Some(packet) = self.held.take() {
            if !self.deliver(packet, cx) {
                return ReadStep::Idle;
            }
        }
        let message = match Pin::new(&mut self.ws).poll_next(cx) {
            Poll::Pending => return ReadStep::Idle,
            Poll::Ready(None) => return ReadStep::Ended(self.close_frame_received),
            Poll::Ready(Some(Ok(message))) => message,
            Poll::Ready(Some(Err(error))) => return self.on_read_error(error),
        };
        match message {
            Message::Text(_) if !self.closed_by_us && self.context.config.multiplayer => {
                self.warn("sent a text message, which the multiplayer protocol does not use");
            }
            Message::Binary(data) if !self.closed_by_us && self.context.config.multiplayer => {
                self.route_multiplayer(data, cx);
            }
            Message::Text(text) if !self.closed_by_us => {
                let packet = Packet {
                    data: text.into(),
                    is_text: true,
                };
                self.deliver(packet, cx);
            }
            Message::Binary(data) if !self.closed_by_us => {
                self.deliver(
                    Packet {
                        data,
                        is_text: false,
                    },
                    cx,
                );
            }
            Message::Close(frame) => {
                self.close_frame_received = true;
                if !self.closed_by_us {
                    let (code, reason) = match frame {
                        Some(frame) => (u16::from(frame.code), strip_nul(frame.reason.as_str())),
                        None => (0, String::new()),
                    };
                    self.send_event(Event::Report(ServerEvent::CloseRequest {
                        id: self.id,
                        code,
                        reason,
                    }));
                    // tungstenite queued the reply; reading on flushes it and ends the stream.
                    self.writable = false;
                    self.close_deadline = Some(Box::pin(sleep(self.context.config.close_timeout)));
                }
            }
            // Pings are answered by tungstenite; pongs and input after our close are dropped.
            _ => {}
        }
        ReadStep::Progress
    }

    /// A multiplayer packet: relayed to the other clients it names right here, on the I/O
    /// thread, and handed to the main thread only when the server is a destination.
    fn route_multiplayer(&mut self, data: Bytes, cx: &mut Context<'_>) {
        let delivery = match multiplayer::route(self.id, &data) {
            Ok((_, delivery)) => delivery,
            Err(rejection) => return self.warn(&format!("sent {rejection}; dropped")),
        };
        let refused = self.context.registry.relay(delivery.relay, &data);
        if let Some((target, error)) = refused.first() {
            let more = refused.len() - 1;
            self.warn(&format!(
                "a packet relayed to peer {target} (and {more} more) was dropped: {error}"
            ));
        }
        if delivery.to_server {
            let packet = Packet {
                data,
                is_text: false,
            };
            self.deliver(packet, cx);
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
            self.send_event(Event::Report(ServerEvent::Warning {
                id: self.id,
                message: format!("peer {} {what}{also}", self.id),
            }));
        }
    }

    /// Hands a message to the main thread if the unread limits have room; otherwise holds it
    /// and pauses reading until the game takes a packet. Returns whether it was handed over.
    fn deliver(&mut self, packet: Packet, cx: &mut Context<'_>) -> bool {
        let len = packet.data.len();
        let limits = &self.context.config.limits;
        if !self.shared.has_inbound_room(len, limits) {
            self.shared.reader_waker.register(cx.waker());
            // Checked again after registering, so a packet taken in between still wakes us.
            if !self.shared.has_inbound_room(len, limits) {
                self.held = Some(packet);
                return false;
            }
        }
        self.shared.add_unread(len);
        self.send_event(Event::Message {
            id: self.id,
            packet,
        });
        true
    }

    /// A broken frame or message: tell the client why with the matching close code, then end.
    fn on_read_error(&mut self, error: WsError) -> ReadStep {
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
        self.start_close(code, String::new());
        self.end_after_flush = Some(false);
        self.close_deadline = Some(Box::pin(sleep(self.context.config.close_timeout)));
        ReadStep::Progress
    }

    fn send_event(&self, event: Event) {
        // The receiver is gone only when the server stopped, which wants no more events.
        let _ = self.context.events.send(event);
    }
}

enum ReadStep {
    Progress,
    Idle,
    Ended(bool),
}

/// Lets one warning through per `WARNING_INTERVAL` and counts the ones it holds back.
#[derive(Default)]
struct WarningLimiter {
    last: Option<Instant>,
    suppressed: u32,
}

impl WarningLimiter {
    /// `Some(number held back since the last one)` when a warning may go out now.
    fn allow(&mut self, now: Instant) -> Option<u32> {
        match self.last {
            Some(last) if now.duration_since(last) < WARNING_INTERVAL => {
                self.suppressed = self.suppressed.saturating_add(1);
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Stock Godot 3 clients send close reasons with a trailing NUL byte.
fn strip_nul(reason: &str) -> String {
    reason.strip_suffix('\0').unwrap_or(reason).to_owned()
}
