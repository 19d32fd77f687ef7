//! The listening socket and what happens to each accepted connection until it is a peer:
//! refuse or accept, TCP_NODELAY, TLS (wss://) and the HTTP upgrade under `handshake_timeout`.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::error::Elapsed;
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;

use super::config::{BindAddress, ServerConfig};
use super::connection::{Connection, Transport};
use super::error::ListenError;
use super::event::{Event, ServerEvent};
use super::peer::{Peer, Route, WakeBatch};
use super::read_ahead::ReadAhead;
use super::registry::Registry;
use super::tls::TlsConfig;
use super::upgrade::{self, Upgrade};

/// Pending connections the kernel may hold (the stock server allows 8).
const BACKLOG: i32 = 1024;
/// Read buffer per connection, resident for the connection's life (tungstenite's default is
/// 128 KiB). 4 KiB instead of 8 KiB saves 4 KB per idle peer; large messages still arrive in
/// one buffer (tungstenite reserves a whole frame) and in large reads (`ReadAhead`).
const READ_BUFFER: usize = 4 * 1024;
/// Output is written to the socket once this much is buffered, and on every flush.
const WRITE_BUFFER: usize = 16 * 1024;
/// How long, and how much, a refused client's further input is read before the close.
const REFUSAL_DRAIN_TIME: Duration = Duration::from_millis(500);
const REFUSAL_DRAIN_BYTES: usize = 64 * 1024;

/// What every connection of one server shares.
pub(crate) struct ListenerContext {
    pub config: ServerConfig,
    pub events: Sender<Event>,
    pub registry: Registry,
    pub refuse_new_connections: AtomicBool,
    /// The main thread's held wakes of connection tasks (see `WakeBatch`).
    pub wakes: Arc<WakeBatch>,
    /// Accepted sockets not yet closed: handshaking, peers, and peers closing.
    pub open_sockets: AtomicUsize,
}

/// Counts one accepted socket in `open_sockets` for as long as it lives.
struct OpenSocket(Arc<ListenerContext>);

impl OpenSocket {
    fn new(context: &Arc<ListenerContext>) -> Self {
        context.open_sockets.fetch_add(1, Ordering::AcqRel);
        Self(context.clone())
    }
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        self.0.open_sockets.fetch_sub(1, Ordering::AcqRel);
    }
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

/// Upgrades one accepted connection (TLS first, on a wss:// server) and runs it as a peer.
/// The whole handshake, TLS and HTTP, must finish within `handshake_timeout` of the accept.
async fn serve(
    mut tcp: TcpStream,
    address: SocketAddr,
    accepted_at: Instant,
    context: Arc<ListenerContext>,
) {
    let open = OpenSocket::new(&context);
    let _ = tcp.set_nodelay(true);
    let deadline = accepted_at + context.config.handshake_timeout;
    match context.config.tls.as_ref() {
        None => {
            let handshake = async {
                refuse_tls_client(&mut tcp).await?;
                upgrade(tcp, &context.config).await
            };
            let result = timeout_at(deadline, handshake).await;
            finish_handshake(result, address, open, context).await;
        }
        Some(tls) => {
            let handshake = async {
                let stream = tls_accept(tcp, tls).await?;
                upgrade(stream, &context.config).await
            };
            let result = timeout_at(deadline, handshake).await;
            finish_handshake(result, address, open, context).await;
        }
    }
}

type Upgraded<S> = (WebSocketStream<ReadAhead<S>>, String);

async fn finish_handshake<S: Transport>(
    result: Result<Result<Upgraded<S>, String>, Elapsed>,
    address: SocketAddr,
    open: OpenSocket,
    context: Arc<ListenerContext>,
) {
    match result {
        // A task of its own: the handshake's state (buffers, TLS setup) is freed now instead of
        // staying in the task's memory for the connection's whole life.
        Ok(Ok((ws, protocol))) => {
            tokio::spawn(run_peer(ws, address, protocol, open, context));
        }
        Ok(Err(reason)) => handshake_failed(&context, address, reason),
        Err(_) => {
            let reason = format!(
                "the handshake did not finish within handshake_timeout ({:.1} s)",
                context.config.handshake_timeout.as_secs_f64()
            );
            handshake_failed(&context, address, reason);
        }
    }
}

