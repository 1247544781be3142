//! The plan of one probe, decided once: how TLS starts on this port (plaintext, implicit TLS
//! or a STARTTLS dialect), what to send first in plaintext and inside TLS. Everything later in
//! the probe reads the [`Profile`] instead of looking the port or scheme up again.

use crate::service::{self, Ask, StarttlsProto, TlsMode};

/// Whether the user wants TLS (`--tls`, `--no-tls`, or decided by port and scheme).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TlsWanted {
    /// On TLS ports and schemes (443, 465, 993, `https://`…), and STARTTLS where the port or
    /// scheme implies it.
    #[default]
    Auto,
    /// On every port (`--tls`).
    On,
    /// Never (`--no-tls`).
    Off,
}

/// The user's choices that shape a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--tls` / `--no-tls` / automatic.
    pub tls: TlsWanted,
    /// `--starttls PROTO`: this dialect, even where the server does not advertise it.
    pub starttls: Option<StarttlsProto>,
    /// `--no-starttls`.
    pub no_starttls: bool,
    /// `--no-probe`: on plaintext ports, send nothing the port or scheme does not call for
    /// (no follow-up probes on a silent port, no `EHLO`/`FEAT` after a bare `220`, no
    /// capability commands).
    pub no_probe: bool,
}

/// How a probe gets to TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// No TLS: read the greeting and stop (unless the server itself moves to TLS, as
    /// PostgreSQL's `S` does).
    Plain,
    /// TLS from the first byte.
    Implicit,
    /// Greeting, then an in-band upgrade, then TLS.
    Starttls(StarttlsProto),
}

/// Everything decided about one probe's service before connecting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    /// How TLS starts.
    pub plan: Plan,
    /// TLS was ruled out by the user (`--no-tls`): never handshake, even after PostgreSQL's `S`.
    pub tls_off: bool,
    /// The user named the STARTTLS dialect: try it even when not advertised.
    pub force_starttls: bool,
    /// What to send first in plaintext (`None`: what the port calls for).
    pub ask: Option<Ask>,
    /// What to send inside TLS after an implicit handshake; `None`: do not wait for words
    /// inside TLS (the inner protocol is unknown, and waiting would cost a whole deadline).
    pub inside: Option<Ask>,
    /// A silent greeting is followed by the follow-up probes (TLS ClientHello, `HEAD /`,
    /// `SSLRequest`): plaintext, and neither the port nor the scheme says what to send.
    /// A TLS answer turns the plan into [`Plan::Implicit`] ([`Profile::tls_found`]).
    pub follow_up: bool,
    /// Allowed to send protocol probes beyond what the port calls for (not `--no-probe`).
    pub probe: bool,
}

impl Profile {
    /// Decides the plan for `port` (reached through a URL with `scheme`, if any): `--no-tls`
    /// and `--starttls`/`--no-starttls` first, then `--tls`, then the URL scheme, then the
    /// port's usual mode.
    pub fn decide(port: u16, scheme: Option<&str>, opts: PlanOptions) -> Profile {
        let scheme = scheme.and_then(service::scheme);
        // `https://host:9000` is TLS on 9000: a scheme says how TLS starts whatever the port.
        let usual = scheme.map_or_else(|| service::tls_mode(port), |info| info.tls_mode);
        let plan = match (opts.tls, opts.starttls, usual) {
            (TlsWanted::Off, _, _) => Plan::Plain,
            (_, Some(proto), _) => Plan::Starttls(proto),
            (_, None, TlsMode::Starttls(proto)) if !opts.no_starttls => Plan::Starttls(proto),
            (TlsWanted::On, None, _) | (_, None, TlsMode::Implicit) => Plan::Implicit,
            _ => Plan::Plain,
        };
        let scheme_ask = scheme.map(|info| info.ask);
        let inside = match plan {
            Plan::Implicit => scheme_ask.or_else(|| inner_ask(port)),
            _ => None,
        };
        let ask = if plan == Plan::Implicit {
            None
        } else {
            scheme_ask
        };
        let unhinted = ask.is_none() && service::greeting_ask(port) == Ask::Listen;
        Profile {
            plan,
            tls_off: opts.tls == TlsWanted::Off,
            force_starttls: opts.starttls.is_some(),
            // `http://host:8081`: the scheme, not the port, says to send `HEAD /` first.
            ask,
            inside,
            follow_up: !opts.no_probe && plan == Plan::Plain && unhinted,
            probe: !opts.no_probe,
        }
    }

