//! The TLS, SNI and trace parts of the settings: flags turned into the options the TLS layer
//! and the tracer take.

use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, duration, nonzero};
use crate::cli::{Cli, RevocationArg};
use crate::probe::tls::RevocationOptions;
use crate::probe::tls::{TlsOptions, TlsVersion};
use crate::probe::trace::TraceOptions;
use crate::report::tls::RevocationMode;
use crate::target;

pub(super) fn trace_options(cli: &Cli) -> Result<TraceOptions, ConfigError> {
    let count = |flag: &'static str, n: u8| -> Result<u8, ConfigError> {
        if n == 0 {
            return Err(ConfigError::Flag {
                flag,
                value: "0".into(),
                problem: "must be at least 1".into(),
            });
        }
        Ok(n)
    };
    let timeout = match &cli.timeout {
        Some(text) => duration("--timeout", text)?,
        None => Duration::from_secs(3),
    };
    Ok(TraceOptions {
        max_hops: count("--max-hops", cli.path.max_hops)?,
        probes_per_hop: count("--probes-per-hop", cli.path.probes_per_hop)?,
        reference_port: cli.path.reference_port,
        reverse_dns: cli.path.rdns,
        // A hop's answer comes within a round trip; a second is plenty, and a shorter
        // connect deadline asked for by the user applies to the trace too.
        timeout: timeout.min(Duration::from_secs(1)),
        ..TraceOptions::default()
    })
}

/// TLS-only flags mean the user wants TLS on this port, whatever port it is.
pub(super) fn implies_tls(cli: &Cli) -> bool {
    !cli.sni.is_empty()
        || cli.sni_file.is_some()
        || cli.alpn.is_some()
        || cli.tls_min.is_some()
        || cli.tls_max.is_some()
        || cli.cert.is_some()
        || cli.show_certs
        || !cli.ca_file.is_empty()
        || matches!(cli.revocation, RevocationArg::Ocsp | RevocationArg::Crl)
}

pub(super) fn tls_options(cli: &Cli) -> Result<TlsOptions, ConfigError> {
    let version =
        |flag: &'static str, v: &Option<String>| -> Result<Option<TlsVersion>, ConfigError> {
            match v.as_deref() {
                None => Ok(None),
                Some("1.2") => Ok(Some(TlsVersion::Tls12)),
                Some("1.3") => Ok(Some(TlsVersion::Tls13)),
                Some(other) => Err(ConfigError::Flag {
                    flag,
                    value: other.into(),
                    problem: "expected 1.2 or 1.3 (older versions are reported from the server's \
                          own ServerHello when it speaks nothing newer)"
                        .into(),
                }),
            }
        };
    let min_version = version("--tls-min", &cli.tls_min)?;
    let max_version = version("--tls-max", &cli.tls_max)?;
    if let (Some(min), Some(max)) = (min_version, max_version)
        && min > max
    {
        return Err(ConfigError::Flag {
            flag: "--tls-min",
            value: cli.tls_min.clone().unwrap_or_default(),
            problem: "is above --tls-max".into(),
        });
    }
    let alpn = match cli.alpn.as_deref() {
        Some(list) => alpn_list(list)?,
        // `--expect-alpn h2` alone offers what it expects.
        None => cli.expect.alpn.clone().into_iter().collect(),
    };
    Ok(TlsOptions {
        alpn,
        min_version,
        max_version,
        ca_files: cli.ca_file.iter().map(PathBuf::from).collect(),
        replace_roots: cli.no_default_roots,
        system_roots: cli.system_roots,
        client_cert: cli.cert.as_ref().map(PathBuf::from),
        client_key: cli.key.as_ref().map(PathBuf::from),
        handshake_timeout: nonzero(
            "--handshake-timeout",
            duration("--handshake-timeout", &cli.handshake_timeout)?,
        )?,
        keep_pem: cli.show_certs,
        revocation: RevocationOptions {
            mode: match cli.revocation {
                RevocationArg::Off => RevocationMode::Off,
                RevocationArg::Staple => RevocationMode::Staple,
                RevocationArg::Ocsp => RevocationMode::Ocsp,
                RevocationArg::Crl => RevocationMode::Crl,
            },
            timeout: nonzero(
                "--revocation-timeout",
                duration("--revocation-timeout", &cli.revocation_timeout)?,
            )?,
        },
    })
}

/// `h2,http/1.1` → the protocol names, each 1 to 255 bytes (RFC 7301): an empty name would be
/// sent as an empty, invalid, protocol, or silently mean "no ALPN".
fn alpn_list(list: &str) -> Result<Vec<String>, ConfigError> {
    let bad = |problem: &str| ConfigError::Flag {
        flag: "--alpn",
        value: list.to_string(),
        problem: problem.to_string(),
    };
    list.split(',')
        .map(str::trim)
        .map(|name| match name.len() {
            0 => Err(bad("empty protocol name (give names like h2,http/1.1)")),
            1..=255 => Ok(name.to_string()),
            _ => Err(bad("a protocol name is at most 255 bytes")),
        })
        .collect()
}

pub(super) fn sni_name(name: &str) -> Result<String, ConfigError> {
    target::validate_dns_name(name).map_err(|problem| ConfigError::Flag {
        flag: "--sni",
        value: name.to_string(),
        problem,
    })?;
    // Sent as given: some front ends route case-sensitively; the name check ignores case.
    Ok(name.trim_end_matches('.').to_string())
}
