//! Fuzzes greeting identification: any bytes, any client-first probe, any port hint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reach::probe::greeting::identify::{analyse, complete};
use reach::report::greeting::GreetingReport;
use reach::service::Ask;

fuzz_target!(|data: &[u8]| {
    let asks = [Ask::Listen, Ask::HttpHead, Ask::RedisPing, Ask::PostgresSslRequest];
    let hints = [None, Some("smtp"), Some("ftp"), Some("lmtp"), Some("nntp")];
    let selector = data.first().copied().unwrap_or_default() as usize;
    let ask = asks[selector % asks.len()];
    let hint = hints[(selector / 4) % hints.len()];
    let _ = complete(data, ask);
    let mut report = GreetingReport::default();
    analyse(data, ask, hint, &mut report);
});
