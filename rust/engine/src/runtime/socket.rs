//! A connection's WebSocket, which lets go of tungstenite while the peer is idle. tungstenite
//! keeps a read buffer (4 KiB, made with the `WebSocket`) and a write buffer (as large as the
//! largest output it held) for the connection's whole life: most of what an idle peer cost.
//! At rest only the stream is kept, and the socket's readiness is waited on without a buffer;
//! the next input or command makes a new tungstenite on the same stream, with the same
//! configuration. tungstenite's state between messages is only its buffers (a fragmented
//! message, a frame cut short, a pong or output not yet written would be more), so resting is
//! allowed only where the caller and the stream know there is none of that (`Socket::rest`).
//!
//! When: one task per server ticks every `rest_after` and wakes the connections that are
//! awake (one flag and one wake each, `PeerCounters::request_rest`, as the heartbeat does); a
//! connection that saw no message in or out since the tick before rests at its next read that
//! finds nothing (`Connection::rest`). Idle peers are never woken by it.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::context::ServerContext;
use super::frame_gate::FrameGate;
use super::transport::Transport;
use crate::config::MIN_REST_AFTER;
use crate::proto::limits::Limits;
use crate::proto::upgrade::websocket_config;

/// Starts the server's rest tick on the current runtime.
pub(crate) fn spawn_rest_tick(context: &Arc<ServerContext>) -> JoinHandle<()> {
    let interval = context.config.rest_after.max(MIN_REST_AFTER);
    let context = context.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(interval).await;
            context.registry.request_rests();
        }
    })
}

pub(crate) enum Socket<S> {
    /// Boxed, so that at rest the connection holds only the stream's size.
    Awake(Box<WebSocketStream<FrameGate<S>>>),
    /// No tungstenite: the peer is idle.
    Resting(FrameGate<S>),
    /// Only between the two, within `rest` and `awake`.
    Switching,
}

impl<S: Transport> Socket<S> {
    pub fn new(ws: WebSocketStream<FrameGate<S>>) -> Self {
        Self::Awake(Box::new(ws))
    }

    pub fn is_resting(&self) -> bool {
        matches!(self, Self::Resting(_))
    }

    /// tungstenite, made anew if at rest: empty buffers, the configuration of `limits` (the
    /// one the upgrade made it with), `cx`'s waker registered as its first one.
    pub fn awake(
        &mut self,
        limits: &Limits,
        cx: &mut Context<'_>,
    ) -> &mut WebSocketStream<FrameGate<S>> {
        if let Self::Resting(_) = self {
            let Self::Resting(stream) = std::mem::replace(self, Self::Switching) else {
                unreachable!("matched just above");
            };
            let config = Some(websocket_config(limits));
            let mut start = pin!(WebSocketStream::from_raw_socket(
                stream,
                Role::Server,
                config
            ));
            // It does no I/O (there is no handshake to run): ready at its first poll.
            let Poll::Ready(ws) = start.as_mut().poll(cx) else {
                unreachable!("WebSocketStream::from_raw_socket completes at its first poll");
            };
            *self = Self::Awake(Box::new(ws));
        }
        match self {
            Self::Awake(ws) => ws,
            Self::Resting(_) | Self::Switching => unreachable!("made awake just above"),
        }
    }

    /// Drops tungstenite if the stream is settled (`Transport::settle`: it ends a whole
    /// message and buffers no input). The caller vouches for the rest: tungstenite's last read
    /// got `Pending`, and its output is all flushed (pongs included) on an open connection.
    /// Returns whether the socket is at rest.
    pub fn rest(&mut self) -> bool {
        if let Self::Awake(ws) = self {
            if !ws.get_mut().settle() {
                return false;
            }
            let Self::Awake(ws) = std::mem::replace(self, Self::Switching) else {
                unreachable!("matched just above");
            };
            *self = Self::Resting(ws.into_inner());
        }
        self.is_resting()
    }

    /// At rest: ready once the socket has input (or an end, or an error) to read.
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Self::Resting(stream) => stream.poll_read_ready(cx),
            Self::Awake(_) | Self::Switching => Poll::Ready(Ok(())),
        }
    }

    pub fn stream(&self) -> &FrameGate<S> {
        match self {
            Self::Awake(ws) => ws.get_ref(),
            Self::Resting(stream) => stream,
            Self::Switching => unreachable!("only within rest and awake"),
        }
    }

    pub fn stream_mut(&mut self) -> &mut FrameGate<S> {
        match self {
            Self::Awake(ws) => ws.get_mut(),
            Self::Resting(stream) => stream,
            Self::Switching => unreachable!("only within rest and awake"),
        }
    }
}
