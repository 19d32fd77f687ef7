//! Hostile input on the wire, from raw TCP clients writing hand-made bytes: broken,
//! ambiguous and malformed HTTP requests, a slowloris, frames no proper client sends, a peer
//! that never reads, a flood of refused handshakes while the game does not poll. For each, the
//! exact answer on the wire (HTTP status or close code), the server's event, a well-behaved
//! client that keeps exchanging messages meanwhile, and the engine's accounting back to where
//! it was. Cases already covered elsewhere are not repeated here: invalid UTF-8 (1007), a
//! message or a fragmented message over the input limit (1009) and a huge one (tests/limits.rs),
//! a silent or half-sent handshake (tests/handshake.rs), a close never answered (tests/close.rs).

mod common;

use std::time::{Duration, Instant};

use common::hostile::*;
use common::process::{alone, resident_bytes, shared_turn};
use common::*;
use futures_util::{SinkExt, StreamExt};
use gdws_engine::{Limits, SendError, Server, ServerEvent, WarningBudget};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

/// A long handshake timeout: a prompt answer shows the request was refused, not timed out.
fn patient_server() -> Server {
    start_with(|config| config.handshake_timeout = Duration::from_secs(20))
}

/// `request` must be answered with HTTP `status` (the body carrying the reason the server
/// reports, which contains `reason_part`), while the bystander keeps working.
fn check_refused(what: &str, request: &[u8], status: u16, reason_part: &str) -> String {
    let clients = Clients::new();
    let mut server = patient_server();
    let mut bystander = Bystander::connect(&mut server, &clients);
    let (answer, local) = clients.run(raw_request(server.local_addr(), request));
    assert_eq!(answer.status, status, "{}", answer.text);
    let reason = handshake_failed(&mut server, Some(local));
    assert!(reason.contains(reason_part), "{reason}");
    assert!(
        answer.text.ends_with(&format!("\r\n\r\n{reason}\n")),
        "the body says why: {}",
        answer.text
    );
    bystander.exchange(&mut server, &clients);
    assert_back_to_baseline(&server, &[&bystander]);
    server.stop();
    report(
        what,
        &format!("HTTP {status}"),
        &format!("HandshakeFailed: {reason}"),
    );
    answer.text
}

/// One line of the outcomes table (scripts/harness/reliability/wire_section.sh collects them).
fn report(case: &str, wire: &str, event: &str) {
    println!("wire: {case} | {wire} | {event}");
}

#[test]
fn garbage_instead_of_a_request_gets_400() {
    let _turn = shared_turn();
    check_refused(
        "binary garbage instead of a request",
        b"\x00\x01\x02binary junk\r\n\r\n",
        400,
        "httparse error",
    );
    check_refused(
        "text that is not HTTP",
        b"HELLO WORLD\r\n\r\n",
        400,
        "httparse error",
    );
}

#[test]
fn a_request_head_over_16_kib_gets_431() {
    let _turn = shared_turn();
    // One endless header, never finished: refused once it passes the limit.
    let mut request = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 20 * 1024));
    check_refused(
        "a 20 KiB header, never finished",
        &request,
        431,
        "over 16384 bytes",
    );
    // More header fields than the parser takes.
    let many: String = (0..200).map(|i| format!("X-{i}: y\r\n")).collect();
    check_refused(
        "200 header fields",
        format!("{UPGRADE_HEAD}{many}\r\n").as_bytes(),
        431,
        "too many header fields",
    );
}

/// `UPGRADE_HEAD` with header fields added up to `fields` in all, and the empty line.
fn request_with_fields(fields: usize) -> String {
    let own = UPGRADE_HEAD.matches("\r\n").count() - 1;
    let extra: String = (own..fields).map(|i| format!("X-{i}: y\r\n")).collect();
    format!("{UPGRADE_HEAD}{extra}\r\n")
}

