//! Fuzzes the greeting reads (with each client-first request), the capability questions
//! (EHLO, CAPABILITY, CAPA, FEAT…) and the greeting read inside TLS, against a scripted server.
//! Run with `cargo +nightly fuzz run greeting_read` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reach::fuzzing::greeting_read(data));
