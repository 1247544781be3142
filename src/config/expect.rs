//! Expectations as the user writes them (flags, a checks file, an exporter module) turned into
//! the verdict engine's [`Expectations`]. Each value is parsed by one function here, so a
//! flag and a file key accept exactly the same words.

use serde::Deserialize;

use super::ConfigError;
use crate::cli::{ExpectArgs, ExpectState};
use crate::report::{TcpState, Vhost};
use crate::verdict::{DayThresholds, Expectations, Pattern, Pin};

/// `check_ssl_cert`'s default thresholds, used by `--format nagios` when none is given.
pub(crate) const DEFAULT_WARN_DAYS: i64 = 20;
/// See [`DEFAULT_WARN_DAYS`].
pub(crate) const DEFAULT_CRIT_DAYS: i64 = 15;

/// Expectations as written in a TOML file (`expect = { … }`): the same words as the flags,
/// without the `--expect-` prefix, in snake_case as in the JSON `expect[].check` words. Unknown keys are errors (a typo must not pass silently).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub(crate) struct ExpectSpec {
    state: Option<Parsed<StateWord>>,
    min_days: Option<Days>,
    warn_days: Option<Days>,
    crit_days: Option<Days>,
    #[serde(default)]
    san: Vec<String>,
    issuer: Option<Parsed<Pattern>>,
    subject: Option<Parsed<Pattern>>,
    #[serde(default)]
    fingerprint: Vec<Parsed<Pin>>,
    tls_min: Option<Parsed<TlsMin>>,
    alpn: Option<String>,
    banner: Option<Parsed<Pattern>>,
    vhost: Option<Parsed<VhostWord>>,
    #[serde(default)]
    same_cert: bool,
}

impl ExpectSpec {
    /// The expectations, already validated while the file was read.
    pub(crate) fn build(self) -> Expectations {
        Expectations {
            state: self.state.map(|s| s.0.0),
            min_days: self.min_days.map(|d| d.0),
            days: (self.warn_days.is_some() || self.crit_days.is_some()).then(|| DayThresholds {
                warning: self.warn_days.map(|d| d.0),
                critical: self.crit_days.map(|d| d.0),
                only_with_certificate: false,
            }),
            sans: self.san,
            issuer: self.issuer.map(|p| p.0),
            subject: self.subject.map(|p| p.0),
            fingerprints: self.fingerprint.into_iter().map(|p| p.0).collect(),
            tls_min: self.tls_min.map(|t| t.0.0),
            alpn: self.alpn,
            banner: self.banner.map(|p| p.0),
            vhost: self.vhost.map(|v| v.0.0),
            same_cert: self.same_cert,
        }
    }
}

/// A value parsed from a TOML string by the same function as its flag: a bad one is reported
/// by the TOML reader with its line and column.
#[derive(Debug)]
pub(crate) struct Parsed<T>(pub(crate) T);

impl<'de, T: Word> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        T::parse(&text)
            .map(Parsed)
            .map_err(serde::de::Error::custom)
    }
}

/// A number of days (0 to 36500).
#[derive(Debug)]
pub(crate) struct Days(i64);

impl<'de> Deserialize<'de> for Days {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        days(n).map(Days).map_err(serde::de::Error::custom)
    }
}

/// A value with one textual form, shared by flags and files.
pub(crate) trait Word: Sized {
    fn parse(text: &str) -> Result<Self, String>;
}

impl Word for Pattern {
    fn parse(text: &str) -> Result<Self, String> {
        Pattern::new(text).map_err(|e| format!("not a valid regular expression: {e}"))
    }
}

impl Word for Pin {
    fn parse(text: &str) -> Result<Self, String> {
        Pin::parse(text).ok_or_else(|| {
            "expected a SHA-256 as 64 hex digits (colons allowed) or a key pin sha256//BASE64"
                .to_string()
        })
    }
}

/// A TCP state word.
#[derive(Debug)]
pub(crate) struct StateWord(TcpState);

impl Word for StateWord {
    fn parse(text: &str) -> Result<Self, String> {
        let state = match text {
            "open" => TcpState::Open,
            "closed" => TcpState::Closed,
            "rejected" => TcpState::Rejected,
            "unreachable" => TcpState::Unreachable,
            "filtered" => TcpState::Filtered,
            _ => return Err("expected open, closed, rejected, unreachable or filtered".into()),
        };
        Ok(StateWord(state))
    }
}

/// A lowest TLS version.
#[derive(Debug)]
pub(crate) struct TlsMin((u8, u8));

impl Word for TlsMin {
    fn parse(text: &str) -> Result<Self, String> {
        let bare = text.strip_prefix("TLSv").unwrap_or(text);
        match bare {
            "1.0" | "1" => Ok(TlsMin((1, 0))),
            "1.1" => Ok(TlsMin((1, 1))),
            "1.2" => Ok(TlsMin((1, 2))),
            "1.3" => Ok(TlsMin((1, 3))),
            _ => Err("expected 1.0, 1.1, 1.2 or 1.3".into()),
        }
    }
}

/// A virtual-host verdict word.
#[derive(Debug)]
pub(crate) struct VhostWord(Vhost);

impl Word for VhostWord {
    fn parse(text: &str) -> Result<Self, String> {
        let vhost = match text {
            "matched" => Vhost::Matched,
            "default_fallback" => Vhost::DefaultFallback,
            "unrecognized_name" => Vhost::UnrecognizedName,
            "mismatch" => Vhost::Mismatch,
            _ => {
                return Err(
                    "expected matched, default_fallback, unrecognized_name or mismatch".into(),
                );
            }
        };
        Ok(VhostWord(vhost))
    }
}

