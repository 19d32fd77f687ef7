//! Per-peer limits: the largest inbound message, inbound backpressure while the game does not
//! read, the outbound queue, and UTF-8 checks both ways.

mod common;

use std::time::{Duration, Instant};

use common::*;
use gdws_engine::{Limits, PeerId, SendError, Server, ServerEvent};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

fn start_with_limits(limits: Limits) -> Server {
    start_with(|config| config.limits = limits)
}

/// A server whose peers may send messages of up to `in_bytes`.
fn start_with_in_bytes(in_bytes: usize) -> Server {
    start_with_limits(Limits {
        in_bytes,
        ..Limits::default()
    })
}

#[test]
fn a_message_over_in_bytes_gets_close_1009() {
    let clients = Clients::new();
    let mut server = start_with_in_bytes(1024);
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    // Exactly the limit is fine.
    clients.run(send_all(&mut ws, [Message::binary(vec![7u8; 1024])]));
    assert_eq!(message(&mut server, id).data.len(), 1024);

    clients.run(send_all(&mut ws, [Message::binary(vec![7u8; 1025])]));
    let frame = clients.run(recv_close(&mut ws)).expect("a close status");
    assert_eq!(frame.code, CloseCode::Size);
    // The server waits for the client to close its end (or for the close timeout).
    drop(ws);
    closing_warning(&mut server, id, 1009);
    assert!(!disconnected(&mut server, id));
    server.stop();
}

#[test]
fn a_fragmented_message_over_in_bytes_gets_close_1009() {
    // Each fragment fits; the whole message does not.
    let clients = Clients::new();
    let mut server = start_with_in_bytes(1024);
    let mut tcp = clients.run(raw_ws(server.local_addr()));
    let (id, _) = connected(&mut server);
    let (code, _) = clients.run(async {
        write_frame(&mut tcp, false, 0x2, &[1; 600]).await;
        write_frame(&mut tcp, true, 0x0, &[2; 600]).await;
        read_close_frame(&mut tcp).await
    });
    assert_eq!(code, 1009);
    // The server ends its side; the client then closes its own.
    clients.run(read_until_closed(&mut tcp));
    drop(tcp);
    closing_warning(&mut server, id, 1009);
    assert!(!disconnected(&mut server, id));
    server.stop();
}

/// Sends `count` numbered messages of `size` bytes to a server whose game does not read, and
/// checks that exactly `fit` of them are handed over until the game reads; then that all
/// arrive exactly once, in order, and never more than `fit` are unread at a time.
fn check_backpressure(limits: Limits, count: usize, size: usize, fit: usize) {
    let clients = Clients::new();
    let mut server = start_with_limits(limits);
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);

    let numbered = |i: usize| numbered(i as u32, size);
    // All of it is written (it fits in the kernel's buffers) before the game reads anything.
    clients.run(send_all(
        &mut ws,
        (0..count).map(|i| Message::binary(numbered(i))),
    ));
    for _ in 0..fit {
        assert_eq!(event(&mut server), ServerEvent::Message { id });
    }
    // Nothing more while the game does not read.
    no_event(&mut server, Duration::from_millis(300));
    assert_eq!(server.peer(id).unwrap().available_packets(), fit);

    let mut got = Vec::new();
    let mut events = fit;
    let deadline = Instant::now() + T;
    while got.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} arrived",
            got.len()
        );
        let peer = server.peer_mut(id).unwrap();
        assert!(peer.available_packets() <= fit);
        while let Some(packet) = peer.get_packet() {
            assert!(!packet.is_text);
            assert_eq!(packet.data, numbered(got.len()), "message {}", got.len());
            got.push(packet);
        }
        if got.len() < count {
            assert_eq!(event(&mut server), ServerEvent::Message { id });
            events += 1;
        }
    }
    assert_eq!(events, count, "one Message event per message");
    no_event(&mut server, Duration::from_millis(100));
    server.stop();
}

