//! Client text quoted in a refusal's reason (the HTTP body, and the warning the game prints):
//! a short prefix, with what is not printable ASCII escaped, so a client cannot fill the log,
//! break its lines or write control characters to the game's terminal.

use std::fmt::Write;

/// The most bytes of client text a reason quotes.
pub const QUOTED_BYTES: usize = 64;

/// `text` in double quotes: printable ASCII as it is (`"` and `\` escaped with `\`), every
/// other byte as `\xNN`, at most `QUOTED_BYTES` bytes of it, and when it was longer, `...`
/// after the quote and its full length.
pub fn quote(text: &[u8]) -> String {
    let shown = &text[..text.len().min(QUOTED_BYTES)];
    let mut quoted = String::with_capacity(shown.len() + 32);
    quoted.push('"');
    for &byte in shown {
        match byte {
            b'"' | b'\\' => {
                quoted.push('\\');
                quoted.push(char::from(byte));
            }
            b' '..=b'~' => quoted.push(char::from(byte)),
            _ => {
                let _ = write!(quoted, "\\x{byte:02x}");
            }
        }
    }
    quoted.push('"');
    if shown.len() < text.len() {
        let _ = write!(quoted, "... (cut, {} bytes in all)", text.len());
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_printable_text_is_quoted_as_it_is() {
        assert_eq!(quote(b"chat, json"), r#""chat, json""#);
        assert_eq!(quote(b""), r#""""#);
    }

    #[test]
    fn quotes_backslashes_and_what_is_not_printable_ascii_are_escaped() {
        assert_eq!(quote(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            quote(b"\r\n\x00\x1b[2J\x7f"),
            r#""\x0d\x0a\x00\x1b[2J\x7f""#
        );
        assert_eq!(quote("é".as_bytes()), r#""\xc3\xa9""#);
    }

    #[test]
    fn long_text_is_cut_to_its_prefix_and_says_so() {
        let long = "a".repeat(16 * 1024);
        let quoted = quote(long.as_bytes());
        assert_eq!(
            quoted,
            format!(
                "\"{}\"... (cut, 16384 bytes in all)",
                "a".repeat(QUOTED_BYTES)
            )
        );
        let exactly = "b".repeat(QUOTED_BYTES);
        assert_eq!(quote(exactly.as_bytes()), format!("\"{exactly}\""));
        // Escapes make a line longer, never the text shown: at most 4 characters a byte.
        let worst = quote(&[0u8; 1000]);
        assert!(worst.len() <= 4 * QUOTED_BYTES + 40, "{worst}");
    }
}
