//! Helpers shared by the engine integration tests: a server on 127.0.0.1 and a free port,
//! real tokio-tungstenite clients on a runtime of their own, raw frames for input a proper
//! client would never send, and event waits that always have a deadline.
//!
//! The test thread owns the `Server` and blocks in `wait_event`; clients run on `Clients`, a
//! separate multi-thread runtime driven with `block_on`, so both sides make progress.

// Each test binary uses a different part of this module.
#![allow(dead_code)]

pub mod heap;
pub mod hostile;
pub mod mp;
pub mod process;
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use gdws_engine::{
    BindAddress, Packet, PeerId, SendError, Server, ServerConfig, ServerEvent, STOP_GRACE,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// The deadline of every wait that should succeed: generous, it only bounds a failing test.
pub const T: Duration = Duration::from_secs(5);

/// A client WebSocket over a plain TCP stream.
pub type Ws = WebSocketStream<TcpStream>;

// ---- server side ----

/// A server on 127.0.0.1 and a free port, with `tweak` applied to its config first.
pub fn start_with(tweak: impl FnOnce(&mut ServerConfig)) -> Server {
    let mut config = ServerConfig::new(0);
    config.bind = BindAddress::parse("127.0.0.1").unwrap();
    tweak(&mut config);
    Server::listen(config).expect("the server listens")
}

pub fn start() -> Server {
    start_with(|_| {})
}

/// The next event, which must come within `T`.
#[track_caller]
pub fn event(server: &mut Server) -> ServerEvent {
    match server.wait_event(T) {
        Some(event) => event,
        None => panic!("no server event within {T:?}"),
    }
}

/// The next event must be `Connected`: returns the peer id and protocol.
#[track_caller]
pub fn connected(server: &mut Server) -> (PeerId, String) {
    match event(server) {
        ServerEvent::Connected { id, protocol } => (id, protocol),
        other => panic!("expected Connected, got {other:?}"),
    }
}

/// The next event must be `Message` for `id`: returns the packet it filed.
#[track_caller]
pub fn message(server: &mut Server, id: PeerId) -> Packet {
    assert_eq!(event(server), ServerEvent::Message { id });
    server
        .peer_mut(id)
        .expect("the peer is known")
        .get_packet()
        .expect("a Message event files a packet")
}

/// The next event must be `Disconnected` for `id`: returns `was_clean`.
#[track_caller]
pub fn disconnected(server: &mut Server, id: PeerId) -> bool {
    match event(server) {
        ServerEvent::Disconnected { id: got, was_clean } if got == id => was_clean,
        other => panic!("expected Disconnected for {id}, got {other:?}"),
    }
}

/// The next event must be the warning that peer `id` broke the protocol and is being closed
/// with `code`: returns its message.
#[track_caller]
pub fn closing_warning(server: &mut Server, id: PeerId, code: u16) -> String {
    match event(server) {
        ServerEvent::Warning { id: got, message } if got == id => {
            assert!(
                message.contains(&format!("closing with {code}")),
                "{message}"
            );
            message
        }
        other => panic!("expected a Warning for {id} closing with {code}, got {other:?}"),
    }
}

/// Asserts that nothing happens for `window` (only for checking an absence).
#[track_caller]
pub fn no_event(server: &mut Server, window: Duration) {
    if let Some(event) = server.wait_event(window) {
        panic!("expected no event, got {event:?}");
    }
}

/// The next event must be `HandshakeFailed`, for `address` when one is given: returns its
/// reason.
#[track_caller]
pub fn handshake_failed(server: &mut Server, address: Option<SocketAddr>) -> String {
    match event(server) {
        ServerEvent::HandshakeFailed {
            address: got,
            reason,
        } if address.is_none_or(|address| got == address) => reason,
        other => panic!("expected HandshakeFailed for {address:?}, got {other:?}"),
    }
}

/// Asserts that a connection the server dropped for a timeout ended when `timeout` ran out.
/// `elapsed` must be counted from before the server's clock started (before the TCP connect for
/// a handshake timeout, before the close for a close timeout), so it cannot be shorter than the
/// timeout unless something else ended the connection. It must end before a second `timeout`
/// has passed: a deadline counted twice, or one taken from another setting (the defaults are
/// 3 s), would be later.
#[track_caller]
pub fn assert_ended_at_timeout(elapsed: Duration, timeout: Duration) {
    assert!(
        elapsed >= timeout,
        "dropped before the {timeout:?} timeout: {elapsed:?}"
    );
    assert!(
        elapsed < 2 * timeout,
        "dropped too late for a {timeout:?} timeout: {elapsed:?}"
    );
}

/// The longest `Server::stop()` may take: it waits for the connections' close frames at most
/// `STOP_GRACE`, then for the runtime's threads at most `STOP_GRACE` again ("about twice
/// STOP_GRACE"); each wait may end late by the wake-up of the calling thread on a loaded machine,
/// allowed a quarter of the grace each.
pub const STOP_BOUND: Duration =
    Duration::from_nanos(STOP_GRACE.as_nanos() as u64 * 2 + STOP_GRACE.as_nanos() as u64 / 2);

/// Stops `server` and returns how long `stop()` took, which must be under `STOP_BOUND`.
#[track_caller]
pub fn stop_within_bound(server: Server) -> Duration {
    let started = Instant::now();
    server.stop();
    let elapsed = started.elapsed();
    assert!(
        elapsed < STOP_BOUND,
        "stop() took {elapsed:?}, over its bound of {STOP_BOUND:?} (STOP_GRACE {STOP_GRACE:?})"
    );
    elapsed
}

/// Polls `condition` every few milliseconds until it holds, for state no event reports.
#[track_caller]
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + T;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn text(data: &str) -> Packet {
    Packet {
        data: data.to_owned().into(),
        is_text: true,
    }
}

pub fn binary(data: &[u8]) -> Packet {
    Packet {
        data: data.to_vec().into(),
        is_text: false,
    }
}

/// A payload of `size` bytes (at least 4) that starts with `seq`, big-endian; dots after it.
pub fn numbered(seq: u32, size: usize) -> Vec<u8> {
    assert!(size >= 4, "a numbered payload holds its 4-byte number");
    let mut payload = vec![b'.'; size];
    payload[..4].copy_from_slice(&seq.to_be_bytes());
    payload
}

/// The number a `numbered` payload starts with.
pub fn number_of(payload: &[u8]) -> u32 {
    u32::from_be_bytes(payload[..4].try_into().expect("a numbered payload"))
}

/// A binary packet with a `numbered` payload.
pub fn numbered_packet(seq: u32, size: usize) -> Packet {
    binary(&numbered(seq, size))
}

/// Plugs peer `id`'s queue and fills it behind the plug with numbered packets of `size` bytes
/// (see `fill_queue_with`). The peer's client must be a `stalled_client`.
pub fn fill_queue(server: &Server, id: PeerId, size: usize) -> (u32, SendError) {
    let peer = server.peer(id).unwrap();
    fill_queue_with(size, |seq, len| peer.put_packet(numbered_packet(seq, len)))
}

/// Fills a queue whose client does not read so that it stays exactly as filled: `send` (given
/// each packet's number and size) first queues a plug, numbered 0, of `plug_size()` bytes,
/// which the sockets cannot take whole, so its flush never completes and nothing queued behind
/// it is taken off the queue's counts; then packets of `size` bytes until one is refused.
/// Returns how many were queued, the plug included, and the refusal. The peer's outbound
/// limits must take the plug.
pub fn fill_queue_with(
    size: usize,
    mut send: impl FnMut(u32, usize) -> Result<(), SendError>,
) -> (u32, SendError) {
    if let Err(error) = send(0, plug_size()) {
        panic!(
            "the queue must take a plug of {} bytes: {error:?}",
            plug_size()
        );
    }
    for seq in 1..=100_000 {
        match send(seq, size) {
            Ok(()) => {}
            Err(error @ SendError::QueueFull { .. }) => return (seq, error),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    panic!("100,000 packets of {size} bytes were queued and none refused");
}

/// The receive buffer a `stalled_client` asks for (the kernel grants twice as much).
pub const STALLED_RECEIVE_BUFFER: usize = 4096;

/// The size of a packet the sockets of a `stalled_client` cannot hold: more than the largest
/// send buffer the kernel gives a server's socket (`net.ipv4.tcp_wmem`'s maximum, which
/// autotuning stays within) and the client's fixed receive buffer together, read from the
/// running kernel.
pub fn plug_size() -> usize {
    let wmem = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem").expect("tcp_wmem");
    let largest_send_buffer: usize = wmem
        .split_whitespace()
        .nth(2)
        .and_then(|max| max.parse().ok())
        .expect("tcp_wmem holds min, default and max");
    // The receive buffer as granted, with as much again for the kernel's bookkeeping.
    largest_send_buffer + 4 * STALLED_RECEIVE_BUFFER + 1
}

// ---- client side ----

/// The runtime the test's clients run on.
pub struct Clients(Runtime);

impl Clients {
    pub fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Self(runtime)
    }

    /// Runs `future` to completion; it must finish within `T`.
    #[track_caller]
    pub fn run<F: Future>(&self, future: F) -> F::Output {
        self.0
            .block_on(async { tokio::time::timeout(T, future).await })
            .unwrap_or_else(|_| panic!("client step did not finish within {T:?}"))
    }

    /// A WebSocket client connected to `addr` without subprotocols.
    #[track_caller]
    pub fn connect(&self, addr: SocketAddr) -> Ws {
        self.run(connect(addr, &[]))
            .expect("the handshake succeeds")
            .0
    }

    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.0.spawn(future)
    }
}

/// A client that reads nothing, with a small receive buffer so the sockets fill up quickly.
pub fn stalled_client(clients: &Clients, server: &Server) -> Ws {
    let addr = server.local_addr();
    clients.run(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .set_recv_buffer_size(STALLED_RECEIVE_BUFFER as u32)
            .unwrap();
        let tcp = socket.connect(addr).await.unwrap();
        handshake(tcp, &[]).await.unwrap().0
    })
}

