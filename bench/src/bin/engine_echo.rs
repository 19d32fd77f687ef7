//! engine_echo: an echo server without Godot, to price the bridge.
//!
//!     engine_echo --mode=engine --port=P [--max-secs=300] [--buffer-kb=N] [--cert=F --key=F]
//!     engine_echo --mode=raw    --port=P [--max-secs=300] [--cert=F --key=F]
//!
//! - engine: gdws's engine (`gdws_engine::Server`, default limits), with this process's main
//!   thread in place of Godot's: it blocks for the next event and echoes each message through
//!   the peer's queue, as the GDScript echo does through `poll()`. --buffer-kb sets the input
//!   and output byte limits (`set_buffers`; default 64), e.g. for the conformance suite's 16 MiB
//!   messages (scripts/harness/conformance.sh).
//! - raw: the ceiling: a minimal tokio-tungstenite echo server with default settings on a
//!   multi-thread runtime (each connection's messages forwarded back to it).
//!
//! --cert/--key (PEM files): wss://, the engine with its `TlsConfig`, raw with a tokio-rustls
//! acceptor of rustls's defaults (ring, as the engine).
//!
//! Prints `READY` once listening; exits after `--max-secs` in any case.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{future, StreamExt, TryStreamExt};
use gdws_bench::{mark, Args};
use gdws_engine::{BindAddress, Pem, Server, ServerConfig, ServerEvent, TlsConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// The PEM files of `--cert` and `--key`, when both are given.
struct PemFiles {
    cert: String,
    key: String,
}

fn main() {
    let args = Args::from_env();
    let port: u16 = args.get("port", 9090);
    let max = Duration::from_secs_f64(args.get("max-secs", 300.0));
    let cert: String = args.get("cert", String::new());
    let key: String = args.get("key", String::new());
    let tls = (!cert.is_empty()).then_some(PemFiles { cert, key });
    match args.get("mode", "engine".to_owned()).as_str() {
        "engine" => engine(port, max, args.get("buffer-kb", 64), tls),
        "raw" => raw(port, max, tls),
        other => {
            eprintln!("unknown --mode={other} (engine or raw)");
            std::process::exit(2);
        }
    }
}

fn engine(port: u16, max: Duration, buffer_kb: usize, tls: Option<PemFiles>) {
    let mut config = ServerConfig::new(port);
    config.bind = BindAddress::parse("127.0.0.1").unwrap();
    config.limits.in_bytes = buffer_kb * 1024;
    config.limits.out_bytes = buffer_kb * 1024;
    config.tls = tls.map(|files| {
        let read = |path: &str| Pem::new(path, std::fs::read(path).expect("a PEM file"));
        TlsConfig::from_pem(&read(&files.cert), &read(&files.key), None).expect("--cert/--key")
    });
    let mut server = Server::listen(config).expect("listen");
    mark("READY");
    let deadline = Instant::now() + max;
    while Instant::now() < deadline {
        if let Some(ServerEvent::Message { id }) = server.wait_event(Duration::from_millis(100)) {
            if let Some(peer) = server.peer_mut(id) {
                while let Some(packet) = peer.get_packet() {
                    let _ = peer.put_packet(packet);
                }
            }
        }
    }
    server.stop();
}

fn raw(port: u16, max: Duration, tls: Option<PemFiles>) {
    let acceptor = tls.map(|files| raw_acceptor(&files));
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = TcpListener::bind(addr).await.expect("bind");
        mark("READY");
        let accept = async {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match acceptor {
                        None => raw_echo(tcp).await,
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                raw_echo(stream).await;
                            }
                        }
                    }
                });
            }
        };
        let _ = tokio::time::timeout(max, accept).await;
    });
    runtime.shutdown_background();
}

/// The raw server's connection: upgraded with tokio-tungstenite's defaults, every message
/// forwarded back.
async fn raw_echo<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|message| future::ready(message.is_binary() || message.is_text()))
        .forward(write)
        .await;
}

/// rustls's defaults with the ring provider, the certificate chain and key of `files`.
fn raw_acceptor(files: &PemFiles) -> TlsAcceptor {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect())
        .expect("--cert");
    let key = PrivateKeyDer::from_pem_file(&files.key).expect("--key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
        .expect("a TLS configuration");
    TlsAcceptor::from(Arc::new(config))
}
