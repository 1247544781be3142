//! What the checks file (`reach check`) and the exporter's configuration (`reach serve`) have
//! in common: how one probe is done (STARTTLS, deadlines, the `tls` table) and the
//! expectations (`expect` table). Every value is checked while the file is read, so a bad one
//! is reported with its line and column.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::expect::{ExpectSpec, Parsed, Word};
use crate::probe::ProbeOptions;
use crate::probe::plan::{PlanOptions, TlsWanted};
use crate::probe::tls::{TlsConfigError, TlsContext, TlsOptions, TlsVersion};
use crate::service::StarttlsProto;
use crate::verdict::Expectations;

/// Largest configuration or checks file read (a checks file is a list, not a database).
pub(crate) const MAX_FILE_BYTES: u64 = 4 << 20;

/// Reads a TOML file and deserializes it; errors name the file, and for bad contents the
/// line and column (the `toml` reader's own message).
pub(crate) fn read_toml<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<T, super::ConfigError> {
    use std::io::Read;
    let unreadable = |problem: String| super::ConfigError::File {
        what: "file",
        path: path.display().to_string(),
        problem,
    };
    let file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
    if file.metadata().is_ok_and(|m| m.is_dir()) {
        return Err(unreadable("it is a directory".into()));
    }
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| unreadable(e.to_string()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(unreadable(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    toml::from_str(&text).map_err(|e| super::ConfigError::Syntax {
        path: path.display().to_string(),
        problem: e.to_string().trim_end().to_string(),
    })
}

/// How one probe is done: the settings a checks entry or an exporter module may give (each
/// reads them as its own keys, then hands them over in this).
#[derive(Debug, Default)]
pub(crate) struct ProbeTable {
    /// `smtp`, `imap`… (as `--starttls`).
    pub starttls: Option<Parsed<StarttlsWord>>,
    /// Never STARTTLS.
    pub no_starttls: bool,
    /// Connect deadline (as `--timeout`).
    pub timeout: Option<Parsed<DurationWord>>,
    /// Greeting deadline.
    pub greeting_timeout: Option<Parsed<DurationWord>>,
    /// TLS settings.
    pub tls: TlsSpec,
    /// Expectations.
    pub expect: ExpectSpec,
}

/// The `tls` table: trust, client identity, versions, ALPN.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsSpec {
    /// Do TLS even on a port that is not a TLS port (the default with certificate
    /// expectations).
    pub enabled: Option<bool>,
    /// CA certificates to trust too (relative to the file's directory).
    #[serde(default)]
    pub ca_file: Vec<String>,
    /// Trust only `ca_file` (and `system_roots`).
    #[serde(default)]
    pub no_default_roots: bool,
    /// Trust the operating system's store too.
    #[serde(default)]
    pub system_roots: bool,
    /// Client certificate (PEM chain) for mutual TLS.
    pub client_cert: Option<String>,
    /// Its key.
    pub client_key: Option<String>,
    /// ALPN protocols to offer.
    #[serde(default)]
    pub alpn: Vec<String>,
    /// Lowest version offered: 1.2 or 1.3.
    pub min_version: Option<Parsed<OfferedVersion>>,
    /// Handshake deadline.
    pub handshake_timeout: Option<Parsed<DurationWord>>,
}

impl ProbeTable {
    /// The probe options and the loaded TLS context; relative paths are taken from `base`
    /// (the file's directory). `cap` bounds every deadline (the exporter's scrape budget).
    pub(crate) fn build(
        self,
        base: &Path,
        cap: Option<Duration>,
    ) -> Result<(ProbeOptions, Arc<TlsContext>, Expectations), TlsConfigError> {
        let expect = self.expect.build();
        let bounded = |d: Duration| cap.map_or(d, |c| d.min(c));
        let defaults = ProbeOptions::default();
        let wants_tls = self
            .tls
            .enabled
            .unwrap_or(super::expect::wants_tls(&expect));
        let path = |p: &String| -> PathBuf { base.join(p) };
        let mut alpn = self.tls.alpn.clone();
        if alpn.is_empty()
            && let Some(p) = &expect.alpn
        {
            alpn.push(p.clone());
        }
        let tls_options = TlsOptions {
            alpn,
            min_version: self.tls.min_version.map(|v| v.0.0),
            max_version: None,
            ca_files: self.tls.ca_file.iter().map(path).collect(),
            replace_roots: self.tls.no_default_roots,
            system_roots: self.tls.system_roots,
            client_cert: self.tls.client_cert.as_ref().map(path),
            client_key: self.tls.client_key.as_ref().map(path),
            handshake_timeout: bounded(
                self.tls
                    .handshake_timeout
                    .map_or(Duration::from_secs(5), |d| d.0.0),
            ),
            keep_pem: false,
            revocation: Default::default(),
        };
        if tls_options.replace_roots && tls_options.ca_files.is_empty() && !tls_options.system_roots
        {
            return Err(TlsConfigError::Settings(
                "no_default_roots needs ca_file (or system_roots): nothing would be trusted".into(),
            ));
        }
        let tls = Arc::new(TlsContext::load(&tls_options)?);
        let probe = ProbeOptions {
            plan: PlanOptions {
                tls: match self.tls.enabled {
                    Some(false) => TlsWanted::Off,
                    _ if wants_tls => TlsWanted::On,
                    _ => TlsWanted::Auto,
                },
                starttls: self.starttls.map(|s| s.0.0),
                no_starttls: self.no_starttls,
                // A checks file validates known services: no follow-up probing of silent ports.
                no_probe: true,
            },
            connect: crate::probe::timing::Policy {
                explicit: self
                    .timeout
                    .as_ref()
                    .map(|d| bounded(d.0.0))
                    .or(defaults.connect.explicit),
                timeout: bounded(
                    self.timeout
                        .as_ref()
                        .map_or(defaults.connect.timeout, |d| d.0.0),
                ),
                ..defaults.connect
            },
            greeting_timeout: bounded(
                self.greeting_timeout
                    .as_ref()
                    .map_or(defaults.greeting_timeout, |d| d.0.0),
            ),
            greeting_learned: defaults.greeting_learned && self.greeting_timeout.is_none(),
            expect: Expectations {
                // Decided across reports by the caller (`verdict::same_cert`), not per probe.
                same_cert: false,
                ..expect.clone()
            },
            ..defaults
        };
        Ok((probe, tls, expect))
    }
}

/// A STARTTLS protocol word.
#[derive(Debug)]
pub(crate) struct StarttlsWord(pub(crate) StarttlsProto);

impl Word for StarttlsWord {
    fn parse(text: &str) -> Result<Self, String> {
        StarttlsProto::parse(text).map(StarttlsWord).ok_or_else(|| {
            "unknown protocol (smtp, lmtp, imap, pop3, ftp, ldap, postgres, mysql, xmpp, \
             xmpp-server, nntp, sieve, irc)"
                .to_string()
        })
    }
}

/// A duration like `500ms`, `2s`, `1m`; more than zero.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DurationWord(pub(crate) Duration);

impl Word for DurationWord {
    fn parse(text: &str) -> Result<Self, String> {
        match super::parse_duration(text) {
            Some(d) if !d.is_zero() => Ok(DurationWord(d)),
            _ => Err("expected a duration like 500ms, 2s or 1m".into()),
        }
    }
}

/// A TLS version reach offers.
#[derive(Debug)]
pub(crate) struct OfferedVersion(pub(crate) TlsVersion);

impl Word for OfferedVersion {
    fn parse(text: &str) -> Result<Self, String> {
        match text {
            "1.2" => Ok(OfferedVersion(TlsVersion::Tls12)),
            "1.3" => Ok(OfferedVersion(TlsVersion::Tls13)),
            _ => Err("expected 1.2 or 1.3".into()),
        }
    }
}
