//! Fuzzes the target-file reader (`-i FILE`) through a small buffer, with read errors and
//! interruptions in the input.
//! Run with `cargo +nightly fuzz run input_reader` (fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reach::fuzzing::input_reader(data));
