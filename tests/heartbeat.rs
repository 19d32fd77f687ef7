//! The heartbeat (`heartbeat_interval`): pings at the interval, a client that answers stays, a
//! client that goes silent is dropped uncleanly with one warning, the pings pass a full
//! outbound queue (one at a time), an interval of zero sends nothing; over wss://
//! too, a silent client is dropped while one that answers stays.

mod common;

use std::time::{Duration, Instant};

use common::tls::*;
use common::*;
use futures_util::StreamExt;
use gdws_engine::{Limits, Server, ServerEvent, MIN_HEARTBEAT_INTERVAL};
use tokio_tungstenite::tungstenite::Message;

/// The interval of these tests: short, so they take little time, but twice the shortest, so a
/// client that answers survives a loaded machine's stalls of up to a second.
const INTERVAL: Duration = Duration::from_millis(500);

fn start_with_heartbeat(limits: Limits) -> Server {
    start_with(|config| {
        config.heartbeat_interval = INTERVAL;
        config.limits = limits;
    })
}

#[test]
fn pings_come_at_the_interval_and_a_client_that_answers_them_stays() {
    let clients = Clients::new();
    let mut server = start_with_heartbeat(Limits::default());
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    // Six intervals, three times the silence that drops a peer: the client sends nothing but
    // the pongs its reads answer the pings with (the stream would end if it were dropped).
    // Within `T`, ten intervals.
    let pings = 6;
    clients.run(async {
        for _ in 0..pings {
            match recv(&mut ws).await {
                Message::Ping(payload) => assert!(payload.is_empty(), "{payload:?}"),
                other => panic!("expected a heartbeat ping, got {other:?}"),
            }
        }
    });
    // The pongs are no game data: no message, no warning, nothing queued; the peer is there.
    assert_eq!(server.next_event(), None);
    let peer = server.peer(id).expect("the peer stays");
    assert_eq!((peer.available_packets(), peer.buffered_amount()), (0, 0));
    clients.run(send_all(&mut ws, [Message::text("still here")]));
    assert_eq!(message(&mut server, id), text("still here"));
    server.stop();
}

#[test]
fn a_client_that_answers_nothing_is_dropped_uncleanly_with_one_warning() {
    let clients = Clients::new();
    let mut server = start_with_heartbeat(Limits::default());
    let started = Instant::now();
    // A client that is never polled: it reads nothing, so it answers no ping.
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    match event(&mut server) {
        ServerEvent::Warning { id: got, message } if got == id => {
            assert!(message.contains(&format!("peer {id} ")), "{message}");
            assert!(
                message.contains("2 heartbeat intervals of 0.5 s"),
                "{message}"
            );
        }
        other => panic!("expected the heartbeat warning for {id}, got {other:?}"),
    }
    assert!(
        !disconnected(&mut server, id),
        "a heartbeat drop is not clean"
    );
    assert!(
        started.elapsed() >= 2 * INTERVAL,
        "dropped before two intervals of silence: {:?}",
        started.elapsed()
    );
    assert_eq!(server.next_event(), None, "one warning, nothing more");

    // What reached the client: the pings it never answered, then the end, without a close
    // frame.
    let pings = clients.run(async {
        let mut pings = 0;
        loop {
            match ws.next().await {
                Some(Ok(Message::Ping(_))) => pings += 1,
                Some(Ok(other)) => panic!("expected pings then the end, got {other:?}"),
                Some(Err(_)) | None => return pings,
            }
        }
    });
    assert!(pings >= 1, "the silent client was pinged first");
    server.stop();
}

