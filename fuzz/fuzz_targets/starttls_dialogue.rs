//! Fuzzes the STARTTLS dialogues (all 13 dialects) against a scripted server: header [dialect, flags],
//! then the server's script (see `reach::fuzzing`).
//! Run with `cargo +nightly fuzz run starttls_dialogue` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reach::fuzzing::starttls_dialogue(data));
