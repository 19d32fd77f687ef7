//! The connection's rules, driven over an in-memory pipe on a paused clock: the close
//! handshake either way, the drain, the close deadline and backpressure both ways. A client
//! is tokio-tungstenite speaking real frames; time advances only when every task waits, so a
//! 3-second deadline takes microseconds and "nothing more happened" is exact.

use std::time::Duration;

use crossbeam_channel::Receiver;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{duplex, DuplexStream};
use tokio::task::JoinHandle;
use tokio::time::{sleep, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::*;
use crate::config::ServerConfig;
use crate::error::SendError;
use crate::proto::limits::Limits;
use crate::proto::upgrade::websocket_config;
use crate::runtime::queue::{Bound, OverflowCause, Wake};

const ID: PeerId = 7;
/// Room in each direction of the pipe: small, so backpressure shows after a few messages.
const PIPE: usize = 4096;
/// Long enough for every task to have run to its next wait; on the paused clock it costs
/// nothing and means "once everything is idle".
const SETTLE: Duration = Duration::from_millis(100);

struct Harness {
    client: WebSocketStream<DuplexStream>,
    route: Route,
    events: Receiver<Event>,
    connection: JoinHandle<bool>,
    close_timeout: Duration,
}

/// The server's end of the pipe as the upgrade makes it: behind a frame gate, tungstenite
/// configured for `limits`.
async fn server_ws(
    server_io: DuplexStream,
    limits: &Limits,
) -> WebSocketStream<FrameGate<DuplexStream>> {
    let ws_config = websocket_config(limits);
    let max_frame = ws_config.max_frame_size.unwrap_or(usize::MAX);
    let server_io = FrameGate::new(server_io, &[], max_frame);
    WebSocketStream::from_raw_socket(server_io, Role::Server, Some(ws_config)).await
}

async fn start_with(limits: Limits) -> Harness {
    let mut config = ServerConfig::new(0);
    config.limits = limits;
    let close_timeout = config.close_timeout;
    let (server_io, client_io) = duplex(PIPE);
    let (events_tx, events) = crossbeam_channel::unbounded();
    let context = Arc::new(ServerContext::new(config, events_tx));
    let (route, commands) = Route::new(limits);
    let ws = server_ws(server_io, &limits).await;
    let client = WebSocketStream::from_raw_socket(client_io, Role::Client, None).await;
    let connection = Box::new(Connection::new(
        ID,
        ws,
        commands,
        route.counters.clone(),
        context,
    ));
    Harness {
        client,
        route,
        events,
        connection: tokio::spawn(connection.run()),
        close_timeout,
    }
}

async fn start() -> Harness {
    start_with(Limits::default()).await
}

impl Harness {
    /// Everything the connection told the main thread so far: messages as their text, the rest
    /// as the event the game hears.
    fn told(&self) -> Vec<Told> {
        self.events
            .try_iter()
            .map(|event| match event {
                Event::Message { id, packet } => {
                    assert_eq!(id, ID);
                    Told::Message(String::from_utf8(packet.data.to_vec()).unwrap())
                }
                Event::Report(event) => Told::Report(event),
                other => panic!("a connection never announces itself: {other:?}"),
            })
            .collect()
    }

    fn command(&self, command: Command) {
        self.route.command(command).unwrap();
    }

    /// How the connection ended: whether a close handshake completed.
    async fn ended(&mut self) -> bool {
        (&mut self.connection).await.unwrap()
    }

    /// The next frame the client reads.
    async fn client_reads(&mut self) -> Message {
        self.client
            .next()
            .await
            .expect("a frame")
            .expect("a valid frame")
    }
}

#[derive(Debug, PartialEq)]
enum Told {
    Message(String),
    Report(ServerEvent),
}

fn close_frame(message: Message) -> (u16, String) {
    match message {
        Message::Close(Some(frame)) => (frame.code.into(), frame.reason.to_string()),
        other => panic!("not a close frame: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_close_the_server_starts_ends_clean_when_the_client_answers() {
    let mut h = start().await;
    h.command(Command::Close {
        code: 4001,
        reason: "bye".into(),
    });
    assert_eq!(close_frame(h.client_reads().await), (4001, "bye".into()));
    // tokio-tungstenite answers the close; the server then ends the stream.
    assert!(h.client.next().await.is_none());
    assert!(h.ended().await, "not clean");
    assert_eq!(h.told(), []);
}

#[tokio::test(start_paused = true)]
async fn a_close_the_client_starts_is_told_answered_and_clean() {
    let mut h = start().await;
    let frame = CloseFrame {
        code: CloseCode::from(4000),
        reason: "done\0".into(),
    };
    h.client.close(Some(frame)).await.unwrap();
    assert_eq!(close_frame(h.client_reads().await), (4000, "done\0".into()));
    assert!(h.ended().await, "not clean");
    let request = ServerEvent::CloseRequest {
        id: ID,
        code: 4000,
        reason: "done".into(),
    };
    assert_eq!(h.told(), [Told::Report(request)]);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_answers_a_close_is_dropped_at_the_close_timeout() {
    let h = start().await;
    let started = Instant::now();
    h.command(Command::Close {
        code: 1000,
        reason: String::new(),
    });
    assert!(!h.connection.await.unwrap(), "clean without an answer");
    assert_eq!(started.elapsed(), h.close_timeout);
}

#[tokio::test(start_paused = true)]
async fn a_server_stop_sends_going_away_then_fin_and_drains_until_the_client_closes() {
    let mut h = start().await;
    h.command(Command::Shutdown);
    assert_eq!(close_frame(h.client_reads().await), (1001, String::new()));
    // Our FIN follows the close frame: the client's stream ends.
    assert!(h.client.next().await.is_none());
    // The connection waits for the client's end instead of resetting it...
    sleep(SETTLE).await;
    assert!(!h.connection.is_finished(), "ended before the client");
    // ...reading and dropping what the client still sends.
    let mut raw = h.client.into_inner();
    tokio::io::AsyncWriteExt::write_all(&mut raw, &[0x81, 0x80, 1, 2, 3, 4])
        .await
        .unwrap();
    sleep(SETTLE).await;
    assert!(!h.connection.is_finished());
    drop(raw);
    assert!(!h.connection.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn the_drain_gives_up_at_the_close_timeout() {
    let h = start().await;
    let started = Instant::now();
    h.command(Command::Shutdown);
    // The client never reads nor closes.
    assert!(!h.connection.await.unwrap());
    assert_eq!(started.elapsed(), h.close_timeout);
}

#[tokio::test(start_paused = true)]
async fn a_server_stop_during_a_close_keeps_the_close_s_deadline() {
    let h = start().await;
    let started = Instant::now();
    h.command(Command::Close {
        code: 1000,
        reason: String::new(),
    });
    sleep(Duration::from_secs(1)).await;
    h.command(Command::Shutdown);
    assert!(!h.connection.await.unwrap());
    assert_eq!(started.elapsed(), h.close_timeout);
}

#[tokio::test(start_paused = true)]
async fn input_past_the_unread_limit_waits_in_the_pipe_until_the_game_takes_a_message() {
    let limits = Limits {
        in_packets: 2,
        ..Limits::default()
    };
    let mut h = start_with(limits).await;
    for i in 0..5 {
        h.client.send(Message::text(format!("m{i}"))).await.unwrap();
    }
    sleep(SETTLE).await;
    let first_two = [Told::Message("m0".into()), Told::Message("m1".into())];
    assert_eq!(h.told(), first_two);

    // The game takes one: exactly one more comes, the next in order.
    h.route.counters.remove_unread(2);
    sleep(SETTLE).await;
    assert_eq!(h.told(), [Told::Message("m2".into())]);
    assert!(!h.route.counters.has_inbound_room(0, &limits));
}

#[tokio::test(start_paused = true)]
async fn queued_output_counts_against_the_limit_until_the_client_reads_it() {
    let limits = Limits {
        out_bytes: 16 * 1024,
        ..Limits::default()
    };
    let mut h = start_with(limits).await;
    let packet = || Packet::binary(vec![7u8; 1000].into());
    // The client reads nothing: the pipe fills, then the queue.
    let mut queued = 0;
    let refused = loop {
        match h.route.enqueue(packet(), Bound::Limited, Wake::Now) {
            Ok(()) => queued += 1,
            Err(e) => break e,
        }
        sleep(SETTLE).await;
        assert!(queued < 100, "the queue never filled");
    };
    let SendError::QueueFull { queued_bytes, .. } = refused else {
        panic!("{refused:?}");
    };
    assert!(
        queued_bytes + 1000 > limits.out_bytes,
        "refused with room: {queued_bytes}"
    );
    assert!(
        queued * 1000 > PIPE + limits.out_bytes - 1000,
        "the pipe took no part"
    );

    // Multiplayer system messages pass the limit by their reserve.
    h.route
        .enqueue(packet(), Bound::System { extra: 1000 }, Wake::Now)
        .unwrap();
    for _ in 0..=queued {
        assert_eq!(h.client_reads().await, Message::binary(vec![7u8; 1000]));
    }
    sleep(SETTLE).await;
    assert_eq!(h.route.counters.queued_bytes(), 0);
}

#[tokio::test(start_paused = true)]
async fn output_queued_after_a_close_is_dropped_and_given_back() {
    let mut h = start().await;
    h.command(Command::Close {
        code: 1000,
        reason: String::new(),
    });
    sleep(SETTLE).await;
    h.route
        .enqueue(Packet::binary("late".into()), Bound::Limited, Wake::Now)
        .unwrap();
    sleep(SETTLE).await;
    assert_eq!(h.route.counters.queued_bytes(), 0);
    assert_eq!(close_frame(h.client_reads().await), (1000, String::new()));
    assert!(
        h.client.next().await.is_none(),
        "more after the close frame"
    );
    assert!(h.connection.await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn input_after_the_server_s_close_is_dropped() {
    let mut h = start().await;
    h.command(Command::Close {
        code: 1000,
        reason: String::new(),
    });
    sleep(SETTLE).await;
    h.client.send(Message::text("late")).await.unwrap();
    assert_eq!(close_frame(h.client_reads().await), (1000, String::new()));
    assert!(h.client.next().await.is_none());
    assert!(h.ended().await);
    assert_eq!(h.told(), []);
}

#[tokio::test(start_paused = true)]
async fn a_message_over_the_input_limit_is_closed_with_1009_and_a_warning() {
    let limits = Limits {
        in_bytes: 100,
        ..Limits::default()
    };
    let mut h = start_with(limits).await;
    h.client
        .send(Message::binary(vec![0u8; 101]))
        .await
        .unwrap();
    assert_eq!(close_frame(h.client_reads().await), (1009, String::new()));
    let warning = format!(
        "peer {ID} sent a message of 101 bytes, over the 100-byte input limit; closing with 1009"
    );
    drop(h.client);
    assert!(!h.connection.await.unwrap());
    let told = h.events.try_iter().collect::<Vec<_>>();
    assert!(
        matches!(&told[..], [Event::Report(ServerEvent::Warning { id: ID, message })] if *message == warning),
        "{told:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_stuck_peer_that_overflows_is_told_once_and_dropped_at_the_close_deadline() {
    let limits = Limits {
        out_bytes: 4096,
        out_packets: 4,
        ..Limits::default()
    };
    let mut h = start_with(limits).await;
    // The client reads nothing: the pipe, then the queue fill up.
    let packet = || Packet::binary(vec![1u8; 1000].into());
    while h.route.enqueue(packet(), Bound::Limited, Wake::Now).is_ok() {
        sleep(SETTLE).await;
    }
    let relay = OverflowCause::Relay { from: 9 };
    h.route.enqueue_or_overflow(packet(), Bound::Limited, relay);
    h.route.enqueue_or_overflow(packet(), Bound::Limited, relay);
    let closing_at = Instant::now();
    sleep(SETTLE).await;
    let told = h.told();
    assert!(
        matches!(&told[..], [Told::Report(ServerEvent::Warning { id: ID, message })]
            if message.starts_with(&format!("peer {ID} cannot keep up: a packet relayed from peer 9 of 1000 bytes"))
                && message.ends_with("; closing with 1008")),
        "{told:?}"
    );
    // Its close frame waits behind what the pipe holds; nobody reads: the deadline ends it.
    assert!(!h.ended().await);
    assert!(closing_at.elapsed() >= h.close_timeout);
    assert_eq!(h.told(), [], "one warning only");
}

/// An idle peer's task is mostly its future, which stays small: 2,112 bytes while `run_peer`
/// was an `async fn` that kept its arguments (the WebSocket among them) beside the connection
/// they were moved into.
#[tokio::test]
async fn a_peer_s_task_future_is_small() {
    let (events_tx, _events) = crossbeam_channel::unbounded();
    let context = Arc::new(ServerContext::new(ServerConfig::new(0), events_tx));
    let (server_io, _client_io) = duplex(PIPE);
    let ws = server_ws(server_io, &context.config.limits).await;
    let open = OpenSocket::new(&context, std::net::Ipv4Addr::LOCALHOST.into());
    let address = "127.0.0.1:1".parse().unwrap();
    let request = ClientRequest::default();
    let task = run_peer(ws, address, String::new(), request, None, open, context);
    let size = std::mem::size_of_val(&task);
    assert!(size <= 512, "the task's future is {size} bytes");
}
