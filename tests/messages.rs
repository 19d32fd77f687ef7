//! Messages both ways: text and binary, order, fragments, pings, TCP_NODELAY, many clients,
//! peer ids and addresses.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use gdws_engine::{Limits, Packet, PeerId, Server, ServerEvent};
use tokio_tungstenite::tungstenite::Message;

#[test]
fn text_and_binary_echo_keeps_the_kind() {
    let clients = Clients::new();
    let mut server = start();
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    let sent = [
        Message::text("héllo ✓"),
        Message::binary(vec![0u8, 1, 2, 0xff, 0xfe]),
        Message::text(""),
        Message::binary(Vec::new()),
        // Binary that happens to be valid UTF-8 stays binary.
        Message::binary(b"plain ascii".to_vec()),
    ];
    clients.run(send_all(&mut ws, sent.clone()));
    let expected = [
        text("héllo ✓"),
        binary(&[0, 1, 2, 0xff, 0xfe]),
        text(""),
        binary(&[]),
        binary(b"plain ascii"),
    ];
    for want in &expected {
        let packet = message(&mut server, id);
        assert_eq!(&packet, want);
        server.peer(id).unwrap().put_packet(packet).unwrap();
    }
    for want in sent {
        assert_eq!(clients.run(recv(&mut ws)), want);
    }
    // Without batch_receive the server holds nothing: each message came with its event.
    assert!(server.take_messages().is_empty());
    server.stop();
}

#[test]
fn messages_keep_their_order_both_ways() {
    let clients = Clients::new();
    let mut server = start();
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    let count = 500;
    let sent: Vec<Message> = (0..count)
        .map(|i| {
            let body = format!("{i:04}{}", "x".repeat(i % 97));
            if i % 2 == 0 {
                Message::text(body)
            } else {
                Message::binary(body.into_bytes())
            }
        })
        .collect();
    clients.run(send_all(&mut ws, sent.clone()));
    for (i, want) in sent.iter().enumerate() {
        let packet = message(&mut server, id);
        assert_eq!(packet.is_text, i % 2 == 0, "message {i}");
        assert_eq!(packet.data, want.clone().into_data(), "message {i}");
        server.peer(id).unwrap().put_packet(packet).unwrap();
    }
    assert_eq!(server.peer(id).unwrap().available_packets(), 0);
    for (i, want) in sent.into_iter().enumerate() {
        assert_eq!(clients.run(recv(&mut ws)), want, "echo {i}");
    }
    server.stop();
}

#[test]
fn fragmented_messages_are_reassembled_into_one_event() {
    let clients = Clients::new();
    let mut server = start();
    let mut tcp = clients.run(raw_ws(server.local_addr()));
    let (id, _) = connected(&mut server);

    clients.run(async {
        // Text in three fragments, a multi-byte character split across two of them, and a
        // ping between fragments (control frames may interleave).
        write_frame(&mut tcp, false, 0x1, b"caf\xc3").await;
        write_frame(&mut tcp, true, 0x9, b"between").await;
        write_frame(&mut tcp, false, 0x0, b"\xa9 au").await;
        write_frame(&mut tcp, true, 0x0, b" lait").await;
        // Binary in two fragments, then one whole marker message.
        write_frame(&mut tcp, false, 0x2, &[1, 2, 3]).await;
        write_frame(&mut tcp, true, 0x0, &[4, 5]).await;
        write_frame(&mut tcp, true, 0x1, b"end").await;
    });
    assert_eq!(message(&mut server, id), text("café au lait"));
    assert_eq!(message(&mut server, id), binary(&[1, 2, 3, 4, 5]));
    assert_eq!(message(&mut server, id), text("end"));
    // The interleaved ping was answered.
    let (fin, opcode, payload) = clients.run(read_frame(&mut tcp));
    assert!(fin);
    assert_eq!((opcode, payload.as_slice()), (0xa, &b"between"[..]));
    server.stop();
}

#[test]
fn input_that_pauses_anywhere_arrives_whole() {
    let clients = Clients::new();
    let mut server = start_with(|config| config.rest_after = QUICK_REST);
    let mut tcp = clients.run(raw_ws(server.local_addr()));
    let (id, _) = connected(&mut server);
    assert_pausing_input_works(&mut server, id, &clients, &mut tcp);
    server.stop();
}

