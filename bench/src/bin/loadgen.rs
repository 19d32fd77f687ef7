//! loadgen: WebSocket load against one server on 127.0.0.1, for the gdws benchmarks.
//!
//!     loadgen hold      --port=P [--conns=10000] [--secs=5] [--concurrency=100] [--answer-pings]
//!     loadgen echo      --port=P [--conns=100] [--inflight=8] [--size=32] [--secs=5] [--warmup=1]
//!     loadgen broadcast --port=P [--conns=1000] [--secs=5] [--warmup=1]
//!     loadgen relay     --port=P [--pairs=1] [--inflight=1] [--size=32] [--secs=5] [--warmup=1]
//!     loadgen handshakes --port=P [--concurrency=8] [--secs=5] [--warmup=1]
//!
//! `--tls-ca=FILE` (any scenario): connect with wss:// (rustls, TLS session resumption off, so
//! every handshake is a full one) to a server whose certificate that CA (PEM) signed for
//! `localhost`.
//!
//! Runs on one thread (the runner pins it to its own core). Prints, one line each and flushed:
//! `CONNECTED n failed`, `WINDOW_START` and `WINDOW_END` around the measured window (the runner
//! samples the server's CPU there), then `RESULT {json}`. Every phase has a deadline.
//!
//! - hold: opens `conns` connections (`concurrency` handshakes at a time) and keeps them idle;
//!   reports connect time (TCP connect + upgrade) p50/p99. With `--answer-pings` each one reads
//!   what comes (so answers the server's heartbeat pings, as real clients do) and sends nothing
//!   else; without, none is polled.
//! - echo: each connection keeps `inflight` binary messages of `size` bytes in flight (the first
//!   8 bytes carry the send time); reports echoes/s, MB/s (echoed payload received) and round
//!   trip p50/p99.
//! - broadcast: counts what the server sends (its first 8 bytes: a frame number); reports
//!   deliveries/s, frames/s seen and the share of peers that got each frame.
//! - relay: `pairs` pairs of hand-rolled Godot multiplayer clients (9-byte header) send each
//!   other packets through the server (to = the partner's id); each packet carries its send
//!   time, the partner bounces it back. Reports relayed packets/s and one-way latency.
//! - handshakes: `concurrency` loops each open a connection (TCP, TLS with --tls-ca, WebSocket
//!   upgrade), drop it, and start over; reports completed handshakes/s and their p50/p99.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use gdws_bench::{mark, trusting_ca, Args, Report, Samples};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, timeout_at};
use tokio_rustls::rustls::client::Resumption;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{client_async_with_config, WebSocketStream};

/// A plain TCP or a TLS stream.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Ws = WebSocketStream<Box<dyn Io>>;
type Tx = SplitSink<Ws, Message>;
type Rx = SplitStream<Ws>;

/// A connection that has not finished its handshake by then has failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The whole connect phase, however many connections.
const CONNECT_PHASE: Duration = Duration::from_secs(120);

struct Common {
    dialer: Dialer,
    secs: f64,
    warmup: f64,
    /// Process start: timestamps in messages are nanoseconds since then.
    t0: Instant,
}

impl Common {
    fn now_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    fn since_ns(&self, ns: u64) -> Duration {
        self.t0.elapsed().saturating_sub(Duration::from_nanos(ns))
    }

    /// The measured window: after the warmup, `secs` long.
    fn window(&self) -> (Instant, Instant) {
        let start = Instant::now() + Duration::from_secs_f64(self.warmup);
        (start, start + Duration::from_secs_f64(self.secs))
    }
}

