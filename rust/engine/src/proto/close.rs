//! The close handshake's rules on codes and reasons (RFC 6455 section 7.4).

/// The longest close reason: a control frame's 125 bytes less the 2-byte code.
pub const MAX_REASON_BYTES: usize = 123;

/// The close codes an endpoint may send (RFC 6455 section 7.4 and the IANA registry).
pub fn sendable_close_code(code: i64) -> Option<u16> {
    match code {
        1000..=1003 | 1007..=1014 | 3000..=4999 => u16::try_from(code).ok(),
        _ => None,
    }
}

/// A received close reason as the game gets it: stock Godot 3 clients end theirs with a NUL
/// byte, which is dropped.
pub fn strip_nul(reason: &str) -> String {
    reason.strip_suffix('\0').unwrap_or(reason).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_out_of_range_close_codes_are_refused() {
        for code in [1000, 1001, 1003, 1007, 1011, 3000, 4999] {
            assert!(sendable_close_code(code).is_some(), "{code}");
        }
        for code in [-1, 0, 999, 1004, 1005, 1006, 1015, 2999, 5000, 70000] {
            assert_eq!(sendable_close_code(code), None, "{code}");
        }
    }

    #[test]
    fn one_trailing_nul_is_stripped_and_nothing_else() {
        assert_eq!(strip_nul("bye\0"), "bye");
        assert_eq!(strip_nul("bye\0\0"), "bye\0");
        assert_eq!(strip_nul("b\0ye"), "b\0ye");
        assert_eq!(strip_nul(""), "");
    }
}
