//! The PROXY protocol header at the start of a connection, before TLS and the HTTP request: read
//! from a trusted proxy (`trusted_proxies`) to learn the client's address, refused from anyone
//! else. Only the header's own bytes are taken from the socket: what follows is peeked at, never
//! read, so the TLS handshake or the HTTP upgrade reads the stream as the client sent it.

use std::net::SocketAddr;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use super::handshake::{self, peek, Refusal, TLS_HANDSHAKE_FAILURE_ALERT};
use crate::config::ServerConfig;
use crate::proto::proxy_header::{self, Scan, Source, SCAN_WINDOW};
use crate::proto::upgrade::refusal;
use tokio_tungstenite::tungstenite::http::StatusCode;

/// The source of the connection `tcp` from `address`: the client a trusted proxy's PROXY header
/// names, else `address`. A PROXY header from an untrusted source, an invalid one, or a start
/// that looked like one and was not, is refused: on ws:// with an HTTP 400 that says why, on
/// wss:// with the TLS alert a TLS client understands (what follows a proxy's header there is
/// the client's TLS).
pub(crate) async fn proxied_source(
    tcp: &mut TcpStream,
    address: SocketAddr,
    config: &ServerConfig,
) -> Result<SocketAddr, Refusal> {
    let trusted = config.trusted_proxies.contains(address.ip());
    let mut taken = Vec::new();
    let mut window = [0u8; SCAN_WINDOW];
    let length = loop {
        let peeked = match peek(tcp, &mut window).await {
            Err(Refusal::Silent) if !taken.is_empty() => {
                let reason = "the connection closed during its PROXY protocol header";
                return Err(Refusal::Reason(reason.to_owned()));
            }
            result => result?,
        };
        let seen = [&taken[..], &window[..peeked]].concat();
        match proxy_header::scan(&seen) {
            Scan::NotProxy if taken.is_empty() => return Ok(address),
            Scan::NotProxy => {
                let reason =
                    "the connection began like a PROXY protocol header and then was not one";
                return refuse(tcp, config, reason.to_owned()).await;
            }
            Scan::Incomplete => {
                // Every byte seen is the header's: take them and wait for more.
                tcp.read_exact(&mut window[..peeked])
                    .await
                    .map_err(read_failed)?;
                taken.extend_from_slice(&window[..peeked]);
            }
            Scan::Header(_) | Scan::Invalid(_) if !trusted => {
                let reason = format!(
                    "a PROXY protocol header from {}, which is not in trusted_proxies",
                    address.ip()
                );
                return refuse(tcp, config, reason).await;
            }
            Scan::Invalid(reason) => return refuse(tcp, config, reason).await,
            Scan::Header(length) => break length,
        }
    };
    let already = taken.len();
    taken.resize(length, 0);
    tcp.read_exact(&mut taken[already..])
        .await
        .map_err(read_failed)?;
    match proxy_header::parse(&taken) {
        Ok(Source::Client(client)) => Ok(client),
        Ok(Source::Proxy) => Ok(address),
        Err(reason) => refuse(tcp, config, reason).await,
    }
}

fn read_failed(error: std::io::Error) -> Refusal {
    Refusal::Reason(format!(
        "the connection failed during its PROXY protocol header: {error}"
    ))
}

/// Answers a refused PROXY header (an HTTP 400 naming `reason` on ws://, a TLS alert on
/// wss://), closes, and reports `reason`.
async fn refuse(
    tcp: &mut TcpStream,
    config: &ServerConfig,
    reason: String,
) -> Result<SocketAddr, Refusal> {
    let answer = match config.tls {
        None => refusal(StatusCode::BAD_REQUEST, &reason),
        Some(_) => TLS_HANDSHAKE_FAILURE_ALERT.to_vec(),
    };
    handshake::refuse(tcp, &answer).await;
    Err(Refusal::Reason(reason))
}
