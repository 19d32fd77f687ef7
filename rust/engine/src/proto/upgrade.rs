//! The HTTP upgrade request as pure code on bytes: whether what a client sent so far is a
//! whole request head, whether it is a WebSocket upgrade we take (no body, no header that must
//! be single twice, tungstenite's checks, a well-formed key, subprotocols that are tokens, then
//! the origin (`policy::RequestPolicy`), then the subprotocol choice), and the exact bytes to
//! answer; a plain request for the health check is answered instead. Client text in a reason is quoted
//! with `client_text::quote`: a short prefix, escaped. The listener feeds it what it reads
//! from a socket; the fuzzer (`fuzz/`) feeds it anything.

use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::handshake::machine::TryParse;
use tokio_tungstenite::tungstenite::handshake::server::{
    create_response, write_response, Request, Response,
};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::client_text::quote;
use super::limits::{Limits, MAX_BUFFER_BYTES};
use super::policy::{ExtraHeaders, RequestPolicy};
use super::request::ClientRequest;
use super::subprotocol::{choose_protocol, parse_offered};

/// The largest request head taken (request line and headers). Browsers send under 2 KiB; the
/// stock server allows about 4 KiB.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Read buffer per connection, resident for the connection's life (tungstenite's default is
/// 128 KiB). 4 KiB instead of 8 KiB saves 4 KB per idle peer; large messages still arrive in
/// one buffer (tungstenite reserves a whole frame) and in large reads (the runtime's
/// `ReadAhead`).
const READ_BUFFER: usize = 4 * 1024;
/// Output is written to the socket once this much is buffered, and on every flush.
const WRITE_BUFFER: usize = 16 * 1024;

/// Room in the write buffer beyond one packet: a frame header and control frames (a pong or
/// a close, at most 127 bytes each, and one empty heartbeat ping) with some to spare.
const CONTROL_ROOM: usize = 1024;

/// How tungstenite runs an upgraded connection under `limits`: no message or frame over the
/// input limit (a bigger one is closed with 1009), small buffers, and a bounded write buffer.
///
/// tungstenite reserves a frame's claimed length as soon as it has read the frame's header, so
/// frames are also capped at `MAX_BUFFER_BYTES` whatever the input limit (and the runtime's
/// `FrameGate` hands a large frame on only once it is whole). `set_buffers` refuses larger
/// limits; an engine configured past the cap takes larger messages in fragments only.
///
/// The runtime hands tungstenite a packet only once its buffer is under `WRITE_BUFFER`, and no
/// packet is larger than the outbound limit, so game data always fits under the bound. What
/// the bound stops is tungstenite's own replies: a pong for every ping, buffered while a client
/// that never reads keeps its socket full (16 MB of them for 100,000 pings, without bound).
/// At the bound tungstenite keeps only the latest pong, as RFC 6455 5.5.3 allows.
pub fn websocket_config(limits: &Limits) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(WRITE_BUFFER + limits.out_bytes + CONTROL_ROOM)
        .max_message_size(Some(limits.in_bytes))
        .max_frame_size(Some(limits.in_bytes.min(MAX_BUFFER_BYTES)))
}

/// What to do with the bytes a client sent before its upgrade.
#[derive(Debug, PartialEq, Eq)]
pub enum Upgrade {
    /// Not a whole request head yet, and not known to be bad: read more.
    Incomplete,
    /// Answer `response` (101 Switching Protocols) and speak WebSocket with `protocol` (empty
    /// for none). The first `head_len` bytes were the request; any after them are frames.
    /// `request` is what the client asked for, for the game.
    Accept {
        response: Vec<u8>,
        protocol: String,
        head_len: usize,
        request: ClientRequest,
    },
    /// Answer `response` (an HTTP error whose body says why) and close.
    Reject {
        response: Vec<u8>,
        status: StatusCode,
        reason: String,
    },
    /// A plain request for the health check: answer `response` (200 OK) and close. No peer,
    /// and nothing to report.
    HealthCheck { response: Vec<u8> },
}

