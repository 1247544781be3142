//! Fuzz target: target, CIDR block and port-list parsing must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = reach::target::parse(text);
        let _ = reach::target::parse_block(text);
        let _ = reach::target::parse_ports(text);
        let _ = reach::input::read_lines(text.as_bytes(), "fuzz".into(), 1 << 20).count();
    }
});
