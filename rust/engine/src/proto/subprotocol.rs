//! Subprotocol negotiation, as the stock Godot 3 server does it.

/// Picks the subprotocol for a client that offered `offered` (in its order of preference) to a
/// server that accepts `accepted`.
///
/// `Some("")` accepts without a subprotocol, `Some(p)` accepts with `p`, `None` rejects: the
/// first offered protocol the server lists wins; a client that offers some but matches none is
/// rejected even when the server lists none, and so is a client that offers none to a server
/// that lists some.
pub fn choose_protocol<'a>(offered: &[&'a str], accepted: &[String]) -> Option<&'a str> {
    if offered.is_empty() {
        return accepted.is_empty().then_some("");
    }
    offered
        .iter()
        .find(|p| accepted.iter().any(|a| a == *p))
        .copied()
}

/// The protocols of a `Sec-WebSocket-Protocol` header value: a comma-separated list of tokens
/// (RFC 6455 4.1, RFC 7230 3.2.6) with optional spaces or tabs around each; empty elements are
/// skipped (RFC 7230 7). `Err(element)` for the first element that is not a token.
pub(crate) fn parse_offered(header: &[u8]) -> Result<Vec<&str>, &[u8]> {
    let mut offered = Vec::new();
    for element in header.split(|byte| *byte == b',') {
        let element = trim_whitespace(element);
        if element.is_empty() {
            continue;
        }
        // A token is ASCII, so it is UTF-8.
        match std::str::from_utf8(element) {
            Ok(protocol) if element.iter().all(|byte| is_token_byte(*byte)) => {
                offered.push(protocol)
            }
            _ => return Err(element),
        }
    }
    Ok(offered)
}

/// RFC 7230's optional whitespace: spaces and tabs.
fn trim_whitespace(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// RFC 7230's `tchar`: the bytes of a token.
pub(crate) fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn both_empty_accepts_without_protocol() {
        assert_eq!(choose_protocol(&[], &[]), Some(""));
    }

    #[test]
    fn first_offered_match_wins() {
        let server = accepted(&["chat", "json"]);
        assert_eq!(
            choose_protocol(&["x", "json", "chat"], &server),
            Some("json")
        );
    }

    #[test]
    fn mismatch_and_one_sided_lists_reject() {
        assert_eq!(choose_protocol(&["x"], &accepted(&["chat"])), None);
        assert_eq!(choose_protocol(&["x"], &[]), None);
        assert_eq!(choose_protocol(&[], &accepted(&["chat"])), None);
    }

    #[test]
    fn header_values_are_split_and_trimmed() {
        let offered = parse_offered(b" a, b ,,c\t,\tx.y-z_1~").unwrap();
        assert_eq!(offered, ["a", "b", "c", "x.y-z_1~"]);
        assert_eq!(parse_offered(b"").unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn an_element_that_is_not_a_token_is_refused() {
        for (header, bad) in [
            (&b"chat, two words"[..], &b"two words"[..]),
            (b"chat, \"quoted\"", b"\"quoted\""),
            (b"a/b", b"a/b"),
            (b"x;q=1", b"x;q=1"),
            (b"ok, \xc3\xa9", b"\xc3\xa9"),
            (b"{json}", b"{json}"),
        ] {
            assert_eq!(parse_offered(header), Err(bad), "{header:?}");
        }
    }
}