#[test]
fn the_header_field_limit_is_tungstenites_124() {
    let _turn = shared_turn();
    // What the parser is given room for: the last count taken, and the first refused.
    let limit = tokio_tungstenite::tungstenite::handshake::headers::MAX_HEADERS;
    assert_eq!(limit, 124, "the limit README.md states");
    let clients = Clients::new();
    let mut server = patient_server();
    let addr = server.local_addr();
    let request = request_with_fields(limit);
    assert!(request.len() < gdws_engine::proto::upgrade::MAX_REQUEST_HEAD);
    let head = clients.run(async {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(request.as_bytes()).await.unwrap();
        read_response_head(&mut tcp).await
    });
    assert!(head.starts_with("HTTP/1.1 101"), "{limit} fields: {head}");
    connected(&mut server);
    server.stop();

    check_refused(
        &format!("{} header fields", limit + 1),
        request_with_fields(limit + 1).as_bytes(),
        431,
        "too many header fields",
    );
}

#[test]
fn missing_or_wrong_upgrade_headers_get_400() {
    let _turn = shared_turn();
    let cases = [
        (
            "no Upgrade header",
            "Upgrade: websocket\r\n",
            "",
            "Upgrade: websocket",
        ),
        (
            "no Connection header",
            "Connection: Upgrade\r\n",
            "",
            "Connection: upgrade",
        ),
        (
            "no Sec-WebSocket-Key",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
            "",
            "Sec-WebSocket-Key",
        ),
        (
            "Upgrade: h2c",
            "Upgrade: websocket\r\n",
            "Upgrade: h2c\r\n",
            "Upgrade: websocket",
        ),
        ("POST instead of GET", "GET", "POST", "only GET"),
        ("HTTP/1.0", "HTTP/1.1", "HTTP/1.0", "HTTP version"),
    ];
    for (what, header, replacement, reason) in cases {
        let request = UPGRADE_HEAD.replace(header, replacement) + "\r\n";
        check_refused(what, request.as_bytes(), 400, reason);
    }
}

#[test]
fn an_upgrade_with_a_body_or_a_header_twice_gets_400_and_its_body_is_not_read_as_frames() {
    let _turn = shared_turn();
    // A text frame "hi", which a lax server would take from the body.
    let frame = client_frame(true, 0x1, b"hi");
    let mut body = format!("Content-Length: {}\r\n\r\n", frame.len()).into_bytes();
    body.extend(&frame);
    let mut chunked =
        format!("Transfer-Encoding: chunked\r\n\r\n{:x}\r\n", frame.len()).into_bytes();
    chunked.extend(&frame);
    chunked.extend(b"\r\n0\r\n\r\n");
    let cases = [
        ("Content-Length and a body", body, "(Content-Length: \"8\")"),
        (
            "Transfer-Encoding: chunked",
            chunked,
            "(Transfer-Encoding: \"chunked\")",
        ),
        (
            "two Upgrade headers",
            b"Upgrade: websocket\r\n\r\n".to_vec(),
            "the Upgrade header appears 2 times",
        ),
        (
            "two Sec-WebSocket-Version headers",
            b"Sec-WebSocket-Version: 13\r\n\r\n".to_vec(),
            "the Sec-WebSocket-Version header appears 2 times",
        ),
        (
            "two Sec-WebSocket-Key headers",
            b"Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\n\r\n".to_vec(),
            "the Sec-WebSocket-Key header appears 2 times",
        ),
        (
            "a subprotocol that is not a token",
            b"Sec-WebSocket-Protocol: chat, {\"json\"}\r\n\r\n".to_vec(),
            "not a token: \"{\\\"json\\\"}\"",
        ),
    ];
    for (what, rest, reason) in cases {
        let mut request = UPGRADE_HEAD.as_bytes().to_vec();
        request.extend(rest);
        check_refused(what, &request, 400, reason);
    }
    let request = UPGRADE_HEAD.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=") + "\r\n";
    check_refused(
        "Sec-WebSocket-Key of 5 bytes",
        request.as_bytes(),
        400,
        "the Sec-WebSocket-Key \"c2hvcnQ=\" is not the base64 of 16 bytes",
    );
}

