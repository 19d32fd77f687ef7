//! Multiplayer mode (`config.multiplayer`, Godot's `gd_mp_api`): joins and leaves announced
//! with SYS_* messages, the relay rules, spoofing and other bad input, the server's own sends,
//! ordering and backpressure. The clients speak the wire format by hand (`common::mp`), and
//! check an absence of input with its fence. Relays happen on the sender's connection before it
//! hands a packet to the game, so a server-bound packet sent after the ones under test (awaited
//! as a `Message` event) proves their relays are already queued.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::mp::*;
use common::*;
use futures_util::future::join_all;
use futures_util::StreamExt;
use gdws_engine::{Limits, PeerId, SendError, ServerEvent, WARNING_INTERVAL};
use tokio_tungstenite::tungstenite::Message;

/// How many warnings a warning says were held back before it.
fn suppressed(message: &str) -> u32 {
    let Some(end) = message.find(" similar warnings suppressed") else {
        return 0;
    };
    let start = message[..end].rfind('(').expect("a count in parentheses") + 1;
    message[start..end].parse().expect("a count")
}

// ---- joins and leaves ----

#[test]
fn joins_are_announced_in_order_before_connected() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all: Vec<Client> = Vec::new();
    for round in 0..4u8 {
        let ws = clients.connect(server.local_addr());
        let (id, protocol) = connected(&mut server);
        assert_eq!(protocol, "");
        assert!(id > 1, "client ids are above the server's 1");
        assert!(all.iter().all(|c| c.id != id), "ids are unique");
        // Sent after `Connected`: whoever gets it got its SYS_* messages of this join first.
        let marker = [b'j', round];
        assert_eq!(server.send_multiplayer(0, &marker), vec![]);
        let marker = data(SERVER, 0, &marker);

        let mut new = Client { ws, id };
        let mut existing: Vec<PeerId> = all.iter().map(|c| c.id).collect();
        existing.sort_unstable();
        let mut expected = vec![sys(SYS_ID, id), sys(SYS_ADD, SERVER)];
        expected.extend(existing.iter().map(|&x| sys(SYS_ADD, x)));
        expected.push(marker.clone());
        let got = clients.run(async {
            let mut got = Vec::new();
            for _ in 0..expected.len() {
                got.push(recv_packet(&mut new.ws).await);
            }
            got
        });
        assert_eq!(got, expected, "the join of peer {id} as it sees it");
        for other in &mut all {
            let got = clients.run(async {
                [
                    recv_packet(&mut other.ws).await,
                    recv_packet(&mut other.ws).await,
                ]
            });
            assert_eq!(got, [sys(SYS_ADD, id), marker.clone()], "peer {}", other.id);
        }
        all.push(new);
    }
    // Nothing else went anywhere: every client knows exactly the others.
    for got in fence(&clients, &server, &mut all) {
        assert_eq!(got, Vec::<Vec<u8>>::new());
    }
    assert_eq!(server.peers().count(), 4);
    server.stop();
}

#[test]
fn concurrent_joins_tell_every_pair_of_peers_about_each_other_once() {
    const CLIENTS: usize = 8;
    let clients = Clients::new();
    let mut server = start_mp();
    let addr = server.local_addr();
    let sockets = clients.run(join_all_connects(addr, CLIENTS));
    let mut ids = BTreeSet::new();
    for _ in 0..CLIENTS {
        assert!(ids.insert(connected(&mut server).0));
    }
    assert_eq!(server.send_multiplayer(0, FENCE), vec![]);
    let fence = data(SERVER, 0, FENCE);
    let mut seen_ids = BTreeSet::new();
    for mut ws in sockets {
        let (own, known) = clients.run(async {
            let first = recv_packet(&mut ws).await;
            assert_eq!(first[..9], sys(SYS_ID, 0)[..9], "SYS_ID comes first");
            let own = PeerId::from_le_bytes(first[9..13].try_into().unwrap());
            assert_eq!(recv_packet(&mut ws).await, sys(SYS_ADD, SERVER));
            let mut known = Vec::new();
            loop {
                let packet = recv_packet(&mut ws).await;
                if packet == fence {
                    return (own, known);
                }
                assert_eq!(packet.len(), 13, "only SYS_ADDs before the fence");
                assert_eq!(packet[..9], sys(SYS_ADD, 0)[..9]);
                known.push(PeerId::from_le_bytes(packet[9..13].try_into().unwrap()));
            }
        });
        assert!(seen_ids.insert(own));
        let mut sorted = known.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            known.len(),
            "peer {own} heard of a peer twice"
        );
        let others: Vec<PeerId> = ids.iter().copied().filter(|&id| id != own).collect();
        assert_eq!(sorted, others, "peer {own} knows every other peer");
    }
    assert_eq!(seen_ids, ids);
    server.stop();
}

