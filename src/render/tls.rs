//! Human-report lines for the TLS layer (handshake, chain, checks, virtual host) and the
//! name → verdict table. Pure: values keep network text as is; the renderer escapes it.

use super::lines::{Line, Tone};
use crate::cert::CertSummary;
use crate::report::tls::{
    CertProblem, OcspReport, ReferenceKind, RevocationMode, RevocationReport, RevocationStatus,
    TlsReport, VerifyReport, Vhost,
};
use crate::report::word;

/// Certificates expiring within this many days are flagged.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

/// The TLS part of one probe's human report.
pub fn tls_lines(tls: &TlsReport, show_certs: bool) -> Vec<Line> {
    let mut lines = Vec::new();
    lines.push(handshake_line(tls));
    if let Some(received) = tls.error.as_ref().and_then(|e| e.received.as_ref()) {
        lines.push(Line::new(1, "received", received.clone(), Tone::Dim));
    }
    if tls.client_cert_requested {
        let sent = if tls.client_cert_sent {
            "requested, sent"
        } else {
            "requested, none sent"
        };
        let tone = if tls.client_cert_sent {
            Tone::Plain
        } else {
            Tone::Warn
        };
        lines.push(Line::new(1, "client cert", sent, tone));
    }
    for (i, cert) in tls.chain.iter().enumerate() {
        cert_lines(&mut lines, i, cert, show_certs);
    }
    if let Some(verify) = &tls.verify {
        check_lines(&mut lines, verify);
    }
    if let Some(ocsp) = &tls.ocsp {
        lines.push(ocsp_line(ocsp));
    }
    // With the default `staple`, the ocsp line says all there is.
    if let Some(revocation) = tls
        .revocation
        .as_ref()
        .filter(|r| r.mode != RevocationMode::Staple)
    {
        lines.push(revocation_line(revocation));
    }
    if let Some(vhost) = tls.vhost {
        vhost_lines(&mut lines, vhost);
    }
    reference_lines(&mut lines, tls);
    lines
}

fn ocsp_line(ocsp: &OcspReport) -> Line {
    if !ocsp.stapled {
        return Line::new(0, "ocsp", "not stapled", Tone::Dim);
    }
    let status = ocsp
        .cert_status
        .as_deref()
        .or(ocsp.response_status.as_deref())
        .unwrap_or("unreadable");
    let next = ocsp
        .next_update
        .as_deref()
        .map(|n| format!(", next update {n}"))
        .unwrap_or_default();
    let (trust, tone) = match (&ocsp.signer, &ocsp.problem) {
        (Some(signer), _) if ocsp.verified => (
            format!("signed by {signer}"),
            match status {
                "revoked" => Tone::Bad,
                "good" => Tone::Good,
                _ => Tone::Warn,
            },
        ),
        (_, Some(problem)) => (format!("NOT trusted: {problem}"), Tone::Warn),
        _ => ("not checked".to_string(), Tone::Dim),
    };
    let value = format!("stapled ({} bytes): {status}{next}, {trust}", ocsp.size);
    Line::new(0, "ocsp", value, tone)
}

fn revocation_line(r: &RevocationReport) -> Line {
    let tone = match r.status {
        RevocationStatus::Good => Tone::Good,
        RevocationStatus::Revoked => Tone::Bad,
        RevocationStatus::Unknown => Tone::Warn,
        RevocationStatus::Unavailable => Tone::Dim,
    };
    let url = r
        .url
        .as_deref()
        .map(|u| format!(" [{u}]"))
        .unwrap_or_default();
    let ms = r.ms.map(|ms| format!(" in {ms:.1} ms")).unwrap_or_default();
    let value = format!("{}: {}{url}{ms}", word(&r.status), r.detail);
    Line::new(0, "revocation", value, tone)
}

