//! The listening socket and what happens to each accepted connection until it is a peer:
//! refuse or accept, TCP_NODELAY, the HTTP upgrade under `handshake_timeout`.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::unbounded_channel;
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::accept_hdr_async_with_config;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};

use super::config::{BindAddress, ServerConfig};
use super::connection::{Connection, Transport};
use super::error::ListenError;
use super::event::Event;
use super::peer::{Peer, PeerShared, Route};
use super::protocols::{choose_protocol, parse_offered};
use super::registry::Registry;

/// Pending connections the kernel may hold (the stock server allows 8).
const BACKLOG: i32 = 1024;
/// Read buffer per connection: small keeps idle peers cheap (tungstenite's default is 128 KiB).
const READ_BUFFER: usize = 8 * 1024;
/// Output is written to the socket once this much is buffered, and on every flush.
const WRITE_BUFFER: usize = 16 * 1024;

/// What every connection of one server shares.
pub(crate) struct ListenerContext {
    pub config: ServerConfig,
    pub events: Sender<Event>,
    pub registry: Registry,
    pub refuse_new_connections: AtomicBool,
}

/// Binds the listening socket synchronously, so the caller gets bind errors at once.
pub(crate) fn bind(bind: BindAddress, port: u16) -> Result<std::net::TcpListener, ListenError> {
    let socket = match bind {
        BindAddress::Any => {
            match bound_socket(SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)), Some(false)) {
                Ok(socket) => socket,
                Err(ListenError::Bind(e)) if e.kind() == io::ErrorKind::AddrInUse => {
                    return Err(ListenError::Bind(e))
                }
                // No usable IPv6 on this machine: IPv4 only.
                Err(_) => bound_socket(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), None)?,
            }
        }
        BindAddress::Ip(ip) => {
            let address = SocketAddr::new(ip, port);
            bound_socket(address, address.is_ipv6().then_some(true))?
        }
    };
    socket.listen(BACKLOG).map_err(ListenError::Bind)?;
    socket
        .set_nonblocking(true)
        .map_err(ListenError::CantCreate)?;
    Ok(socket.into())
}

fn bound_socket(address: SocketAddr, only_v6: Option<bool>) -> Result<Socket, ListenError> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )
    .map_err(ListenError::CantCreate)?;
    socket
        .set_reuse_address(true)
        .map_err(ListenError::CantCreate)?;
    if let Some(only_v6) = only_v6 {
        socket
            .set_only_v6(only_v6)
            .map_err(ListenError::CantCreate)?;
    }
    socket.bind(&address.into()).map_err(ListenError::Bind)?;
    Ok(socket)
}

/// Accepts connections until the task is dropped.
pub(crate) async fn accept_loop(listener: TcpListener, context: Arc<ListenerContext>) {
    loop {
        match listener.accept().await {
            Ok((tcp, address)) => {
                let accepted_at = Instant::now();
                if context.refuse_new_connections.load(Ordering::Acquire) {
                    continue;
                }
                let address = SocketAddr::new(address.ip().to_canonical(), address.port());
                tokio::spawn(serve(tcp, address, accepted_at, context.clone()));
            }
            // Out of file descriptors and the like: back off instead of spinning.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// Upgrades one accepted connection and runs it as a peer.
async fn serve(
    tcp: TcpStream,
    address: SocketAddr,
    accepted_at: Instant,
    context: Arc<ListenerContext>,
) {
    let _ = tcp.set_nodelay(true);
    let deadline = accepted_at + context.config.handshake_timeout;
    let (ws, protocol) = match timeout_at(deadline, upgrade(tcp, &context.config)).await {
        Ok(Ok(upgraded)) => upgraded,
        Ok(Err(reason)) => return handshake_failed(&context, address, reason),
        Err(_) => {
            let reason = format!(
                "the handshake did not finish within handshake_timeout ({:.1} s)",
                context.config.handshake_timeout.as_secs_f64()
            );
            return handshake_failed(&context, address, reason);
        }
    };
    run_peer(ws, address, protocol, context).await;
}

fn handshake_failed(context: &ListenerContext, address: SocketAddr, reason: String) {
    let _ = context
        .events
        .send(Event::HandshakeFailed { address, reason });
}

/// The HTTP upgrade with subprotocol choice; a rejected request gets HTTP 400 with the reason.
// tungstenite's callback type fixes the large error (an HTTP response).
#[allow(clippy::result_large_err)]
async fn upgrade<S: Transport>(
    stream: S,
    config: &ServerConfig,
) -> Result<(tokio_tungstenite::WebSocketStream<S>, String), String> {
    let mut chosen = None;
    let mut rejection = None;
    let callback = |request: &Request, mut response: Response| {
        let offered: Vec<&str> = request
            .headers()
            .get_all("Sec-WebSocket-Protocol")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(parse_offered)
            .collect();
        match choose_protocol(&offered, &config.protocols) {
            Some(protocol) => {
                if let (false, Ok(value)) = (protocol.is_empty(), HeaderValue::from_str(protocol)) {
                    response
                        .headers_mut()
                        .insert("Sec-WebSocket-Protocol", value);
                }
                chosen = Some(protocol.to_owned());
                Ok(response)
            }
            None => {
                let reason = format!(
                    "no common subprotocol: the client offered {offered:?}, the server accepts {:?}",
                    config.protocols
                );
                rejection = Some(reason.clone());
                Err(reject(reason))
            }
        }
    };
    let handshake =
        accept_hdr_async_with_config(stream, callback, Some(websocket_config(config))).await;
    let ws = match (handshake, rejection) {
        (Ok(ws), _) => ws,
        (Err(_), Some(reason)) => return Err(reason),
        (Err(e), None) => return Err(format!("invalid WebSocket handshake: {e}")),
    };
    let protocol = chosen.ok_or_else(|| "the handshake was rejected".to_owned())?;
    Ok((ws, protocol))
}

fn reject(reason: String) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(reason));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response
}

fn websocket_config(config: &ServerConfig) -> WebSocketConfig {
    let max_message = config.limits.in_bytes;
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

async fn run_peer<S: Transport>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    address: SocketAddr,
    protocol: String,
    context: Arc<ListenerContext>,
) {
    let (commands, commands_rx) = unbounded_channel();
    let shared = Arc::new(PeerShared::default());
    let route = Route {
        commands,
        shared: shared.clone(),
        limits: context.config.limits,
    };
    let Some(id) = context.registry.register(route.clone()) else {
        // The server is stopping. This client finished its handshake just too late to become a
        // peer; it still gets the close 1001 the others get, not a bare end of stream.
        let away = CloseFrame {
            code: CloseCode::Away,
            reason: "".into(),
        };
        let _ = tokio::time::timeout(context.config.close_timeout, ws.close(Some(away))).await;
        return;
    };
    let peer = Peer::new(id, address, protocol, route);
    let _ = context.events.send(Event::Connected(peer));
    let connection = Connection::new(id, ws, commands_rx, shared, context.clone());
    let was_clean = connection.run().await;
    context.registry.unregister(id);
    let _ = context.events.send(Event::Disconnected { id, was_clean });
}