/// Connects a TCP stream to `addr` and runs the WebSocket handshake on it, offering
/// `protocols` (in order) when there are any.
pub async fn connect(addr: SocketAddr, protocols: &[&str]) -> Result<(Ws, Response), WsError> {
    let tcp = TcpStream::connect(addr).await.expect("TCP connect");
    handshake(tcp, protocols).await
}

pub async fn handshake(tcp: TcpStream, protocols: &[&str]) -> Result<(Ws, Response), WsError> {
    let url = format!("ws://{}/", tcp.peer_addr().unwrap());
    let mut request = url.into_client_request().unwrap();
    if !protocols.is_empty() {
        let value = HeaderValue::from_str(&protocols.join(", ")).unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", value);
    }
    tokio_tungstenite::client_async(request, tcp).await
}

/// The next message, which must come (errors and the end of the stream fail the test). Over
/// any stream: ws:// or wss://.
pub async fn recv<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocketStream<S>) -> Message {
    match ws.next().await {
        Some(Ok(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Reads until the server's close frame, which must come before any other data message;
/// pings and pongs are skipped. Then reads on until the stream ends. Returns the frame.
pub async fn recv_close(ws: &mut Ws) -> Option<CloseFrame> {
    let frame = loop {
        match recv(ws).await {
            Message::Close(frame) => break frame,
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    // The close reply goes out while reading on; the stream then ends.
    while let Some(Ok(_)) = ws.next().await {}
    frame
}

/// Sends every message, then flushes once.
pub async fn send_all<S: AsyncRead + AsyncWrite + Unpin>(
    ws: &mut WebSocketStream<S>,
    messages: impl IntoIterator<Item = Message>,
) {
    for message in messages {
        ws.feed(message).await.expect("send");
    }
    ws.flush().await.expect("flush");
}

/// The game echoes a client that just connected (`ws`, over ws:// or wss://, offering no
/// subprotocol): a text message with `data` and a 3000-byte binary one go up and come back whole
/// and in order. Then the client closes without a status: the server reports
/// `CloseRequest { code: 0 }` and a clean `Disconnected`, and the client's stream ends without
/// an error (over TLS: the server's close_notify).
#[track_caller]
pub fn echo_once<S: AsyncRead + AsyncWrite + Unpin>(
    server: &mut Server,
    clients: &Clients,
    mut ws: WebSocketStream<S>,
    data: &str,
) {
    let (id, protocol) = connected(server);
    assert_eq!(protocol, "", "no subprotocol offered, none chosen");
    let sent = [Message::text(data), Message::binary(vec![9u8; 3000])];
    clients.run(send_all(&mut ws, sent.clone()));
    for want in [text(data), binary(&[9; 3000])] {
        let packet = message(server, id);
        assert_eq!(packet, want, "what the client sent");
        server.peer(id).unwrap().put_packet(packet).unwrap();
    }
    for want in sent {
        assert_eq!(clients.run(recv(&mut ws)), want, "the echo");
    }
    clients.run(async {
        ws.close(None).await.expect("the client's close");
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(_))) => {}
                None => break,
                other => panic!("expected the end of the stream, got {other:?}"),
            }
        }
    });
    assert_eq!(
        event(server),
        ServerEvent::CloseRequest {
            id,
            code: 0,
            reason: String::new()
        },
        "a close frame without a status is reported as code 0, as the stock server does"
    );
    assert!(disconnected(server, id), "a completed handshake is clean");
    assert!(server.peer(id).is_none());
}

// ---- raw bytes ----

/// A WebSocket connection as a bare TCP stream, for writing frames by hand.
pub async fn raw_ws(addr: SocketAddr) -> TcpStream {
    let (ws, _) = connect(addr, &[]).await.expect("the handshake succeeds");
    // The server sends nothing after its 101 reply, so no byte is lost in the client's buffer.
    ws.into_inner()
}

/// One masked client frame.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend((len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend((len as u64).to_be_bytes());
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    out.extend(mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

pub async fn write_frame(tcp: &mut TcpStream, fin: bool, opcode: u8, payload: &[u8]) {
    tcp.write_all(&client_frame(fin, opcode, payload))
        .await
        .expect("write frame");
}

/// One server frame: (fin, opcode, payload). Server frames are never masked.
pub async fn read_frame(tcp: &mut (impl AsyncRead + Unpin)) -> (bool, u8, Vec<u8>) {
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.expect("frame header");
    assert_eq!(head[1] & 0x80, 0, "a server frame must not be masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            tcp.read_exact(&mut ext).await.unwrap();
            u16::from_be_bytes(ext) as usize
        }
        127 => {
            let mut ext = [0u8; 8];
            tcp.read_exact(&mut ext).await.unwrap();
            u64::from_be_bytes(ext) as usize
        }
        len => len as usize,
    };
    let mut payload = vec![0u8; len];
    tcp.read_exact(&mut payload).await.expect("frame payload");
    (head[0] & 0x80 != 0, head[0] & 0x0f, payload)
}

/// How soon the servers of the pausing-input tests let an idle connection rest
/// (`ServerConfig::rest_after`): well within a pause of `write_with_pauses`.
pub const QUICK_REST: Duration = Duration::from_millis(10);

/// Client input cut into pieces at every kind of place: between messages, inside a frame's
/// header, inside its payload, between the fragments of a message (a ping among them). A
/// connection lets go of tungstenite's buffers when its input pauses at the end of a message
/// (and only then): written with a pause after each piece to a server that rests after
/// `QUICK_REST`, it must still arrive whole (`assert_pausing_input_arrived`), and the ping be
/// answered (`assert_pausing_input_works`).
fn pausing_input() -> Vec<Vec<u8>> {
    let binary = client_frame(true, 0x2, &[7; 300]);
    vec![
        client_frame(true, 0x1, b"first"),
        binary[..1].to_vec(),
        binary[1..3].to_vec(),
        binary[3..150].to_vec(),
        binary[150..].to_vec(),
        client_frame(false, 0x1, b"frag"),
        client_frame(true, 0x9, b"between"),
        client_frame(true, 0x0, b"ments"),
        client_frame(true, 0x1, b"last"),
    ]
}

/// Writes `pieces` on `stream` with a pause (several `QUICK_REST`s) after each.
async fn write_with_pauses(stream: &mut (impl AsyncWrite + Unpin), pieces: &[Vec<u8>]) {
    for piece in pieces {
        stream.write_all(piece).await.expect("write");
        stream.flush().await.expect("flush");
        tokio::time::sleep(6 * QUICK_REST).await;
    }
}

/// Writes `pausing_input` on `stream`, peer `id`'s raw connection (upgraded, nothing read
/// since): its messages arrive whole and in order, the ping is answered, and a message sent
/// after the pauses goes out.
#[track_caller]
pub fn assert_pausing_input_works<S: AsyncRead + AsyncWrite + Unpin>(
    server: &mut Server,
    id: PeerId,
    clients: &Clients,
    stream: &mut S,
) {
    clients.run(write_with_pauses(stream, &pausing_input()));
    assert_eq!(message(server, id), text("first"));
    assert_eq!(message(server, id), binary(&[7; 300]));
    assert_eq!(message(server, id), text("fragments"));
    assert_eq!(message(server, id), text("last"));
    let (_, opcode, payload) = clients.run(read_frame(stream));
    assert_eq!((opcode, payload.as_slice()), (0xa, &b"between"[..]));
    server
        .peer_mut(id)
        .unwrap()
        .put_packet(text("back"))
        .unwrap();
    let (_, opcode, payload) = clients.run(read_frame(stream));
    assert_eq!((opcode, payload.as_slice()), (0x1, &b"back"[..]));
}

/// Reads a close frame from the server: (code, reason).
pub async fn read_close_frame(tcp: &mut TcpStream) -> (u16, String) {
    let (fin, opcode, payload) = read_frame(tcp).await;
    assert!(fin);
    assert_eq!(opcode, 0x8, "expected a close frame, got opcode {opcode}");
    assert!(payload.len() >= 2, "the close frame has a status code");
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    (code, String::from_utf8(payload[2..].to_vec()).unwrap())
}

/// Reads and discards until the server ends the connection (EOF or reset).
pub async fn read_until_closed(tcp: &mut (impl tokio::io::AsyncRead + Unpin)) {
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Whether `addr` can take a TCP connection (refused, or not routable, is false).
pub async fn can_connect(addr: SocketAddr) -> bool {
    TcpStream::connect(addr).await.is_ok()
}

/// Whether the machine has an IPv6 loopback to test with.
pub fn has_ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}