/// Decides on `input`, everything the client sent so far, for a server that accepts the
/// subprotocols `accepted` under `policy`.
pub fn answer(input: &[u8], accepted: &[String], policy: &RequestPolicy) -> Upgrade {
    if let Some(response) = policy.health_check(input) {
        return Upgrade::HealthCheck { response };
    }
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
    if let Some(reason) = ambiguous(&request) {
        let reason = format!("invalid WebSocket handshake: {reason}");
        return reject(StatusCode::BAD_REQUEST, reason);
    }
    let response = match create_response(&request) {
        Ok(response) => response,
        Err(e) => return not_an_upgrade(&request, &e),
    };
    let offered = match offered_protocols(&request) {
        Ok(offered) => offered,
        Err(reason) => {
            let reason = format!("invalid WebSocket handshake: {reason}");
            return reject(StatusCode::BAD_REQUEST, reason);
        }
    };
    let origins: Vec<&[u8]> = request
        .headers()
        .get_all("Origin")
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    if let Err(reason) = policy.check_origin(&origins) {
        return reject(StatusCode::FORBIDDEN, reason);
    }
    match choose_protocol(&offered, accepted) {
        Some(protocol) => Upgrade::Accept {
            response: switching_protocols(response, protocol, &policy.extra_headers),
            protocol: protocol.to_owned(),
            head_len,
            request: ClientRequest::of(&request),
        },
        None => {
            let offered = match offered.is_empty() {
                true => "none".to_owned(),
                false => quote(offered.join(", ").as_bytes()),
            };
            let reason = format!(
                "no common subprotocol: the client offered {offered}, the server accepts \
                 {accepted:?}"
            );
            reject(StatusCode::BAD_REQUEST, reason)
        }
    }
}

/// The headers of a WebSocket upgrade that must appear at most once: a second value would
/// leave the server and a proxy in front of it reading different requests.
const SINGLE_HEADERS: [&str; 3] = ["Upgrade", "Sec-WebSocket-Version", "Sec-WebSocket-Key"];

/// Why `request` could be read two ways, if it could: it has a body (whose bytes would
/// otherwise be taken for the first frames), or a header that must appear once appears twice.
/// `Content-Length: 0` is no body.
fn ambiguous(request: &Request) -> Option<String> {
    let headers = request.headers();
    if let Some(value) = headers.get("Transfer-Encoding") {
        return Some(format!(
            "a GET request with a body (Transfer-Encoding: {}); an upgrade has none",
            quote(value.as_bytes())
        ));
    }
    let mut lengths = headers.get_all("Content-Length").iter();
    match (lengths.next(), lengths.next()) {
        (Some(length), None) if length == "0" => {}
        (None, _) => {}
        (Some(length), _) => {
            return Some(format!(
                "a GET request with a body (Content-Length: {}); an upgrade has none",
                quote(length.as_bytes())
            ))
        }
    }
    SINGLE_HEADERS.iter().find_map(|name| {
        let count = headers.get_all(*name).iter().count();
        (count > 1).then(|| format!("the {name} header appears {count} times; it must be once"))
    })
}

/// The subprotocols the client offered, checked: its key must be a WebSocket key, and every
/// offered protocol a token. The reason otherwise.
fn offered_protocols(request: &Request) -> Result<Vec<&str>, String> {
    let headers = request.headers();
    // create_response made sure there is one.
    if let Some(key) = headers.get("Sec-WebSocket-Key") {
        if !is_websocket_key(key.as_bytes()) {
            return Err(format!(
                "the Sec-WebSocket-Key {} is not the base64 of 16 bytes",
                quote(key.as_bytes())
            ));
        }
    }
    let mut offered = Vec::new();
    for value in headers.get_all("Sec-WebSocket-Protocol") {
        let protocols = parse_offered(value.as_bytes()).map_err(|bad| {
            format!(
                "the client offered a subprotocol that is not a token: {}",
                quote(bad)
            )
        })?;
        offered.extend(protocols);
    }
    Ok(offered)
}

/// Whether `key` is the base64 of 16 bytes (RFC 6455 4.1): 22 characters of the base64
/// alphabet and `==`. The 4 bits the last character has beyond the 16 bytes are not checked
/// (RFC 4648 3.5 leaves that to the decoder): the key is only hashed, never decoded.
fn is_websocket_key(key: &[u8]) -> bool {
    let is_base64 = |byte: &u8| byte.is_ascii_alphanumeric() || *byte == b'+' || *byte == b'/';
    match key.trim_ascii() {
        [data @ .., b'=', b'='] => data.len() == 22 && data.iter().all(is_base64),
        _ => false,
    }
}

