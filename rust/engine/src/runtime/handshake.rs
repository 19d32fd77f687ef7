//! What happens to an accepted connection until it is a peer: refused or not, TCP_NODELAY,
//! TLS (wss://) and the HTTP upgrade, all within `handshake_timeout` of the accept. A client of
//! the wrong kind (TLS on ws://, plain on wss://) is told so in words it understands.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::error::Elapsed;
use tokio::time::{timeout_at, Instant};
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

use super::connection::run_peer;
use super::context::{OpenSocket, ServerContext};
use super::frame_gate::FrameGate;
use super::read_ahead::ReadAhead;
use super::transport::Transport;
use crate::config::ServerConfig;
use crate::event::ServerEvent;
use crate::proto::upgrade::{websocket_config, RequestHead, Upgrade};
use crate::tls::TlsConfig;

/// How long, and how much, a refused client's further input is read before the close.
const REFUSAL_DRAIN_TIME: Duration = Duration::from_millis(500);
const REFUSAL_DRAIN_BYTES: usize = 64 * 1024;

/// Upgrades one accepted connection (TLS first, on a wss:// server) and runs it as a peer.
/// The whole handshake, TLS and HTTP, must finish within `handshake_timeout` of the accept.
pub(crate) async fn serve(
    mut tcp: TcpStream,
    address: SocketAddr,
    accepted_at: Instant,
    context: Arc<ServerContext>,
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

type Upgraded<S> = (WebSocketStream<FrameGate<ReadAhead<S>>>, String);

async fn finish_handshake<S: Transport>(
    result: Result<Result<Upgraded<S>, String>, Elapsed>,
    address: SocketAddr,
    open: OpenSocket,
    context: Arc<ServerContext>,
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

fn handshake_failed(context: &ServerContext, address: SocketAddr, reason: String) {
    context.report(ServerEvent::HandshakeFailed { address, reason });
}

/// The HTTP upgrade: reads the request head (at most `MAX_REQUEST_HEAD` bytes), answers it as
/// `upgrade::answer` decides, and on a 101 hands the stream and any bytes read past the head to
/// tungstenite. A refused request gets its HTTP error (the body says why) before the close.
async fn upgrade<S: Transport>(
    mut stream: S,
    config: &ServerConfig,
) -> Result<Upgraded<S>, String> {
    let mut head = RequestHead::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = match stream.read(&mut buffer).await {
            Ok(0) => return Err("the client closed the connection during the handshake".into()),
            Ok(read) => read,
            Err(e) => return Err(format!("the connection failed during the handshake: {e}")),
        };
        match head.push(&buffer[..read], &config.protocols) {
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
                let frames = head.into_frames(head_len);
                let ws_config = websocket_config(&config.limits);
                let max_frame = ws_config.max_frame_size.unwrap_or(usize::MAX);
                // The bytes after the head are the stream's first: the gate scans them too.
                let stream = FrameGate::new(ReadAhead::new(stream), &frames, max_frame);
                let ws =
                    WebSocketStream::from_raw_socket(stream, Role::Server, Some(ws_config)).await;
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