/// On a plain ws:// server: a client that opens with a TLS record (a wss:// client) gets a TLS
/// `handshake_failure` alert and is dropped, so it fails at once and knows why.
async fn refuse_tls_client(tcp: &mut TcpStream) -> Result<(), String> {
    if first_byte(tcp).await? != TLS_HANDSHAKE_RECORD {
        return Ok(());
    }
    let _ = tcp.write_all(&TLS_HANDSHAKE_FAILURE_ALERT).await;
    finish_refusal(tcp).await;
    Err("a TLS (wss://) client on this plain ws:// server, which has no certificate".to_owned())
}

/// The TLS handshake of a wss:// server. A plain HTTP client (ws://) gets an HTTP 400 that
/// says to use wss://.
async fn tls_accept(
    mut tcp: TcpStream,
    tls: &TlsConfig,
) -> Result<tokio_rustls::server::TlsStream<TcpStream>, String> {
    let first = first_byte(&tcp).await?;
    if first != TLS_HANDSHAKE_RECORD && first.is_ascii_alphabetic() {
        let _ = tcp.write_all(PLAIN_CLIENT_ON_TLS_RESPONSE).await;
        finish_refusal(&mut tcp).await;
        return Err(
            "a plain (ws://, not TLS) client on this wss:// server; it was told to use wss://"
                .to_owned(),
        );
    }
    tls.acceptor()
        .accept(tcp)
        .await
        .map_err(|e| tls_failure(&e))
}

/// The first TLS record of a handshake has content type 22.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// A TLS 1.0-framed fatal `handshake_failure` alert: what a TLS server says when it cannot
/// negotiate, understood by every TLS client.
const TLS_HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28];
const PLAIN_CLIENT_ON_TLS_RESPONSE: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Content-Length: 64\r\n\
    Connection: close\r\n\r\n\
    This server accepts only TLS connections: use wss://, not ws://\n";

/// The first byte the client sent, left unread.
async fn first_byte(tcp: &TcpStream) -> Result<u8, String> {
    let mut byte = [0u8; 1];
    match tcp.peek(&mut byte).await {
        Ok(0) => Err("the client closed the connection before the handshake".to_owned()),
        Ok(_) => Ok(byte[0]),
        Err(e) => Err(format!("the connection failed before the handshake: {e}")),
    }
}

/// Why a TLS handshake failed, in words a game developer can act on.
fn tls_failure(error: &io::Error) -> String {
    use tokio_rustls::rustls::{AlertDescription, Error as TlsErr};
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<TlsErr>())
    else {
        return match error.kind() {
            io::ErrorKind::UnexpectedEof => {
                "TLS handshake failed: the client closed the connection".to_owned()
            }
            _ => format!("TLS handshake failed: {error}"),
        };
    };
    match tls {
        TlsErr::AlertReceived(
            alert @ (AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::UnsupportedCertificate),
        ) => format!(
            "TLS handshake failed: the client refused the server certificate ({alert:?}): it \
             does not trust the chain (is the intermediate in the chain?), or the certificate \
             is not for the host name the client used"
        ),
        TlsErr::AlertReceived(alert) => {
            format!("TLS handshake failed: the client aborted it ({alert:?})")
        }
        TlsErr::NoApplicationProtocol => {
            "TLS handshake failed: the client does not offer ALPN http/1.1".to_owned()
        }
        TlsErr::InvalidMessage(_) => {
            "TLS handshake failed: the client does not speak TLS (or sent a broken record)"
                .to_owned()
        }
        other => format!("TLS handshake failed: {other}"),
    }
}

fn handshake_failed(context: &ListenerContext, address: SocketAddr, reason: String) {
    let _ = context
        .events
        .send(Event::Report(ServerEvent::HandshakeFailed {
            address,
            reason,
        }));
}

