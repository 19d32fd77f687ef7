//! ws_chat: one tokio-tungstenite client of the demo chat server, through whatever is in front of
//! it (the proxies suite, scripts/harness/proxies_test.py, runs it through nginx):
//!
//!     ws_chat --port=P --path=/play?room=3 [--ca=FILE] [--bind=127.0.0.2] --say=TEXT
//!
//! Connects to localhost:P from the address `bind` (wss:// when `--ca` names the CA that signed
//! the certificate for `localhost`), learns its id from the demo's `* ID joined`, says `TEXT` and
//! waits for the demo's `[ID] TEXT` back, then closes cleanly. Prints `JOINED ID` and `ECHOED`;
//! exits 1 with the reason on the first thing that goes wrong, each step within 10 s.

use std::fmt::Display;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gdws_bench::{mark, trusting_ca, Args};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpSocket;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async, WebSocketStream};

const STEP_TIMEOUT: Duration = Duration::from_secs(10);

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args = Args::from_env();
    if let Err(reason) = chat(&args).await {
        eprintln!("ws_chat: {reason}");
        std::process::exit(1);
    }
}

async fn chat(args: &Args) -> Result<(), String> {
    let port: u16 = args.get("port", 0);
    let path: String = args.get("path", "/".to_owned());
    let bind: String = args.get("bind", "127.0.0.1".to_owned());
    let say: String = args.get("say", "hello".to_owned());
    let ca: String = args.get("ca", String::new());

    let socket = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    let local: SocketAddr = format!("{bind}:0").parse().map_err(|_| "bad --bind")?;
    socket
        .bind(local)
        .map_err(|e| format!("bind {local}: {e}"))?;
    let server: SocketAddr = ([127, 0, 0, 1], port).into();
    let tcp = step("TCP connect", socket.connect(server)).await?;
    let (url, stream): (_, Box<dyn Io>) = if ca.is_empty() {
        (format!("ws://localhost:{port}{path}"), Box::new(tcp))
    } else {
        let name = ServerName::try_from("localhost").expect("a DNS name");
        let tls = step(
            "TLS",
            TlsConnector::from(Arc::new(trusting_ca(&ca)?)).connect(name, tcp),
        )
        .await?;
        (format!("wss://localhost:{port}{path}"), Box::new(tls))
    };
    let (mut ws, _) = step("WebSocket upgrade", client_async(url, stream)).await?;

    let joined = next_text(&mut ws).await?;
    let id = joined
        .strip_prefix("* ")
        .and_then(|rest| rest.strip_suffix(" joined"))
        .ok_or(format!("expected '* ID joined', got {joined:?}"))?
        .to_owned();
    mark(&format!("JOINED {id}"));
    step("send", ws.send(Message::text(say.clone()))).await?;
    let want = format!("[{id}] {say}");
    while next_text(&mut ws).await? != want {}
    mark("ECHOED");
    step("close", ws.close(None)).await?;
    // Until the server's close reply and the end of the stream: a clean close.
    while let Some(message) = within("the close reply", ws.next()).await? {
        message.map_err(|e| format!("after the close: {e}"))?;
    }
    Ok(())
}

/// The next text message (the demo's broadcasts of others are text too).
async fn next_text(ws: &mut WebSocketStream<Box<dyn Io>>) -> Result<String, String> {
    loop {
        match within("a message", ws.next()).await? {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("the server closed the connection".to_owned()),
        }
    }
}

/// `future`'s output, if it comes within STEP_TIMEOUT.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> Result<T, String> {
    timeout(STEP_TIMEOUT, future)
        .await
        .map_err(|_| format!("{what}: no answer within {STEP_TIMEOUT:?}"))
}

/// `future` within STEP_TIMEOUT, its error as text.
async fn step<T, E: Display>(
    what: &str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    within(what, future)
        .await?
        .map_err(|e| format!("{what}: {e}"))
}
