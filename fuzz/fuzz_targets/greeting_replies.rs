//! Fuzzes the line-based reply parsers: numeric replies, EHLO/FEAT lists, dot-terminated
//! blocks, IMAP responses, ManageSieve listings, SSH identification and HTTP heads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reach::probe::greeting::{ftp, http, imap, pop3, reply, sieve, smtp, ssh};

fuzz_target!(|data: &[u8]| {
    if let reply::Parsed::Complete(r, used) = reply::parse(data) {
        assert!(used <= data.len());
        let _ = smtp::ehlo(&r);
        let _ = smtp::greeting(&r);
        let _ = smtp::dialect(&r);
        let _ = ftp::features(&r);
    }
    if let Some(block) = pop3::dot_block(data, pop3::is_ok) {
        assert!(block.used <= data.len());
    }
    let _ = imap::greeting(data);
    let _ = imap::capability_line(data);
    let _ = imap::tagged(data, "s1");
    let _ = sieve::parse(data);
    let _ = ssh::parse(data);
    let _ = ssh::complete(data);
    let _ = http::parse(data);
});
