//! What happens to an accepted connection until it is a peer: refused or not, TCP_NODELAY,
//! TLS (wss://) and the HTTP upgrade, all within `handshake_timeout` of the accept. A client of
//! the wrong kind (TLS on ws://, plain on wss://) is told so in words it understands. A
//! connection that closes without a byte (a port scan, a load balancer's check) is only
//! counted, and at most `TLS_HANDSHAKES_PER_CORE` TLS handshakes per core do their work at once.
//! With `verify_clients` a valid request is handed to `verification` before its 101.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::error::Elapsed;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::connection::run_peer;
use super::context::{OpenSocket, ServerContext};
use super::frame_gate::FrameGate;
use super::proxy_protocol::proxied_source;
use super::read_ahead::ReadAhead;
use super::server::available_cores;
use super::transport::Transport;
use super::verification::verify;
use crate::config::ServerConfig;
use crate::event::ServerEvent;
use crate::proto::forwarded::client_address;
use crate::proto::request::ClientRequest;
use crate::proto::upgrade::{websocket_config, RequestHead, Upgrade};
use crate::tls::TlsConfig;

/// How long, and how much, a refused client's further input is read before the close.
pub const REFUSAL_DRAIN_TIME: Duration = Duration::from_millis(500);
const REFUSAL_DRAIN_BYTES: usize = 64 * 1024;

/// TLS handshakes that may run at once, per core, counted from a whole ClientHello (reading
/// one costs nearly nothing, so a client that sends half of one holds no slot) to the end of
/// the TLS handshake. The rest wait their turn, first come first served, within their
/// `handshake_timeout`: a flood of handshakes queues instead of sharing the cores until every
/// one of them times out, and one whose deadline passed while it waited does no TLS work.
pub const TLS_HANDSHAKES_PER_CORE: usize = 16;

/// How many TLS handshakes a server of this process runs at once: `TLS_HANDSHAKES_PER_CORE`
/// for each core the process may run on.
pub fn tls_handshake_slots() -> usize {
    TLS_HANDSHAKES_PER_CORE * available_cores()
}

/// Why a connection did not become a peer.
pub(crate) enum Refusal {
    /// It closed (or was reset) before sending a byte: a port scan or a load balancer's TCP
    /// check. Counted in `silent_connections`, not reported.
    Silent,
    /// Reported to the game as `HandshakeFailed`.
    Reason(String),
    /// A health check (`health_check_path`), answered: neither a peer nor a failure.
    HealthCheck,
}

impl From<String> for Refusal {
    fn from(reason: String) -> Self {
        Self::Reason(reason)
    }
}

/// Upgrades one accepted connection (TLS first, on a wss:// server) and runs it as a peer.
/// The whole handshake, TLS and HTTP, must finish within `handshake_timeout` of the accept.
pub(crate) async fn serve(
    mut tcp: TcpStream,
    address: SocketAddr,
    accepted_at: Instant,
    open: OpenSocket,
    context: Arc<ServerContext>,
) {
    let _ = tcp.set_nodelay(true);
    let deadline = accepted_at + context.config.handshake_timeout;
    match context.current_tls() {
        None => {
            let handshake = async {
                let source = proxied_source(&mut tcp, address, &context.config).await?;
                refuse_tls_client(&mut tcp).await?;
                Ok((upgrade(tcp, &context.config).await?, source))
            };
            let result = timeout_at(deadline, handshake).await;
            finish_handshake(result, address, deadline, open, context).await;
        }
        Some(tls) => {
            let handshake = async {
                let source = proxied_source(&mut tcp, address, &context.config).await?;
                let stream = tls_accept(tcp, &tls, &context, deadline).await?;
                Ok((upgrade(stream, &context.config).await?, source))
            };
            let result = timeout_at(deadline, handshake).await;
            finish_handshake(result, address, deadline, open, context).await;
        }
    }
}

/// An upgraded connection: the stream, the subprotocol chosen and what the client asked for.
pub(crate) type Upgraded<S> = (
    WebSocketStream<FrameGate<ReadAhead<S>>>,
    String,
    ClientRequest,
);

/// A handshake that went well: upgraded, or (with `verify_clients`) a valid request whose 101
/// waits for the game's answer, outside the handshake's own timeout (`verify` keeps the
/// deadline and answers a 503 at it).
// Made once per connection and moved straight into its task: boxing the upgraded stream would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Handshake<S> {
    Upgraded(Upgraded<S>),
    Held(Accepted<S>),
}