fn main() {
    let args = Args::from_env();
    let Some(scenario) = args.positional.first().cloned() else {
        eprintln!(
            "usage: loadgen hold|echo|broadcast|relay|handshakes --port=P [options] (see the source)"
        );
        std::process::exit(2);
    };
    let port: u16 = args.get("port", 0);
    let host: String = args.get("host", "127.0.0.1".to_owned());
    let tls_ca: String = args.get("tls-ca", String::new());
    let common = Common {
        dialer: Dialer {
            addr: SocketAddr::new(host.parse().expect("--host is an IP address"), port),
            tls: (!tls_ca.is_empty()).then(|| tls_connector(&tls_ca)),
        },
        secs: args.get("secs", 5.0),
        warmup: args.get("warmup", 1.0),
        t0: Instant::now(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let report = runtime.block_on(async {
        match scenario.as_str() {
            "hold" => hold(&common, &args).await,
            "echo" => echo(&common, &args).await,
            "broadcast" => broadcast(&common, &args).await,
            "relay" => relay(&common, &args).await,
            "handshakes" => handshakes(&common, &args).await,
            other => {
                eprintln!("unknown scenario {other}");
                std::process::exit(2);
            }
        }
    });
    report.print();
    // Thousands of sockets: let the kernel close them rather than closing each politely.
    std::process::exit(0);
}

/// Client settings: `buffer` bytes of read buffer (tungstenite's default is 128 KiB, too much
/// for 10,000 idle clients in one process).
fn client_config(buffer: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(buffer)
        .write_buffer_size(0)
        .max_message_size(Some(64 << 20))
        .max_frame_size(Some(16 << 20))
}

/// Where and how to connect: ws:// or, with a TLS connector, wss://.
#[derive(Clone)]
struct Dialer {
    addr: SocketAddr,
    tls: Option<TlsConnector>,
}

/// A rustls client that trusts only the CA in `ca_path` and resumes no session: each
/// handshake is a full one, as for a new visitor (the built-in server resumes none either).
fn tls_connector(ca_path: &str) -> TlsConnector {
    let mut config = trusting_ca(ca_path).unwrap_or_else(|e| panic!("--tls-ca: {e}"));
    config.resumption = Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

async fn connect(dialer: &Dialer, config: WebSocketConfig) -> Result<(Ws, Duration), String> {
    let started = Instant::now();
    let attempt = async {
        let addr = dialer.addr;
        let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        let _ = tcp.set_nodelay(true);
        let (url, stream): (_, Box<dyn Io>) = match &dialer.tls {
            None => (format!("ws://{addr}/"), Box::new(tcp)),
            Some(tls) => {
                let name = ServerName::try_from("localhost").expect("a DNS name");
                let stream = tls.connect(name, tcp).await.map_err(|e| e.to_string())?;
                (
                    format!("wss://localhost:{}/", addr.port()),
                    Box::new(stream),
                )
            }
        };
        let (ws, _) = client_async_with_config(url, stream, Some(config))
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>(ws)
    };
    match timeout(CONNECT_TIMEOUT, attempt).await {
        Ok(Ok(ws)) => Ok((ws, started.elapsed())),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("timed out".to_owned()),
    }
}

/// Handshakes at a time while setting up the measured connections: the built-in server's
/// listen backlog is 8, and SYNs past it wait for a retransmission (1 s and more).
fn setup_concurrency(args: &Args) -> usize {
    args.get("concurrency", 8)
}

/// Opens `n` connections, `concurrency` at a time; gives up on the rest at the phase deadline.
async fn connect_many(
    dialer: &Dialer,
    n: usize,
    concurrency: usize,
    config: WebSocketConfig,
) -> (Vec<Ws>, Samples, usize) {
    let deadline = tokio::time::Instant::now() + CONNECT_PHASE;
    let mut attempts = futures_util::stream::iter(0..n)
        .map(|_| connect(dialer, config))
        .buffer_unordered(concurrency.max(1));
    let mut connections = Vec::with_capacity(n);
    let mut times = Samples::default();
    let mut failed = 0;
    let mut first_error = None;
    loop {
        match timeout_at(deadline, attempts.next()).await {
            Ok(Some(Ok((ws, took)))) => {
                connections.push(ws);
                times.push(took);
            }
            Ok(Some(Err(e))) => {
                failed += 1;
                first_error.get_or_insert(e);
            }
            Ok(None) => break,
            Err(_) => {
                failed += n - connections.len() - failed;
                first_error.get_or_insert("connect phase timed out".to_owned());
                break;
            }
        }
    }
    if let Some(e) = first_error {
        eprintln!("loadgen: {failed} of {n} connections failed, first: {e}");
    }
    mark(&format!("CONNECTED {} {failed}", connections.len()));
    (connections, times, failed)
}

async fn hold(common: &Common, args: &Args) -> Report {
    let n = args.get("conns", 10_000);
    let concurrency = args.get("concurrency", 100);
    let phase = Instant::now();
    let (connections, mut times, failed) =
        connect_many(&common.dialer, n, concurrency, client_config(4096)).await;
    let connect_secs = phase.elapsed().as_secs_f64();
    // Reading answers pings (tungstenite queues the pong and flushes it on the next read); a
    // reader ends with its connection.
    let (readers, unpolled) = if args.flag("answer-pings") {
        let readers = connections
            .into_iter()
            .map(|mut ws| tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} }))
            .collect();
        (readers, Vec::new())
    } else {
        (Vec::new(), connections)
    };
    // Let the server settle (its last handshakes and events) before the window.
    tokio::time::sleep(Duration::from_secs_f64(common.warmup)).await;
    mark("WINDOW_START");
    tokio::time::sleep(Duration::from_secs_f64(common.secs)).await;
    mark("WINDOW_END");
    // Still there? A closed connection has its end of stream ready to read.
    let mut alive = readers
        .iter()
        .filter(|reader| !reader.is_finished())
        .count();
    for ws in unpolled {
        let (_, mut rx) = ws.split();
        if rx.next().now_or_never().is_none() {
            alive += 1;
        }
    }
    let p = times.percentiles_ms(&[0.5, 0.99]);
    let mut report = Report::default();
    report
        .set("conns", alive as f64)
        .set("failed", n.saturating_sub(alive) as f64)
        .set("connect_p50_ms", p[0])
        .set("connect_p99_ms", p[1])
        .set(
            "connect_per_s",
            n.saturating_sub(failed) as f64 / connect_secs,
        );
    report
}

