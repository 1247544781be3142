//! TLS settings loaded once per run: trust roots, client identity, versions, ALPN.
//!
//! Everything expensive (parsing CA files, the Mozilla root set, the client key) happens in
//! [`TlsContext::load`]; each connection then only clones a prepared `ClientConfig`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::{ResolvesClientCert, Resumption};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, SignatureScheme, SupportedProtocolVersion};

use super::chain_cache::ChainCache;
use super::defaults::Defaults;
use super::revocation::{Fetched, RevocationOptions};
use super::summary_cache::SummaryCache;
use super::verify::{Recorder, Seen, lock};

/// A TLS protocol version `reach` can negotiate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// Plain TLS settings, as the command line gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// ALPN protocols to offer, in order (`h2`, `http/1.1`); empty: no ALPN.
    pub alpn: Vec<String>,
    /// Lowest version to offer (`None`: TLS 1.2).
    pub min_version: Option<TlsVersion>,
    /// Highest version to offer (`None`: TLS 1.3).
    pub max_version: Option<TlsVersion>,
    /// PEM files of extra trust anchors.
    pub ca_files: Vec<PathBuf>,
    /// Trust only `ca_files` (and the system store if asked), not the built-in Mozilla roots.
    pub replace_roots: bool,
    /// Also trust the operating system's store (`SSL_CERT_FILE`/`SSL_CERT_DIR` honoured).
    pub system_roots: bool,
    /// PEM client certificate chain for mutual TLS (needs `client_key`).
    pub client_cert: Option<PathBuf>,
    /// PEM private key for `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Deadline for each TLS handshake (separate from the TCP connect deadline).
    pub handshake_timeout: Duration,
    /// Keep each certificate's PEM in the report (`--show-certs`).
    pub keep_pem: bool,
    /// How the leaf's revocation is checked (`--revocation`).
    pub revocation: RevocationOptions,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            alpn: Vec::new(),
            min_version: None,
            max_version: None,
            ca_files: Vec::new(),
            replace_roots: false,
            system_roots: false,
            client_cert: None,
            client_key: None,
            handshake_timeout: Duration::from_secs(5),
            keep_pem: false,
            revocation: RevocationOptions::default(),
        }
    }
}

/// Why the TLS settings cannot be used: a usage error (the CLI exits 64 with this message).
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file held nothing usable.
    #[error("{path}: {what}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// The system trust store yielded no certificate.
    #[error("system trust store: {0}")]
    SystemRoots(String),
    /// Inconsistent settings (`--tls-min` above `--tls-max`, a key without a certificate…).
    #[error("{0}")]
    Settings(String),
}

/// Loaded TLS settings shared by every probe of a run.
#[derive(Debug, Clone)]
pub struct TlsContext {
    pub(crate) provider: Arc<CryptoProvider>,
    pub(crate) roots: Arc<RootCertStore>,
    /// A config with everything but the per-connection verifier and SNI switch.
    template: ClientConfig,
    pub(crate) timeout: Duration,
    pub(crate) keep_pem: bool,
    pub(crate) revocation: RevocationOptions,
    /// Revocation answers fetched in this run.
    pub(crate) fetched: Arc<Fetched>,
    pub(crate) versions: Vec<TlsVersion>,
    identity: Option<Arc<CertifiedKey>>,
    pub(crate) chain_cache: Arc<ChainCache>,
    /// Certificate summaries made in this run.
    pub(crate) summaries: Arc<SummaryCache>,
    /// Each endpoint's reference certificates, for names their certificate does not cover.
    pub(crate) defaults: Arc<Defaults>,
}

impl TlsContext {
    /// Loads roots, client identity and versions. Errors are usage errors.
    pub fn load(options: &TlsOptions) -> Result<TlsContext, TlsConfigError> {
        let mut provider = rustls::crypto::ring::default_provider();
        // Offer the AES-128/SHA-256 suites first: a server that follows the client's order then
        // uses SHA-256 (hardware-accelerated here) instead of SHA-384 for the key schedule.
        // Nothing is removed, so what a server accepts is unchanged.
        provider
            .cipher_suites
            .sort_by_key(|suite| !is_aes128_sha256(suite));
        let provider = Arc::new(provider);
        let versions = versions(options)?;
        let roots = Arc::new(load_roots(options)?);
        let protocol_versions: Vec<&'static SupportedProtocolVersion> = versions
            .iter()
            .rev()
            .map(|v| match v {
                TlsVersion::Tls13 => &rustls::version::TLS13,
                TlsVersion::Tls12 => &rustls::version::TLS12,
            })
            .collect();
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&protocol_versions)
            .map_err(|e| TlsConfigError::Settings(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Recorder::new(provider.clone())));
        let identity = load_client_identity(options, &provider)?;
        let mut template = builder.with_no_client_auth();
        template.alpn_protocols = options.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        // A resumed handshake skips the certificate: a checker must always do a full one.
        template.resumption = Resumption::disabled();
        Ok(TlsContext {
            provider,
            roots,
            template,
            timeout: options.handshake_timeout,
            keep_pem: options.keep_pem,
            revocation: options.revocation,
            fetched: Arc::default(),
            versions,
            identity,
            chain_cache: Arc::default(),
            summaries: Arc::default(),
            defaults: Arc::default(),
        })
    }

    /// Number of trust anchors loaded.
    pub fn trust_anchor_count(&self) -> usize {
        self.roots.len()
    }

    /// The handshake deadline.
    pub fn handshake_timeout(&self) -> Duration {
        self.timeout
    }

    /// A per-connection config with its own recorder; cheap (clones and `Arc` bumps).
    pub(crate) fn client_config(&self, recorder: Recorder, send_sni: bool) -> Arc<ClientConfig> {
        let mut config = self.template.clone();
        config.client_auth_cert_resolver = Arc::new(ClientIdentity {
            identity: self.identity.clone(),
            seen: recorder.seen(),
        });
        config
            .dangerous()
            .set_certificate_verifier(Arc::new(recorder));
        config.enable_sni = send_sni;
        Arc::new(config)
    }

    /// Whether this context can negotiate `version` (a wire codepoint).
    pub(crate) fn allows_version(&self, version: u16) -> bool {
        match version {
            0x0304 => self.versions.contains(&TlsVersion::Tls13),
            0x0303 => self.versions.contains(&TlsVersion::Tls12),
            _ => false,
        }
    }

    /// Whether the crypto provider implements cipher suite `id` and key-exchange group `group`.
    pub(crate) fn implements(&self, id: u16, group: Option<u16>) -> bool {
        let suite_ok = self
            .provider
            .cipher_suites
            .iter()
            .any(|s| u16::from(s.suite()) == id);
        let group_ok = group.is_none_or(|g| {
            self.provider
                .kx_groups
                .iter()
                .any(|k| u16::from(k.name()) == g)
        });
        suite_ok && group_ok
    }
}