fn handshake_line(tls: &TlsReport) -> Line {
    let sni = match &tls.sni {
        Some(name) => format!("SNI {name}"),
        None => "no SNI".to_string(),
    };
    let ms = tls
        .handshake_ms
        .map(|ms| format!("{ms:.1} ms"))
        .unwrap_or_default();
    if let Some(legacy) = &tls.legacy {
        let value = format!(
            "{} {}, {sni}: {}",
            legacy.version, legacy.cipher, legacy.note
        );
        return Line::new(0, "tls", value, Tone::Bad);
    }
    if let Some(error) = &tls.error {
        let alert = error
            .alert
            .map(|a| format!(" ({})", a.name()))
            .unwrap_or_default();
        let value = format!(
            "handshake failed: {}{alert}, {sni}: {}",
            word(&error.kind),
            error.detail
        );
        return Line::new(0, "tls", value, Tone::Bad);
    }
    let mut parts: Vec<String> = [&tls.version, &tls.cipher, &tls.group]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    parts.push(match &tls.alpn {
        Some(p) => format!("ALPN {p}"),
        None => "no ALPN".into(),
    });
    parts.push(sni);
    if !ms.is_empty() {
        parts.push(ms);
    }
    Line::new(0, "tls", parts.join(", "), Tone::Good)
}

fn cert_lines(lines: &mut Vec<Line>, i: usize, cert: &CertSummary, show_certs: bool) {
    let label = if i == 0 {
        "leaf".to_string()
    } else {
        format!("chain[{i}]")
    };
    if let Some(error) = &cert.parse_error {
        lines.push(Line::new(0, label, error.clone(), Tone::Bad));
        lines.push(Line::new(1, "sha256", cert.sha256.clone(), Tone::Dim));
        return;
    }
    lines.push(Line::new(0, label, cert.subject.clone(), Tone::Plain));
    lines.push(Line::new(1, "issuer", cert.issuer.clone(), Tone::Plain));
    if !cert.sans.is_empty() {
        lines.push(Line::new(1, "names", cert.sans.join(", "), Tone::Plain));
    }
    let days = cert.days_left.unwrap_or(0);
    let (when, tone) = if cert.expired {
        (expired_ago(days), Tone::Bad)
    } else if cert.not_yet_valid {
        ("not valid yet".to_string(), Tone::Bad)
    } else if days < EXPIRY_WARNING_DAYS {
        (format!("{days} days left"), Tone::Warn)
    } else {
        (format!("{days} days left"), Tone::Plain)
    };
    let validity = format!(
        "{} → {} ({when})",
        cert.not_before.as_deref().unwrap_or("?"),
        cert.not_after.as_deref().unwrap_or("?")
    );
    lines.push(Line::new(1, "valid", validity, tone));
    let mut key = cert.key_type.clone();
    if let Some(curve) = &cert.key_curve {
        key = format!("{key} {curve}");
    } else if let Some(bits) = cert.key_bits {
        key = format!("{key} {bits}");
    }
    let mut flags = Vec::new();
    if cert.is_ca {
        flags.push("CA");
    }
    if cert.self_signed {
        flags.push("self-signed");
    }
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(", {}", flags.join(", "))
    };
    lines.push(Line::new(
        1,
        "key",
        format!("{key}, signed {}{flags}", cert.signature_algorithm),
        Tone::Plain,
    ));
    lines.push(Line::new(1, "serial", cert.serial.clone(), Tone::Dim));
    lines.push(Line::new(1, "sha256", cert.sha256.clone(), Tone::Dim));
    if let (true, Some(pem)) = (show_certs, &cert.pem) {
        lines.extend(pem.lines().map(|l| Line::new(1, "pem", l, Tone::Dim)));
    }
}