/// Runs `tasks` to their end while marking the measured window for the runner.
async fn in_window<F: std::future::Future>(
    (start, end): (Instant, Instant),
    tasks: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let windowed = async {
        sleep_until(start.into()).await;
        mark("WINDOW_START");
        sleep_until(end.into()).await;
        mark("WINDOW_END");
    };
    let (outputs, ()) = tokio::join!(futures_util::future::join_all(tasks), windowed);
    outputs
}

/// The fewest round trips one connection made, as a share of the mean: 1 when the server
/// serves every connection alike, 0 when it starves one. Latency percentiles cannot show
/// starvation: a connection that gets no answer adds no sample.
fn slowest_share(tallies: &[Tally]) -> f64 {
    let total: u64 = tallies.iter().map(|t| t.messages).sum();
    let fewest = tallies.iter().map(|t| t.messages).min().unwrap_or(0);
    if total == 0 {
        return 0.0;
    }
    fewest as f64 * tallies.len() as f64 / total as f64
}

/// What one connection counted inside the window.
#[derive(Default)]
struct Tally {
    messages: u64,
    bytes: u64,
    latency: Samples,
    errors: u64,
    /// Broadcast: first and last frame number seen in the window.
    first_seq: Option<u64>,
    last_seq: u64,
}

impl Tally {
    fn sum(tallies: Vec<Tally>) -> Tally {
        let mut total = Tally::default();
        for tally in tallies {
            total.add(tally);
        }
        total
    }

    fn add(&mut self, other: Tally) {
        self.messages += other.messages;
        self.bytes += other.bytes;
        self.latency.extend(other.latency);
        self.errors += other.errors;
    }
}

fn data_of(message: Message) -> Option<Bytes> {
    match message {
        Message::Binary(data) => Some(data),
        Message::Text(text) => Some(Bytes::from(text)),
        _ => None,
    }
}

fn stamped(common: &Common, size: usize) -> Message {
    let mut payload = vec![0u8; size.max(8)];
    payload[..8].copy_from_slice(&common.now_ns().to_le_bytes());
    Message::Binary(Bytes::from(payload))
}

async fn echo(common: &Common, args: &Args) -> Report {
    let n = args.get("conns", 100);
    let inflight: usize = args.get("inflight", 8);
    let size: usize = args.get("size", 32usize).max(8);
    let buffer = (size + 64).clamp(4096, 128 * 1024);
    let (connections, _, failed) = connect_many(
        &common.dialer,
        n,
        setup_concurrency(args),
        client_config(buffer),
    )
    .await;
    let window = common.window();
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|ws| echo_connection(common, ws, inflight, size, window))
        .collect();
    let tallies = in_window(window, tasks).await;
    let slowest_share = slowest_share(&tallies);
    let mut total = Tally::sum(tallies);
    let p = total.latency.percentiles_ms(&[0.5, 0.99]);
    let mut report = Report::default();
    report
        .set("conns", (n - failed) as f64)
        .set("slowest_share", slowest_share)
        .set("msgs_per_s", total.messages as f64 / common.secs)
        .set("mb_per_s", total.bytes as f64 / common.secs / 1e6)
        .set("p50_ms", p[0])
        .set("p99_ms", p[1])
        .set("errors", (total.errors + failed as u64) as f64);
    report
}