/// A request head arriving in reads. It is parsed again only when a read can have changed the
/// answer: the first bytes (to refuse garbage at once), the end of the head, or the size limit.
/// Parsing on every read would let a client trickling one byte at a time cost quadratic work.
pub struct RequestHead {
    input: Vec<u8>,
}

impl Default for RequestHead {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestHead {
    pub fn new() -> Self {
        Self {
            input: Vec::with_capacity(1024),
        }
    }

    /// Adds the bytes of one read and decides on everything read so far, as `answer` does.
    pub fn push(&mut self, read: &[u8], accepted: &[String], policy: &RequestPolicy) -> Upgrade {
        let first_read = self.input.is_empty();
        let searched_from = self.input.len().saturating_sub(2);
        self.input.extend_from_slice(read);
        let head_may_end = ends_a_head(&self.input[searched_from..]);
        if !(first_read || head_may_end || self.input.len() > MAX_REQUEST_HEAD) {
            return Upgrade::Incomplete;
        }
        answer(&self.input, accepted, policy)
    }

    /// The bytes read past a head of `head_len` bytes: the first frames.
    pub fn into_frames(mut self, head_len: usize) -> Vec<u8> {
        self.input.split_off(head_len)
    }
}

/// Whether `bytes` hold the empty line that ends a request head: "\r\n\r\n", or the bare
/// "\n" line ends that HTTP parsers (httparse, so tungstenite's) accept as well.
fn ends_a_head(bytes: &[u8]) -> bool {
    bytes.windows(2).any(|w| w == b"\n\n") || bytes.windows(3).any(|w| w == b"\n\r\n")
}

/// The 101: tungstenite's response, the chosen subprotocol, then the game's `extra` headers.
fn switching_protocols(mut response: Response, protocol: &str, extra: &ExtraHeaders) -> Vec<u8> {
    // An offered protocol came from a header value, so it is a valid one.
    if let (false, Ok(value)) = (protocol.is_empty(), HeaderValue::from_str(protocol)) {
        response
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", value);
    }
    let mut bytes = Vec::with_capacity(256);
    // Writing to a Vec fails only on a header value that is not text, which ours never are.
    let _ = write_response(&mut bytes, &response);
    // The head ends with an empty line: the extra headers go before it.
    bytes.truncate(bytes.len().saturating_sub(2));
    extra.write_into(&mut bytes);
    bytes.extend_from_slice(b"\r\n");
    bytes
}

/// A well-formed HTTP request that is not a WebSocket upgrade we speak: 426 with the version we
/// do speak for a wrong or missing `Sec-WebSocket-Version` (RFC 6455 4.4), 400 otherwise.
fn not_an_upgrade(request: &Request, error: &WsError) -> Upgrade {
    let version = request.headers().get("Sec-WebSocket-Version");
    let has_upgrade_headers =
        request.headers().contains_key("Upgrade") && request.headers().contains_key("Connection");
    if has_upgrade_headers && version.is_none_or(|v| v != "13") {
        let asked = version.map_or("none".into(), |v| quote(v.as_bytes()));
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

/// A refusal: the HTTP error `status` with `reason` as its body.
fn reject_with(status: StatusCode, reason: String, headers: &[(&str, &str)]) -> Upgrade {
    Upgrade::Reject {
        response: error_response(status, &reason, headers),
        status,
        reason,
    }
}

/// An HTTP error response whose body is `reason`, with `headers` besides the usual ones.
fn error_response(status: StatusCode, reason: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    // The reason phrase of a status without a registered one (a game's 499) is "Error".
    let phrase = status.canonical_reason().unwrap_or("Error");
    let mut response = format!(
        "HTTP/1.1 {} {phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n",
        status.as_str(),
        reason.len() + 1
    );
    for (name, value) in headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    response.push_str(&format!("\r\n{reason}\n"));
    response.into_bytes()
}

/// The answer to a refused client (the game's `Server::reject_client`, a PROXY protocol header
/// the server does not take): the HTTP error `status` with `reason` as its body.
pub fn refusal(status: StatusCode, reason: &str) -> Vec<u8> {
    error_response(status, reason, &[])
}

/// The answer to a client refused for capacity: HTTP 503 with `Retry-After` and `reason` as
/// its body.
pub fn service_unavailable(reason: &str, retry_after_seconds: u32) -> Vec<u8> {
    let retry_after = retry_after_seconds.to_string();
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        reason,
        &[("Retry-After", &retry_after)],
    )
}

#[cfg(test)]
mod tests {
    use super::super::policy::{HealthCheckPath, Origin};
    use super::*;

    const UPGRADE: &str = "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n";

    fn status_of(upgrade: &Upgrade) -> StatusCode {
        match upgrade {
            Upgrade::Accept { .. } => StatusCode::SWITCHING_PROTOCOLS,
            Upgrade::Reject { status, .. } => *status,
            Upgrade::HealthCheck { .. } => StatusCode::OK,
            Upgrade::Incomplete => panic!("incomplete"),
        }
    }

    fn policy(extra: &[&str], origins: &[&str], health: &str) -> RequestPolicy {
        let extra: Vec<String> = extra.iter().map(|line| line.to_string()).collect();
        RequestPolicy {
            extra_headers: ExtraHeaders::parse(&extra).unwrap(),
            allowed_origins: origins.iter().map(|o| Origin::parse(o).unwrap()).collect(),
            health_check: HealthCheckPath::parse(health).unwrap(),
        }
    }

    #[test]
    fn extra_headers_end_the_101_as_written() {
        let policy = policy(&["X-Server: gdws", "Set-Cookie: a=1"], &[], "");
        let input = format!("{UPGRADE}Sec-WebSocket-Protocol: chat\r\n\r\n");
        let Upgrade::Accept { response, .. } = answer(input.as_bytes(), &["chat".into()], &policy)
        else {
            panic!("not accepted");
        };
        let response = String::from_utf8(response).unwrap();
        assert!(
            response.ends_with(
                "sec-websocket-protocol: chat\r\nX-Server: gdws\r\nSet-Cookie: a=1\r\n\r\n"
            ),
            "{response}"
        );
    }

    #[test]
    fn a_foreign_origin_gets_403_after_the_checks_of_the_request_itself() {
        let policy = policy(&[], &["https://game.example"], "");
        let foreign = format!("{UPGRADE}Origin: https://evil.example\r\n\r\n");
        let Upgrade::Reject {
            response,
            status,
            reason,
        } = answer(foreign.as_bytes(), &[], &policy)
        else {
            panic!("taken");
        };
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            reason,
            "the origin \"https://evil.example\" is not in allowed_origins"
        );
        let response = String::from_utf8(response).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 403 Forbidden\r\n"),
            "{response}"
        );
        assert!(
            response.ends_with(&format!("\r\n\r\n{reason}\n")),
            "{response}"
        );
        let broken = foreign.replace("Version: 13", "Version: 8");
        let upgrade = answer(broken.as_bytes(), &[], &policy);
        assert_eq!(status_of(&upgrade), StatusCode::UPGRADE_REQUIRED);
        let listed = format!("{UPGRADE}Origin: https://Game.example\r\n\r\n");
        let upgrade = answer(listed.as_bytes(), &[], &policy);
        assert_eq!(status_of(&upgrade), StatusCode::SWITCHING_PROTOCOLS);
        let native = format!("{UPGRADE}\r\n");
        let upgrade = answer(native.as_bytes(), &[], &policy);
        assert_eq!(status_of(&upgrade), StatusCode::SWITCHING_PROTOCOLS);
    }

