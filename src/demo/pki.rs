//! A throw-away PKI minted at run time (rcgen): roots, intermediates and leaves of every kind
//! the TLS checks must recognise. Used by the tests and by `reach demo`; nothing here is secret.

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SignatureAlgorithm,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// rcgen with ring cannot generate RSA keys, so RSA certificates share this demo key.
const DEMO_RSA_KEY: &str = include_str!("demo-rsa-2048.key");

/// Key algorithm of a minted certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyKind {
    /// ECDSA on P-256 with SHA-256.
    #[default]
    EcdsaP256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384,
    /// Ed25519.
    Ed25519,
    /// RSA-2048 (PKCS#1 v1.5, SHA-256); always the same demo key.
    Rsa2048,
}

/// When a minted certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validity {
    /// From yesterday for `days` days.
    #[default]
    Current,
    /// Ended yesterday (started 91 days ago).
    Expired,
    /// Starts in 30 days.
    NotYetValid,
    /// From yesterday, ending in this many days.
    EndsIn(i64),
}

/// What a minted leaf looks like.
#[derive(Debug, Clone, Default)]
pub struct LeafSpec {
    /// Subject common name (`None`: the first SAN).
    pub common_name: Option<String>,
    /// SANs: DNS names (wildcards allowed) or IP address literals.
    pub names: Vec<String>,
    /// Key algorithm.
    pub key: KeyKind,
    /// Validity period.
    pub validity: Validity,
    /// Mark it `CA:TRUE` (a CA certificate misused as a server certificate).
    pub is_ca: bool,
    /// Add an AIA caIssuers URL (public CAs always do; it hints at a missing intermediate).
    pub ca_issuers_url: Option<String>,
    /// Issue a client (mTLS) certificate instead of a server one.
    pub client: bool,
}

impl LeafSpec {
    /// A current ECDSA server certificate for `names`.
    pub fn server(names: &[&str]) -> LeafSpec {
        LeafSpec {
            names: names.iter().map(|n| n.to_string()).collect(),
            ..LeafSpec::default()
        }
    }
}

/// A certificate chain (leaf first, issuing intermediates after it, never the root) and the
/// leaf's key.
#[derive(Debug)]
pub struct Credential {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// PKCS#8 DER of the leaf's private key.
    pub key_der: Vec<u8>,
}

impl Clone for Credential {
    fn clone(&self) -> Self {
        Credential {
            chain: self.chain.clone(),
            key_der: self.key_der.clone(),
        }
    }
}

impl Credential {
    /// The private key for rustls.
    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// The same credential without its intermediates (a server that forgot them).
    pub fn leaf_only(&self) -> Credential {
        Credential {
            chain: self.chain.iter().take(1).cloned().collect(),
            key_der: self.key_der.clone(),
        }
    }

    /// The chain as PEM.
    pub fn chain_pem(&self) -> String {
        self.chain.iter().map(|c| crate::cert::to_pem(c)).collect()
    }

    /// The key as PEM (`PRIVATE KEY`).
    pub fn key_pem(&self) -> String {
        crate::cert::to_pem(&self.key_der).replace("CERTIFICATE", "PRIVATE KEY")
    }

    /// SHA-256 fingerprint of the leaf (as [`crate::cert::fingerprint`]).
    pub fn leaf_sha256(&self) -> String {
        self.chain
            .first()
            .map(|c| crate::cert::fingerprint(c))
            .unwrap_or_default()
    }
}

/// A certificate authority (root or intermediate) that can issue certificates.
pub struct DemoCa {
    issuer: Issuer<'static, KeyPair>,
    cert: CertificateDer<'static>,
    /// Certificates between this CA and its root, this CA's own first (empty for a root).
    chain_above: Vec<CertificateDer<'static>>,
}

impl DemoCa {
    /// A new self-signed root named `name`.
    pub fn root(name: &str, key: KeyKind) -> Result<DemoCa, rcgen::Error> {
        let params = ca_params(name)?;
        let key = key_pair(key)?;
        let cert = params.self_signed(&key)?.der().clone();
        Ok(DemoCa {
            issuer: Issuer::new(params, key),
            cert,
            chain_above: Vec::new(),
        })
    }

