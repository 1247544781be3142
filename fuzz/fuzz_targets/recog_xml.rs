//! Fuzzes the Recog XML loader (`--fingerprints`): any document must load or be refused,
//! never panic, and whatever loaded must match any greeting without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reach::probe::greeting::recog::Db;
use reach::report::greeting::GreetingReport;

fuzz_target!(|data: &[u8]| {
    let (xml, banner) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let mut db = Db::default();
    if db.add_xml(&String::from_utf8_lossy(xml)).is_err() {
        return;
    }
    for protocol in ["ftp", "ssh", "smtp", "http"] {
        let mut report = GreetingReport {
            protocol: Some(protocol.to_string()),
            text: String::from_utf8_lossy(banner).into_owned(),
            bytes: banner.len().max(1),
            ..GreetingReport::default()
        };
        db.apply(&mut report);
    }
});
