//! PostgreSQL: the `SSLRequest` message and the server's one-byte answer.

use crate::report::greeting::PostgresAnswer;

/// `SSLRequest`: length 8, code 80877103 (RFC-less; PostgreSQL protocol §55.2.10).
pub const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];

/// Interprets the first byte of the answer.
pub fn answer(first: u8) -> Option<PostgresAnswer> {
    let ssl = match first {
        b'S' => true,
        b'N' | b'E' => false,
        _ => return None,
    };
    Some(PostgresAnswer {
        answer: char::from(first).to_string(),
        ssl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_answers() {
        assert!(answer(b'S').expect("S").ssl);
        assert!(!answer(b'N').expect("N").ssl);
        assert_eq!(answer(b'E').expect("E").answer, "E");
        assert_eq!(answer(b'H'), None);
        assert_eq!(u32::from_be_bytes([0x04, 0xd2, 0x16, 0x2f]), 80_877_103);
    }
}