#[test]
fn a_ping_is_answered_with_the_same_payload_and_no_event() {
    let clients = Clients::new();
    let mut server = start();
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    for payload in [&b"abc"[..], &[], &[0xffu8; 125]] {
        clients
            .run(ws.send(Message::Ping(payload.to_vec().into())))
            .unwrap();
        assert_eq!(
            clients.run(recv(&mut ws)),
            Message::Pong(payload.to_vec().into())
        );
    }
    // A pong from the client is not an event either.
    clients
        .run(ws.send(Message::Pong(b"unsolicited".to_vec().into())))
        .unwrap();
    clients.run(ws.send(Message::text("after"))).unwrap();
    assert_eq!(message(&mut server, id), text("after"));
    assert_eq!(server.next_event(), None);
    server.stop();
}

/// TCP_NODELAY of the server's end of the connection between `server` and `client`: the
/// server runs in this process, so its socket is one of our file descriptors.
#[cfg(target_os = "linux")]
fn server_socket_nodelay(server: SocketAddr, client: SocketAddr) -> bool {
    use std::os::fd::{BorrowedFd, RawFd};
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        let Some(fd) = entry
            .ok()
            .and_then(|e| e.file_name().to_str()?.parse::<RawFd>().ok())
        else {
            continue;
        };
        // SAFETY: only getsockname/getpeername/getsockopt are called. A descriptor closed
        // (or reused) meanwhile by another thread makes them fail or miss the address check.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let local = socket.local_addr().ok().and_then(|a| a.as_socket());
        let peer = socket.peer_addr().ok().and_then(|a| a.as_socket());
        if local == Some(server) && peer == Some(client) {
            return socket.nodelay().unwrap();
        }
    }
    panic!("the server's socket for {client} was not found");
}

#[test]
fn tcp_nodelay_is_on_and_set_no_delay_changes_it() {
    let clients = Clients::new();
    let mut server = start();
    let mut ws = clients.connect(server.local_addr());
    let client_addr = ws.get_ref().local_addr().unwrap();
    let (id, _) = connected(&mut server);
    #[cfg(target_os = "linux")]
    assert!(server_socket_nodelay(server.local_addr(), client_addr));

    for enabled in [false, true] {
        let peer = server.peer(id).unwrap();
        peer.set_no_delay(enabled);
        // Commands are applied in order: once the packet arrives, the setting is in place.
        peer.put_packet(text("ping")).unwrap();
        assert_eq!(clients.run(recv(&mut ws)), Message::text("ping"));
        #[cfg(target_os = "linux")]
        assert_eq!(
            server_socket_nodelay(server.local_addr(), client_addr),
            enabled
        );
        clients.run(ws.send(Message::text("pong"))).unwrap();
        assert_eq!(message(&mut server, id), text("pong"));
    }
    let _ = client_addr;
    server.stop();
}

