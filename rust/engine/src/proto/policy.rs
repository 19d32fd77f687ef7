//! What the HTTP side of the handshake does beyond the upgrade itself, as pure code: the extra
//! headers of the 101 (`set_extra_headers`), the origins a browser page may connect from
//! (`allowed_origins`) and the plain-HTTP health check (`health_check_path`). Each setting is
//! checked when it is made, so a server never runs with one it cannot honour.

use std::fmt;

use super::client_text::quote;
use super::subprotocol::is_token_byte;
use super::upgrade::MAX_REQUEST_HEAD;

/// The handshake's policy; the default is the stock server's (no extra header, any origin, no
/// health check).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestPolicy {
    /// Sent in every 101 response, after the WebSocket headers.
    pub extra_headers: ExtraHeaders,
    /// A request with an `Origin` that is not listed gets 403; empty: any origin. A request
    /// without `Origin` is taken (see `check_origin`).
    pub allowed_origins: Vec<Origin>,
    /// A plain GET or HEAD of this path (no upgrade) gets 200 OK; `None`: no health check.
    pub health_check: Option<HealthCheckPath>,
}

/// Headers the 101 carries besides the WebSocket ones, each a `Name: value` line as the game
/// wrote it (the value trimmed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExtraHeaders(Vec<String>);

/// Headers an extra header may not set: they make the 101 a WebSocket upgrade, and a second
/// value would break it. `sec-websocket-` covers every header of RFC 6455.
const RESERVED_NAMES: [&str; 2] = ["upgrade", "connection"];
const RESERVED_PREFIX: &str = "sec-websocket-";

impl ExtraHeaders {
    /// Checks `lines` (`Name: value` each, as Godot 3.5's `set_extra_headers` takes them): the
    /// name a token, the value free of control characters but tab, no header that would
    /// override `Upgrade`, `Connection` or any `Sec-WebSocket-*`. The first bad line's reason
    /// otherwise.
    pub fn parse(lines: &[String]) -> Result<Self, String> {
        lines
            .iter()
            .map(|line| header_line(line))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn lines(&self) -> &[String] {
        &self.0
    }

    /// Appends the headers to a response head that is still open (its last header line
    /// written, not the empty line).
    pub(crate) fn write_into(&self, head: &mut Vec<u8>) {
        for line in &self.0 {
            head.extend_from_slice(line.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
    }
}

/// One extra header line, checked and with its value trimmed.
fn header_line(line: &str) -> Result<String, String> {
    let shown = quote(line.as_bytes());
    let Some((name, value)) = line.split_once(':') else {
        return Err(format!(
            "{shown} is not a header: it has no \"Name: value\" colon"
        ));
    };
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(format!(
            "{shown} is not a header: the name {} is not a token (letters, digits and \
             !#$%&'*+-.^_`|~, no spaces)",
            quote(name.as_bytes())
        ));
    }
    let value = value.trim_matches([' ', '\t']);
    if value
        .bytes()
        .any(|byte| byte.is_ascii_control() && byte != b'\t')
    {
        return Err(format!(
            "{shown} is not a header: its value holds a control character (CR, LF, NUL...)"
        ));
    }
    let lower = name.to_ascii_lowercase();
    if RESERVED_NAMES.contains(&lower.as_str()) || lower.starts_with(RESERVED_PREFIX) {
        return Err(format!(
            "{shown} would override the WebSocket handshake's own {name} header (Upgrade, \
             Connection and Sec-WebSocket-* are the server's)"
        ));
    }
    Ok(format!("{name}: {value}"))
}

/// An origin as RFC 6454 serializes it: `scheme://host[:port]`, scheme and host in lower case,
/// the port left out when it is the scheme's default (80 for http and ws, 443 for https and
/// wss). This is what a browser sends in `Origin`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// Reads `scheme://host[:port]` (no user, path, query or fragment; an IPv6 host in
    /// brackets); the reason otherwise. `null`, the origin of sandboxed and `file:` pages, is
    /// no origin: it would stand for every such page.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shown = quote(text.as_bytes());
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(format!(
                "{shown} is not an origin: it has no scheme:// (write e.g. \
                 \"https://example.com\")"
            ));
        };
        let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !scheme_ok {
            return Err(format!("{shown} is not an origin: the scheme is not valid"));
        }
        if rest.contains(['/', '?', '#']) {
            return Err(format!(
                "{shown} is not an origin: an origin has no path, query or fragment (not even \
                 a final /)"
            ));
        }
        let (host, port) = split_port(rest).ok_or_else(|| {
            format!("{shown} is not an origin: the port is not a number from 1 to 65535")
        })?;
        if !is_host(host) {
            return Err(format!(
                "{shown} is not an origin: the host is not a name, an IPv4 address or an IPv6 \
                 address in brackets"
            ));
        }
        let scheme = scheme.to_ascii_lowercase();
        let mut origin = format!("{scheme}://{}", host.to_ascii_lowercase());
        if let Some(port) = port.filter(|port| Some(*port) != default_port(&scheme)) {
            origin.push_str(&format!(":{port}"));
        }
        Ok(Self(origin))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `host[:port]` as the host and the port, if any; `None` for a port that is not 1..=65535.
fn split_port(authority: &str) -> Option<(&str, Option<u16>)> {
    let port_at = match authority.rfind(':') {
        // A colon inside the brackets of an IPv6 address is not a port's.
        Some(at) if !authority[at..].contains(']') => at,
        _ => return Some((authority, None)),
    };
    let digits = &authority[port_at + 1..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port = digits.parse::<u16>().ok().filter(|port| *port > 0)?;
    Some((&authority[..port_at], Some(port)))
}

/// A host as browsers write it in an origin: a name or IPv4 address (letters, digits, `-`,
/// `.`, `_`, `~`; international names in their xn-- form), or an IPv6 address in brackets.
fn is_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner.contains(':')
            && inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    }
    !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

impl RequestPolicy {
    /// Whether a request whose `Origin` headers are `origins` may connect; the reason (for
    /// the 403's body and the warning) otherwise. A request without `Origin` is taken: native
    /// clients (Godot's `WebSocketClient`, tungstenite) send none, and every browser sends
    /// one, so a page of a foreign site cannot connect by leaving it out.
    pub fn check_origin(&self, origins: &[&[u8]]) -> Result<(), String> {
        if self.allowed_origins.is_empty() {
            return Ok(());
        }
        let sent = match origins {
            [] => return Ok(()),
            [one] => *one,
            many => {
                return Err(format!(
                    "the request has {} Origin headers; a browser sends one",
                    many.len()
                ))
            }
        };
        let allowed = std::str::from_utf8(sent)
            .ok()
            .and_then(|text| Origin::parse(text.trim()).ok())
            .is_some_and(|origin| self.allowed_origins.contains(&origin));
        match allowed {
            true => Ok(()),
            false => Err(format!(
                "the origin {} is not in allowed_origins",
                quote(sent)
            )),
        }
    }