#[test]
fn client_text_in_a_reason_is_cut_to_a_short_prefix_and_escaped() {
    let _turn = shared_turn();
    let long = "x".repeat(8000);
    let request = format!("{UPGRADE_HEAD}Sec-WebSocket-Protocol: \u{e9}\u{e9}{long}\r\n\r\n");
    let text = check_refused(
        "an 8 KB subprotocol list, not a token",
        request.as_bytes(),
        400,
        "(cut, 8004 bytes in all)",
    );
    let reason = text.rsplit("\r\n\r\n").next().unwrap();
    assert!(reason.contains("\"\\xc3\\xa9\\xc3\\xa9xxx"), "{reason}");
    assert!(reason.len() < 200, "{reason}");
}

#[test]
fn a_wrong_websocket_version_gets_426_naming_version_13() {
    let _turn = shared_turn();
    let request = UPGRADE_HEAD.replace("Version: 13", "Version: 8") + "\r\n";
    let answer = check_refused(
        "Sec-WebSocket-Version: 8",
        request.as_bytes(),
        426,
        "version",
    );
    assert!(
        answer.contains("\r\nSec-WebSocket-Version: 13\r\n"),
        "{answer}"
    );
}

#[test]
fn frames_sent_right_after_the_request_are_kept() {
    let _turn = shared_turn();
    // A client may send its first frame without waiting for the 101.
    let clients = Clients::new();
    let mut server = patient_server();
    let mut request = format!("{UPGRADE_HEAD}\r\n").into_bytes();
    request.extend(client_frame(true, 0x1, b"early"));
    let mut tcp = clients.run(async {
        let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
        tcp.write_all(&request).await.unwrap();
        tcp
    });
    let (id, _) = connected(&mut server);
    assert_eq!(message(&mut server, id), text("early"));
    server.peer(id).unwrap().put_packet(text("late")).unwrap();
    let answer = clients.run(async {
        let head = read_response_head(&mut tcp).await;
        (head, read_frame(&mut tcp).await)
    });
    assert!(answer.0.starts_with("HTTP/1.1 101"), "{}", answer.0);
    assert_eq!(answer.1, (true, 0x1, b"late".to_vec()));
    server.stop();
    report(
        "a frame sent with the request, before the 101",
        "HTTP 101, the frame is delivered",
        "Connected, then Message",
    );
}

#[test]
fn a_request_with_bare_lf_line_ends_split_over_two_reads_is_answered() {
    let _turn = shared_turn();
    // HTTP parsers (httparse, so tungstenite's) accept "\n" line ends; the server must notice
    // the end of such a head when it arrives in a later read, not only "\r\n\r\n".
    let clients = Clients::new();
    let mut server = patient_server();
    let request = format!("{UPGRADE_HEAD}\r\n").replace("\r\n", "\n");
    let (last, first) = request.as_bytes().split_last().unwrap();
    let addr = server.local_addr();
    let head = clients.run(async {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(first).await.unwrap();
        // The client's own pacing: the final "\n" comes in a later segment.
        tokio::time::sleep(Duration::from_millis(100)).await;
        tcp.write_all(&[*last]).await.unwrap();
        // Bounded by `clients.run`'s 5 s, far below the 20 s handshake_timeout.
        read_response_head(&mut tcp).await
    });
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    connected(&mut server);
    server.stop();
    report(
        "a request with bare LF line ends, its last byte in a later read",
        "HTTP 101",
        "Connected",
    );
}

