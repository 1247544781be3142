//! The NTP probe: one client-mode (3) request, and the server's stratum, reference ID, and the
//! clock offset and round-trip delay computed from the four timestamps (RFC 5905).

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Parsed;
use super::wire::{Fail, Reader};

/// Seconds from 1900 (NTP's era 0) to 1970.
const UNIX_OFFSET: u64 = 2_208_988_800;

/// A time as a 64-bit NTP timestamp (era 0).
pub(crate) fn timestamp(t: SystemTime) -> u64 {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs().wrapping_add(UNIX_OFFSET) & 0xffff_ffff;
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// An NTP timestamp as seconds (era 0), with its fraction.
fn seconds(ts: u64) -> f64 {
    (ts >> 32) as f64 + (ts & 0xffff_ffff) as f64 / 4_294_967_296.0
}

/// The request: LI 0, version 4, mode 3 (client), our time as the transmit timestamp (which
/// the server echoes as the origin, RFC 5905 §8), everything else zero.
pub(crate) fn request(now: SystemTime) -> Vec<u8> {
    let mut out = vec![0u8; 48];
    out[0] = 0x23;
    out[40..48].copy_from_slice(&timestamp(now).to_be_bytes());
    out
}

/// The transmit timestamp of a request built by [`request`].
pub(crate) fn transmitted(request: &[u8]) -> Option<u64> {
    let b: [u8; 8] = request.get(40..48)?.try_into().ok()?;
    Some(u64::from_be_bytes(b))
}

fn short_format(v: u32) -> f64 {
    f64::from(v) / 65536.0
}

/// Parses a server's answer. `sent` are the transmit timestamps of our requests (the answer
/// must echo one of them), `received` when the answer arrived.
pub(crate) fn parse(answer: &[u8], sent: &[u64], received: SystemTime) -> Result<Parsed, Fail> {
    let mut r = Reader::new(answer);
    let first = r.u8("header")?;
    let (leap, version, mode) = (first >> 6, (first >> 3) & 7, first & 7);
    let stratum = r.u8("stratum")?;
    let poll = r.u8("poll")? as i8;
    let precision = r.u8("precision")? as i8;
    let root_delay = r.u32("root delay")?;
    let root_dispersion = r.u32("root dispersion")?;
    let refid = r.take(4, "reference ID")?;
    let reference = r.u64("reference timestamp")?;
    let origin = r.u64("origin timestamp")?;
    let rx = r.u64("receive timestamp")?;
    let tx = r.u64("transmit timestamp")?;
    if mode != 4 {
        return Err(format!("NTP mode {mode}, not a server answer (4)"));
    }
    let refid_text = if stratum <= 1 {
        refid
            .iter()
            .take_while(|b| **b != 0)
            .map(|&b| {
                if b.is_ascii_graphic() {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect::<String>()
    } else {
        Ipv4Addr::new(refid[0], refid[1], refid[2], refid[3]).to_string()
    };
    let mut fields = vec![
        ("version", version.to_string()),
        ("leap", leap.to_string()),
        ("stratum", stratum.to_string()),
        ("reference_id", refid_text.clone()),
        ("poll", format!("2^{poll} s")),
        ("precision", format!("2^{precision} s")),
        (
            "root_delay_ms",
            format!("{:.3}", short_format(root_delay) * 1000.0),
        ),
        (
            "root_dispersion_ms",
            format!("{:.3}", short_format(root_dispersion) * 1000.0),
        ),
    ];
    if reference != 0 {
        fields.push(("reference_time", format!("{:.6}", seconds(reference))));
    }
    if stratum == 0 {
        // Kiss-o'-Death: the reference ID is the code (RATE, DENY, RSTR…), no time is given.
        let summary = format!("NTP kiss-o'-death {refid_text} (stratum 0): no time given");
        fields.push(("kiss_code", refid_text));
        return Ok(Parsed {
            protocol: "ntp",
            summary,
            fields,
        });
    }
    let t4 = seconds(timestamp(received));
    let echoed = sent.contains(&origin);
    if echoed {
        let t1 = seconds(origin);
        let (t2, t3) = (seconds(rx), seconds(tx));
        let offset = ((t2 - t1) + (t3 - t4)) / 2.0;
        let delay = (t4 - t1) - (t3 - t2);
        fields.push(("offset_ms", format!("{:.3}", offset * 1000.0)));
        fields.push(("delay_ms", format!("{:.3}", delay * 1000.0)));
    } else {
        fields.push((
            "origin_mismatch",
            "the answer does not echo our transmit timestamp: not an answer to this request"
                .to_string(),
        ));
    }
    let unsynchronised = leap == 3 || stratum >= 16;
    let summary = match (unsynchronised, echoed) {
        (true, _) => format!("NTPv{version} server, unsynchronised (stratum {stratum})"),
        (false, true) => format!(
            "NTPv{version} stratum {stratum}, reference {refid_text}, offset {} ms, delay {} ms",
            fields
                .iter()
                .find(|f| f.0 == "offset_ms")
                .map_or("?", |f| &f.1),
            fields
                .iter()
                .find(|f| f.0 == "delay_ms")
                .map_or("?", |f| &f.1)
        ),
        (false, false) => {
            format!("NTPv{version} stratum {stratum}, reference {refid_text} (origin mismatch)")
        }
    };
    Ok(Parsed {
        protocol: "ntp",
        summary,
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_the_request() {
        let now = UNIX_EPOCH + Duration::from_millis(1_700_000_000_500);
        let req = request(now);
        assert_eq!(req.len(), 48);
        assert_eq!(req[0], 0x23);
        let ts = transmitted(&req).unwrap();
        assert!((seconds(ts) - (1_700_000_000.5 + UNIX_OFFSET as f64)).abs() < 1e-6);
    }

    fn answer(stratum: u8, refid: [u8; 4], origin: u64, rx: u64, tx: u64) -> Vec<u8> {
        let mut a = vec![0u8; 48];
        a[0] = 0x24; // LI 0, v4, mode 4
        a[1] = stratum;
        a[12..16].copy_from_slice(&refid);
        a[24..32].copy_from_slice(&origin.to_be_bytes());
        a[32..40].copy_from_slice(&rx.to_be_bytes());
        a[40..48].copy_from_slice(&tx.to_be_bytes());
        a
    }

    #[test]
    fn offset_and_delay_come_from_the_four_timestamps() {
        let t1 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let server = |ms| timestamp(t1 + Duration::from_millis(ms));
        // Server 100 ms ahead, 10 ms each way: T2 = T1+110, T3 = T1+111, T4 = T1+21.
        let a = answer(2, [192, 0, 2, 1], timestamp(t1), server(110), server(111));
        let p = parse(&a, &[timestamp(t1)], t1 + Duration::from_millis(21)).unwrap();
        let get = |k| p.fields.iter().find(|f| f.0 == k).unwrap().1.clone();
        assert_eq!(get("reference_id"), "192.0.2.1");
        let offset: f64 = get("offset_ms").parse().unwrap();
        let delay: f64 = get("delay_ms").parse().unwrap();
        assert!((offset - 100.0).abs() < 0.01, "{offset}");
        assert!((delay - 20.0).abs() < 0.01, "{delay}");
    }

    #[test]
    fn kiss_of_death_and_garbage() {
        let a = answer(0, *b"RATE", 1, 0, 0);
        let p = parse(&a, &[1], SystemTime::now()).unwrap();
        assert!(p.summary.contains("RATE"));
        assert!(parse(&[0x24; 20], &[], SystemTime::now()).is_err());
        assert!(
            parse(&[0x23; 48], &[], SystemTime::now())
                .unwrap_err()
                .contains("mode 3")
        );
    }
}