async fn echo_connection(
    common: &Common,
    ws: Ws,
    inflight: usize,
    size: usize,
    window: (Instant, Instant),
) -> Tally {
    let (tx, rx) = ws.split();
    let stamp_of = |data: &[u8]| {
        data.get(..8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    ping_pong(
        common,
        (tx, rx),
        inflight,
        window,
        || stamped(common, size),
        stamp_of,
    )
    .await
}

/// Keeps `inflight` messages from `next_message` going: sends them, then answers every message
/// that arrives and carries a send time (`stamp_of`) with a new one. Counts those that arrive
/// within `start..end`, with their round trip.
async fn ping_pong(
    common: &Common,
    (mut tx, mut rx): (Tx, Rx),
    inflight: usize,
    (start, end): (Instant, Instant),
    next_message: impl Fn() -> Message,
    stamp_of: impl Fn(&[u8]) -> Option<u64>,
) -> Tally {
    let mut tally = Tally::default();
    for _ in 0..inflight {
        if tx.feed(next_message()).await.is_err() {
            tally.errors += 1;
            return tally;
        }
    }
    let _ = tx.flush().await;
    let end_at = tokio::time::Instant::from_std(end);
    loop {
        let message = match timeout_at(end_at, rx.next()).await {
            Err(_) => break,
            Ok(Some(Ok(message))) => message,
            Ok(_) => {
                tally.errors += 1;
                break;
            }
        };
        let mut next = Some(message);
        // Everything already here, then one flush.
        while let Some(message) = next.take() {
            let stamped_data = data_of(message).and_then(|data| Some((stamp_of(&data)?, data)));
            if let Some((sent, data)) = stamped_data {
                let now = Instant::now();
                if now >= start && now < end {
                    tally.messages += 1;
                    tally.bytes += data.len() as u64;
                    tally.latency.push(common.since_ns(sent));
                }
                if tx.feed(next_message()).await.is_err() {
                    tally.errors += 1;
                    return tally;
                }
            }
            if let Some(Some(Ok(message))) = rx.next().now_or_never() {
                next = Some(message);
            }
        }
        if tx.flush().await.is_err() {
            tally.errors += 1;
            break;
        }
    }
    tally
}

async fn broadcast(common: &Common, args: &Args) -> Report {
    let n = args.get("conns", 1000);
    let (connections, _, failed) = connect_many(
        &common.dialer,
        n,
        setup_concurrency(args),
        client_config(4096),
    )
    .await;
    let window = common.window();
    let tasks: Vec<_> = connections
        .into_iter()
        .map(|ws| broadcast_connection(ws, window))
        .collect();
    let tallies = in_window(window, tasks).await;
    let mut total = Tally::default();
    let mut frames = 0u64;
    for tally in tallies {
        if let Some(first) = tally.first_seq {
            frames = frames.max(tally.last_seq - first + 1);
        }
        total.add(tally);
    }
    let connected = (n - failed) as f64;
    let mut report = Report::default();
    report
        .set("conns", connected)
        .set("deliveries_per_s", total.messages as f64 / common.secs)
        .set("frames_per_s", frames as f64 / common.secs)
        .set(
            "delivered_share",
            total.messages as f64 / (frames as f64 * connected).max(1.0),
        )
        .set("errors", (total.errors + failed as u64) as f64);
    report
}

async fn broadcast_connection(ws: Ws, (start, end): (Instant, Instant)) -> Tally {
    let (_tx, mut rx) = ws.split();
    let mut tally = Tally::default();
    let end_at = tokio::time::Instant::from_std(end);
    loop {
        let message = match timeout_at(end_at, rx.next()).await {
            Err(_) => break,
            Ok(Some(Ok(message))) => message,
            Ok(_) => {
                tally.errors += 1;
                break;
            }
        };
        let now = Instant::now();
        if let Some(data) = data_of(message) {
            if now >= start && now < end && data.len() >= 8 {
                let seq = u64::from_le_bytes(data[..8].try_into().unwrap());
                tally.messages += 1;
                tally.first_seq.get_or_insert(seq);
                tally.last_seq = seq;
            }
        }
    }
    tally
}

/// Godot's multiplayer packet types (the first header byte).
const SYS_NONE: u8 = 0;
const SYS_ID: u8 = 3;
const HEADER: usize = 9;

fn mp_packet(common: &Common, from: i32, to: i32, size: usize) -> Message {
    let mut packet = vec![0u8; HEADER + size.max(8)];
    packet[0] = SYS_NONE;
    packet[1..5].copy_from_slice(&from.to_le_bytes());
    packet[5..9].copy_from_slice(&to.to_le_bytes());
    packet[HEADER..HEADER + 8].copy_from_slice(&common.now_ns().to_le_bytes());
    Message::Binary(Bytes::from(packet))
}

/// Reads until the server's SYS_ID: this client's multiplayer id.
async fn mp_join(rx: &mut Rx) -> Option<i32> {
    let wait = async {
        while let Some(Ok(message)) = rx.next().await {
            if let Some(data) = data_of(message) {
                if data.len() >= 13 && data[0] == SYS_ID {
                    return Some(i32::from_le_bytes(data[9..13].try_into().unwrap()));
                }
            }
        }
        None
    };
    timeout(CONNECT_TIMEOUT, wait).await.ok().flatten()
}

async fn relay(common: &Common, args: &Args) -> Report {
    let pairs: usize = args.get("pairs", 1);
    let inflight: usize = args.get("inflight", 1);
    let size: usize = args.get("size", 32usize).max(8);
    let buffer = (size + 64).clamp(4096, 128 * 1024);
    let (connections, _, mut failed) = connect_many(
        &common.dialer,
        pairs * 2,
        setup_concurrency(args),
        client_config(buffer),
    )
    .await;
    let mut clients: Vec<(i32, Tx, Rx)> = Vec::new();
    for ws in connections {
        let (tx, mut rx) = ws.split();
        match mp_join(&mut rx).await {
            Some(id) => clients.push((id, tx, rx)),
            None => failed += 1,
        }
    }
    let window = common.window();
    let mut tasks = Vec::new();
    let mut iter = clients.into_iter();
    while let (Some(a), Some(b)) = (iter.next(), iter.next()) {
        let (id_a, id_b) = (a.0, b.0);
        tasks.push(relay_client(common, a, id_b, inflight, size, window));
        tasks.push(relay_client(common, b, id_a, 0, size, window));
    }
    let mut total = Tally::sum(in_window(window, tasks).await);
    let p = total.latency.percentiles_ms(&[0.5, 0.99]);
    let mut report = Report::default();
    report
        .set("pairs", pairs as f64)
        .set("relays_per_s", total.messages as f64 / common.secs)
        .set("p50_ms", p[0])
        .set("p99_ms", p[1])
        .set("errors", (total.errors + failed as u64) as f64);
    report
}

/// One multiplayer client: starts `inflight` packets to `partner`, and answers every packet
/// from it with a new one.
async fn relay_client(
    common: &Common,
    (id, tx, rx): (i32, Tx, Rx),
    partner: i32,
    inflight: usize,
    size: usize,
    window: (Instant, Instant),
) -> Tally {
    // Game packets from the partner; SYS_* and anything else are not answered.
    let stamp_of = |data: &[u8]| {
        let from = data.get(1..5)?;
        let stamp = data.get(HEADER..HEADER + 8)?;
        (data[0] == SYS_NONE && i32::from_le_bytes(from.try_into().unwrap()) == partner)
            .then(|| u64::from_le_bytes(stamp.try_into().unwrap()))
    };
    let next_message = || mp_packet(common, id, partner, size);
    ping_pong(common, (tx, rx), inflight, window, next_message, stamp_of).await
}

async fn handshakes(common: &Common, args: &Args) -> Report {
    let concurrency: usize = args.get("concurrency", 8);
    let window = common.window();
    let end_at = tokio::time::Instant::from_std(window.1);
    let loops = (0..concurrency.max(1)).map(|_| async {
        let mut tally = Tally::default();
        loop {
            let attempt = timeout_at(end_at, connect(&common.dialer, client_config(4096))).await;
            let now = Instant::now();
            match attempt {
                Err(_) => break,
                Ok(Ok((ws, took))) => {
                    if now >= window.0 && now < window.1 {
                        tally.messages += 1;
                        tally.latency.push(took);
                    }
                    // Dropped without a close handshake: only the upgrade is measured.
                    drop(ws);
                }
                Ok(Err(_)) => tally.errors += 1,
            }
        }
        tally
    });
    let mut total = Tally::sum(in_window(window, loops).await);
    let p = total.latency.percentiles_ms(&[0.5, 0.99]);
    let mut report = Report::default();
    report
        .set("handshakes_per_s", total.messages as f64 / common.secs)
        .set("connect_p50_ms", p[0])
        .set("connect_p99_ms", p[1])
        .set("errors", total.errors as f64);
    report
}
