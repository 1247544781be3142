//! Distinguished names as RFC 4514 strings (the form `openssl x509 -nameopt RFC2253` prints).

use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// `name` in RFC 4514 form: RDNs in reverse DER order joined by `,`, multi-valued RDNs by `+`
/// (also reversed, as openssl prints them).
///
/// Values are kept as text (UTF-8, BMPString and UniversalString decoded); only the characters
/// RFC 4514 requires are backslash-escaped. Control characters are left alone on purpose: the
/// report keeps what the certificate says and the terminal renderer escapes it.
pub fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<&_> = name.iter_rdn().collect();
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Within a multi-valued RDN, reverse too: this is the order openssl prints.
        let attrs: Vec<&_> = rdn.iter().collect();
        for (j, attr) in attrs.iter().rev().enumerate() {
            if j > 0 {
                out.push('+');
            }
            out.push_str(&attribute_type(attr));
            out.push('=');
            out.push_str(&attribute_value(attr.attr_value()));
        }
    }
    out
}

fn attribute_type(attr: &AttributeTypeAndValue<'_>) -> String {
    let id = attr.attr_type().to_id_string();
    let short = match id.as_str() {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "STREET",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.5" => "serialNumber",
        "2.5.4.4" => "SN",
        "2.5.4.42" => "GN",
        "2.5.4.12" => "title",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.46" => "dnQualifier",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        _ => return id,
    };
    short.to_string()
}

fn attribute_value(value: &Any<'_>) -> String {
    let data = value.data;
    let text = match value.tag() {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::NumericString => {
            std::str::from_utf8(data).ok().map(str::to_string)
        }
        Tag::BmpString => utf16be(data),
        Tag::UniversalString => utf32be(data),
        // T.61 in practice carries Latin-1.
        Tag::TeletexString | Tag::VisibleString => {
            Some(data.iter().map(|b| char::from(*b)).collect())
        }
        _ => None,
    };
    match text {
        Some(t) => escape_value(&t),
        None => hex_value(value),
    }
}

fn utf16be(data: &[u8]) -> Option<String> {
    if !data.len().is_multiple_of(2) {
        return None;
    }
    let units = data
        .chunks_exact(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .ok()
}

fn utf32be(data: &[u8]) -> Option<String> {
    if !data.len().is_multiple_of(4) {
        return None;
    }
    data.chunks_exact(4)
        .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect()
}

/// RFC 4514 §2.4: `#` followed by the hex of the value's BER encoding.
fn hex_value(value: &Any<'_>) -> String {
    let mut out = String::from("#");
    let tag = value.tag().0;
    if tag < 31 {
        out.push_str(&format!("{tag:02x}"));
    }
    let len = value.data.len();
    if len < 128 {
        out.push_str(&format!("{len:02x}"));
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push_str(&format!("{:02x}", 0x80 | bytes.len()));
        bytes.iter().for_each(|b| out.push_str(&format!("{b:02x}")));
    }
    value
        .data
        .iter()
        .for_each(|b| out.push_str(&format!("{b:02x}")));
    out
}

fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || i == last => out.push_str("\\ "),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_value;

    #[test]
    fn rfc4514_special_characters_are_escaped() {
        assert_eq!(escape_value("a,b+c"), "a\\,b\\+c");
        assert_eq!(escape_value("#x "), "\\#x\\ ");
        assert_eq!(escape_value(" lead"), "\\ lead");
        assert_eq!(escape_value("q\"<>;\\"), "q\\\"\\<\\>\\;\\\\");
        assert_eq!(escape_value("plain text"), "plain text");
    }
}
