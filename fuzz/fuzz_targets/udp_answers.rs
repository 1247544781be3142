//! Fuzzes the UDP answer parsers (DNS, NTP, SNMP) and the report's bounded answer.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| reach::fuzzing::udp_answers(data));
