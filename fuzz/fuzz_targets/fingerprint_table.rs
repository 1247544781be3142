//! Fuzzes the identification table's patterns for catastrophic backtracking and panics: any
//! text against every entry, for every protocol. The `regex` crate matches in linear time; a
//! single call that takes long (libFuzzer's `-timeout`, and the bound below) is a bug.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use reach::probe::greeting::fingerprint::{SUBJECT_MAX, by_table, compile_all, cpe, software_in};

const PROTOCOLS: &[Option<&str>] = &[
    None,
    Some("ssh"),
    Some("smtp"),
    Some("ftp"),
    Some("pop3"),
    Some("imap"),
    Some("http"),
    Some("mysql"),
    Some("telnet"),
    Some("nntp"),
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Patterns are compiled on first need: that one-time cost is not a match.
    compile_all();
    let started = Instant::now();
    for protocol in PROTOCOLS {
        if let Some(named) = by_table(&text, *protocol) {
            assert!(named.span.end <= text.len().min(SUBJECT_MAX));
            let _ = cpe("a:x:y", named.version.as_deref());
        }
        let _ = software_in(&text, protocol.unwrap_or("ftp"));
    }
    // Ten protocols over at most 1 KiB each: linear matching stays far below this.
    assert!(started.elapsed() < Duration::from_secs(2), "slow match");
});