fn check_lines(lines: &mut Vec<Line>, verify: &VerifyReport) {
    let trust_problems: Vec<(&CertProblem, &String)> = verify
        .errors
        .iter()
        .zip(&verify.notes)
        .filter(|(problem, _)| problem.is_trust())
        .collect();
    if verify.trusted {
        lines.push(Line::new(0, "trusted", "yes", Tone::Good));
    } else {
        let words: Vec<String> = trust_problems.iter().map(|(p, _)| word(*p)).collect();
        lines.push(Line::new(
            0,
            "trusted",
            format!("no: {}", words.join(", ")),
            Tone::Bad,
        ));
        for (_, note) in &trust_problems {
            lines.push(Line::new(1, "why", (*note).clone(), Tone::Bad));
        }
    }
    if verify.name_match {
        lines.push(Line::new(
            0,
            "name",
            format!("{} covered", verify.name),
            Tone::Good,
        ));
    } else {
        let note = verify
            .errors
            .iter()
            .zip(&verify.notes)
            .find(|(p, _)| **p == CertProblem::NameMismatch)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| format!("{} not covered", verify.name));
        lines.push(Line::new(
            0,
            "name",
            format!("not covered: {note}"),
            Tone::Bad,
        ));
    }
    if let Some(days) = verify.earliest_expiry_days {
        let who = verify.earliest_expiry_subject.as_deref().unwrap_or("?");
        let (value, tone) = if days < 0 {
            (format!("{} ({who})", expired_ago(days)), Tone::Bad)
        } else if days < EXPIRY_WARNING_DAYS {
            (format!("first expiry in {days} days ({who})"), Tone::Warn)
        } else {
            (format!("first expiry in {days} days ({who})"), Tone::Good)
        };
        lines.push(Line::new(0, "expiry", value, tone));
    }
}

fn vhost_lines(lines: &mut Vec<Line>, vhost: Vhost) {
    let (value, tone) = match vhost {
        Vhost::Matched => ("matched: the certificate covers the name", Tone::Good),
        Vhost::DefaultFallback => (
            "default_fallback: the server answered with its default certificate",
            Tone::Bad,
        ),
        Vhost::UnrecognizedName => ("unrecognized_name: the server refused the name", Tone::Bad),
        Vhost::Mismatch => ("mismatch: a certificate for other names", Tone::Bad),
        Vhost::Refused => (
            "refused: the server turned this name away, while it serves others",
            Tone::Bad,
        ),
        Vhost::NotRouted => (
            "not_routed: the connection was dropped for this name, while the address serves others",
            Tone::Bad,
        ),
        Vhost::MatchedDefault => (
            "matched_default: covered, but by the certificate everyone gets (no virtual host of its own)",
            Tone::Warn,
        ),
    };
    lines.push(Line::new(0, "vhost", value, tone));
}

/// The reference handshakes behind the vhost verdict, one line each.
fn reference_lines(lines: &mut Vec<Line>, tls: &TlsReport) {
    for reference in &tls.references {
        let asked = match (&reference.kind, &reference.sni) {
            (ReferenceKind::NoSni, _) => "no SNI".to_string(),
            (ReferenceKind::UnknownName, Some(name)) => format!("unknown name {name}"),
            (_, Some(name)) => format!("SNI {name}"),
            (_, None) => "?".to_string(),
        };
        let (answer, tone) = match (&reference.cert, &reference.error) {
            (Some(cert), _) => {
                let short: String = cert.sha256.chars().filter(|c| *c != ':').take(8).collect();
                let same = if reference.same_as_served {
                    ", the one served"
                } else {
                    ""
                };
                (format!("{} ({short}){same}", cert.subject), Tone::Dim)
            }
            (None, Some(error)) => (format!("no certificate: {error}"), Tone::Dim),
            (None, None) => ("no certificate".to_string(), Tone::Dim),
        };
        lines.push(Line::new(
            1,
            "reference",
            format!("{asked} → {answer}"),
            tone,
        ));
    }
}

/// `expired … ago` from a negative `days_left`, which is rounded down (a certificate that
/// ended a day and a minute ago has `days_left` -2): whole days since the end, as people count.
fn expired_ago(days_left: i64) -> String {
    match -days_left - 1 {
        n if n <= 0 => "expired less than a day ago".to_string(),
        1 => "expired 1 day ago".to_string(),
        n => format!("expired {n} days ago"),
    }
}

#[cfg(test)]
mod expiry_tests {
    use super::expired_ago;

    #[test]
    fn expired_counts_whole_days_since_the_end() {
        // days_left is floor((not_after - now) / 1 day).
        assert_eq!(expired_ago(-1), "expired less than a day ago");
        assert_eq!(expired_ago(-2), "expired 1 day ago");
        assert_eq!(expired_ago(-31), "expired 30 days ago");
    }
}
