//! Fuzzes the TLS probe as a whole against scripted servers: the rustls handshake and the
//! classification of its failure, the legacy ClientHello and its read loop, the certificate
//! verdicts of whatever chain arrived in plaintext, and the default-certificate fetch.
//! Run with `cargo +nightly fuzz run tls_probe` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reach::fuzzing::tls_probe(data));
