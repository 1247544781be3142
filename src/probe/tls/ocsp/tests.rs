//! Reading OCSP responses: hostile bytes, and times.

use super::*;

#[test]
fn garbage_is_a_parse_error_not_a_panic() {
    let r = summarize(&[0x30, 0x82, 0xff, 0xff, 1, 2, 3]);
    assert!(r.stapled && r.parse_error.is_some() && r.cert_status.is_none());
    for len in 0..64 {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
        let _ = summarize(&bytes);
    }
}

#[test]
fn no_staple_is_reported_as_such() {
    let r = summarize(&[]);
    assert!(!r.stapled && r.size == 0 && r.parse_error.is_none() && !r.verified);
}

#[test]
fn try_later_is_read() {
    // OCSPResponse { responseStatus tryLater(3) }
    let r = summarize(&[0x30, 0x03, 0x0a, 0x01, 0x03]);
    assert_eq!(r.response_status.as_deref(), Some("try_later"));
    assert_eq!(r.parse_error, None);
}

#[test]
fn generalized_times_become_unix_seconds() {
    assert_eq!(generalized_time(b"19700101000000Z"), Some(0));
    assert_eq!(generalized_time(b"20260131120000Z"), Some(1_769_860_800));
    assert_eq!(
        generalized_time(b"20260131120000.123Z"),
        Some(1_769_860_800)
    );
    assert_eq!(
        crate::cert::rfc3339(generalized_time(b"20240229235959Z").unwrap()),
        "2024-02-29T23:59:59Z"
    );
    for bad in [
        &b"2026013112000Z"[..],
        b"20261331120000Z",
        b"2026013112000xZ",
        b"\xff\xfe",
    ] {
        assert_eq!(generalized_time(bad), None, "{bad:?}");
    }
    // A multi-byte character where the digits end is not a panic.
    assert_eq!(generalized_time("2026013112000é0Z".as_bytes()), None);
}

#[test]
fn reasons_have_words() {
    assert_eq!(reason_word(1), "key_compromise");
    assert_eq!(reason_word(7), "reason_7");
}
