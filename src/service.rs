//! Well-known ports and URL schemes (placeholder until the service table lands).

/// What a URL scheme implies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemeInfo {
    /// Default port.
    pub port: u16,
}

/// Looks up a URL scheme (or service name).
pub fn scheme(name: &str) -> Option<SchemeInfo> {
    let port = match name {
        "https" => 443,
        "http" => 80,
        "smtp" => 25,
        "smtps" => 465,
        "submission" => 587,
        "imap" => 143,
        "imaps" => 993,
        "pop3" => 110,
        "pop3s" => 995,
        "ftp" => 21,
        "ssh" => 22,
        "ldap" => 389,
        "ldaps" => 636,
        "postgres" | "postgresql" => 5432,
        "mysql" => 3306,
        _ => return None,
    };
    Some(SchemeInfo { port })
}
