//! The HTTP upgrade request as pure code on bytes: whether what a client sent so far is a
//! whole request head, whether it is a WebSocket upgrade we take (tungstenite's checks, then
//! the subprotocol choice), and the exact bytes to answer. The listener feeds it what it reads
//! from a socket; the fuzzer (`fuzz/`) feeds it anything.

use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::handshake::machine::TryParse;
use tokio_tungstenite::tungstenite::handshake::server::{
    create_response, write_response, Request, Response,
};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};

use super::protocols::{choose_protocol, parse_offered};

/// The largest request head taken (request line and headers). Browsers send under 2 KiB; the
/// stock server allows about 4 KiB.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// What to do with the bytes a client sent before its upgrade.
#[derive(Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// Not a whole request head yet, and not known to be bad: read more.
    Incomplete,
    /// Answer `response` (101 Switching Protocols) and speak WebSocket with `protocol` (empty
    /// for none). The first `head_len` bytes were the request; any after them are frames.
    Accept {
        response: Vec<u8>,
        protocol: String,
        head_len: usize,
    },
    /// Answer `response` (an HTTP error whose body says why) and close.
    Reject {
        response: Vec<u8>,
        status: StatusCode,
        reason: String,
    },
}

/// Decides on `input`, everything the client sent so far, for a server that accepts the
/// subprotocols `accepted`.
pub fn answer(input: &[u8], accepted: &[String]) -> Upgrade {
    let request = match Request::try_parse(input) {
        Ok(Some((head_len, _))) if head_len > MAX_REQUEST_HEAD => return head_too_large(),
        Ok(Some((head_len, request))) => (head_len, request),
        Ok(None) if input.len() > MAX_REQUEST_HEAD => return head_too_large(),
        Ok(None) => return Upgrade::Incomplete,
        Err(WsError::Capacity(CapacityError::TooManyHeaders)) => {
            return reject(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "invalid WebSocket handshake: too many header fields".to_owned(),
            )
        }
        Err(e) => {
            return reject(
                StatusCode::BAD_REQUEST,
                format!("invalid WebSocket handshake: {e}"),
            )
        }
    };
    let (head_len, request) = request;
    let response = match create_response(&request) {
        Ok(response) => response,
        Err(e) => return not_an_upgrade(&request, &e),
    };
    let offered: Vec<&str> = request
        .headers()
        .get_all("Sec-WebSocket-Protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(parse_offered)
        .collect();
    match choose_protocol(&offered, accepted) {
        Some(protocol) => Upgrade::Accept {
            response: switching_protocols(response, protocol),
            protocol: protocol.to_owned(),
            head_len,
        },
        None => reject(
            StatusCode::BAD_REQUEST,
            format!(
                "no common subprotocol: the client offered {offered:?}, the server accepts \
                 {accepted:?}"
            ),
        ),
    }
}

fn switching_protocols(mut response: Response, protocol: &str) -> Vec<u8> {
    // An offered protocol came from a header value, so it is a valid one.
    if let (false, Ok(value)) = (protocol.is_empty(), HeaderValue::from_str(protocol)) {
        response
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", value);
    }
    let mut bytes = Vec::with_capacity(256);
    // Writing to a Vec fails only on a header value that is not text, which ours never are.
    let _ = write_response(&mut bytes, &response);
    bytes
}

/// A well-formed HTTP request that is not a WebSocket upgrade we speak: 426 with the version we
/// do speak for a wrong or missing `Sec-WebSocket-Version` (RFC 6455 4.4), 400 otherwise.
fn not_an_upgrade(request: &Request, error: &WsError) -> Upgrade {
    let version = request.headers().get("Sec-WebSocket-Version");
    let has_upgrade_headers =
        request.headers().contains_key("Upgrade") && request.headers().contains_key("Connection");
    if has_upgrade_headers && version.is_none_or(|v| v != "13") {
        let asked = version.map_or("none".into(), |v| String::from_utf8_lossy(v.as_bytes()));
        let reason = format!(
            "invalid WebSocket handshake: the client asked for WebSocket version {asked}, the \
             server speaks 13"
        );
        return reject_with(
            StatusCode::UPGRADE_REQUIRED,
            reason,
            &[("Sec-WebSocket-Version", "13")],
        );
    }
    reject(
        StatusCode::BAD_REQUEST,
        format!("invalid WebSocket handshake: {error}"),
    )
}

fn head_too_large() -> Upgrade {
    reject(
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        format!("invalid WebSocket handshake: the request head is over {MAX_REQUEST_HEAD} bytes"),
    )
}

fn reject(status: StatusCode, reason: String) -> Upgrade {
    reject_with(status, reason, &[])
}

/// An HTTP error response whose body is `reason`, with `headers` besides the usual ones.
fn reject_with(status: StatusCode, reason: String, headers: &[(&str, &str)]) -> Upgrade {
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        reason.len() + 1
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!("\r\n{reason}\n"));
    Upgrade::Reject {
        response: response.into_bytes(),
        status,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPGRADE: &str = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n";

    fn status_of(upgrade: &Upgrade) -> StatusCode {
        match upgrade {
            Upgrade::Accept { .. } => StatusCode::SWITCHING_PROTOCOLS,
            Upgrade::Reject { status, .. } => *status,
            Upgrade::Incomplete => panic!("incomplete"),
        }
    }

    #[test]
    fn a_valid_upgrade_is_accepted_with_the_rfc_accept_key_and_frames_after_it_kept() {
        let mut input = format!("{UPGRADE}\r\n").into_bytes();
        input.extend([0x81, 0x80]);
        let Upgrade::Accept {
            response,
            protocol,
            head_len,
        } = answer(&input, &[])
        else {
            panic!("not accepted");
        };
        let response = String::from_utf8(response).unwrap();
        assert!(response.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        // RFC 6455 1.3's example key and answer.
        assert!(response.contains("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert!(response.ends_with("\r\n\r\n"));
        assert_eq!(protocol, "");
        assert_eq!(head_len, input.len() - 2);
    }

    #[test]
    fn a_partial_head_asks_for_more_until_the_limit() {
        assert_eq!(answer(UPGRADE.as_bytes(), &[]), Upgrade::Incomplete);
        assert_eq!(answer(b"", &[]), Upgrade::Incomplete);
        let long = format!("{UPGRADE}X-Pad: {}\r\n", "a".repeat(MAX_REQUEST_HEAD));
        let upgrade = answer(long.as_bytes(), &[]);
        assert_eq!(
            status_of(&upgrade),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    #[test]
    fn bad_requests_get_400_with_the_reason_in_the_body() {
        for input in ["HELLO WORLD\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"] {
            let Upgrade::Reject {
                response,
                status,
                reason,
            } = answer(input.as_bytes(), &[])
            else {
                panic!("{input:?} not rejected");
            };
            assert_eq!(status, StatusCode::BAD_REQUEST);
            let response = String::from_utf8(response).unwrap();
            assert!(response.starts_with("HTTP/1.1 400 Bad Request\r\n"));
            assert!(
                response.ends_with(&format!("\r\n\r\n{reason}\n")),
                "{response}"
            );
        }
    }

    #[test]
    fn a_wrong_websocket_version_gets_426_naming_13() {
        let input = UPGRADE.replace("Version: 13", "Version: 8") + "\r\n";
        let Upgrade::Reject {
            response, status, ..
        } = answer(input.as_bytes(), &[])
        else {
            panic!("not rejected");
        };
        assert_eq!(status, StatusCode::UPGRADE_REQUIRED);
        assert!(String::from_utf8(response)
            .unwrap()
            .contains("\r\nSec-WebSocket-Version: 13\r\n"));
    }

    #[test]
    fn too_many_headers_get_431() {
        let many: String = (0..200).map(|i| format!("X-{i}: y\r\n")).collect();
        let input = format!("{UPGRADE}{many}\r\n");
        let upgrade = answer(input.as_bytes(), &[]);
        assert_eq!(
            status_of(&upgrade),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    #[test]
    fn the_chosen_subprotocol_is_in_the_response() {
        let input = format!("{UPGRADE}Sec-WebSocket-Protocol: x, chat\r\n\r\n");
        let accepted = ["chat".to_owned()];
        let Upgrade::Accept {
            response, protocol, ..
        } = answer(input.as_bytes(), &accepted)
        else {
            panic!("not accepted");
        };
        assert_eq!(protocol, "chat");
        assert!(String::from_utf8(response)
            .unwrap()
            .contains("sec-websocket-protocol: chat\r\n"));
        let upgrade = answer(input.as_bytes(), &["json".to_owned()]);
        assert_eq!(status_of(&upgrade), StatusCode::BAD_REQUEST);
    }
}