    /// A new intermediate CA under this one.
    pub fn intermediate(&self, name: &str, key: KeyKind) -> Result<DemoCa, rcgen::Error> {
        let params = ca_params(name)?;
        let key = key_pair(key)?;
        let cert = params.signed_by(&key, &self.issuer)?.der().clone();
        let mut chain_above = vec![cert.clone()];
        chain_above.extend(self.chain_above.iter().cloned());
        Ok(DemoCa {
            issuer: Issuer::new(params, key),
            cert,
            chain_above,
        })
    }

    /// This CA's certificate.
    pub fn cert(&self) -> &CertificateDer<'static> {
        &self.cert
    }

    /// This CA's certificate as PEM (for `--ca-file`).
    pub fn cert_pem(&self) -> String {
        crate::cert::to_pem(&self.cert)
    }

    /// This CA's private key as PEM (to sign OCSP responses or CRLs with other tools).
    pub fn key_pem(&self) -> String {
        self.issuer.key().serialize_pem()
    }

    /// Issues a leaf; its chain carries the intermediates between it and the root.
    pub fn issue(&self, spec: &LeafSpec) -> Result<Credential, rcgen::Error> {
        let (params, key) = leaf_params(spec)?;
        let cert = params.signed_by(&key, &self.issuer)?.der().clone();
        let mut chain = vec![cert];
        chain.extend(self.chain_above.iter().cloned());
        Ok(Credential {
            chain,
            key_der: key.serialize_der(),
        })
    }
}

/// A self-signed leaf (no CA behind it).
pub fn self_signed(spec: &LeafSpec) -> Result<Credential, rcgen::Error> {
    let (params, key) = leaf_params(spec)?;
    let cert = params.self_signed(&key)?.der().clone();
    Ok(Credential {
        chain: vec![cert],
        key_der: key.serialize_der(),
    })
}

fn key_pair(kind: KeyKind) -> Result<KeyPair, rcgen::Error> {
    let alg: &'static SignatureAlgorithm = match kind {
        KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
        KeyKind::Rsa2048 => return KeyPair::from_pem(DEMO_RSA_KEY),
    };
    KeyPair::generate_for(alg)
}

fn ca_params(name: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "reach demo PKI");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(400);
    params.not_after = now + Duration::days(3650);
    Ok(params)
}

fn leaf_params(spec: &LeafSpec) -> Result<(CertificateParams, KeyPair), rcgen::Error> {
    let mut params = CertificateParams::new(spec.names.clone())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    let cn = spec
        .common_name
        .clone()
        .or_else(|| spec.names.first().cloned())
        .unwrap_or_else(|| "reach demo".into());
    params.distinguished_name.push(DnType::CommonName, cn);
    let now = OffsetDateTime::now_utc();
    let day = Duration::days(1);
    (params.not_before, params.not_after) = match spec.validity {
        Validity::Current => (now - day, now + Duration::days(90)),
        Validity::Expired => (now - Duration::days(91), now - day),
        Validity::NotYetValid => (now + Duration::days(30), now + Duration::days(120)),
        Validity::EndsIn(days) => (now - day, now + Duration::days(days)),
    };
    if spec.is_ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
    } else {
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if spec.key == KeyKind::Rsa2048 {
            params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
        }
    }
    params.extended_key_usages = vec![if spec.client {
        ExtendedKeyUsagePurpose::ClientAuth
    } else {
        ExtendedKeyUsagePurpose::ServerAuth
    }];
    if let Some(url) = &spec.ca_issuers_url {
        params.custom_extensions.push(aia_ca_issuers(url));
    }
    Ok((params, key_pair(spec.key)?))
}

/// authorityInfoAccess with one caIssuers URI (RFC 5280 §4.2.2.1), DER by hand.
fn aia_ca_issuers(url: &str) -> CustomExtension {
    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        match body.len() {
            n if n < 0x80 => out.push(n as u8),
            n if n < 0x100 => out.extend([0x81, n as u8]),
            n => out.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        out.extend_from_slice(body);
        out
    }
    let ca_issuers_oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut description = ca_issuers_oid.to_vec();
    description.extend(tlv(0x86, url.as_bytes()));
    let content = tlv(0x30, &tlv(0x30, &description));
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], content)
}