#[test]
fn inbound_packet_limit_pauses_reading_and_loses_nothing() {
    let limits = Limits {
        in_packets: 4,
        ..Limits::default()
    };
    check_backpressure(limits, 60, 100, 4);
}

#[test]
fn inbound_byte_limit_pauses_reading_and_loses_nothing() {
    let limits = Limits {
        in_bytes: 1024,
        ..Limits::default()
    };
    // 3 x 300 bytes fit in 1024, a 4th does not.
    check_backpressure(limits, 40, 300, 3);
}

/// The client reads everything: exactly the `queued` packets, in order; the queue empties and
/// the connection is still usable.
fn drain(server: &mut Server, clients: &Clients, ws: &mut Ws, id: PeerId, queued: u32) {
    clients.run(async {
        for seq in 0..queued {
            let data = recv(ws).await.into_data();
            assert_eq!(number_of(&data), seq, "packet {seq}");
        }
    });
    let peer = server.peer(id).unwrap();
    wait_until("the queue is empty", || peer.buffered_amount() == 0);
    assert!(peer.is_open());
    peer.put_packet(text("after")).unwrap();
    assert_eq!(clients.run(recv(ws)), Message::text("after"));
    assert_eq!(server.next_event(), None, "the connection is kept");
}

#[test]
fn put_packet_refuses_past_out_bytes_and_keeps_the_connection() {
    let clients = Clients::new();
    // Room for the plug that keeps the queue as filled, and 64 KiB behind it.
    let behind_plug = 64 * 1024;
    let limits = Limits {
        out_bytes: plug_size() + behind_plug,
        out_packets: 1024,
        ..Limits::default()
    };
    let mut server = start_with_limits(limits);
    let mut ws = stalled_client(&clients, &server);
    let (id, _) = connected(&mut server);
    assert_eq!(server.peer(id).unwrap().buffered_amount(), 0);

    let size = 10_000;
    let (queued, refusal) = fill_queue(&server, id, size);
    let fitting = behind_plug / size;
    assert_eq!(queued as usize, 1 + fitting);
    let queued_bytes = plug_size() + fitting * size;
    assert_eq!(
        refusal,
        SendError::QueueFull {
            queued_bytes,
            queued_packets: queued as usize,
            packet: size,
        }
    );
    let peer = server.peer(id).unwrap();
    assert_eq!(
        peer.buffered_amount(),
        queued_bytes,
        "buffered_amount() is the queue"
    );

    // The exact boundary: what is left fits, one byte more does not.
    let room = limits.out_bytes - queued_bytes;
    peer.put_packet(numbered_packet(queued, room)).unwrap();
    assert_eq!(peer.buffered_amount(), limits.out_bytes);
    assert!(matches!(
        peer.put_packet(binary(b"x")),
        Err(SendError::QueueFull { packet: 1, .. })
    ));
    drain(&mut server, &clients, &mut ws, id, queued + 1);

    // A packet bigger than the whole limit can never be queued, even with the queue empty.
    assert!(matches!(
        server
            .peer(id)
            .unwrap()
            .put_packet(binary(&vec![0; limits.out_bytes + 1])),
        Err(SendError::QueueFull {
            queued_bytes: 0,
            ..
        })
    ));
    server.stop();
}

#[test]
fn put_packet_refuses_past_out_packets() {
    let clients = Clients::new();
    let limits = Limits {
        out_bytes: plug_size() + 1024 * 1024,
        out_packets: 4,
        ..Limits::default()
    };
    let mut server = start_with_limits(limits);
    let mut ws = stalled_client(&clients, &server);
    let (id, _) = connected(&mut server);

    let size = 64 * 1024;
    let (queued, refusal) = fill_queue(&server, id, size);
    // The plug and three packets, far below out_bytes: the message count is what refuses.
    let queued_bytes = plug_size() + 3 * size;
    assert_eq!(
        refusal,
        SendError::QueueFull {
            queued_bytes,
            queued_packets: 4,
            packet: size,
        }
    );
    let peer = server.peer(id).unwrap();
    assert_eq!(peer.buffered_amount(), queued_bytes);
    // Even an empty packet is one packet too many.
    assert!(matches!(
        peer.put_packet(binary(&[])),
        Err(SendError::QueueFull { .. })
    ));
    drain(&mut server, &clients, &mut ws, id, queued);
    server.stop();
}

