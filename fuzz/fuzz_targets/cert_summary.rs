//! Fuzz target: certificate summaries, OCSP staples and server flights from arbitrary bytes
//! must never panic. Run with `cargo +nightly fuzz run cert_summary` from the repository root;
//! seed the corpus with `testdata/certs/*.der`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let summary = reach::cert::summarize(data, 1_800_000_000);
    assert_eq!(summary.sha256.len(), 95);
    let _ = reach::probe::tls::ocsp::summarize(data);
    let _ = reach::probe::tls::records::parse_server_flight(data);
});