/// A valid upgrade request and the stream it came on, until its 101 goes out.
pub(crate) struct Accepted<S> {
    pub stream: S,
    head: RequestHead,
    head_len: usize,
    response: Vec<u8>,
    pub protocol: String,
    pub request: ClientRequest,
}

impl<S: Transport> Accepted<S> {
    /// Answers the 101 and hands the stream and any bytes read past the head to tungstenite.
    /// `Err` says why the 101 could not be written.
    pub async fn switch_protocols(mut self, config: &ServerConfig) -> Result<Upgraded<S>, String> {
        let written = async {
            self.stream.write_all(&self.response).await?;
            self.stream.flush().await
        };
        written
            .await
            .map_err(|e| format!("the connection failed during the handshake: {e}"))?;
        let frames = self.head.into_frames(self.head_len);
        let ws_config = websocket_config(&config.limits);
        let max_frame = ws_config.max_frame_size.unwrap_or(usize::MAX);
        // The bytes after the head are the stream's first: the gate scans them too.
        let stream = FrameGate::new(ReadAhead::new(self.stream), &frames, max_frame);
        let ws = WebSocketStream::from_raw_socket(stream, Role::Server, Some(ws_config)).await;
        Ok((ws, self.protocol, self.request))
    }
}

/// `source`: the TCP peer, or the client its PROXY header named.
async fn finish_handshake<S: Transport>(
    result: Result<Result<(Handshake<S>, SocketAddr), Refusal>, Elapsed>,
    address: SocketAddr,
    deadline: Instant,
    open: OpenSocket,
    context: Arc<ServerContext>,
) {
    match result {
        // A task of its own: the handshake's state (buffers, TLS setup) is freed now instead of
        // staying in the task's memory for the connection's whole life.
        Ok(Ok((Handshake::Upgraded((ws, protocol, request)), source))) => {
            let client = client_address(source, &request, &context.config.trusted_proxies);
            tokio::spawn(run_peer(ws, client, protocol, request, None, open, context));
        }
        Ok(Ok((Handshake::Held(accepted), source))) => {
            let trusted = &context.config.trusted_proxies;
            let client = client_address(source, &accepted.request, trusted);
            tokio::spawn(verify(accepted, client, deadline, open, context));
        }
        Ok(Err(Refusal::Silent)) => {
            context.silent_connections.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Err(Refusal::HealthCheck)) => {}
        Ok(Err(Refusal::Reason(reason))) => handshake_failed(&context, address, reason),
        Err(_) => handshake_failed(&context, address, timed_out(&context.config)),
    }
}

fn timed_out(config: &ServerConfig) -> String {
    format!(
        "the handshake did not finish within handshake_timeout ({:.1} s)",
        config.handshake_timeout.as_secs_f64()
    )
}

/// On a plain ws:// server: a client that opens with a TLS record (a wss:// client) gets a TLS
/// `handshake_failure` alert and is dropped, so it fails at once and knows why.
async fn refuse_tls_client(tcp: &mut TcpStream) -> Result<(), Refusal> {
    if first_byte(tcp).await? != TLS_HANDSHAKE_RECORD {
        return Ok(());
    }
    refuse(tcp, &TLS_HANDSHAKE_FAILURE_ALERT).await;
    Err(Refusal::Reason(
        "a TLS (wss://) client on this plain ws:// server, which has no certificate".to_owned(),
    ))
}

/// The TLS handshake of a wss:// server. A plain HTTP client (ws://) gets an HTTP 400 that
/// says to use wss://. The ClientHello is read first; the rest of the handshake waits for one
/// of the `tls_handshakes` slots, and is not started once `deadline` has passed.
async fn tls_accept(
    mut tcp: TcpStream,
    tls: &TlsConfig,
    context: &ServerContext,
    deadline: Instant,
) -> Result<TlsStream<TcpStream>, Refusal> {
    let first = first_byte(&tcp).await?;
    if first != TLS_HANDSHAKE_RECORD && first.is_ascii_alphabetic() {
        refuse(&mut tcp, PLAIN_CLIENT_ON_TLS_RESPONSE).await;
        return Err(Refusal::Reason(
            "a plain (ws://, not TLS) client on this wss:// server; it was told to use wss://"
                .to_owned(),
        ));
    }
    let hello = LazyConfigAcceptor::new(Default::default(), tcp)
        .await
        .map_err(|e| tls_failure(&e))?;
    // Held until the TLS handshake ends. The semaphore is never closed, so this is a permit.
    let _slot = context.tls_handshakes.acquire().await;
    if Instant::now() >= deadline {
        // `timeout_at` would only notice after the next step, the expensive one.
        return Err(Refusal::Reason(timed_out(&context.config)));
    }
    hello
        .into_stream(tls.acceptor().config().clone())
        .await
        .map_err(|e| tls_failure(&e).into())
}

