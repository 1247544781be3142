//! Fuzzes the certificate verdicts (`verify::judge`) of arbitrary chains: length-prefixed
//! DER blobs, the last one also trusted.
//! Run with `cargo +nightly fuzz run chain_judge` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reach::fuzzing::chain_judge(data));
