//! Telnet (RFC 854): the option negotiation (`IAC DO/DONT/WILL/WONT opt`, `IAC SB … IAC SE`)
//! a server sends before its login banner, separated from the banner text, and the refusals a
//! client that wants no option answers with (RFC 1143: refusing is always allowed).

use crate::report::greeting::TelnetNegotiation;

/// Interpret As Command.
const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
/// Subnegotiation begin / end.
const SB: u8 = 250;
const SE: u8 = 240;

/// The greeting starts with a telnet command (`IAC` followed by a command byte).
pub fn looks_like(buf: &[u8]) -> bool {
    matches!(buf, [IAC, SE..=DONT, ..])
}

/// The text with every telnet command removed (`IAC IAC` is a literal 255, kept as is).
pub fn strip(buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    let mut i = 0;
    while i < buf.len() {
        if buf[i] != IAC {
            out.push(buf[i]);
            i += 1;
            continue;
        }
        match buf.get(i + 1) {
            Some(&IAC) => {
                out.push(IAC);
                i += 2;
            }
            Some(&(WILL | WONT | DO | DONT)) => i += 3,
            Some(&SB) => {
                // Skip to IAC SE (or the end: a cut subnegotiation carries no text).
                let end = buf[i + 2..]
                    .windows(2)
                    .position(|w| w == [IAC, SE])
                    .map_or(buf.len(), |p| i + 2 + p + 2);
                i = end;
            }
            Some(_) => i += 2,
            None => i += 1,
        }
    }
    out
}

/// The options the server asked for (`DO`) and offered (`WILL`), in order, without repeats.
pub fn negotiation(buf: &[u8]) -> TelnetNegotiation {
    let mut out = TelnetNegotiation::default();
    let mut i = 0;
    while i + 2 < buf.len() {
        if buf[i] == IAC {
            let list = match buf[i + 1] {
                DO => Some(&mut out.do_options),
                WILL => Some(&mut out.will_options),
                IAC => {
                    i += 2;
                    continue;
                }
                _ => None,
            };
            if let Some(list) = list {
                if !list.contains(&buf[i + 2]) {
                    list.push(buf[i + 2]);
                }
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// The answer refusing every option the server asked for or offered: `WONT` to each `DO`,
/// `DONT` to each `WILL`. Bounded by the input; nothing for a greeting without requests.
pub fn refusals(buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < buf.len() {
        if buf[i] == IAC {
            let answer = match buf[i + 1] {
                DO => Some(WONT),
                WILL => Some(DONT),
                _ => None,
            };
            if let Some(answer) = answer {
                out.extend_from_slice(&[IAC, answer, buf[i + 2]]);
                i += 3;
                continue;
            }
            i += 2;
            continue;
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_is_separated_from_the_banner() {
        // A Linux telnetd opening: DO TERMINAL-TYPE, DO TSPEED, DO XDISPLOC, DO NEW-ENVIRON,
        // then after the client's answers the issue.net text and a login prompt.
        let greeting =
            b"\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27Ubuntu 22.04.3 LTS\r\nhost login: ";
        assert!(looks_like(greeting));
        assert_eq!(strip(greeting), b"Ubuntu 22.04.3 LTS\r\nhost login: ");
        assert_eq!(
            refusals(greeting),
            b"\xff\xfc\x18\xff\xfc\x20\xff\xfc\x23\xff\xfc\x27"
        );
        let sub = b"\xff\xfa\x18\x01\xff\xf0\xff\xfb\x01User Access Verification";
        assert_eq!(strip(sub), b"User Access Verification");
        assert_eq!(refusals(sub), b"\xff\xfe\x01");
        assert_eq!(strip(b"\xff\xff\xff"), b"\xff");
        let n = negotiation(b"\xff\xfb%\xff\xfb&\xff\xfd\x18\xff\xfd\x18\xff\xff\xfdx");
        assert_eq!(
            (n.do_options, n.will_options),
            (vec![0x18], vec![0x25, 0x26])
        );
        assert_eq!(strip(b"\xff\xfa\x18"), b"");
        assert!(!looks_like(b"login:"));
    }
}