/// The first TLS record of a handshake has content type 22.
pub(crate) const TLS_HANDSHAKE_RECORD: u8 = 0x16;
/// A TLS 1.0-framed fatal `handshake_failure` alert: what a TLS server says when it cannot
/// negotiate, understood by every TLS client.
pub(crate) const TLS_HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28];
const PLAIN_CLIENT_ON_TLS_RESPONSE: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
    Content-Type: text/plain; charset=utf-8\r\n\
    Content-Length: 64\r\n\
    Connection: close\r\n\r\n\
    This server accepts only TLS connections: use wss://, not ws://\n";

/// The first byte the client sent, left unread. A client that closes or resets the
/// connection before its first byte is a silent refusal.
pub(crate) async fn first_byte(tcp: &TcpStream) -> Result<u8, Refusal> {
    let mut byte = [0u8; 1];
    peek(tcp, &mut byte).await?;
    Ok(byte[0])
}

/// Copies the first bytes waiting on `tcp` into `buffer`, leaving them unread: how many (one at
/// least). A connection closed or reset before a byte came is a silent refusal.
pub(crate) async fn peek(tcp: &TcpStream, buffer: &mut [u8]) -> Result<usize, Refusal> {
    match tcp.peek(buffer).await {
        Ok(0) => Err(Refusal::Silent),
        Ok(peeked) => Ok(peeked),
        // Windows reports some resets as aborted connections.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
            ) =>
        {
            Err(Refusal::Silent)
        }
        Err(e) => Err(format!("the connection failed before the handshake: {e}").into()),
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

pub(crate) fn handshake_failed(context: &ServerContext, address: SocketAddr, reason: String) {
    context.report(ServerEvent::HandshakeFailed { address, reason });
}

/// The HTTP upgrade: reads the request head (at most `MAX_REQUEST_HEAD` bytes), answers it as
/// `upgrade::answer` decides, and on a 101 hands the stream and any bytes read past the head to
/// tungstenite. A refused request gets its HTTP error (the body says why) before the close.
/// With `verify_clients` a valid request is held instead of answered.
async fn upgrade<S: Transport>(
    mut stream: S,
    config: &ServerConfig,
) -> Result<Handshake<S>, Refusal> {
    let mut head = RequestHead::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) => {
                let reason = "the client closed the connection during the handshake";
                return Err(reason.to_owned().into());
            }
            Ok(read) => read,
            Err(e) => {
                let reason = format!("the connection failed during the handshake: {e}");
                return Err(reason.into());
            }
        };
        match head.push(&buffer[..read], &config.protocols, &config.request_policy) {
            Upgrade::Incomplete => {}
            Upgrade::Accept {
                response,
                protocol,
                head_len,
                request,
            } => {
                let accepted = Accepted {
                    stream,
                    head,
                    head_len,
                    response,
                    protocol,
                    request,
                };
                if config.verify_clients {
                    return Ok(Handshake::Held(accepted));
                }
                let upgraded = accepted.switch_protocols(config).await?;
                return Ok(Handshake::Upgraded(upgraded));
            }
            Upgrade::Reject {
                response, reason, ..
            } => {
                refuse(&mut stream, &response).await;
                return Err(reason.into());
            }
            Upgrade::HealthCheck { response } => {
                let _ = stream.write_all(&response).await;
                finish_refusal(&mut stream).await;
                return Err(Refusal::HealthCheck);
            }
        }
    }
}

/// Answers a refused client with `response` (an HTTP error, a TLS alert) and ends the
/// connection so it reads the answer.
pub(crate) async fn refuse<S: Transport>(stream: &mut S, response: &[u8]) {
    let _ = stream.write_all(response).await;
    finish_refusal(stream).await;
}

/// Ends a refused connection so the client reads the answer: FIN, then what it still sends is
/// read and dropped for a moment (closing with unread input would reset the connection and
/// could destroy the answer before the client reads it).
pub(crate) async fn finish_refusal<S: Transport>(stream: &mut S) {
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
