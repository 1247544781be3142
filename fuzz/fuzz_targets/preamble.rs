//! Fuzzes the whole plaintext part of a probe (greeting, identification, capabilities,
//! STARTTLS) against a scripted server, for a range of ports and forced dialects.
//! Run with `cargo +nightly fuzz run preamble` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reach::fuzzing::preamble(data));
