//! The client's address as a trusted HTTP proxy tells it: `X-Forwarded-For`, `Forwarded`
//! (RFC 7239 `for=`) or `X-Real-IP`.
//!
//! Which header: the first of `X-Forwarded-For`, `Forwarded`, `X-Real-IP` that the request
//! has, and only that one. `X-Forwarded-For` comes first because it is what nginx
//! (`$proxy_add_x_forwarded_for`) and HAProxy (`option forwardfor`) write by default, so a
//! client cannot slip a `Forwarded` of its own past such a proxy; a proxy that writes only a
//! later one must remove the earlier ones the client sent.
//!
//! Which address: each proxy appends the address it heard from, so the list reads client,
//! proxy, proxy...; only the entries that trusted proxies appended are true. The rightmost
//! entry that is not itself trusted is the client; if every entry is trusted, the leftmost. An
//! entry at that place that is no address (`unknown`, an obfuscated `_name`, garbage) leaves
//! the proxy's own address: nothing better is known.

use std::net::{IpAddr, SocketAddr};

use super::request::ClientRequest;
use super::trusted_proxies::TrustedProxies;

/// The headers read, in order of precedence (lower-case, as `ClientRequest` keeps them).
const HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

/// The address of the client behind `hop`, the source that sent the request (the TCP peer, or
/// the client a PROXY header named): `hop` itself unless it is trusted and its request says
/// who the client is. A header that carries no port gives port 0: the proxy's port is not the
/// client's.
pub fn client_address(
    hop: SocketAddr,
    request: &ClientRequest,
    trusted: &TrustedProxies,
) -> SocketAddr {
    if !trusted.contains(hop.ip()) {
        return hop;
    }
    let Some((name, value)) = HEADERS
        .iter()
        .find_map(|name| request.header(name).map(|value| (*name, value)))
    else {
        return hop;
    };
    let nodes = if name == "forwarded" {
        forwarded_for(value)
    } else {
        value.split(',').map(node).collect()
    };
    choose(&nodes, trusted).unwrap_or(hop)
}

/// One entry of an address list: an address and maybe a port, or something else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    Address(IpAddr, Option<u16>),
    Unknown,
}

/// The rightmost entry that is not trusted, else the leftmost; `None` for no entry or one
/// that is no address.
fn choose(nodes: &[Node], trusted: &TrustedProxies) -> Option<SocketAddr> {
    let is_trusted = |node: &&Node| matches!(node, Node::Address(ip, _) if trusted.contains(*ip));
    let chosen = nodes
        .iter()
        .rev()
        .find(|node| !is_trusted(node))
        .or(nodes.first())?;
    match *chosen {
        Node::Address(ip, port) => Some(SocketAddr::new(ip.to_canonical(), port.unwrap_or(0))),
        Node::Unknown => None,
    }
}

/// `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:80`; anything
/// else is `Unknown`. A port that is not a number (RFC 7239's obfuscated `_port`) is no port.
fn node(text: &str) -> Node {
    let text = text.trim();
    if let Ok(ip) = text.parse() {
        return Node::Address(ip, None);
    }
    let (host, port) = match text.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, rest)) => match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Node::Unknown,
            },
            None => return Node::Unknown,
        },
        None => match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => return Node::Unknown,
        },
    };
    match host.parse() {
        // An IPv6 address outside brackets took the port's colon: no such entry.
        Ok(IpAddr::V6(_)) if !text.starts_with('[') => Node::Unknown,
        Ok(ip) => Node::Address(ip, port.and_then(|port| port.parse().ok())),
        Err(_) => Node::Unknown,
    }
}

/// The `for=` of each element of a `Forwarded` value (elements without one are skipped).
fn forwarded_for(value: &str) -> Vec<Node> {
    split_outside_quotes(value, ',')
        .into_iter()
        .filter_map(|element| {
            split_outside_quotes(element, ';')
                .into_iter()
                .find_map(|pair| {
                    let (name, value) = pair.split_once('=')?;
                    name.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| node(&unquote(value.trim())))
                })
        })
        .collect()
}

