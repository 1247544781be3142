//! Certificate revocation lists (RFC 5280 §5), parsed with x509-parser: a CRL is trusted for a
//! certificate only when its issuer is the certificate's issuer, the issuer's key signed it,
//! and now is within its `thisUpdate` … `nextUpdate` window. Then the serial number is looked
//! up. Indirect and delta CRLs are not supported (they are rare on the web and say so in
//! their extensions).

use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use super::super::ocsp::SKEW_SECONDS;
use super::{CertStatus, Checked, Issuer};
use crate::cert::rfc3339;

/// Checks `body` (DER, or PEM `X509 CRL`) for `leaf` issued by `issuer` at `now`. `Err` says
/// why the CRL cannot be trusted.
pub(crate) fn check(
    body: &[u8],
    leaf: &X509Certificate<'_>,
    issuer: &Issuer,
    now: i64,
) -> Result<Checked, String> {
    let pem;
    let der = if body.starts_with(b"-----BEGIN") {
        pem = x509_parser::pem::parse_x509_pem(body)
            .map_err(|_| "the CRL is neither DER nor readable PEM".to_string())?
            .1;
        pem.contents.as_slice()
    } else {
        body
    };
    let (_, crl) = CertificateRevocationList::from_der(der)
        .map_err(|e| format!("the CRL cannot be read: {e}"))?;
    if crl.issuer().as_raw() != issuer.name_der.as_slice() {
        return Err(format!(
            "the CRL is issued by {}, not by the certificate's issuer",
            crate::cert::rfc4514(crl.issuer())
        ));
    }
    for ext in crl.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::IssuingDistributionPoint(idp) if idp.indirect_crl => {
                return Err("it is an indirect CRL, which reach does not read".to_string());
            }
            ParsedExtension::UnsupportedExtension { .. } | ParsedExtension::ParseError { .. }
                if ext.critical =>
            {
                return Err(format!(
                    "it has a critical extension reach does not know ({})",
                    ext.oid
                ));
            }
            _ => {}
        }
        if ext.oid == x509_parser::oid_registry::OID_X509_EXT_DELTA_CRL_INDICATOR {
            return Err("it is a delta CRL, which reach does not read".to_string());
        }
    }
    let spki = issuer
        .spki()
        .ok_or_else(|| "the issuer's public key cannot be read".to_string())?;
    crl.verify_signature(&spki)
        .map_err(|_| "its signature does not verify with the issuer's key".to_string())?;
    let this_update = crl.last_update().timestamp();
    if this_update > now + SKEW_SECONDS {
        return Err(format!(
            "it is not valid yet (thisUpdate {})",
            rfc3339(this_update)
        ));
    }
    let next_update = crl.next_update().map(|t| t.timestamp());
    if let Some(next) = next_update
        && next < now - SKEW_SECONDS
    {
        return Err(format!("it is out of date (nextUpdate {})", rfc3339(next)));
    }
    let status = crl
        .iter_revoked_certificates()
        .find(|r| r.raw_serial() == leaf.raw_serial())
        .map_or(CertStatus::Good, |r| CertStatus::Revoked {
            at: Some(r.revocation_date.timestamp()),
            reason: r.reason_code().map(|(_, code)| code.0),
        });
    Ok(Checked {
        status,
        this_update: Some(this_update),
        next_update,
        signer: "the issuer".to_string(),
    })
}