async fn join_all_connects(addr: std::net::SocketAddr, count: usize) -> Vec<Ws> {
    join_all((0..count).map(|_| connect(addr, &[])))
        .await
        .into_iter()
        .map(|result| result.expect("the handshake succeeds").0)
        .collect()
}

#[test]
fn a_leaving_peer_is_announced_to_every_other_peer_before_disconnected() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 4);

    // A clean close.
    let mut leaving = all.remove(2);
    clients.run(async {
        leaving.ws.close(None).await.unwrap();
        while let Some(Ok(_)) = leaving.ws.next().await {}
    });
    assert!(matches!(
        event(&mut server),
        ServerEvent::CloseRequest { id, .. } if id == leaving.id
    ));
    assert!(disconnected(&mut server, leaving.id));
    // Sent after `Disconnected`: the SYS_DEL must come before it.
    for got in fence(&clients, &server, &mut all) {
        assert_eq!(got, vec![sys(SYS_DEL, leaving.id)]);
    }

    // A client that vanishes without a close.
    let vanished = all.remove(0);
    drop(vanished.ws);
    assert!(!disconnected(&mut server, vanished.id));
    for got in fence(&clients, &server, &mut all) {
        assert_eq!(got, vec![sys(SYS_DEL, vanished.id)]);
    }

    assert_eq!(
        server.send_multiplayer(vanished.id.into(), b"gone"),
        vec![(vanished.id, SendError::NotConnected)]
    );
    // The ones left still know each other and talk.
    let (a, b) = (all[0].id, all[1].id);
    send(&clients, &mut all[0], [data(a, b, b"still here")]);
    assert_eq!(
        clients.run(recv_packet(&mut all[1].ws)),
        data(a, b, b"still here")
    );
    assert_eq!(server.next_event(), None);
    server.stop();
}

// ---- relay rules ----

#[test]
fn packets_go_where_their_header_says_byte_for_byte() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 4);
    let [a, b, c] = [all[0].id, all[1].id, all[2].id];

    let to_server = data(a, SERVER, b"to server");
    let to_all = data(a, 0, b"to all");
    let all_but_b = data(a, -b, b"all but b");
    let to_c = data(a, c, &[0, 0xff, 1, 2]);
    let sync = data(a, SERVER, b"sync");
    send(
        &clients,
        &mut all[0],
        [&to_server, &to_all, &all_but_b, &to_c, &sync].map(|p| p.clone()),
    );
    server_gets(&mut server, a, b"to server");
    server_gets(&mut server, a, b"to all");
    server_gets(&mut server, a, b"all but b");
    // `to_c` is not for the server.
    server_gets(&mut server, a, b"sync");

    // `to = -sender` is everyone else, like `to = 0`.
    let all_but_self = data(b, -b, b"all but me");
    send(
        &clients,
        &mut all[1],
        [all_but_self.clone(), data(b, SERVER, b"sync")],
    );
    server_gets(&mut server, b, b"all but me");
    server_gets(&mut server, b, b"sync");

    let got = fence(&clients, &server, &mut all);
    assert_eq!(got[0], vec![all_but_self.clone()], "a (sender)");
    assert_eq!(got[1], vec![to_all.clone()], "b (excluded)");
    assert_eq!(
        got[2],
        vec![
            to_all.clone(),
            all_but_b.clone(),
            to_c,
            all_but_self.clone()
        ],
        "c"
    );
    assert_eq!(got[3], vec![to_all, all_but_b, all_but_self], "d");
    assert_eq!(server.multiplayer_packet_count(), 0);
    server.stop();
}