#[test]
fn a_slowloris_trickling_its_request_is_dropped_at_the_handshake_timeout() {
    let _turn = shared_turn();
    let clients = Clients::new();
    let timeout = Duration::from_millis(500);
    let mut server = start_with(|config| config.handshake_timeout = timeout);
    let mut bystander = Bystander::connect(&mut server, &clients);
    let addr = server.local_addr();
    let (elapsed, local, sent) = clients.run(async move {
        // Before the connect, so before the server's clock starts (at its accept).
        let started = Instant::now();
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let local = tcp.local_addr().unwrap();
        let mut sent = 0;
        // One byte every 20 ms, for ever: only the server ends this (bounded by `T`).
        for byte in UPGRADE_HEAD.bytes().cycle() {
            if tcp.write_all(&[byte]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (started.elapsed(), local, sent)
    });
    assert_ended_at_timeout(elapsed, timeout);
    assert!(sent > 5, "it did trickle ({sent} bytes)");
    let reason = handshake_failed(&mut server, Some(local));
    assert!(reason.contains("handshake_timeout"), "{reason}");
    bystander.exchange(&mut server, &clients);
    assert_back_to_baseline(&server, &[&bystander]);
    server.stop();
    report(
        "slowloris: 1 byte every 20 ms (handshake_timeout 0.5 s)",
        &format!(
            "closed after {:.2} s, no HTTP answer",
            elapsed.as_secs_f64()
        ),
        &format!("HandshakeFailed: {reason}"),
    );
}

/// After its handshake, a client sends `bytes`: the server must answer with close `code`, end
/// the connection, and report it as an unclean disconnect without any message or close request.
/// Returns the server's warning.
fn bad_frames_get_close(server: &mut Server, clients: &Clients, bytes: &[u8], code: u16) -> String {
    let mut tcp = clients.run(raw_ws(server.local_addr()));
    let (id, _) = connected(server);
    let (got, _) = clients.run(async {
        // The server may close before it read everything.
        let _ = tcp.write_all(bytes).await;
        read_close_frame(&mut tcp).await
    });
    assert_eq!(
        got,
        code,
        "close code for {:02x?}",
        &bytes[..bytes.len().min(16)]
    );
    clients.run(read_until_closed(&mut tcp));
    drop(tcp);
    let warning = closing_warning(server, id, code);
    assert!(!disconnected(server, id), "a failed connection is unclean");
    warning
}

/// `bad_frames_get_close` with a bystander exchanging before and after, and the accounting
/// back to the bystander alone.
fn check_bad_frames(cases: &[(&str, Vec<u8>, u16)]) {
    let clients = Clients::new();
    let mut server = start_with(|config| {
        config.limits = Limits {
            in_bytes: 4096,
            ..Limits::default()
        }
    });
    let mut bystander = Bystander::connect(&mut server, &clients);
    for (what, bytes, code) in cases {
        let warning = bad_frames_get_close(&mut server, &clients, bytes, *code);
        bystander.exchange(&mut server, &clients);
        assert_back_to_baseline(&server, &[&bystander]);
        report(
            what,
            &format!("close {code}"),
            &format!("Warning: {warning}; Disconnected (unclean)"),
        );
    }
    server.stop();
}

/// A frame header announcing `len` payload bytes, masked, with no payload after it.
fn header_claiming(opcode: u8, len: u64) -> Vec<u8> {
    let mut out = vec![0x80 | opcode, 0x80 | 127];
    out.extend(len.to_be_bytes());
    out.extend([1, 2, 3, 4]);
    out
}

#[test]
fn an_unmasked_client_frame_gets_close_1002() {
    let _turn = shared_turn();
    check_bad_frames(&[("unmasked text frame", vec![0x81, 0x02, b'h', b'i'], 1002)]);
}

#[test]
fn reserved_bits_and_opcodes_get_close_1002() {
    let _turn = shared_turn();
    check_bad_frames(&[
        ("RSV1", client_frame(true, 0x40 | 0x1, b"x"), 1002),
        ("RSV2", client_frame(true, 0x20 | 0x2, b"x"), 1002),
        ("RSV3", client_frame(true, 0x10 | 0x9, b""), 1002),
        ("data opcode 3", client_frame(true, 0x3, b"x"), 1002),
        ("control opcode 0xB", client_frame(true, 0xb, b""), 1002),
    ]);
}

#[test]
fn a_control_frame_over_125_bytes_or_fragmented_gets_close_1002() {
    let _turn = shared_turn();
    check_bad_frames(&[
        (
            "ping of 126 bytes",
            client_frame(true, 0x9, &[0; 126]),
            1002,
        ),
        ("fragmented ping", client_frame(false, 0x9, b"x"), 1002),
        (
            "close of 126 bytes",
            client_frame(true, 0x8, &[0x03; 126]),
            1002,
        ),
    ]);
}

#[test]
fn a_2_pow_63_length_gets_close_1009_without_allocating() {
    let _alone = alone();
    let before = resident_bytes();
    check_bad_frames(&[
        ("length 2^63", header_claiming(0x2, 1 << 63), 1009),
        ("length 2^64 - 1", header_claiming(0x1, u64::MAX), 1009),
        ("length 2^32", header_claiming(0x2, 1 << 32), 1009),
    ]);
    // Allocating any of those would take gigabytes (or abort the process).
    let grown = resident_bytes().saturating_sub(before);
    assert!(grown < 64 << 20, "resident memory grew by {grown} bytes");
}

#[test]
fn broken_fragmentation_gets_close_1002() {
    let _turn = shared_turn();
    let mut interleaved = client_frame(false, 0x1, b"first");
    interleaved.extend(client_frame(true, 0x1, b"a new message before the end"));
    check_bad_frames(&[
        (
            "continuation without a start",
            client_frame(true, 0x0, b"x"),
            1002,
        ),
        ("new message inside a fragmented one", interleaved, 1002),
    ]);
}

#[test]
fn an_endless_stream_of_continuation_frames_is_bounded_by_the_input_limit() {
    let _turn = shared_turn();
    // in_bytes is 4096: 100-byte fragments pass it at the 41st. Everything after is unread.
    let mut stream = client_frame(false, 0x2, &[0; 100]);
    for _ in 0..1000 {
        stream.extend(client_frame(false, 0x0, &[0; 100]));
    }
    check_bad_frames(&[("100-byte continuation frames without end", stream, 1009)]);
}

#[test]
fn close_frames_with_a_bad_payload_get_close_1002_or_1007() {
    let _turn = shared_turn();
    check_bad_frames(&[
        (
            "close with a 1-byte payload",
            client_frame(true, 0x8, &[0x03]),
            1002,
        ),
        (
            "close with a reason that is not UTF-8",
            client_frame(true, 0x8, &[0x03, 0xe8, 0xff, 0xfe]),
            1007,
        ),
    ]);
}

#[test]
fn close_codes_a_client_may_not_send_are_answered_with_1002() {
    let _turn = shared_turn();
    // tungstenite answers these itself; the game hears of a close request with code 1002.
    let clients = Clients::new();
    let mut server = start();
    let mut bystander = Bystander::connect(&mut server, &clients);
    for code in [
        0u16,
        999,
        1004,
        1005,
        1006,
        1015,
        1016,
        2999,
        5000,
        u16::MAX,
    ] {
        let mut tcp = clients.run(raw_ws(server.local_addr()));
        let (id, _) = connected(&mut server);
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend(b"bad");
        let (got, _) = clients.run(async {
            write_frame(&mut tcp, true, 0x8, &payload).await;
            read_close_frame(&mut tcp).await
        });
        assert_eq!(got, 1002, "the answer to close code {code}");
        match event(&mut server) {
            ServerEvent::CloseRequest { id: got, code, .. } => {
                assert_eq!((got, code), (id, 1002));
            }
            other => panic!("expected CloseRequest, got {other:?}"),
        }
        clients.run(read_until_closed(&mut tcp));
        drop(tcp);
        // The close handshake completed, from the server's side.
        assert!(disconnected(&mut server, id));
        bystander.exchange(&mut server, &clients);
        assert_back_to_baseline(&server, &[&bystander]);
        report(
            &format!("close frame with code {code}"),
            "close 1002",
            "CloseRequest (code 1002), Disconnected (clean)",
        );
    }
    server.stop();
}

#[test]
fn a_peer_that_never_reads_is_refused_by_its_full_queue_and_costs_a_bounded_amount() {
    let _turn = shared_turn();
    let clients = Clients::new();
    let limits = Limits::default();
    let mut server = start_with(|config| config.limits = limits);
    let mut bystander = Bystander::connect(&mut server, &clients);
    let stalled = stalled_client(&clients, &server);
    let (stalled_id, _) = connected(&mut server);
    // The game keeps sending to it, as a game does every frame, far past what fits. The kernel's
    // socket buffers take the first megabytes (how many depends on the machine's TCP
    // autotuning, up to `tcp_wmem`'s maximum); once they are full, the queue must refuse
    // every packet. The bound on rounds (64 MiB offered) only keeps a broken queue from
    // looping forever.
    const REFUSED_IN_A_ROW: usize = 1000;
    let mut refused = 0;
    let mut in_a_row = 0;
    let mut rounds = 0;
    while in_a_row < REFUSED_IN_A_ROW && rounds < 64 * 1024 {
        let peer = server.peer(stalled_id).unwrap();
        match peer.put_packet(binary(&[7; 1024])) {
            Ok(()) => in_a_row = 0,
            Err(SendError::QueueFull { .. }) => {
                refused += 1;
                in_a_row += 1;
            }
            Err(other) => panic!("round {rounds}: {other:?}"),
        }
        let queued = peer.buffered_amount();
        assert!(queued <= limits.out_bytes, "queued {queued}");
        if rounds % 200 == 0 {
            bystander.exchange(&mut server, &clients);
        }
        rounds += 1;
    }
    assert_eq!(
        in_a_row, REFUSED_IN_A_ROW,
        "the full queue kept accepting: {refused} refusals in {rounds} rounds"
    );
    let most = limits.out_bytes;
    // The stalled client goes away: its queue goes with it.
    drop(stalled);
    assert!(!disconnected(&mut server, stalled_id));
    assert_back_to_baseline(&server, &[&bystander]);
    server.stop();
    report(
        &format!("a peer that never reads, sent {rounds} x 1 KiB (until {REFUSED_IN_A_ROW} in a row were refused)"),
        &format!("put_packet refused {refused} times (ERR_OUT_OF_MEMORY), queue <= {most} bytes"),
        "none until it leaves: Disconnected (unclean)",
    );
}

/// Every kind of bad client, many times over: the engine's accounting comes back each time,
/// and the process's resident memory stays bounded (`GDWS_LONG=1` repeats 50 times as often).
#[test]
fn many_hostile_clients_leave_nothing_behind() {
    let _alone = alone();
    let clients = Clients::new();
    let mut server = start_with(|config| {
        config.limits = Limits {
            in_bytes: 4096,
            ..Limits::default()
        };
        config.handshake_timeout = Duration::from_secs(20);
        // Every client's warning is checked: none may be held back.
        config.warnings = WarningBudget::UNLIMITED;
    });
    let mut bystander = Bystander::connect(&mut server, &clients);
    let rounds = repetitions(200, 10_000);
    let mut oversized_head = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
    oversized_head.extend(std::iter::repeat_n(b'a', 20 * 1024));
    let mut big_fragments = client_frame(false, 0x2, &[0; 1000]);
    for _ in 0..10 {
        big_fragments.extend(client_frame(false, 0x0, &[0; 1000]));
    }
    let mut baseline = 0;
    for round in 0..rounds {
        if round == rounds / 4 {
            // After warm-up: allocator pools and the runtime's buffers are in place.
            baseline = resident_bytes();
        }
        for request in [&b"HELLO\r\n\r\n"[..], &oversized_head] {
            let (answer, local) = clients.run(raw_request(server.local_addr(), request));
            assert!(answer.status == 400 || answer.status == 431);
            handshake_failed(&mut server, Some(local));
        }
        bad_frames_get_close(&mut server, &clients, &[0x81, 0x01, b'x'], 1002);
        bad_frames_get_close(&mut server, &clients, &header_claiming(0x2, 1 << 63), 1009);
        bad_frames_get_close(&mut server, &clients, &big_fragments, 1009);
        bad_frames_get_close(&mut server, &clients, &client_frame(true, 0x8, &[3]), 1002);
        bystander.exchange(&mut server, &clients);
        assert_back_to_baseline(&server, &[&bystander]);
    }
    let grown = resident_bytes().saturating_sub(baseline);
    report(
        &format!("{rounds} rounds of 6 hostile clients each"),
        &format!("resident memory +{} KiB after warm-up", grown / 1024),
        "sockets and peers back to the bystander alone after every round",
    );
    assert!(grown < 16 << 20, "resident memory grew by {grown} bytes");
    server.stop();
}

/// Refused handshakes in the flood below, and how many at once.
const FLOOD: usize = 3000;
const FLOOD_CONCURRENCY: usize = 32;
/// The flood must be over by then (it takes a second or two).
const FLOOD_TIME_BOUND: Duration = Duration::from_secs(120);

#[test]
fn a_flood_of_refused_handshakes_while_the_game_does_not_poll_holds_a_bounded_number_of_warnings() {
    let _alone = alone();
    let clients = Clients::new();
    let mut server = patient_server();
    let budget = server.config().warnings;
    let addr = server.local_addr();
    let rss_before = resident_bytes();
    let started = Instant::now();
    // The game does not poll from here on. Meanwhile a client comes, talks and leaves: none of
    // that may be lost.
    let flood = async {
        let refusals = futures_util::stream::iter(0..FLOOD).for_each_concurrent(
            FLOOD_CONCURRENCY,
            |_| async {
                let (answer, _) = raw_request(addr, b"HELLO\r\n\r\n").await;
                assert_eq!(answer.status, 400, "{}", answer.text);
            },
        );
        let visitor = async {
            let (mut ws, _) = connect(addr, &[]).await.expect("the visitor connects");
            ws.send(Message::text("still here")).await.unwrap();
            ws.close(None).await.unwrap();
            while ws.next().await.is_some() {}
        };
        tokio::join!(refusals, visitor);
    };
    clients.run(async {
        let in_time = tokio::time::timeout(FLOOD_TIME_BOUND, flood).await;
        in_time.expect("the flood ends within its time bound");
    });
    wait_until("every refused connection is closed", || {
        server.open_sockets() == 0
    });
    let flood_time = started.elapsed();
    let waiting = server.pending_events();
    let rss_grown = resident_bytes().saturating_sub(rss_before);

    // The first poll: what waits, as poll() takes it.
    let (mut warnings, mut notices, mut suppressed, mut longest) = (0, 0, 0, 0);
    let mut visitor = Vec::new();
    for _ in 0..waiting {
        match server
            .next_event()
            .expect("as many events as pending_events() said")
        {
            ServerEvent::HandshakeFailed { reason, .. } => {
                warnings += 1;
                longest = longest.max(reason.len());
            }
            ServerEvent::WarningsSuppressed { count } => {
                notices += 1;
                suppressed += count;
            }
            other => visitor.push(other),
        }
    }
    assert_eq!(server.next_event(), None, "the first poll took everything");
    assert!(
        warnings <= budget.waiting,
        "{warnings} warnings waited for the poll, over the bound of {}",
        budget.waiting
    );
    assert_eq!(notices, 1, "the first poll prints the count of the rest");
    assert_eq!(
        warnings as u64 + suppressed,
        FLOOD as u64,
        "every refusal is printed or counted"
    );
    assert!(
        matches!(
            &visitor[..],
            [
                ServerEvent::Connected { .. },
                ServerEvent::Message { .. },
                ServerEvent::CloseRequest { .. },
                ServerEvent::Disconnected {
                    was_clean: true,
                    ..
                }
            ]
        ),
        "the visitor's events, all of them: {visitor:?}"
    );
    for (key, value) in [
        ("refusals", FLOOD),
        ("flood_ms", flood_time.as_millis() as usize),
        ("waiting_events", waiting),
        ("warnings", warnings),
        ("suppressed", suppressed as usize),
        ("longest_reason", longest),
        ("rss_grown_kib", rss_grown / 1024),
    ] {
        println!("RELIABILITY warning_flood_{key}={value}");
    }
    report(
        &format!("{FLOOD} refused handshakes while the game does not poll"),
        &format!("HTTP 400 each; {waiting} events waiting"),
        &format!(
            "{warnings} HandshakeFailed, then WarningsSuppressed {{ count: {suppressed} }}; \
             the visitor's Connected, Message, CloseRequest, Disconnected"
        ),
    );
    server.stop();
}