/// The HTTP upgrade: reads the request head (at most `MAX_REQUEST_HEAD` bytes), answers it as
/// `upgrade::answer` decides, and on a 101 hands the stream and any bytes read past the head to
/// tungstenite. A refused request gets its HTTP error (the body says why) before the close.
async fn upgrade<S: Transport>(
    mut stream: S,
    config: &ServerConfig,
) -> Result<Upgraded<S>, String> {
    let mut input = Vec::with_capacity(1024);
    let mut buffer = [0u8; 4096];
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) => return Err("the client closed the connection during the handshake".into()),
            Ok(read) => read,
            Err(e) => return Err(format!("the connection failed during the handshake: {e}")),
        };
        // Parsed again only when this read can have changed the answer: the first bytes (to
        // refuse garbage at once), the end of the head, or the size limit. Parsing on every
        // read would let a client trickling one byte at a time cost quadratic work.
        let first_read = input.is_empty();
        let searched_from = input.len().saturating_sub(2);
        input.extend_from_slice(&buffer[..read]);
        let head_may_end = ends_a_head(&input[searched_from..]);
        if !(first_read || head_may_end || input.len() > upgrade::MAX_REQUEST_HEAD) {
            continue;
        }
        match upgrade::answer(&input, &config.protocols) {
            Upgrade::Incomplete => {}
            Upgrade::Accept {
                response,
                protocol,
                head_len,
            } => {
                let written = async {
                    stream.write_all(&response).await?;
                    stream.flush().await
                };
                written
                    .await
                    .map_err(|e| format!("the connection failed during the handshake: {e}"))?;
                let frames = input.split_off(head_len);
                let config = Some(websocket_config(config));
                let stream = ReadAhead::new(stream);
                let ws = WebSocketStream::from_partially_read(stream, frames, Role::Server, config)
                    .await;
                return Ok((ws, protocol));
            }
            Upgrade::Reject {
                response, reason, ..
            } => {
                let _ = stream.write_all(&response).await;
                finish_refusal(&mut stream).await;
                return Err(reason);
            }
        }
    }
}

/// Whether `bytes` hold the empty line that ends a request head: "\r\n\r\n", or the bare
/// "\n" line ends that HTTP parsers (httparse, so tungstenite's) accept as well.
fn ends_a_head(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

/// Ends a refused connection so the client reads the answer: FIN, then what it still sends is
/// read and dropped for a moment (closing with unread input would reset the connection and
/// could destroy the answer before the client reads it).
async fn finish_refusal<S: Transport>(stream: &mut S) {
    let drain = async {
        let _ = stream.shutdown().await;
        let mut scratch = [0u8; 4096];
        let mut left = REFUSAL_DRAIN_BYTES;
        while left > 0 {
            match stream.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(read) => left = left.saturating_sub(read),
            }
        }
    };
    let _ = tokio::time::timeout(REFUSAL_DRAIN_TIME, drain).await;
}

fn websocket_config(config: &ServerConfig) -> WebSocketConfig {
    let max_message = config.limits.in_bytes;
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(Some(max_message))
        .max_frame_size(Some(max_message))
}

/// Runs a connection as a peer; `_open` counts its socket until the connection ends.
async fn run_peer<S: Transport>(
    mut ws: WebSocketStream<S>,
    address: SocketAddr,
    protocol: String,
    _open: OpenSocket,
    context: Arc<ListenerContext>,
) {
    let (route, commands) = Route::new(context.config.limits);
    let shared = route.shared.clone();
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
    let peer = Peer::new(id, address, protocol, route, context.wakes.clone());
    let _ = context.events.send(Event::Connected(peer));
    let connection = Connection::new(id, ws, commands, shared, context.clone());
    let was_clean = connection.run().await;
    context.registry.unregister(id);
    let _ = context
        .events
        .send(Event::Report(ServerEvent::Disconnected { id, was_clean }));
}
