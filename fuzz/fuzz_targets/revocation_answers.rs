//! Fuzzes what the revocation check reads from the network: OCSP responses (stapled or from a
//! responder) and CRLs, verified against a leaf and issuer from the input, bare or inside the
//! HTTP response the bounded client parses.
//! Run with `cargo +nightly fuzz run revocation_answers` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reach::fuzzing::revocation_answers(data));