fn versions(options: &TlsOptions) -> Result<Vec<TlsVersion>, TlsConfigError> {
    let min = options.min_version.unwrap_or(TlsVersion::Tls12);
    let max = options.max_version.unwrap_or(TlsVersion::Tls13);
    if min > max {
        return Err(TlsConfigError::Settings(
            "the minimum TLS version is above the maximum".into(),
        ));
    }
    Ok([TlsVersion::Tls12, TlsVersion::Tls13]
        .into_iter()
        .filter(|v| (min..=max).contains(v))
        .collect())
}

fn load_roots(options: &TlsOptions) -> Result<RootCertStore, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    if !options.replace_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if options.system_roots {
        let found = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found
                .errors
                .first()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "no certificate found".into());
            return Err(TlsConfigError::SystemRoots(why));
        }
    }
    for path in &options.ca_files {
        for cert in read_certs(path)? {
            roots.add(cert).map_err(|e| TlsConfigError::Invalid {
                path: path.clone(),
                what: format!("not a usable CA certificate: {e}"),
            })?;
        }
    }
    if roots.is_empty() {
        return Err(TlsConfigError::Settings(
            "no trust anchors: the built-in roots are replaced and nothing else was given".into(),
        ));
    }
    Ok(roots)
}

fn read_file(path: &Path) -> Result<Vec<u8>, TlsConfigError> {
    std::fs::read(path).map_err(|source| TlsConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let bytes = read_file(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsConfigError::Invalid {
            path: path.to_path_buf(),
            what: format!("bad PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsConfigError::Invalid {
            path: path.to_path_buf(),
            what: "no CERTIFICATE block found".into(),
        });
    }
    Ok(certs)
}

fn load_client_identity(
    options: &TlsOptions,
    provider: &CryptoProvider,
) -> Result<Option<Arc<CertifiedKey>>, TlsConfigError> {
    let (cert_path, key_path) = match (&options.client_cert, &options.client_key) {
        (None, None) => return Ok(None),
        (Some(c), Some(k)) => (c, k),
        _ => {
            return Err(TlsConfigError::Settings(
                "a client certificate needs both --cert and --key".into(),
            ));
        }
    };
    let chain = read_certs(cert_path)?;
    let key_bytes = read_file(key_path)?;
    let invalid_key = |what: String| TlsConfigError::Invalid {
        path: key_path.clone(),
        what,
    };
    let key = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|e| invalid_key(format!("no usable private key: {e}")))?;
    let certified = CertifiedKey::from_der(chain, key, provider)
        .map_err(|e| invalid_key(format!("key does not fit the certificate: {e}")))?;
    Ok(Some(Arc::new(certified)))
}

/// Offers the configured client certificate (if any) and records that the server asked.
#[derive(Debug)]
struct ClientIdentity {
    identity: Option<Arc<CertifiedKey>>,
    seen: Arc<std::sync::Mutex<Seen>>,
}

impl ResolvesClientCert for ClientIdentity {
    fn resolve(&self, _hints: &[&[u8]], schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        let chosen = self
            .identity
            .as_ref()
            .filter(|id| id.key.choose_scheme(schemes).is_some())
            .cloned();
        let mut seen = lock(&self.seen);
        seen.client_cert_requested = true;
        seen.client_cert_sent = chosen.is_some();
        chosen
    }

    fn has_certs(&self) -> bool {
        self.identity.is_some()
    }
}

fn is_aes128_sha256(suite: &rustls::SupportedCipherSuite) -> bool {
    use rustls::CipherSuite as C;
    matches!(
        suite.suite(),
        C::TLS13_AES_128_GCM_SHA256
            | C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
            | C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
    )
}
