//! Fuzzes the binary parsers: the MySQL handshake, TLS records and LDAP BER results.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reach::probe::greeting::{mysql, tls};
use reach::probe::starttls::ldap;

fuzz_target!(|data: &[u8]| {
    let _ = mysql::complete(data);
    if let Some(h) = mysql::parse(data) {
        let _ = h.server_version.as_deref().map(mysql::software);
    }
    let _ = tls::parse(data);
    let _ = tls::complete(data);
    let _ = ldap::parse_result(data);
    if let Some((_, value, rest)) = ldap::element(data) {
        assert!(value.len() + rest.len() <= data.len());
    }
});