#[test]
fn many_clients_each_get_their_own_messages() {
    const CLIENTS: usize = 24;
    const MESSAGES: usize = 20;
    let clients = Clients::new();
    let mut server = start();
    let addr = server.local_addr();

    // Each client sends its own address first, then numbered messages, and expects exactly
    // its own messages back, in order.
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            clients.spawn(async move {
                let (mut ws, _) = connect(addr, &[]).await.unwrap();
                let local = ws.get_ref().local_addr().unwrap();
                let ours: Vec<Message> = std::iter::once(Message::text(local.to_string()))
                    .chain((0..MESSAGES).map(|m| Message::binary(format!("{c}/{m}").into_bytes())))
                    .collect();
                send_all(&mut ws, ours.clone()).await;
                for want in ours {
                    assert_eq!(recv(&mut ws).await, want);
                }
                ws.close(None).await.unwrap();
                while let Some(Ok(_)) = ws.next().await {}
            })
        })
        .collect();

    let mut ids = HashSet::new();
    let mut addresses: HashMap<i32, SocketAddr> = HashMap::new();
    let mut received = 0;
    let mut gone = 0;
    let deadline = Instant::now() + T;
    // Bounded: every client makes 1 + MESSAGES + 3 events.
    for _ in 0..CLIENTS * (MESSAGES + 4) {
        if gone == CLIENTS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the clients did not finish in time"
        );
        match event(&mut server) {
            ServerEvent::Connected { id, .. } => {
                assert!(id >= 2, "peer id {id} is out of 2..=i32::MAX");
                assert!(ids.insert(id), "peer id {id} given twice");
            }
            ServerEvent::Message { id } => {
                let peer = server.peer_mut(id).unwrap();
                let packet = peer.get_packet().unwrap();
                if packet.is_text {
                    // The first message: the client's own view of its address.
                    let local: SocketAddr =
                        std::str::from_utf8(&packet.data).unwrap().parse().unwrap();
                    assert_eq!(peer.address(), local);
                    assert!(addresses.insert(id, local).is_none());
                } else {
                    received += 1;
                }
                peer.put_packet(packet).unwrap();
            }
            ServerEvent::CloseRequest { .. } => {}
            ServerEvent::Disconnected { id, was_clean } => {
                assert!(was_clean, "{id}");
                assert!(ids.contains(&id));
                gone += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(gone, CLIENTS);
    assert_eq!(ids.len(), CLIENTS);
    assert_eq!(addresses.len(), CLIENTS);
    assert_eq!(received, CLIENTS * MESSAGES);
    for task in tasks {
        clients.run(task).expect("client task");
    }
    assert_eq!(server.peers().count(), 0);
    server.stop();
}

#[test]
fn packets_sent_while_wakes_are_held_go_out_in_order_when_the_last_hold_ends() {
    let clients = Clients::new();
    let mut server = start();
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    // As in a poll whose signal handler polls again.
    let outer = server.hold_wakes();
    let inner = server.hold_wakes();
    for i in 0..3 {
        server
            .peer(id)
            .unwrap()
            .put_packet(text(&format!("held {i}")))
            .unwrap();
    }
    drop(inner);
    drop(outer);
    for i in 0..3 {
        assert_eq!(
            clients.run(recv(&mut ws)),
            Message::text(format!("held {i}"))
        );
    }
    // No hold: a send wakes its connection at once again.
    server.peer(id).unwrap().put_packet(text("after")).unwrap();
    assert_eq!(clients.run(recv(&mut ws)), Message::text("after"));
    server.stop();
}

// ---- batch_receive: messages held for take_messages, no event each ----

fn start_batched() -> Server {
    start_with(|config| config.batch_receive = true)
}

/// With `batch_receive`: polls (no event may come) until `count` messages were taken.
#[track_caller]
fn take_held(server: &mut Server, count: usize) -> Vec<(PeerId, Packet)> {
    let deadline = Instant::now() + T;
    let mut taken = Vec::new();
    while taken.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} messages held",
            taken.len()
        );
        if let Some(event) = server.wait_event(Duration::from_millis(10)) {
            panic!("no event with batch_receive, got {event:?}");
        }
        taken.extend(server.take_messages());
    }
    taken
}

#[test]
fn batch_receive_holds_messages_in_arrival_order_across_peers() {
    let clients = Clients::new();
    let mut server = start_batched();
    let mut a_ws = clients.connect(server.local_addr());
    let (a, _) = connected(&mut server);
    let mut b_ws = clients.connect(server.local_addr());
    let (b, _) = connected(&mut server);

    // Each message is on the server's channel before the next one leaves its client.
    let arrivals = [
        (a, Message::text("a0")),
        (b, Message::binary(b"b0".to_vec())),
        (a, Message::text("a1")),
        (b, Message::text("b1")),
    ];
    for (i, (from, sent)) in arrivals.iter().enumerate() {
        let ws = if *from == a { &mut a_ws } else { &mut b_ws };
        clients.run(send_all(ws, [sent.clone()]));
        wait_until("the message is on the channel", || {
            server.pending_events() > i
        });
    }
    let taken = take_held(&mut server, arrivals.len());
    let want = vec![
        (a, text("a0")),
        (b, binary(b"b0")),
        (a, text("a1")),
        (b, text("b1")),
    ];
    assert_eq!(taken, want);
    assert!(server.take_messages().is_empty(), "taken once");
    // The peers hold none: the server handed them out.
    assert_eq!(server.peer(a).unwrap().available_packets(), 0);
    assert_eq!(server.peer_mut(b).unwrap().get_packet(), None);
    no_event(&mut server, Duration::from_millis(50));

    for (from, packet) in taken {
        server.peer(from).unwrap().put_packet(packet).unwrap();
    }
    assert_eq!(clients.run(recv(&mut a_ws)), Message::text("a0"));
    assert_eq!(clients.run(recv(&mut a_ws)), Message::text("a1"));
    assert_eq!(
        clients.run(recv(&mut b_ws)),
        Message::binary(b"b0".to_vec())
    );
    assert_eq!(clients.run(recv(&mut b_ws)), Message::text("b1"));
    server.stop();
}