#[test]
fn packets_to_an_unknown_peer_or_to_the_sender_are_dropped_with_a_warning() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 3);
    let [a, b, _] = [all[0].id, all[1].id, all[2].id];
    let unknown = unused_id(&[a, b, all[2].id]);

    send(
        &clients,
        &mut all[0],
        [data(a, unknown, b"nobody"), data(a, SERVER, b"a after")],
    );
    warning(&mut server, a);
    server_gets(&mut server, a, b"a after");

    send(
        &clients,
        &mut all[1],
        [data(b, b, b"myself"), data(b, SERVER, b"b after")],
    );
    warning(&mut server, b);
    server_gets(&mut server, b, b"b after");

    for got in fence(&clients, &server, &mut all) {
        assert_eq!(got, Vec::<Vec<u8>>::new());
    }
    assert_eq!(server.multiplayer_packet_count(), 0);
    assert_eq!(server.next_event(), None);
    server.stop();
}

#[test]
fn message_events_come_one_per_packet_for_the_server() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 2);
    let [a, b] = [all[0].id, all[1].id];

    send(
        &clients,
        &mut all[0],
        [
            data(a, SERVER, b"one"),
            data(a, SERVER, b""),
            data(a, b, b"not for the server"),
            data(a, 0, b"broadcast"),
            data(a, -b, b"all but b"),
            data(a, SERVER, b"last"),
        ],
    );
    for count in 1..=5 {
        assert_eq!(event(&mut server), ServerEvent::Message { id: a });
        assert_eq!(server.multiplayer_packet_count(), count);
    }
    assert_eq!(server.multiplayer_packet_peer(), Some(a));
    // Nothing is filed in the peer's own (non-multiplayer) queue.
    assert_eq!(server.peer(a).unwrap().available_packets(), 0);
    assert_eq!(server.peer_mut(a).unwrap().get_packet(), None);
    let payloads: Vec<_> = std::iter::from_fn(|| server.take_multiplayer_packet())
        .map(|(from, payload)| {
            assert_eq!(from, a);
            payload.to_vec()
        })
        .collect();
    let expected: [&[u8]; 5] = [b"one", b"", b"broadcast", b"all but b", b"last"];
    assert_eq!(payloads, expected.map(<[u8]>::to_vec));
    assert_eq!(server.multiplayer_packet_peer(), None);
    no_event(&mut server, Duration::from_millis(100));
    server.stop();
}

#[test]
fn closing_a_peer_drops_its_packets_for_the_server_filed_or_on_the_way() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 2);
    let [a, b] = [all[0].id, all[1].id];

    // Filed: a's packets are in its unread queue when the game closes it.
    send(
        &clients,
        &mut all[0],
        [data(a, SERVER, b"filed 1"), data(a, SERVER, b"filed 2")],
    );
    for count in 1..=2 {
        assert_eq!(event(&mut server), ServerEvent::Message { id: a });
        assert_eq!(server.multiplayer_packet_count(), count);
    }
    // On the way: sent before the close, not yet taken from the network threads.
    send(&clients, &mut all[0], [data(a, SERVER, b"on the way")]);
    wait_until("a's third packet reaches the event queue", || {
        server.pending_events() == 1
    });
    server.peer_mut(a).unwrap().close(1000, "").unwrap();
    assert_eq!(server.multiplayer_packet_count(), 0);
    assert_eq!(server.multiplayer_packet_peer(), None);

    // The other peer's packets still flow, and a's never come.
    send(&clients, &mut all[1], [data(b, SERVER, b"from b")]);
    server_gets(&mut server, b, b"from b");
    assert_eq!(server.multiplayer_packet_count(), 0);
    assert_eq!(server.take_multiplayer_packet(), None);
    no_event(&mut server, Duration::from_millis(100));
    server.stop();
}

