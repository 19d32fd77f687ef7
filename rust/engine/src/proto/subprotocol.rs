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

/// The protocols of a `Sec-WebSocket-Protocol` header value: comma-separated, trimmed.
pub(crate) fn parse_offered(header: &str) -> impl Iterator<Item = &str> {
    header.split(',').map(str::trim).filter(|p| !p.is_empty())
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
        let offered: Vec<_> = parse_offered(" a, b ,,c").collect();
        assert_eq!(offered, ["a", "b", "c"]);
    }
}