    /// The answer to `input` when it is a whole request head that asks for the health check:
    /// `GET` or `HEAD` (HTTP/1.0 or 1.1) of `health_check` (whatever the query) without an
    /// `Upgrade` header. `None` for anything else, which the upgrade then answers.
    pub fn health_check(&self, input: &[u8]) -> Option<Vec<u8>> {
        let path = self.health_check.as_ref()?;
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(input) {
            Ok(httparse::Status::Complete(head_len)) if head_len <= MAX_REQUEST_HEAD => {}
            _ => return None,
        }
        let head_only = match request.method? {
            "GET" => false,
            "HEAD" => true,
            _ => return None,
        };
        let asks_for_upgrade = request
            .headers
            .iter()
            .any(|header| header.name.eq_ignore_ascii_case("upgrade"));
        (!asks_for_upgrade && path.matches(request.path?)).then(|| health_response(head_only))
    }
}

/// As many headers as tungstenite's request parser takes: a longer head is its 431.
const MAX_HEADERS: usize = 124;

/// The body of the health check's 200.
pub const HEALTH_CHECK_BODY: &str = "OK\n";

/// `200 OK` with `HEALTH_CHECK_BODY`, or only its head for a HEAD request.
fn health_response(head_only: bool) -> Vec<u8> {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        HEALTH_CHECK_BODY.len()
    );
    if !head_only {
        response.push_str(HEALTH_CHECK_BODY);
    }
    response.into_bytes()
}

/// The path of the health check: it begins with `/` and holds no query, fragment, space or
/// control character.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthCheckPath(String);

