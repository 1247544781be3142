//! Picks a server product and version out of free greeting text (`… ESMTP Exim 4.96 …`).

/// Finds the first of `known` product names in `text` (at a word start) and returns it with the
/// version token or short parenthetical that follows it, e.g. `Exim 4.96`, `Dovecot (Debian)`.
pub fn find(text: &str, known: &[&str]) -> Option<String> {
    known.iter().find_map(|name| {
        let at = word_start(text, name)?;
        Some(with_version(name, &text[at + name.len()..]))
    })
}

/// Byte offset of `name` in `text` where it is not preceded by a letter or digit.
fn word_start(text: &str, name: &str) -> Option<usize> {
    text.match_indices(name).map(|(i, _)| i).find(|&i| {
        text[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric())
    })
}

fn with_version(name: &str, after: &str) -> String {
    let trimmed = after.trim_start_matches([' ', '/', '_']);
    if trimmed.len() == after.len() && !after.starts_with(['-', '(']) && !after.is_empty() {
        // Glued to something else (`Eximious`): keep the bare name.
        if after.starts_with(|c: char| c.is_alphanumeric()) {
            return name.to_string();
        }
    }
    let token: String = trimmed
        .chars()
        .take_while(|c| !c.is_whitespace() && !matches!(c, ')' | ',' | ';' | ']'))
        .take(64)
        .collect();
    let token = token.trim_end_matches('.');
    let versionish = token.starts_with(|c: char| c.is_ascii_digit())
        || (token.len() > 1
            && token.starts_with(['v', 'V'])
            && token[1..].starts_with(|c: char| c.is_ascii_digit()));
    if versionish {
        return format!("{name} {token}");
    }
    if let Some(paren) = trimmed.strip_prefix('(')
        && let Some(end) = paren.find(')')
        && end <= 40
    {
        return format!("{name} ({})", &paren[..end]);
    }
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::find;

    const KNOWN: &[&str] = &["Exim", "Postfix", "Dovecot", "vsFTPd", "Cyrus IMAP"];

    #[test]
    fn name_with_version_or_parenthetical() {
        assert_eq!(
            find("mx.example ESMTP Exim 4.96 Mon, 01 Jan 2024", KNOWN).as_deref(),
            Some("Exim 4.96")
        );
        assert_eq!(
            find("mail.example ESMTP Postfix (Debian/GNU)", KNOWN).as_deref(),
            Some("Postfix (Debian/GNU)")
        );
        assert_eq!(
            find("(vsFTPd 3.0.3)", KNOWN).as_deref(),
            Some("vsFTPd 3.0.3")
        );
        assert_eq!(
            find(
                "imap.example Cyrus IMAP v3.6.0-Debian-3.6.0-4 server ready",
                KNOWN
            )
            .as_deref(),
            Some("Cyrus IMAP v3.6.0-Debian-3.6.0-4")
        );
        assert_eq!(
            find("Dovecot (Debian) ready.", KNOWN).as_deref(),
            Some("Dovecot (Debian)")
        );
        assert_eq!(
            find("mail.example ESMTP Postfix", KNOWN).as_deref(),
            Some("Postfix")
        );
    }

    #[test]
    fn no_match_inside_other_words() {
        assert_eq!(find("MyExim server", KNOWN), None);
        assert_eq!(find("nothing here", KNOWN), None);
        assert_eq!(find("", KNOWN), None);
        assert_eq!(
            find("Postfix\u{0}\u{1b}[2J", KNOWN).as_deref(),
            Some("Postfix")
        );
    }
}