fn days(n: i64) -> Result<i64, String> {
    if (0..=36_500).contains(&n) {
        Ok(n)
    } else {
        Err(format!("{n} days: expected 0 to 36500"))
    }
}

/// The expectations of the command line. `plugin` (`--format nagios`) brings
/// `check_ssl_cert`'s default thresholds when none is given.
pub(crate) fn from_args(args: &ExpectArgs, plugin: bool) -> Result<Expectations, ConfigError> {
    fn flag<T: Word>(flag: &'static str, text: &str) -> Result<T, ConfigError> {
        T::parse(text).map_err(|problem| ConfigError::Flag {
            flag,
            value: text.to_string(),
            problem,
        })
    }
    let day_flag = |name: &'static str, n: Option<i64>| -> Result<Option<i64>, ConfigError> {
        n.map(|n| {
            days(n).map_err(|problem| ConfigError::Flag {
                flag: name,
                value: n.to_string(),
                problem,
            })
        })
        .transpose()
    };
    let warning = day_flag("--warn-days", args.warn_days)?;
    let critical = day_flag("--crit-days", args.crit_days)?;
    if let (Some(w), Some(c)) = (warning, critical)
        && c > w
    {
        return Err(ConfigError::Flag {
            flag: "--crit-days",
            value: c.to_string(),
            problem: format!("is above --warn-days {w} (critical must come later than warning)"),
        });
    }
    let days = match (warning, critical) {
        (None, None) if plugin => Some(DayThresholds {
            warning: Some(DEFAULT_WARN_DAYS),
            critical: Some(DEFAULT_CRIT_DAYS),
            only_with_certificate: true,
        }),
        (None, None) => None,
        _ => Some(DayThresholds {
            warning,
            critical,
            only_with_certificate: false,
        }),
    };
    let mut sans = Vec::new();
    for name in &args.san {
        if name.trim().is_empty() {
            return Err(ConfigError::Flag {
                flag: "--expect-san",
                value: name.clone(),
                problem: "empty name".into(),
            });
        }
        sans.push(name.trim().to_string());
    }
    Ok(Expectations {
        state: args.state.map(expected_state),
        min_days: day_flag("--min-days", args.min_days)?,
        days,
        sans,
        issuer: args
            .issuer
            .as_deref()
            .map(|t| flag("--expect-issuer", t))
            .transpose()?,
        subject: args
            .subject
            .as_deref()
            .map(|t| flag("--expect-subject", t))
            .transpose()?,
        fingerprints: args
            .fingerprint
            .iter()
            .map(|t| flag("--expect-fingerprint", t))
            .collect::<Result<_, _>>()?,
        tls_min: args
            .tls_min
            .as_deref()
            .map(|t| flag::<TlsMin>("--expect-tls-min", t).map(|v| v.0))
            .transpose()?,
        alpn: args.alpn.clone(),
        banner: args
            .banner
            .as_deref()
            .map(|t| flag("--expect-banner", t))
            .transpose()?,
        vhost: args
            .vhost
            .as_deref()
            .map(|t| flag::<VhostWord>("--expect-vhost", t).map(|v| v.0))
            .transpose()?,
        same_cert: args.same_cert,
    })
}

/// Expectations that can only be checked over TLS: asking for one asks for TLS.
pub(crate) fn wants_tls(expect: &Expectations) -> bool {
    expect.min_days.is_some()
        || expect.days.is_some_and(|d| !d.only_with_certificate)
        || !expect.sans.is_empty()
        || expect.issuer.is_some()
        || expect.subject.is_some()
        || !expect.fingerprints.is_empty()
        || expect.tls_min.is_some()
        || expect.alpn.is_some()
        || expect.vhost.is_some()
        || expect.same_cert
}

pub(crate) fn expected_state(e: ExpectState) -> TcpState {
    match e {
        ExpectState::Open => TcpState::Open,
        ExpectState::Closed => TcpState::Closed,
        ExpectState::Rejected => TcpState::Rejected,
        ExpectState::Unreachable => TcpState::Unreachable,
        ExpectState::Filtered => TcpState::Filtered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_words_are_the_flag_words_and_bad_ones_say_where() {
        let spec: ExpectSpec = toml::from_str(
            "state = \"open\"\nmin_days = 30\nsan = [\"a.example\"]\nissuer = \"Example\"\n\
             tls_min = \"1.2\"\nvhost = \"matched\"\nsame_cert = true\n",
        )
        .unwrap();
        let e = spec.build();
        assert_eq!(e.state, Some(TcpState::Open));
        assert_eq!(e.tls_min, Some((1, 2)));
        assert!(e.same_cert && wants_tls(&e));
        let err = toml::from_str::<ExpectSpec>("min_days = 30\nissuer = \"(\"\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("line 2, column 10"), "{text}");
        assert!(text.contains("regular expression"), "{text}");
        let err = toml::from_str::<ExpectSpec>("min_dayz = 3\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }

    #[test]
    fn pins_take_hex_with_or_without_colons_and_base64_key_pins() {
        let hex = "ab".repeat(32);
        assert_eq!(Pin::parse(&hex), Pin::parse(&hex.to_uppercase()));
        assert!(Pin::parse("AB:CD").is_none());
        let pin = Pin::parse("sha256//q83vq83vq83vq83vq83vq83vq83vq83vq83vq83vq80=").unwrap();
        assert_eq!(
            pin,
            Pin::Spki(
                "AB:CD:EF:AB:CD:EF:AB:CD:EF:AB:CD:EF:AB:CD:EF:AB:CD:EF:AB:CD:EF:AB:CD:EF:AB:CD:EF:AB:CD:EF:AB:CD".into()
            )
        );
    }
}