#[test]
fn a_text_packet_must_be_utf8() {
    let clients = Clients::new();
    let mut server = start();
    let mut ws = clients.connect(server.local_addr());
    let (id, _) = connected(&mut server);
    let peer = server.peer(id).unwrap();

    let bad = gdws_engine::Packet {
        data: vec![b'o', b'k', 0xff, 0xfe].into(),
        is_text: true,
    };
    assert_eq!(peer.put_packet(bad), Err(SendError::InvalidUtf8));
    assert_eq!(peer.buffered_amount(), 0);
    // The same bytes as binary are fine; nothing of the refused packet was sent.
    peer.put_packet(binary(&[b'o', b'k', 0xff, 0xfe])).unwrap();
    assert_eq!(
        clients.run(recv(&mut ws)),
        Message::binary(vec![b'o', b'k', 0xff, 0xfe])
    );
    assert!(server.peer(id).unwrap().is_open());
    server.stop();
}

#[test]
fn invalid_utf8_from_a_client_gets_close_1007() {
    let clients = Clients::new();
    let mut server = start();
    // In one frame.
    let mut tcp = clients.run(raw_ws(server.local_addr()));
    let (id, _) = connected(&mut server);
    let (code, _) = clients.run(async {
        write_frame(&mut tcp, true, 0x1, b"ok\xff\xfe").await;
        read_close_frame(&mut tcp).await
    });
    assert_eq!(code, 1007);
    clients.run(read_until_closed(&mut tcp));
    drop(tcp);
    closing_warning(&mut server, id, 1007);
    assert!(!disconnected(&mut server, id));

    // Split over fragments: a lead byte followed by a byte that cannot continue it.
    let mut tcp = clients.run(raw_ws(server.local_addr()));
    let (id, _) = connected(&mut server);
    let (code, _) = clients.run(async {
        write_frame(&mut tcp, false, 0x1, b"caf\xc3").await;
        write_frame(&mut tcp, true, 0x0, b"(").await;
        read_close_frame(&mut tcp).await
    });
    assert_eq!(code, 1007);
    clients.run(read_until_closed(&mut tcp));
    drop(tcp);
    closing_warning(&mut server, id, 1007);
    assert!(!disconnected(&mut server, id));
    server.stop();
}

#[test]
fn a_huge_message_gets_close_1009_before_the_connection_ends() {
    // The server stops reading at the frame header, with most of the message still unread.
    let clients = Clients::new();
    let mut server = start_with_in_bytes(1024);
    let tcp = clients.run(raw_ws(server.local_addr()));
    let (id, _) = connected(&mut server);
    let (mut read, mut write) = tcp.into_split();
    let writer = clients.spawn(async move {
        use tokio::io::AsyncWriteExt;
        // May fail if the server gives up on the connection first; that is not what is tested.
        let _ = write
            .write_all(&client_frame(true, 0x2, &vec![0; 4 << 20]))
            .await;
        write
    });
    let head = clients.run(async {
        use tokio::io::AsyncReadExt;
        let mut head = [0u8; 4];
        read.read_exact(&mut head).await.map(|_| head)
    });
    assert_eq!(
        head.expect("the close frame arrives"),
        [0x88, 2, 0x03, 0xf1]
    );
    clients.run(read_until_closed(&mut read));
    drop((read, clients.run(writer)));
    closing_warning(&mut server, id, 1009);
    assert!(!disconnected(&mut server, id));
    server.stop();
}