impl HealthCheckPath {
    /// `Ok(None)` for `""` (no health check); the reason for a path that is not one.
    pub fn parse(path: &str) -> Result<Option<Self>, String> {
        if path.is_empty() {
            return Ok(None);
        }
        if !path.starts_with('/') {
            return Err(format!("{} does not begin with /", quote(path.as_bytes())));
        }
        if path
            .bytes()
            .any(|b| !b.is_ascii_graphic() || b == b'?' || b == b'#')
        {
            return Err(format!(
                "{} holds a query, a fragment, a space or a character that is not printable \
                 ASCII; the health check matches the path alone",
                quote(path.as_bytes())
            ));
        }
        Ok(Some(Self(path.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the request target `target` is this path: the same bytes up to any `?`.
    fn matches(&self, target: &str) -> bool {
        let path = target.split_once('?').map_or(target, |(path, _)| path);
        path == self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|line| line.to_string()).collect()
    }

    #[test]
    fn extra_headers_keep_the_name_as_written_and_trim_the_value() {
        let headers =
            ExtraHeaders::parse(&lines(&["X-Server: gdws", "Set-Cookie:a=1 ", "X-Empty:"]))
                .unwrap();
        assert_eq!(
            headers.lines(),
            ["X-Server: gdws", "Set-Cookie: a=1", "X-Empty: "]
        );
        let mut head = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        headers.write_into(&mut head);
        assert_eq!(
            head,
            b"HTTP/1.1 101 Switching Protocols\r\nX-Server: gdws\r\nSet-Cookie: a=1\r\n\
              X-Empty: \r\n"
        );
    }

    #[test]
    fn extra_headers_that_are_not_headers_are_refused_naming_the_line() {
        for (line, why) in [
            ("X-Server gdws", "has no \"Name: value\" colon"),
            (": value", "the name \"\" is not a token"),
            ("X Server: gdws", "the name \"X Server\" is not a token"),
            ("X-A: 1\r\nX-B: 2", "its value holds a control character"),
            ("X-A: 1\nX-B: 2", "its value holds a control character"),
            ("X-A: a\0b", "its value holds a control character"),
        ] {
            let error = ExtraHeaders::parse(&lines(&["X-Good: 1", line])).unwrap_err();
            assert!(
                error.starts_with(&format!("{} is not a header: ", quote(line.as_bytes()))),
                "{error}"
            );
            assert!(error.contains(why), "{line:?}: {error}");
        }
        assert!(ExtraHeaders::parse(&lines(&["X-Tab: a\tb"])).is_ok());
    }

    #[test]
    fn extra_headers_may_not_override_the_handshake_s_own() {
        for line in [
            "Upgrade: h2c",
            "connection: keep-alive",
            "Sec-WebSocket-Accept: x",
            "SEC-WEBSOCKET-PROTOCOL: chat",
            "Sec-WebSocket-Extensions: permessage-deflate",
        ] {
            let error = ExtraHeaders::parse(&lines(&[line])).unwrap_err();
            assert!(
                error.contains("would override the WebSocket handshake"),
                "{error}"
            );
        }
        assert!(ExtraHeaders::parse(&lines(&["Upgrade-Insecure-Requests: 1"])).is_ok());
    }

    fn origin(text: &str) -> String {
        Origin::parse(text).unwrap().to_string()
    }

    #[test]
    fn origins_are_compared_in_their_rfc_6454_serialization() {
        assert_eq!(origin("https://example.com"), "https://example.com");
        assert_eq!(origin("HTTPS://Example.COM:443"), "https://example.com");
        assert_eq!(origin("http://example.com:80"), "http://example.com");
        assert_eq!(origin("http://example.com:8080"), "http://example.com:8080");
        assert_eq!(origin("https://example.com:80"), "https://example.com:80");
        assert_eq!(origin("http://127.0.0.1:8000"), "http://127.0.0.1:8000");
        assert_eq!(origin("http://[::1]:8000"), "http://[::1]:8000");
        assert_eq!(origin("http://[::1]"), "http://[::1]");
        assert_eq!(origin("app://game"), "app://game");
    }

    #[test]
    fn what_is_not_an_origin_is_refused_with_the_reason() {
        for (text, why) in [
            ("example.com", "no scheme://"),
            ("https://example.com/", "no path"),
            ("https://example.com/play", "no path"),
            ("https://example.com?x", "no path"),
            ("https://example.com:0", "the port"),
            ("https://example.com:99999", "the port"),
            ("https://example.com:", "the port"),
            ("https://user@example.com", "the host"),
            ("https://", "the host"),
            ("https://[::1", "the host"),
            ("1http://example.com", "the scheme"),
            ("null", "no scheme://"),
        ] {
            let error = Origin::parse(text).unwrap_err();
            assert!(error.starts_with(&quote(text.as_bytes())), "{error}");
            assert!(error.contains(why), "{text:?}: {error}");
        }
    }

    fn allowing(origins: &[&str]) -> RequestPolicy {
        RequestPolicy {
            allowed_origins: origins.iter().map(|o| Origin::parse(o).unwrap()).collect(),
            ..RequestPolicy::default()
        }
    }

    #[test]
    fn a_listed_origin_is_taken_in_any_case_and_others_are_refused() {
        let policy = allowing(&["https://game.example", "http://localhost:8060"]);
        assert_eq!(policy.check_origin(&[b"https://game.example"]), Ok(()));
        assert_eq!(policy.check_origin(&[b"https://GAME.example:443"]), Ok(()));
        assert_eq!(policy.check_origin(&[b"http://localhost:8060"]), Ok(()));
        for refused in [
            &b"https://evil.example"[..],
            b"http://game.example",
            b"https://game.example:8443",
            b"null",
            b"\xff",
        ] {
            assert_eq!(
                policy.check_origin(&[refused]),
                Err(format!(
                    "the origin {} is not in allowed_origins",
                    quote(refused)
                ))
            );
        }
        let two = [&b"https://game.example"[..], b"https://evil.example"];
        assert_eq!(
            policy.check_origin(&two),
            Err("the request has 2 Origin headers; a browser sends one".to_owned())
        );
    }

    #[test]
    fn a_request_without_origin_is_taken_and_an_empty_list_takes_any() {
        assert_eq!(
            allowing(&["https://game.example"]).check_origin(&[]),
            Ok(())
        );
        assert_eq!(
            allowing(&[]).check_origin(&[b"https://evil.example"]),
            Ok(())
        );
    }

    fn health(path: &str) -> RequestPolicy {
        RequestPolicy {
            health_check: HealthCheckPath::parse(path).unwrap(),
            ..RequestPolicy::default()
        }
    }

    fn ok_response(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\
             Cache-Control: no-store\r\nConnection: close\r\n\r\n{body}"
        )
        .into_bytes()
    }

    #[test]
    fn a_get_or_head_of_the_health_path_gets_200_whatever_the_query() {
        let policy = health("/health");
        for (request, body) in [
            ("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "OK\n"),
            ("GET /health HTTP/1.0\r\n\r\n", "OK\n"),
            ("GET /health?probe=1 HTTP/1.1\r\n\r\n", "OK\n"),
            ("HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n", ""),
        ] {
            assert_eq!(
                policy.health_check(request.as_bytes()),
                Some(ok_response(body)),
                "{request:?}"
            );
        }
    }

    #[test]
    fn other_requests_are_left_to_the_upgrade() {
        let policy = health("/health");
        for request in [
            "GET /health HTTP/1.1\r\nHost: x\r\n",
            "GET /health HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            "GET /healthz HTTP/1.1\r\n\r\n",
            "GET /Health HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\n\r\n",
            "POST /health HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
            "OPTIONS /health HTTP/1.0\r\n\r\n",
            "garbage\r\n\r\n",
        ] {
            assert_eq!(policy.health_check(request.as_bytes()), None, "{request:?}");
        }
        let head = format!(
            "GET /health HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(MAX_REQUEST_HEAD)
        );
        assert_eq!(
            policy.health_check(head.as_bytes()),
            None,
            "over the head limit"
        );
        let off = RequestPolicy::default();
        assert_eq!(off.health_check(b"GET /health HTTP/1.1\r\n\r\n"), None);
    }

    #[test]
    fn a_health_check_path_is_a_bare_path() {
        assert_eq!(HealthCheckPath::parse(""), Ok(None));
        let path = HealthCheckPath::parse("/healthz").unwrap().unwrap();
        assert_eq!(path.as_str(), "/healthz");
        for (bad, why) in [
            ("health", "does not begin with /"),
            ("/health?x=1", "holds a query"),
            ("/health#x", "holds a query"),
            ("/a b", "holds a query"),
            ("/caf\u{e9}", "holds a query"),
        ] {
            let error = HealthCheckPath::parse(bad).unwrap_err();
            assert!(error.starts_with(&quote(bad.as_bytes())), "{error}");
            assert!(error.contains(why), "{bad:?}: {error}");
        }
    }
}