    /// The plan once the follow-up ClientHello found TLS on a silent port: TLS from the first
    /// byte on a new connection, nothing awaited inside (the inner protocol is unknown).
    pub fn tls_found(self) -> Profile {
        Profile {
            plan: Plan::Implicit,
            ask: None,
            inside: None,
            follow_up: false,
            ..self
        }
    }

    /// The STARTTLS dialect, when the plan has one.
    pub fn starttls(&self) -> Option<StarttlsProto> {
        match self.plan {
            Plan::Starttls(proto) => Some(proto),
            _ => None,
        }
    }
}

/// What to send inside TLS on an implicit-TLS port whose inner protocol is known.
fn inner_ask(port: u16) -> Option<Ask> {
    match service::expected_inside_tls(port)? {
        "http" => Some(Ask::HttpHead),
        _ => Some(Ask::Listen),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(port: u16, scheme: Option<&str>, tls: TlsWanted) -> Profile {
        let opts = PlanOptions {
            tls,
            ..PlanOptions::default()
        };
        Profile::decide(port, scheme, opts)
    }

    #[test]
    fn port_scheme_and_flags_decide_once() {
        assert_eq!(decide(443, None, TlsWanted::Auto).plan, Plan::Implicit);
        assert_eq!(
            decide(443, None, TlsWanted::Auto).inside,
            Some(Ask::HttpHead)
        );
        assert_eq!(decide(22, None, TlsWanted::Auto).plan, Plan::Plain);
        assert_eq!(
            decide(25, None, TlsWanted::Auto).plan,
            Plan::Starttls(StarttlsProto::Smtp)
        );
        assert_eq!(decide(443, None, TlsWanted::Off).plan, Plan::Plain);
        assert_eq!(decide(8081, None, TlsWanted::On).plan, Plan::Implicit);
        assert_eq!(decide(8081, None, TlsWanted::On).inside, None);
        let https = decide(9000, Some("https"), TlsWanted::Auto);
        assert_eq!(
            (https.plan, https.inside),
            (Plan::Implicit, Some(Ask::HttpHead))
        );
        let http = decide(8081, Some("http"), TlsWanted::Auto);
        assert_eq!((http.plan, http.ask), (Plan::Plain, Some(Ask::HttpHead)));
        let forced = Profile::decide(
            2525,
            None,
            PlanOptions {
                starttls: Some(StarttlsProto::Smtp),
                ..PlanOptions::default()
            },
        );
        assert!(forced.force_starttls);
        assert_eq!(forced.starttls(), Some(StarttlsProto::Smtp));
        let none = Profile::decide(
            25,
            None,
            PlanOptions {
                no_starttls: true,
                ..PlanOptions::default()
            },
        );
        assert_eq!(none.plan, Plan::Plain);
    }

    #[test]
    fn follow_ups_only_on_silent_unhinted_plaintext_ports() {
        assert!(decide(40000, None, TlsWanted::Auto).follow_up);
        assert!(decide(40000, None, TlsWanted::Off).follow_up);
        assert!(!decide(80, None, TlsWanted::Auto).follow_up, "80 asks HEAD");
        assert!(
            !decide(443, None, TlsWanted::Auto).follow_up,
            "implicit TLS"
        );
        assert!(!decide(40000, Some("http"), TlsWanted::Auto).follow_up);
        assert!(!decide(40000, None, TlsWanted::On).follow_up);
        let quiet = Profile::decide(
            40000,
            None,
            PlanOptions {
                no_probe: true,
                ..PlanOptions::default()
            },
        );
        assert!(!quiet.follow_up && !quiet.probe);
        let found = decide(40000, None, TlsWanted::Auto).tls_found();
        assert_eq!(
            (found.plan, found.inside, found.follow_up),
            (Plan::Implicit, None, false)
        );
    }
}
