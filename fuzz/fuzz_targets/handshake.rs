//! What the server does with the bytes a client sends before and right after its upgrade, with
//! the engine's own code: `RequestHead` collecting reads as the handshake does (the input in
//! pieces of the size the second byte picks) and `answer` deciding (tungstenite's request
//! parsing and checks, our subprotocol choice, the exact response), then, for an accepted
//! request, tungstenite reading the bytes after the head as frames under `websocket_config`,
//! the connection's own configuration.
//!
//! Input: the first byte picks the server's subprotocol list and its request policy (none, or
//! an extra header, an allowed origin and a health check), the second the read size, the rest
//! is what the client sent.

#![no_main]

use std::io::{self, Cursor, Read, Write};

use gdws_engine::proto::upgrade::{
    answer, websocket_config, RequestHead, Upgrade, MAX_REQUEST_HEAD,
};
use gdws_engine::{ExtraHeaders, HealthCheckPath, Limits, Origin, RequestPolicy};
use libfuzzer_sys::fuzz_target;
use tungstenite::protocol::Role;
use tungstenite::WebSocket;

fuzz_target!(|data: &[u8]| {
    let [pick, read_size, input @ ..] = data else {
        return;
    };
    let read_size = usize::from(*read_size).max(1);
    let accepted: Vec<String> = match *pick % 3 {
        0 => vec![],
        1 => vec!["chat".into()],
        _ => vec!["chat".into(), "json".into(), "binary".into()],
    };
    let policy = match *pick / 3 % 2 {
        0 => RequestPolicy::default(),
        _ => RequestPolicy {
            extra_headers: ExtraHeaders::parse(&["X-Server: gdws".into()]).unwrap(),
            allowed_origins: vec![Origin::parse("https://game.example").unwrap()],
            health_check: HealthCheckPath::parse("/health").unwrap(),
        },
    };
    let decision = answer(input, &accepted, &policy);
    // Read in pieces, a head is parsed again only when a read may have ended it (or passed
    // the size limit): a decision then is the one `answer` makes on the whole, and an accepted
    // head is always decided. A broken one may wait for its end, as the server waits for it.
    let mut head = RequestHead::new();
    let in_pieces = input
        .chunks(read_size)
        .map(|piece| head.push(piece, &accepted, &policy))
        .find(|decision| *decision != Upgrade::Incomplete);
    match (&decision, &in_pieces) {
        (Upgrade::Accept { head_len, .. }, Some(Upgrade::Accept { head_len: h, .. })) => {
            assert_eq!(h, head_len)
        }
        (Upgrade::Reject { .. }, None | Some(Upgrade::Reject { .. })) => {}
        (Upgrade::HealthCheck { response }, Some(Upgrade::HealthCheck { response: r })) => {
            assert_eq!(r, response)
        }
        (Upgrade::Incomplete, None) => {}
        (whole, pieces) => panic!("whole: {whole:?}; in pieces: {pieces:?}"),
    }
    match decision {
        Upgrade::Incomplete => assert!(input.len() <= MAX_REQUEST_HEAD),
        Upgrade::Accept {
            response,
            protocol,
            head_len,
            request,
        } => {
            assert!(head_len <= input.len() && head_len <= MAX_REQUEST_HEAD);
            assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
            assert!(response.ends_with(b"\r\n\r\n"));
            for line in policy.extra_headers.lines() {
                assert!(response.ends_with(format!("{line}\r\n\r\n").as_bytes()));
            }
            assert!(protocol.is_empty() || accepted.contains(&protocol));
            assert!(request.header("sec-websocket-key").is_some());
            // The head alone decides the same way.
            assert!(matches!(
                answer(&input[..head_len], &accepted, &policy),
                Upgrade::Accept { head_len: h, .. } if h == head_len
            ));
            read_frames(&input[head_len..]);
        }
        Upgrade::Reject {
            response,
            status,
            reason,
        } => {
            assert!(matches!(status.as_u16(), 400 | 426 | 431)
                || (status.as_u16() == 403 && !policy.allowed_origins.is_empty()));
            let status_line = format!("HTTP/1.1 {status}\r\n");
            assert!(response.starts_with(status_line.as_bytes()));
            assert!(response.ends_with(format!("\r\n\r\n{reason}\n").as_bytes()));
        }
        Upgrade::HealthCheck { response } => {
            assert!(policy.health_check.is_some());
            assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
        }
    }
});

/// Reads the bytes after an accepted head as a server would, until they run out or break the
/// protocol: no message may exceed the input limit.
fn read_frames(frames: &[u8]) {
    let limits = Limits::default();
    let stream = ReadOnly(Cursor::new(frames.to_vec()));
    let mut ws = WebSocket::from_raw_socket(stream, Role::Server, Some(websocket_config(&limits)));
    for _ in 0..1024 {
        match ws.read() {
            Ok(message) => assert!(message.len() <= limits.in_bytes),
            Err(_) => return,
        }
    }
}

/// The client's bytes; what the server writes back is dropped.
struct ReadOnly(Cursor<Vec<u8>>);

impl Read for ReadOnly {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.read(buf)? {
            // The end of the input is a socket with nothing more yet.
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
}

impl Write for ReadOnly {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