    #[test]
    fn the_health_path_answers_plain_requests_and_still_upgrades() {
        let policy = policy(&[], &["https://game.example"], "/chat");
        let plain = "GET /chat HTTP/1.1\r\nHost: x\r\nOrigin: https://evil.example\r\n\r\n";
        let upgrade = answer(plain.as_bytes(), &[], &policy);
        assert_eq!(status_of(&upgrade), StatusCode::OK);
        let websocket = format!("{UPGRADE}\r\n");
        let upgrade = answer(websocket.as_bytes(), &[], &policy);
        assert_eq!(status_of(&upgrade), StatusCode::SWITCHING_PROTOCOLS);
        let other = "GET /other HTTP/1.1\r\nHost: x\r\n\r\n";
        let upgrade = answer(other.as_bytes(), &[], &policy);
        assert_eq!(status_of(&upgrade), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_valid_upgrade_is_accepted_with_the_rfc_accept_key_and_frames_after_it_kept() {
        let mut input = format!("{UPGRADE}\r\n").into_bytes();
        input.extend([0x81, 0x80]);
        let Upgrade::Accept {
            response,
            protocol,
            head_len,
            ..
        } = answer(&input, &[], &RequestPolicy::default())
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
        assert_eq!(
            answer(UPGRADE.as_bytes(), &[], &RequestPolicy::default()),
            Upgrade::Incomplete
        );
        assert_eq!(
            answer(b"", &[], &RequestPolicy::default()),
            Upgrade::Incomplete
        );
        let long = format!("{UPGRADE}X-Pad: {}\r\n", "a".repeat(MAX_REQUEST_HEAD));
        let upgrade = answer(long.as_bytes(), &[], &RequestPolicy::default());
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
            } = answer(input.as_bytes(), &[], &RequestPolicy::default())
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
    fn a_client_refused_for_capacity_gets_503_with_retry_after() {
        let response = String::from_utf8(service_unavailable("full", 5)).unwrap();
        assert_eq!(
            response,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
             Content-Length: 5\r\nConnection: close\r\nRetry-After: 5\r\n\r\nfull\n"
        );
    }

    #[test]
    fn a_wrong_websocket_version_gets_426_naming_13() {
        let input = UPGRADE.replace("Version: 13", "Version: 8") + "\r\n";
        let Upgrade::Reject {
            response, status, ..
        } = answer(input.as_bytes(), &[], &RequestPolicy::default())
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
        let upgrade = answer(input.as_bytes(), &[], &RequestPolicy::default());
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
        } = answer(input.as_bytes(), &accepted, &RequestPolicy::default())
        else {
            panic!("not accepted");
        };
        assert_eq!(protocol, "chat");
        assert!(String::from_utf8(response)
            .unwrap()
            .contains("sec-websocket-protocol: chat\r\n"));
        let upgrade = answer(
            input.as_bytes(),
            &["json".to_owned()],
            &RequestPolicy::default(),
        );
        assert_eq!(status_of(&upgrade), StatusCode::BAD_REQUEST);
    }

    /// The reason `answer` refuses `UPGRADE` plus `extra` headers with, after checking it is a
    /// 400 whose body says it.
    fn refused_with_400(extra: &str) -> String {
        let input = format!("{UPGRADE}{extra}\r\n");
        let Upgrade::Reject {
            response,
            status,
            reason,
        } = answer(input.as_bytes(), &[], &RequestPolicy::default())
        else {
            panic!("{extra:?} not refused");
        };
        assert_eq!(status, StatusCode::BAD_REQUEST, "{extra:?}: {reason}");
        assert!(String::from_utf8(response)
            .unwrap()
            .ends_with(&format!("{reason}\n")));
        reason
    }

    fn accepted_with(extra: &str, accepted: &[String]) -> bool {
        let input = format!("{UPGRADE}{extra}\r\n");
        matches!(
            answer(input.as_bytes(), accepted, &RequestPolicy::default()),
            Upgrade::Accept { .. }
        )
    }

    #[test]
    fn a_request_with_a_body_is_refused_and_content_length_0_is_none() {
        let reason = refused_with_400("Transfer-Encoding: chunked\r\n");
        assert_eq!(
            reason,
            "invalid WebSocket handshake: a GET request with a body (Transfer-Encoding: \
             \"chunked\"); an upgrade has none"
        );
        let reason = refused_with_400("Content-Length: 12\r\n");
        assert!(reason.contains("(Content-Length: \"12\")"), "{reason}");
        refused_with_400("Content-Length: 0\r\nContent-Length: 0\r\n");
        refused_with_400("Content-Length: zero\r\n");
        assert!(accepted_with("Content-Length: 0\r\n", &[]));
    }

    #[test]
    fn a_second_upgrade_version_or_key_header_is_refused() {
        for (name, value) in [
            ("Upgrade", "websocket"),
            ("Sec-WebSocket-Version", "13"),
            ("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA=="),
        ] {
            let reason = refused_with_400(&format!("{name}: {value}\r\n"));
            assert_eq!(
                reason,
                format!(
                    "invalid WebSocket handshake: the {name} header appears 2 times; it must \
                     be once"
                )
            );
        }
        // Headers that may be repeated still are.
        assert!(accepted_with(
            "Connection: keep-alive\r\nX-A: 1\r\nX-A: 2\r\n",
            &[]
        ));
    }

    #[test]
    fn a_key_that_is_not_the_base64_of_16_bytes_is_refused() {
        let good = "dGhlIHNhbXBsZSBub25jZQ==";
        for bad in [
            "dGhlIHNhbXBsZSBub25jZQ",
            "dGhlIHNhbXBsZSBub25jZQ=",
            "dGhlIHNhbXBsZSBub25jZQ===",
            "dGhlIHNhbXBsZSBub25jZXg=",
            "dGhlIHNhbXBsZSBub25j!Q==",
            "x",
            "dGhlIHNhbXBsZSBub25jZQdGhlIHNhbXBsZSBub25jZQ==",
        ] {
            let input = UPGRADE.replace(good, bad) + "\r\n";
            let Upgrade::Reject { status, reason, .. } =
                answer(input.as_bytes(), &[], &RequestPolicy::default())
            else {
                panic!("{bad:?} taken");
            };
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(
                reason,
                format!(
                    "invalid WebSocket handshake: the Sec-WebSocket-Key \"{bad}\" is not the \
                     base64 of 16 bytes"
                )
            );
        }
        let other = UPGRADE.replace(good, "+/+/AAAAAAAAAAAAAAAAAA==") + "\r\n";
        assert!(matches!(
            answer(other.as_bytes(), &[], &RequestPolicy::default()),
            Upgrade::Accept { .. }
        ));
    }

    #[test]
    fn offered_subprotocols_that_are_not_tokens_are_refused() {
        let accepted = ["chat".to_owned()];
        for (header, bad) in [
            ("chat, two words", r#""two words""#),
            ("chat, {json}", r#""{json}""#),
            ("chat, a\u{e9}b", r#""a\xc3\xa9b""#),
        ] {
            let input = format!("{UPGRADE}Sec-WebSocket-Protocol: {header}\r\n\r\n");
            let Upgrade::Reject { status, reason, .. } =
                answer(input.as_bytes(), &accepted, &RequestPolicy::default())
            else {
                panic!("{header:?} taken");
            };
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(
                reason,
                format!(
                    "invalid WebSocket handshake: the client offered a subprotocol that is not \
                     a token: {bad}"
                )
            );
        }
        // Two headers make one list.
        let two = "Sec-WebSocket-Protocol: x\r\nSec-WebSocket-Protocol: chat\r\n";
        assert!(accepted_with(two, &accepted));
    }

    #[test]
    fn quoted_client_text_is_cut_and_escaped() {
        let many: Vec<String> = (0..2000).map(|i| format!("p{i}")).collect();
        let input = format!(
            "{UPGRADE}Sec-WebSocket-Protocol: {}\r\n\r\n",
            many.join(",")
        );
        let Upgrade::Reject { reason, .. } =
            answer(input.as_bytes(), &[], &RequestPolicy::default())
        else {
            panic!("taken");
        };
        assert!(reason.len() < 200, "{reason}");
        assert!(
            reason.starts_with("no common subprotocol: the client offered \"p0, p1, p2, "),
            "{reason}"
        );
        assert!(reason.contains("\"... (cut, "), "{reason}");

        let version = format!("\u{e9}\t{}", "9".repeat(5000));
        let input = UPGRADE.replace("Version: 13", &format!("Version: {version}")) + "\r\n";
        let Upgrade::Reject { reason, .. } =
            answer(input.as_bytes(), &[], &RequestPolicy::default())
        else {
            panic!("taken");
        };
        assert!(reason.len() < 200, "{reason}");
        assert!(
            reason.contains("version \"\\xc3\\xa9\\x09999"),
            "what is not printable ASCII is escaped: {reason}"
        );
        assert!(
            reason.contains("(cut, 5003 bytes in all), the server speaks 13"),
            "{reason}"
        );
    }

    /// Feeds `input` to a `RequestHead` `chunk` bytes at a time; the first decision that is not
    /// `Incomplete`, with the number of reads it took.
    fn push_in_chunks(input: &[u8], chunk: usize) -> (Upgrade, usize, RequestHead) {
        let mut head = RequestHead::new();
        for (reads, piece) in input.chunks(chunk).enumerate() {
            let decision = head.push(piece, &[], &RequestPolicy::default());
            if decision != Upgrade::Incomplete {
                return (decision, reads + 1, head);
            }
        }
        (Upgrade::Incomplete, input.len().div_ceil(chunk), head)
    }

    #[test]
    fn a_head_trickling_in_byte_by_byte_is_answered_at_its_end_and_keeps_the_frames() {
        for line_end in ["\r\n", "\n"] {
            let head = UPGRADE.replace("\r\n", line_end) + line_end;
            let mut input = head.clone().into_bytes();
            input.extend([0x81, 0x80]);
            let (decision, reads, collected) = push_in_chunks(&input, 1);
            let Upgrade::Accept { head_len, .. } = decision else {
                panic!("{line_end:?} line ends: {decision:?}");
            };
            assert_eq!(head_len, head.len(), "{line_end:?} line ends");
            assert_eq!(reads, head.len(), "{line_end:?}: answered late");
            // The last read ended the head; a later read would carry the frames.
            assert!(collected.into_frames(head_len).is_empty());
        }
    }

    #[test]
    fn frames_read_with_the_head_are_kept_for_the_connection() {
        let mut input = format!("{UPGRADE}\r\n").into_bytes();
        input.extend([0x81, 0x80, 1, 2, 3, 4]);
        let (decision, reads, collected) = push_in_chunks(&input, input.len());
        let Upgrade::Accept { head_len, .. } = decision else {
            panic!("{decision:?}");
        };
        assert_eq!(reads, 1);
        assert_eq!(collected.into_frames(head_len), [0x81, 0x80, 1, 2, 3, 4]);
    }

    #[test]
    fn garbage_is_refused_on_the_first_read_and_an_endless_head_at_the_limit() {
        let (decision, reads, _) = push_in_chunks(b"\x16\x03\x01 not http at all", 4);
        assert_eq!((status_of(&decision), reads), (StatusCode::BAD_REQUEST, 1));

        let endless = format!("{UPGRADE}X-Pad: {}\r\n", "a".repeat(2 * MAX_REQUEST_HEAD));
        let (decision, reads, _) = push_in_chunks(endless.as_bytes(), 1000);
        assert_eq!(
            status_of(&decision),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
        assert_eq!(
            reads,
            MAX_REQUEST_HEAD / 1000 + 1,
            "not refused at the limit"
        );
    }

    #[test]
    fn the_connection_s_config_holds_messages_and_frames_to_the_input_limit() {
        let limits = Limits {
            in_bytes: 1234,
            ..Limits::default()
        };
        let config = websocket_config(&limits);
        assert_eq!(config.max_message_size, Some(1234));
        assert_eq!(config.max_frame_size, Some(1234));
        assert_eq!(config.read_buffer_size, READ_BUFFER);
        // tungstenite panics unless the bound is above the buffer; the largest packet fits.
        assert!(config.max_write_buffer_size > config.write_buffer_size + limits.out_bytes);
        assert!(config.max_write_buffer_size < 2 * (config.write_buffer_size + limits.out_bytes));
    }

    #[test]
    fn frames_stop_at_the_buffer_cap_whatever_the_input_limit() {
        let limits = Limits {
            in_bytes: 1 << 40,
            ..Limits::default()
        };
        let config = websocket_config(&limits);
        assert_eq!(config.max_message_size, Some(1 << 40));
        assert_eq!(config.max_frame_size, Some(MAX_BUFFER_BYTES));
    }
}