#[test]
fn batch_receive_counts_held_messages_against_the_input_limit() {
    let clients = Clients::new();
    let mut server = start_with(|config| {
        config.batch_receive = true;
        config.limits = Limits {
            in_packets: 4,
            ..Limits::default()
        };
    });
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);
    let count = 40;
    clients.run(send_all(
        &mut ws,
        (0..count).map(|i| Message::binary(numbered(i, 16))),
    ));
    // Polled but never taken: reading stops at the limit.
    no_event(&mut server, Duration::from_millis(300));
    let first = server.take_messages();
    assert_eq!(first.len(), 4, "held up to the limit");
    let mut got: Vec<Packet> = first.into_iter().map(|(_, packet)| packet).collect();
    while got.len() < count as usize {
        let more = take_held(&mut server, 1);
        assert!(more.len() <= 4, "never more than the limit held");
        got.extend(more.into_iter().map(|(from, packet)| {
            assert_eq!(from, id);
            packet
        }));
    }
    for (i, packet) in got.iter().enumerate() {
        assert_eq!(packet.data, numbered(i as u32, 16), "message {i}");
    }
    server.stop();
}

#[test]
fn batch_receive_keeps_what_a_peer_sent_before_it_left_not_what_a_closed_peer_sent() {
    let clients = Clients::new();
    let mut server = start_batched();
    let mut a_ws = clients.connect(server.local_addr());
    let (a, _) = connected(&mut server);
    let mut b_ws = clients.connect(server.local_addr());
    let (b, _) = connected(&mut server);

    // a says goodbye and leaves: the game hears of its end, then takes its last words.
    clients.run(async {
        a_ws.send(Message::text("bye")).await.unwrap();
        a_ws.close(None).await.unwrap();
    });
    assert!(matches!(event(&mut server), ServerEvent::CloseRequest { id, .. } if id == a));
    assert!(disconnected(&mut server, a));
    assert_eq!(server.take_messages(), vec![(a, text("bye"))]);

    // The game closes b with messages held: none of them reaches it.
    clients.run(send_all(
        &mut b_ws,
        (0..3).map(|i| Message::text(format!("unread {i}"))),
    ));
    wait_until("b's messages are on the channel", || {
        server.pending_events() >= 3
    });
    no_event(&mut server, Duration::from_millis(50));
    server.peer_mut(b).unwrap().close(1000, "").unwrap();
    assert!(server.take_messages().is_empty());
    clients.run(recv_close(&mut b_ws));
    assert!(disconnected(&mut server, b));
    assert!(server.take_messages().is_empty());
    server.stop();
}

#[test]
fn next_event_within_takes_no_more_than_its_budget_off_the_channel() {
    let clients = Clients::new();
    let mut server = start_batched();
    let mut ws = clients.connect(server.local_addr());
    connected(&mut server);
    clients.run(send_all(
        &mut ws,
        (0..10).map(|i| Message::text(format!("{i}"))),
    ));
    wait_until("the messages are on the channel", || {
        server.pending_events() >= 10
    });
    // Held messages are not reported: the budget, not an event, ends the call.
    let mut budget = 3;
    assert_eq!(server.next_event_within(&mut budget), None);
    assert_eq!((budget, server.pending_events()), (0, 7));
    assert_eq!(server.take_messages().len(), 3);
    server.stop();
}
