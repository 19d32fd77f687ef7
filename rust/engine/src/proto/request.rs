//! What a client asked for in its upgrade request, kept for the game for the peer's life: the
//! request target and the headers. It holds no more than the request head did, which is at
//! most `upgrade::MAX_REQUEST_HEAD` bytes.

use tokio_tungstenite::tungstenite::handshake::server::Request;

/// The request target, path and query (`/play?room=3&token=abc`), and every header once, its
/// name in lower case, in the order the names first appeared; the values of a repeated header
/// are joined with `", "` (RFC 9110 5.3). Bytes that are not UTF-8 are replaced with U+FFFD.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientRequest {
    /// The target, then `\nname:value` for each header: one allocation for the peer's life
    /// (a string for each name and value cost a dozen). No target, header name or value holds
    /// a line break (httparse refuses them), and no name a colon (a name is a token).
    text: Box<str>,
}

impl ClientRequest {
    pub(crate) fn of(request: &Request) -> Self {
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |target| target.as_str());
        let map = request.headers();
        let headers = map.keys().map(|name| {
            let values: Vec<_> = map
                .get_all(name)
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_bytes()))
                .collect();
            (name.as_str(), values.join(", "))
        });
        Self::new(path, headers)
    }

    /// A request for `path` with `headers` (names in lower case, tokens as HTTP has them). A
    /// line break, which an HTTP request head cannot hold in a target or a value, becomes a
    /// space: it would end the entry in the text this is kept in.
    pub fn new<N: AsRef<str>, V: AsRef<str>>(
        path: &str,
        headers: impl IntoIterator<Item = (N, V)>,
    ) -> Self {
        fn push_line(text: &mut String, line: &str) {
            if line.contains('\n') {
                text.push_str(&line.replace('\n', " "));
            } else {
                text.push_str(line);
            }
        }
        let mut text = String::new();
        push_line(&mut text, path);
        for (name, value) in headers {
            text.push('\n');
            push_line(&mut text, name.as_ref());
            text.push(':');
            push_line(&mut text, value.as_ref());
        }
        Self {
            text: text.into_boxed_str(),
        }
    }

    /// The request target, path and query: `/play?room=3&token=abc`.
    pub fn path(&self) -> &str {
        self.text.split('\n').next().unwrap_or_default()
    }

    /// The headers, (name in lower case, value), in the order the names first appeared.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.text
            .split('\n')
            .skip(1)
            .filter_map(|line| line.split_once(':'))
    }

    /// The URL the client asked for, as Godot 4's `WebSocketPeer.get_requested_url()` gives
    /// it: `ws://` (`wss://` on a `tls` server), the `Host` header as sent (empty without
    /// one), then the request target.
    pub fn url(&self, tls: bool) -> String {
        let scheme = if tls { "wss" } else { "ws" };
        let host = self.header("host").unwrap_or_default();
        format!("{scheme}://{host}{}", self.path())
    }

    /// The value of the header `name` (in lower case), if the client sent it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(header, _)| *header == name)
            .map(|(_, value)| value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::handshake::machine::TryParse;

    fn parse(head: &[u8]) -> ClientRequest {
        let (_, request) = Request::try_parse(head).unwrap().unwrap();
        ClientRequest::of(&request)
    }

    #[test]
    fn the_target_and_headers_are_kept_with_repeated_headers_joined() {
        let request = parse(
            b"GET /play?room=3&token=abc HTTP/1.1\r\nHost: x\r\nX-Tag: a\r\n\
             Cookie: one=1\r\nx-tag: b\r\nX-Bytes: caf\xc3\xa9 \xff\r\n\r\n",
        );
        assert_eq!(request.path(), "/play?room=3&token=abc");
        assert_eq!(
            request.headers().collect::<Vec<_>>(),
            [
                ("host", "x"),
                ("x-tag", "a, b"),
                ("cookie", "one=1"),
                ("x-bytes", "café \u{fffd}"),
            ]
        );
        assert_eq!(request.header("x-tag"), Some("a, b"));
        assert_eq!(request.header("origin"), None);
    }

    #[test]
    fn a_line_break_in_a_value_stays_in_its_header() {
        let request = ClientRequest::new("/a\nb", [("x-forwarded-for", "1.2.3.4\nhost:evil")]);
        assert_eq!(request.path(), "/a b");
        assert_eq!(
            request.headers().collect::<Vec<_>>(),
            [("x-forwarded-for", "1.2.3.4 host:evil")]
        );
    }

    #[test]
    fn the_url_is_the_scheme_the_host_header_and_the_target() {
        let request = parse(b"GET /play?room=3 HTTP/1.1\r\nHost: game.example:8080\r\n\r\n");
        assert_eq!(request.url(false), "ws://game.example:8080/play?room=3");
        assert_eq!(request.url(true), "wss://game.example:8080/play?room=3");
        let without_host = parse(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(without_host.url(false), "ws:///");
    }
}
