//! engine_echo: an echo server without Godot, to price the bridge.
//!
//!     engine_echo --mode=engine --port=P [--max-secs=300] [--buffer-kb=N]
//!     engine_echo --mode=raw    --port=P [--max-secs=300]
//!
//! - engine: gdws's engine (`gdws_engine::Server`, default limits), with this process's main
//!   thread in place of Godot's: it blocks for the next event and echoes each message through
//!   the peer's queue, as the GDScript echo does through `poll()`. --buffer-kb sets the input
//!   and output byte limits (`set_buffers`; default 64), e.g. for the conformance suite's 16 MiB
//!   messages (scripts/harness/conformance.sh).
//! - raw: the ceiling: a minimal tokio-tungstenite echo server with default settings on a
//!   multi-thread runtime (each connection's messages forwarded back to it).
//!
//! Prints `READY` once listening; exits after `--max-secs` in any case.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{future, StreamExt, TryStreamExt};
use gdws_bench::{mark, Args};
use gdws_engine::{BindAddress, Server, ServerConfig, ServerEvent};
use tokio::net::TcpListener;

fn main() {
    let args = Args::from_env();
    let port: u16 = args.get("port", 9090);
    let max = Duration::from_secs_f64(args.get("max-secs", 300.0));
    match args.get("mode", "engine".to_owned()).as_str() {
        "engine" => engine(port, max, args.get("buffer-kb", 64)),
        "raw" => raw(port, max),
        other => {
            eprintln!("unknown --mode={other} (engine or raw)");
            std::process::exit(2);
        }
    }
}

fn engine(port: u16, max: Duration, buffer_kb: usize) {
    let mut config = ServerConfig::new(port);
    config.bind = BindAddress::parse("127.0.0.1").unwrap();
    config.limits.in_bytes = buffer_kb * 1024;
    config.limits.out_bytes = buffer_kb * 1024;
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

fn raw(port: u16, max: Duration) {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    runtime.block_on(async {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = TcpListener::bind(addr).await.expect("bind");
        mark("READY");
        let accept = async {
            while let Ok((tcp, _)) = listener.accept().await {
                let _ = tcp.set_nodelay(true);
                tokio::spawn(async move {
                    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                        return;
                    };
                    let (write, read) = ws.split();
                    let _ = read
                        .try_filter(|message| {
                            future::ready(message.is_binary() || message.is_text())
                        })
                        .forward(write)
                        .await;
                });
            }
        };
        let _ = tokio::time::timeout(max, accept).await;
    });
    runtime.shutdown_background();
}
