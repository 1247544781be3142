//! Escaping of network-supplied text before it reaches a terminal.
//!
//! A banner or certificate subject can carry ANSI escape sequences, carriage returns or other
//! control characters that would rewrite the user's screen; every such character is shown as a
//! visible escape instead (`\x1b`, `\r`, `\u{202e}`).

/// Returns `text` with every control, bidi-override and other invisible formatting character
/// replaced by a visible escape. Printable text, including non-ASCII letters, is kept.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || is_invisible_format(c) => {
                if (c as u32) < 0x100 {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                } else {
                    out.push_str(&format!("\\u{{{:x}}}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Bidi controls and zero-width characters: harmless bytes that still mislead a reader.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escape_sequences_become_visible() {
        assert_eq!(escape("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
        assert_eq!(escape("a\r\nb\0"), "a\\r\\nb\\x00");
        assert_eq!(escape("\u{9b}2J"), "\\x9b2J");
        assert_eq!(escape("evil\u{202e}txt"), "evil\\u{202e}txt");
    }

    #[test]
    fn printable_text_is_unchanged() {
        assert_eq!(
            escape("OpenSSH_9.2p1 Debian-2+deb12u3"),
            "OpenSSH_9.2p1 Debian-2+deb12u3"
        );
        assert_eq!(escape("CN=bücher.example"), "CN=bücher.example");
    }
}