/// `text` split at each `separator` that is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            _ if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A quoted string's content (RFC 9110 5.6.4), or the token as it is.
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if c == '\\' && !escaped {
            escaped = true;
        } else {
            out.push(c);
            escaped = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROXY: &str = "127.0.0.1:40000";

    fn trusted(entries: &[&str]) -> TrustedProxies {
        let (trusted, errors) = TrustedProxies::parse(entries.iter().copied());
        assert!(errors.is_empty());
        trusted
    }

    fn request(headers: &[(&str, &str)]) -> ClientRequest {
        ClientRequest::new("/", headers.iter().copied())
    }

    /// The client address of a request with `headers` from `PROXY`, trusting `entries`.
    fn client(entries: &[&str], headers: &[(&str, &str)]) -> String {
        client_address(PROXY.parse().unwrap(), &request(headers), &trusted(entries)).to_string()
    }

    #[test]
    fn a_trusted_proxy_s_x_forwarded_for_names_the_client_without_a_port() {
        let from = |value| client(&["127.0.0.1"], &[("x-forwarded-for", value)]);
        assert_eq!(from("203.0.113.7"), "203.0.113.7:0");
        assert_eq!(from(" 203.0.113.7 "), "203.0.113.7:0");
        assert_eq!(from("2001:db8::7"), "[2001:db8::7]:0");
        assert_eq!(from("203.0.113.7:5000"), "203.0.113.7:5000");
        assert_eq!(from("[2001:db8::7]:5000"), "[2001:db8::7]:5000");
        assert_eq!(from("::ffff:203.0.113.7"), "203.0.113.7:0");
    }

    #[test]
    fn the_rightmost_untrusted_entry_wins_so_a_client_cannot_forge_its_own() {
        let entries = ["127.0.0.1", "10.0.0.0/8"];
        // The client wrote "1.1.1.1" itself; the trusted proxies appended the rest.
        let header = [("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.0.0.5")];
        assert_eq!(client(&entries, &header), "203.0.113.7:0");
        // Every entry trusted: the leftmost, the first proxy's client.
        let header = [("x-forwarded-for", "10.0.0.9, 10.0.0.5")];
        assert_eq!(client(&entries, &header), "10.0.0.9:0");
        // Repeated headers, joined as ClientRequest joins them.
        let header = [("x-forwarded-for", "1.1.1.1, 203.0.113.7")];
        assert_eq!(client(&entries, &header), "203.0.113.7:0");
    }

    #[test]
    fn an_entry_that_is_no_address_leaves_the_proxy_s_address() {
        for value in [
            "unknown",
            "",
            "not an address",
            "203.0.113.7, garbage",
            "2001:db8::1:80x",
        ] {
            assert_eq!(
                client(&["127.0.0.1"], &[("x-forwarded-for", value)]),
                PROXY,
                "{value:?}"
            );
        }
        // Garbage left of the rightmost untrusted entry does not matter.
        assert_eq!(
            client(
                &["127.0.0.1"],
                &[("x-forwarded-for", "garbage, 203.0.113.7")]
            ),
            "203.0.113.7:0"
        );
    }

    #[test]
    fn an_untrusted_source_s_headers_are_ignored() {
        let headers = [
            ("x-forwarded-for", "203.0.113.7"),
            ("forwarded", "for=203.0.113.8"),
            ("x-real-ip", "203.0.113.9"),
        ];
        assert_eq!(client(&[], &headers), PROXY);
        assert_eq!(client(&["10.0.0.0/8"], &headers), PROXY);
    }

    #[test]
    fn forwarded_for_with_quotes_brackets_ports_and_other_parameters() {
        let from = |value| client(&["127.0.0.1"], &[("forwarded", value)]);
        assert_eq!(
            from("for=192.0.2.60;proto=http;by=203.0.113.43"),
            "192.0.2.60:0"
        );
        assert_eq!(
            from("For=\"[2001:db8:cafe::17]:4711\""),
            "[2001:db8:cafe::17]:4711"
        );
        assert_eq!(from("for=\"[2001:db8:cafe::17]\""), "[2001:db8:cafe::17]:0");
        assert_eq!(from("for=\"192.0.2.43:47011\""), "192.0.2.43:47011");
        assert_eq!(from("for=192.0.2.43, for=198.51.100.17"), "198.51.100.17:0");
        assert_eq!(from("proto=https;for=192.0.2.1 ; host=x"), "192.0.2.1:0");
        // A quoted comma or semicolon does not split.
        assert_eq!(
            from("for=192.0.2.43;host=\"a,b;c\", for=198.51.100.17;by=\"x\\\"y\""),
            "198.51.100.17:0"
        );
        assert_eq!(from("for=\"_hidden\""), PROXY);
        assert_eq!(from("for=unknown"), PROXY);
        assert_eq!(from("for=\"192.0.2.43:_port\""), "192.0.2.43:0");
        assert_eq!(from("proto=https"), PROXY);
        let trusting = ["127.0.0.1", "10.0.0.0/8"];
        let header = [("forwarded", "for=1.1.1.1, for=192.0.2.7, for=10.1.1.1")];
        assert_eq!(client(&trusting, &header), "192.0.2.7:0");
    }

    #[test]
    fn x_forwarded_for_comes_before_forwarded_and_x_real_ip_last() {
        let all = [
            ("x-real-ip", "203.0.113.9"),
            ("forwarded", "for=203.0.113.8"),
            ("x-forwarded-for", "203.0.113.7"),
        ];
        assert_eq!(client(&["127.0.0.1"], &all), "203.0.113.7:0");
        assert_eq!(client(&["127.0.0.1"], &all[..2]), "203.0.113.8:0");
        assert_eq!(client(&["127.0.0.1"], &all[..1]), "203.0.113.9:0");
        // The first present decides, even when it names nobody.
        let header = [("x-forwarded-for", "unknown"), ("x-real-ip", "203.0.113.9")];
        assert_eq!(client(&["127.0.0.1"], &header), PROXY);
        // No header: the proxy's own address and port.
        assert_eq!(client(&["127.0.0.1"], &[]), PROXY);
    }
}