// ---- bad input ----

#[test]
fn spoofed_system_short_and_text_packets_are_dropped_with_a_warning() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 7);
    let ids: Vec<PeerId> = all.iter().map(|c| c.id).collect();

    // One attacker per kind (warnings are rate-limited per peer). Each bad packet is addressed
    // to everyone, so a leak would show up at every client and at the server.
    let bad: Vec<Message> = vec![
        Message::binary(data(ids[1], 0, b"posing as another peer")),
        Message::binary(data(SERVER, 0, b"posing as the server")),
        Message::binary(mp_packet(SYS_ADD, ids[2], 0, &ids[2].to_le_bytes())),
        Message::binary(sys(SYS_DEL, ids[0])),
        Message::binary(data(ids[4], 0, b"")[..8].to_vec()),
        Message::binary(Vec::new()),
        Message::text(format!("text from {}", ids[6])),
    ];
    let mut expected_everywhere = Vec::new();
    for (i, message) in bad.into_iter().enumerate() {
        let id = ids[i];
        let ok = data(id, 0, format!("ok {i}").as_bytes());
        clients.run(send_all(
            &mut all[i].ws,
            [message, Message::binary(ok.clone())],
        ));
        warning(&mut server, id);
        // The connection is still usable.
        server_gets(&mut server, id, format!("ok {i}").as_bytes());
        expected_everywhere.push((id, ok));
    }

    for (&client, got) in ids.iter().zip(fence(&clients, &server, &mut all)) {
        let expected: Vec<Vec<u8>> = expected_everywhere
            .iter()
            .filter(|(from, _)| *from != client)
            .map(|(_, ok)| ok.clone())
            .collect();
        assert_eq!(got, expected, "peer {client}");
    }
    assert_eq!(server.multiplayer_packet_count(), 0);
    assert_eq!(server.next_event(), None);
    server.stop();
}

