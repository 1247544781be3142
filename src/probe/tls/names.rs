//! Wire codepoints → the stable words the report uses (IANA / RFC 8446 spellings).

/// `TLSv1.3`, `TLSv1.2`, … for a protocol version codepoint.
pub fn version(v: u16) -> String {
    match v {
        0x0304 => "TLSv1.3".into(),
        0x0303 => "TLSv1.2".into(),
        0x0302 => "TLSv1.1".into(),
        0x0301 => "TLSv1.0".into(),
        0x0300 => "SSLv3".into(),
        0x0002 => "SSLv2".into(),
        other => format!("0x{other:04x}"),
    }
}

/// IANA cipher suite name (`TLS_AES_128_GCM_SHA256`), or the hex codepoint.
pub fn cipher(id: u16) -> String {
    tls_parser::TlsCipherSuite::from_id(id)
        .map(|c| c.name.to_string())
        .unwrap_or_else(|| format!("0x{id:04x}"))
}

/// IANA named-group name (`x25519`, `secp256r1`…), or the hex codepoint.
pub fn group(id: u16) -> String {
    let name = match id {
        0x0017 => "secp256r1",
        0x0018 => "secp384r1",
        0x0019 => "secp521r1",
        0x001d => "X25519",
        0x001e => "X448",
        0x0100 => "ffdhe2048",
        0x0101 => "ffdhe3072",
        0x0102 => "ffdhe4096",
        0x0200 => "MLKEM512",
        0x0201 => "MLKEM768",
        0x0202 => "MLKEM1024",
        0x11eb => "SecP256r1MLKEM768",
        0x11ec => "X25519MLKEM768",
        _ => return format!("0x{id:04x}"),
    };
    name.to_string()
}

/// RFC 8446 signature scheme name (`ecdsa_secp256r1_sha256`), or the hex codepoint.
pub fn signature_scheme(id: u16) -> String {
    let name = match id {
        0x0201 => "rsa_pkcs1_sha1",
        0x0203 => "ecdsa_sha1",
        0x0401 => "rsa_pkcs1_sha256",
        0x0501 => "rsa_pkcs1_sha384",
        0x0601 => "rsa_pkcs1_sha512",
        0x0403 => "ecdsa_secp256r1_sha256",
        0x0503 => "ecdsa_secp384r1_sha384",
        0x0603 => "ecdsa_secp521r1_sha512",
        0x0804 => "rsa_pss_rsae_sha256",
        0x0805 => "rsa_pss_rsae_sha384",
        0x0806 => "rsa_pss_rsae_sha512",
        0x0807 => "ed25519",
        0x0808 => "ed448",
        0x0809 => "rsa_pss_pss_sha256",
        0x080a => "rsa_pss_pss_sha384",
        0x080b => "rsa_pss_pss_sha512",
        _ => return format!("0x{id:04x}"),
    };
    name.to_string()
}

/// RFC 8446 alert name (`handshake_failure`), or `alert_<n>`.
pub fn alert(code: u8) -> String {
    crate::report::tls::TlsAlert(code).name()
}

#[cfg(test)]
mod tests {
    #[test]
    fn codepoints_have_iana_names() {
        assert_eq!(super::version(0x0301), "TLSv1.0");
        assert_eq!(super::cipher(0x1301), "TLS_AES_128_GCM_SHA256");
        assert_eq!(super::cipher(0x002f), "TLS_RSA_WITH_AES_128_CBC_SHA");
        assert_eq!(super::cipher(0xfefe), "0xfefe");
        assert_eq!(super::alert(112), "unrecognized_name");
        assert_eq!(super::alert(200), "alert_200");
        assert_eq!(super::group(0x001d), "X25519");
    }
}