#[test]
fn a_peer_whose_queue_is_full_still_gets_one_ping_ahead_of_the_queue() {
    let clients = Clients::new();
    let limits = Limits {
        out_bytes: plug_size() + 64 * 1024,
        out_packets: 1024,
        ..Limits::default()
    };
    let mut server = start_with_heartbeat(limits);
    let mut ws = stalled_client(&clients, &server);
    let (id, _) = connected(&mut server);
    let (queued, _) = fill_queue(&server, id, 10_000);

    // For six intervals the client talks but reads nothing: the server hears it, so keeps it,
    // and its pings wait behind the plug that fills the sockets. (A bounded wait: time has to
    // pass for ticks to come; nothing reports them.)
    let talking_until = Instant::now() + 6 * INTERVAL;
    while Instant::now() < talking_until {
        clients.run(send_all(&mut ws, [Message::text("alive")]));
        assert_eq!(message(&mut server, id), text("alive"));
        std::thread::sleep(INTERVAL / 5);
    }

    // Now it reads: the plug, then exactly one ping (those of the later ticks were not
    // buffered), then the queue in order. Pings before the plug (a tick before it was fed)
    // and among the later packets are fine.
    let received = clients.run(async {
        let mut received = Vec::new();
        let mut packets = 0;
        while packets < queued {
            match recv(&mut ws).await {
                Message::Ping(_) => received.push(None),
                Message::Binary(data) => {
                    received.push(Some(number_of(&data)));
                    packets += 1;
                }
                other => panic!("expected the queue and pings, got {other:?}"),
            }
        }
        received
    });
    let numbers: Vec<u32> = received.iter().flatten().copied().collect();
    assert_eq!(
        numbers,
        (0..queued).collect::<Vec<_>>(),
        "the queue, in order"
    );
    let at = |n: u32| received.iter().position(|got| *got == Some(n)).unwrap();
    assert_eq!(
        at(1) - at(0) - 1,
        1,
        "one ping between the plug and the rest: {:?}",
        &received[..at(1) + 1]
    );
    server.stop();
}

#[test]
fn an_interval_of_zero_sends_no_pings_and_drops_no_quiet_peer() {
    let clients = Clients::new();
    let mut server = start();
    assert_eq!(
        server.config().heartbeat_interval,
        Duration::ZERO,
        "off by default"
    );
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);
    // Only an absence to check: four of the shortest intervals, twice the silence that drops.
    let window = 4 * MIN_HEARTBEAT_INTERVAL;
    let read = clients.run(async { tokio::time::timeout(window, ws.next()).await });
    assert!(read.is_err(), "nothing arrived, no ping: {read:?}");
    assert_eq!(server.next_event(), None);
    assert!(server.peer(id).is_some());
    server.stop();
}

#[test]
fn a_peer_the_game_leaves_unread_is_not_silent() {
    let clients = Clients::new();
    let mut server = start_with_heartbeat(Limits {
        in_packets: 1,
        ..Limits::default()
    });
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);
    // The first message fills the unread limit; the second waits in the connection, which
    // stops reading. Then the client goes quiet (never polled again).
    clients.run(send_all(&mut ws, [Message::text("1"), Message::text("2")]));
    assert_eq!(event(&mut server), ServerEvent::Message { id });
    // Only an absence to check: six intervals, three times the silence that drops a peer.
    no_event(&mut server, 6 * INTERVAL);
    // The game reads on: both messages were kept.
    let peer = server.peer_mut(id).expect("the peer stays");
    assert_eq!(peer.get_packet(), Some(text("1")));
    assert_eq!(message(&mut server, id), text("2"));
    server.stop();
}

#[test]
fn over_wss_a_silent_client_is_dropped_while_one_that_answers_stays() {
    let (pki, clients) = (Pki::new(), Clients::new());
    let leaf = pki.leaf(KeyKind::P256, |_| {});
    let mut server = start_with(|config| {
        config.tls = Some(pki.server_tls(&leaf));
        config.heartbeat_interval = INTERVAL;
    });
    let addr = server.local_addr();
    let (mut answering, _) = clients
        .run(connect_wss(addr, pki.client(), "localhost"))
        .expect("wss:// connect");
    let (answering_id, _) = connected(&mut server);
    // Read all along, on the clients' runtime, until six pings came.
    let reader = clients.spawn(async move {
        let mut pings = 0;
        while pings < 6 {
            match answering.next().await {
                Some(Ok(Message::Ping(_))) => pings += 1,
                other => panic!("expected heartbeat pings, got {other:?}"),
            }
        }
        answering
    });
    // Never polled: it answers nothing.
    let (_silent, _) = clients
        .run(connect_wss(addr, pki.client(), "localhost"))
        .expect("wss:// connect");
    let (silent_id, _) = connected(&mut server);

    match event(&mut server) {
        ServerEvent::Warning { id, message } if id == silent_id => {
            assert!(message.contains("heartbeat"), "{message}");
        }
        other => panic!("expected the heartbeat warning for {silent_id}, got {other:?}"),
    }
    assert!(!disconnected(&mut server, silent_id));
    let _answering = clients
        .run(reader)
        .expect("the answering client read six pings");
    assert_eq!(server.next_event(), None, "the answering client stays");
    assert!(server.peer(answering_id).is_some());
    server.stop();
}