#[test]
fn a_flood_of_bad_packets_gives_rate_limited_warnings_and_loses_nothing_valid() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 2);
    let [f, o] = [all[0].id, all[1].id];

    let bad = |i: usize| match i % 5 {
        0 => Message::binary(data(o, 0, b"spoof")),
        1 => Message::binary(sys(SYS_ADD, f)),
        2 => Message::binary(vec![0; i % 9]),
        3 => Message::text("text"),
        _ => Message::binary(data(f, f, b"self")),
    };
    let after = data(f, 0, b"after");
    let messages = (0..100).map(bad).chain([Message::binary(after.clone())]);
    // Every warning goes out between these two instants.
    let sent_at = Instant::now();
    clients.run(send_all(&mut all[0].ws, messages));

    let mut warnings = Vec::new();
    loop {
        match event(&mut server) {
            ServerEvent::Warning { id, message } => {
                assert_eq!(id, f);
                warnings.push(message);
            }
            ServerEvent::Message { id } => {
                assert_eq!(id, f);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let handled_at = Instant::now();
    // One warning at most per WARNING_INTERVAL: n warnings span (n - 1) intervals at least.
    let spanned = handled_at - sent_at;
    let most = 1 + (spanned.as_nanos() / WARNING_INTERVAL.as_nanos()) as usize;
    assert!(
        (1..=most).contains(&warnings.len()),
        "100 bad packets handled within {spanned:?} gave {} warnings (at most {most}): \
         {warnings:?}",
        warnings.len()
    );
    assert_eq!(server.take_multiplayer_packet().unwrap().1, b"after"[..]);

    // Once the interval has passed since the last warning (which went out before `handled_at`),
    // the next warning counts the ones held back.
    no_event(
        &mut server,
        WARNING_INTERVAL.saturating_sub(handled_at.elapsed()),
    );
    let after2 = data(f, 0, b"after 2");
    clients.run(send_all(
        &mut all[0].ws,
        [Message::text("bad"), Message::binary(after2.clone())],
    ));
    warnings.push(warning(&mut server, f));
    server_gets(&mut server, f, b"after 2");
    let accounted: u32 = warnings.iter().map(|w| 1 + suppressed(w)).sum();
    assert_eq!(accounted, 101, "every bad packet is counted: {warnings:?}");

    let got = fence(&clients, &server, &mut all);
    assert_eq!(got[0], Vec::<Vec<u8>>::new(), "the sender");
    assert_eq!(got[1], vec![after, after2], "the other peer");
    assert_eq!(server.next_event(), None);
    server.stop();
}

// ---- the server's own packets ----

#[test]
fn send_multiplayer_reaches_the_targets_with_the_servers_header() {
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 3);
    let [a, b, c] = [all[0].id, all[1].id, all[2].id];
    let unknown = unused_id(&[a, b, c]);

    assert_eq!(server.send_multiplayer(0, b"all"), vec![]);
    assert_eq!(server.send_multiplayer((-b).into(), b"not b"), vec![]);
    assert_eq!(server.send_multiplayer(c.into(), b"only c"), vec![]);
    assert_eq!(server.send_multiplayer(c.into(), b""), vec![]);
    assert_eq!(
        server.send_multiplayer(unknown.into(), b"nobody"),
        vec![(unknown, SendError::NotConnected)]
    );

    let got = fence(&clients, &server, &mut all);
    let to_all = data(SERVER, 0, b"all");
    let not_b = data(SERVER, -b, b"not b");
    assert_eq!(got[0], vec![to_all.clone(), not_b.clone()], "a");
    assert_eq!(got[1], vec![to_all.clone()], "b");
    assert_eq!(
        got[2],
        vec![
            to_all,
            not_b,
            data(SERVER, c, b"only c"),
            data(SERVER, c, b"")
        ],
        "c"
    );
    assert_eq!(server.next_event(), None);
    server.stop();
}

#[test]
fn a_full_queue_is_reported_and_system_messages_still_get_through() {
    let clients = Clients::new();
    // The message count is what refuses: small packets do not fit either.
    let limits = Limits {
        out_bytes: plug_size() + 1024 * 1024,
        out_packets: 4,
        ..Limits::default()
    };
    let mut server = start_mp_with(limits);
    let mut reader = join(&clients, &mut server, &mut []);
    let ws = stalled_client(&clients, &server);
    let stalled = join_with(&clients, &mut server, std::slice::from_mut(&mut reader), ws);
    let (r, s) = (reader.id, stalled.id);
    let mut all = vec![reader, stalled];

    let size = 16 * 1024;
    let (queued, _) = fill_queue_with(size, |seq, len| {
        let mut refused = server.send_multiplayer(s.into(), &numbered(seq, len));
        match refused.pop() {
            None => Ok(()),
            Some((who, error)) => {
                assert_eq!(
                    (who, refused.len()),
                    (s, 0),
                    "only the stalled peer refuses"
                );
                Err(error)
            }
        }
    });
    assert_eq!(queued, 4);
    let refused = server.send_multiplayer(0, b"both");
    assert!(
        matches!(refused.as_slice(), [(id, SendError::QueueFull { .. })] if *id == s),
        "{refused:?}"
    );
    let refused = server.send_multiplayer((-r).into(), b"not r");
    assert!(
        matches!(refused.as_slice(), [(id, SendError::QueueFull { .. })] if *id == s),
        "{refused:?}"
    );
    assert_eq!(
        clients.run(recv_packet(&mut all[0].ws)),
        data(SERVER, 0, b"both")
    );

    // A relay to the full queue would close the stalled peer (tests/hostile_multiplayer.rs).

    // A join is announced to the stalled peer all the same: system messages skip the limits.
    let mut new = Client {
        ws: clients.connect(server.local_addr()),
        id: 0,
    };
    new.id = connected(&mut server).0;
    let n = new.id;
    let (low, high) = (r.min(s), r.max(s));
    let got = clients.run(async {
        let mut got = Vec::new();
        for _ in 0..4 {
            got.push(recv_packet(&mut new.ws).await);
        }
        got
    });
    assert_eq!(
        got,
        [
            sys(SYS_ID, n),
            sys(SYS_ADD, SERVER),
            sys(SYS_ADD, low),
            sys(SYS_ADD, high)
        ]
    );
    assert_eq!(clients.run(recv_packet(&mut all[0].ws)), sys(SYS_ADD, n));

    // The stalled client reads: everything queued, in order, then the join; nothing refused.
    clients.run(async {
        for seq in 0..queued {
            let packet = recv_packet(&mut all[1].ws).await;
            let len = if seq == 0 { plug_size() } else { size };
            assert_eq!(packet, data(SERVER, s, &numbered(seq, len)), "packet {seq}");
        }
        assert_eq!(recv_packet(&mut all[1].ws).await, sys(SYS_ADD, n));
    });
    all.push(new);
    for got in fence(&clients, &server, &mut all) {
        assert_eq!(got, Vec::<Vec<u8>>::new());
    }
    let peer = server.peer(s).unwrap();
    wait_until("the queue is empty", || peer.buffered_amount() == 0);
    assert_eq!(server.send_multiplayer(s.into(), b"again"), vec![]);
    assert_eq!(
        clients.run(recv_packet(&mut all[1].ws)),
        data(SERVER, s, b"again")
    );
    assert_eq!(server.next_event(), None, "the connection is kept");
    server.stop();
}

// ---- ordering and backpressure ----

#[test]
fn relayed_packets_keep_their_order() {
    const COUNT: u32 = 500;
    let clients = Clients::new();
    let mut server = start_mp();
    let mut all = join_many(&clients, &mut server, 3);
    let [a, b, _] = [all[0].id, all[1].id, all[2].id];

    // Even ones to b alone, odd ones to everyone: b gets all of them in order. About 30 KiB in
    // all, within b's outbound limits even if b's connection is not scheduled meanwhile
    // (a relay past them would close b for not keeping up).
    let packet = |i: u32| {
        let to = if i.is_multiple_of(2) { b } else { 0 };
        data(a, to, &numbered(i, 4 + (i as usize * 37) % 100))
    };
    send(&clients, &mut all[0], (0..COUNT).map(packet));
    let got = clients.run(async {
        let mut got = Vec::new();
        for _ in 0..COUNT {
            got.push(recv_packet(&mut all[1].ws).await);
        }
        got
    });
    assert_eq!(got, (0..COUNT).map(packet).collect::<Vec<_>>());
    for i in (1..COUNT).step_by(2) {
        server_gets(&mut server, a, &packet(i)[9..]);
    }
    let got = fence(&clients, &server, &mut all);
    assert_eq!(got[0], Vec::<Vec<u8>>::new());
    assert_eq!(got[1], Vec::<Vec<u8>>::new());
    let odd: Vec<_> = (1..COUNT).step_by(2).map(packet).collect();
    assert_eq!(got[2], odd);
    server.stop();
}

#[test]
fn a_relay_reaches_a_peer_the_game_has_not_polled_yet() {
    let clients = Clients::new();
    let mut server = start_mp();
    let addr = server.local_addr();

    // No server event is read until both clients have talked.
    let (a, b) = clients.run(async {
        let mut a_ws = connect(addr, &[]).await.unwrap().0;
        let first = recv_packet(&mut a_ws).await;
        let a = PeerId::from_le_bytes(first[9..13].try_into().unwrap());
        assert_eq!(first, sys(SYS_ID, a));
        assert_eq!(recv_packet(&mut a_ws).await, sys(SYS_ADD, SERVER));

        let mut b_ws = connect(addr, &[]).await.unwrap().0;
        let first = recv_packet(&mut b_ws).await;
        let b = PeerId::from_le_bytes(first[9..13].try_into().unwrap());
        assert_eq!(first, sys(SYS_ID, b));
        assert_eq!(recv_packet(&mut b_ws).await, sys(SYS_ADD, SERVER));
        assert_eq!(recv_packet(&mut b_ws).await, sys(SYS_ADD, a));
        assert_eq!(recv_packet(&mut a_ws).await, sys(SYS_ADD, b));

        let mut a = Client { ws: a_ws, id: a };
        let mut b = Client { ws: b_ws, id: b };
        let (ai, bi) = (a.id, b.id);
        send_all(&mut a.ws, [Message::binary(data(ai, bi, b"hi b"))]).await;
        assert_eq!(recv_packet(&mut b.ws).await, data(ai, bi, b"hi b"));
        send_all(&mut b.ws, [Message::binary(data(bi, ai, b"hi a"))]).await;
        assert_eq!(recv_packet(&mut a.ws).await, data(bi, ai, b"hi a"));
        (a, b)
    });

    assert_eq!(connected(&mut server).0, a.id);
    assert_eq!(connected(&mut server).0, b.id);
    no_event(&mut server, Duration::from_millis(100));
    let mut all = vec![a, b];
    for got in fence(&clients, &server, &mut all) {
        assert_eq!(got, Vec::<Vec<u8>>::new());
    }
    server.stop();
}

#[test]
fn packets_for_the_server_wait_for_the_game_and_none_is_lost() {
    const COUNT: u32 = 200;
    const FIT: usize = 4;
    let clients = Clients::new();
    let limits = Limits {
        in_packets: FIT,
        ..Limits::default()
    };
    let mut server = start_mp_with(limits);
    let mut all = join_many(&clients, &mut server, 2);
    let [a, b] = [all[0].id, all[1].id];

    send(
        &clients,
        &mut all[0],
        (0..COUNT).map(|i| data(a, SERVER, &numbered(i, 100))),
    );
    for _ in 0..FIT {
        assert_eq!(event(&mut server), ServerEvent::Message { id: a });
    }
    // Nothing more while the game does not take them.
    no_event(&mut server, Duration::from_millis(300));
    assert_eq!(server.multiplayer_packet_count(), FIT);
    // Another peer is not held up by a's backlog.
    send(&clients, &mut all[1], [data(b, SERVER, b"from b")]);
    assert_eq!(event(&mut server), ServerEvent::Message { id: b });
    assert_eq!(server.multiplayer_packet_count(), FIT + 1);

    let mut from_a = Vec::new();
    let mut taken = 0;
    while from_a.len() < COUNT as usize {
        assert!(server.multiplayer_packet_count() <= FIT + 1);
        while let Some(peer) = server.multiplayer_packet_peer() {
            let (from, payload) = server.take_multiplayer_packet().unwrap();
            assert_eq!(from, peer);
            if from == b {
                assert_eq!(taken, FIT, "b's packet comes after the first {FIT} of a's");
                assert_eq!(payload, b"from b"[..]);
            } else {
                assert_eq!(from, a);
                assert_eq!(
                    payload,
                    numbered(from_a.len() as u32, 100),
                    "a's packet {}",
                    from_a.len()
                );
                from_a.push(payload);
            }
            taken += 1;
        }
        if from_a.len() < COUNT as usize {
            assert_eq!(event(&mut server), ServerEvent::Message { id: a });
        }
    }
    assert_eq!(taken, COUNT as usize + 1);
    no_event(&mut server, Duration::from_millis(100));
    assert_eq!(server.multiplayer_packet_count(), 0);
    for got in fence(&clients, &server, &mut all) {
        assert_eq!(got, Vec::<Vec<u8>>::new());
    }
    server.stop();
}

#[test]
fn batch_receive_has_no_effect_in_multiplayer_mode() {
    let clients = Clients::new();
    let mut server = start_with(|config| {
        config.multiplayer = true;
        config.batch_receive = true;
    });
    let mut a = join(&clients, &mut server, &mut []);
    let to_server = data(a.id, SERVER, b"to server");
    send(&clients, &mut a, [to_server]);
    server_gets(&mut server, a.id, b"to server");
    assert!(server.take_messages().is_empty());
    server.stop();
}
