//! The verdict engine: the one place that turns a report's typed layer results into
//! `reached`, `problems[]`, `stopped`, the expectation results and the exit code. Printers,
//! the summary and the process exit code read what it decided and never re-derive it.
//!
//! Precedence (README "Verdict precedence", docs/json.md): when several problems coexist, the
//! headline (`stopped`) names the cause, not the symptom. Lower layers come first, because a
//! failure there hides everything above. Within TLS: a name the server did not route
//! (`unrecognized_name`, `default_fallback`) explains a name mismatch and comes first; an
//! untrusted chain is never hidden behind a name mismatch; a mismatch seen from the vhost
//! side (`vhost mismatch`) comes before the bare `certificate name_mismatch`.

use crate::exit::ExitCode;
use crate::report::tls::TlsAlert;
use crate::report::{
    CertProblem, DnsOutcome, ExpectCheck, ExpectResult, GreetingState, InternalFault, Layer,
    Problem, Reason, Report, StarttlsResult, Stopped, TcpState, Vhost, word,
};

/// What the user expects of a probe (`--expect`); each failed expectation exits 6.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectations {
    /// The TCP state the probe must end in.
    pub state: Option<TcpState>,
}

/// What the headline of a probe is about, decided here so every printer agrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Headline<'a> {
    /// An expectation failed: it decided the exit code.
    Expectation(&'a ExpectResult),
    /// The probe stopped at a failing layer.
    Stopped(&'a Stopped),
    /// Everything asked for was reached (the deepest layer, if any).
    Reached(Option<Layer>),
}

/// Decides the verdict of `report` from its layer results and writes it into the report:
/// `reached`, `problems`, `stopped`, `expect` and `exit`.
pub fn settle(report: &mut Report, expect: &Expectations) {
    report.reached = reached(report);
    let mut problems = problems(report);
    problems.sort_by_key(rank);
    report.stopped = problems.first().map(|p| Stopped {
        layer: p.layer,
        reason: p.reason,
    });
    report.expect = check(report, expect);
    problems.extend(report.expect.iter().filter(|e| !e.ok).map(|e| Problem {
        layer: Layer::Expect,
        reason: Reason::Expect(e.check),
        detail: format!("wanted {} {}, saw {}", word(&e.check), e.wanted, e.seen),
    }));
    report.problems = problems;
    report.exit = exit_code(report);
}

/// Marks `report` as lost to a bug in reach (a panicking probe): it must still be reported,
/// and the run must not exit 0.
pub fn fault(report: &mut Report, fault: InternalFault, detail: String) {
    let problem = Problem {
        layer: Layer::Internal,
        reason: Reason::Internal(fault),
        detail,
    };
    report.stopped = Some(Stopped {
        layer: problem.layer,
        reason: problem.reason,
    });
    report.problems = vec![problem];
    report.exit = ExitCode::Internal;
}

/// What the headline is about: a failed expectation, else the stop, else the layer reached.
pub fn headline(report: &Report) -> Headline<'_> {
    if let Some(failed) = report.expect.iter().find(|e| !e.ok) {
        return Headline::Expectation(failed);
    }
    match &report.stopped {
        Some(stopped) => Headline::Stopped(stopped),
        None => Headline::Reached(report.reached),
    }
}

/// The exit code a stop stands for (README "Exit codes").
pub fn code_for(stopped: &Stopped) -> ExitCode {
    match stopped.reason {
        Reason::Dns(_) => ExitCode::Dns,
        Reason::Tcp(TcpState::Filtered) => ExitCode::Filtered,
        Reason::Tcp(TcpState::Error) => ExitCode::Local,
        Reason::Tcp(_) => ExitCode::NotListening,
        Reason::Starttls(_) | Reason::Tls(_) => ExitCode::Tls,
        Reason::Certificate(_) | Reason::Vhost(_) => ExitCode::Certificate,
        Reason::Expect(_) => ExitCode::Expectation,
        Reason::Internal(_) => ExitCode::Internal,
    }
}

/// The deepest layer passed, walking in order and stopping at the first failure. A greeting
/// is passed when the server spoke; a silent one does not stop the walk.
fn reached(report: &Report) -> Option<Layer> {
    let mut deepest = None;
    if let Some(dns) = &report.dns {
        if dns.outcome != DnsOutcome::Resolved {
            return None;
        }
        deepest = Some(Layer::Dns);
    }
    if report.tcp.as_ref()?.state != TcpState::Open {
        return deepest;
    }
    deepest = Some(Layer::Tcp);
    let spoke = report
        .greeting
        .as_ref()
        .is_some_and(|g| matches!(g.state, GreetingState::Banner | GreetingState::Reply));
    if spoke {
        deepest = Some(Layer::Greeting);
    }
    if let Some(starttls) = &report.starttls {
        if starttls.result != StarttlsResult::Negotiated {
            return deepest;
        }
        deepest = Some(Layer::Starttls);
    }
    let Some(tls) = &report.tls else {
        return deepest;
    };
    if tls.error.is_some() {
        return deepest;
    }
    deepest = Some(Layer::Tls);
    if !tls
        .verify
        .as_ref()
        .is_some_and(|v| v.trusted && v.name_match)
    {
        return deepest;
    }
    deepest = Some(Layer::Certificate);
    if tls.vhost == Some(Vhost::Matched) {
        deepest = Some(Layer::Vhost);
    }
    deepest
}

/// Every problem on every layer, in walk order.
fn problems(report: &Report) -> Vec<Problem> {
    let mut found = Vec::new();
    let mut add = |layer, reason, detail: String| {
        found.push(Problem {
            layer,
            reason,
            detail,
        })
    };
    if let Some(dns) = report
        .dns
        .as_ref()
        .filter(|d| d.outcome != DnsOutcome::Resolved)
    {
        let detail = dns
            .detail
            .clone()
            .unwrap_or_else(|| dns_sentence(dns.outcome));
        add(Layer::Dns, Reason::Dns(dns.outcome), detail);
    }
    if let Some(tcp) = report.tcp.as_ref().filter(|t| t.state != TcpState::Open) {
        let from = tcp
            .icmp_from
            .map(|a| format!(" from {a}"))
            .unwrap_or_default();
        add(
            Layer::Tcp,
            Reason::Tcp(tcp.state),
            format!("{}{from}", word(&tcp.reason)),
        );
    }
    if let Some(st) = report.starttls.as_ref().filter(|s| s.failed()) {
        let detail = st
            .error
            .clone()
            .or_else(|| st.reply.clone())
            .unwrap_or_default();
        add(
            Layer::Starttls,
            Reason::Starttls(st.result),
            format!("{}: {detail}", st.protocol),
        );
    }
    let Some(tls) = &report.tls else {
        return found;
    };
    let mut vhost_said = false;
    if let Some(error) = &tls.error {
        // An SNI name refused with `unrecognized_name` is a routing verdict, not a broken
        // handshake: it stops at the vhost layer (the alert stays in `tls.error`).
        if error.alert == Some(TlsAlert::UNRECOGNIZED_NAME) && tls.sni.is_some() {
            vhost_said = true;
            add(
                Layer::Vhost,
                Reason::Vhost(Vhost::UnrecognizedName),
                error.detail.clone(),
            );
        } else {
            add(Layer::Tls, Reason::Tls(error.kind), error.detail.clone());
        }
    }
    if let Some(verify) = &tls.verify {
        for (problem, note) in verify.errors.iter().zip(&verify.notes) {
            add(
                Layer::Certificate,
                Reason::Certificate(*problem),
                note.clone(),
            );
        }
    }
    if let Some(vhost) = tls.vhost.filter(|v| *v != Vhost::Matched && !vhost_said) {
        let detail = match (vhost, &tls.default_cert) {
            (Vhost::DefaultFallback, Some(default)) => format!(
                "the server answered with its default certificate ({})",
                default.subject
            ),
            (Vhost::Mismatch, Some(default)) => format!(
                "the certificate is neither for this name nor the default ({})",
                default.subject
            ),
            (Vhost::Mismatch, None) => {
                "the certificate is not for this name, and the default could not be fetched"
                    .to_string()
            }
            _ => word(&vhost),
        };
        add(Layer::Vhost, Reason::Vhost(vhost), detail);
    }
    found
}

/// Precedence: the lower, the more it explains the others.
fn rank(problem: &Problem) -> u8 {
    match problem.reason {
        Reason::Internal(_) => 0,
        Reason::Dns(_) => 1,
        Reason::Tcp(_) => 2,
        Reason::Starttls(_) => 3,
        Reason::Tls(_) => 4,
        Reason::Vhost(v) if v.not_routed() => 5,
        Reason::Certificate(CertProblem::Expired | CertProblem::NotYetValid) => 7,
        Reason::Certificate(CertProblem::NameMismatch) => 9,
        Reason::Certificate(_) => 6,
        Reason::Vhost(_) => 8,
        Reason::Expect(_) => 10,
    }
}

/// Checks each expectation against what the probe saw.
fn check(report: &Report, expect: &Expectations) -> Vec<ExpectResult> {
    let Some(wanted) = expect.state else {
        return Vec::new();
    };
    let seen = match (&report.tcp, &report.stopped) {
        (Some(tcp), _) => word(&tcp.state),
        (None, Some(stopped)) => stopped.reason.word(),
        (None, None) => "nothing".to_string(),
    };
    let ok = report.tcp.as_ref().is_some_and(|t| t.state == wanted);
    vec![ExpectResult {
        check: ExpectCheck::State,
        wanted: word(&wanted),
        seen,
        ok,
    }]
}

/// A failed expectation decides (6); otherwise the stop does, unless an expectation asked for
/// exactly that TCP state (`--expect closed` on a closed port exits 0).
fn exit_code(report: &Report) -> ExitCode {
    if report.expect.iter().any(|e| !e.ok) {
        return ExitCode::Expectation;
    }
    let Some(stopped) = &report.stopped else {
        return ExitCode::Ok;
    };
    let accepted = stopped.layer == Layer::Tcp
        && report
            .expect
            .iter()
            .any(|e| e.check == ExpectCheck::State && e.ok);
    if accepted {
        ExitCode::Ok
    } else {
        code_for(stopped)
    }
}

fn dns_sentence(outcome: DnsOutcome) -> String {
    match outcome {
        DnsOutcome::Nxdomain => "the name does not exist",
        DnsOutcome::NoRecords => "the name has no address of the asked family",
        DnsOutcome::Timeout => "the resolver did not answer in time",
        DnsOutcome::Error | DnsOutcome::Resolved => "resolver failure",
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::tls::{CertRef, TlsFailure, TlsFailureKind, VerifyReport};
    use crate::report::{DnsReport, StarttlsReport, TcpReason, TcpReport, TlsReport};

    fn open() -> Report {
        Report {
            tcp: Some(TcpReport {
                state: TcpState::Open,
                reason: TcpReason::SynAck,
                icmp_from: None,
                icmp: None,
                errno: None,
                connect_ms: 1.0,
                icmp_evidence: crate::report::IcmpEvidence::ErrorQueue,
            }),
            ..Report::default()
        }
    }

    fn with_tcp(state: TcpState, reason: TcpReason) -> Report {
        let mut r = open();
        if let Some(tcp) = r.tcp.as_mut() {
            tcp.state = state;
            tcp.reason = reason;
        }
        r
    }

    fn with_tls(errors: &[CertProblem], vhost: Option<Vhost>) -> Report {
        let mut r = open();
        r.tls = Some(TlsReport {
            sni: vhost.map(|_| "x.example".to_string()),
            verify: Some(VerifyReport {
                trusted: errors.iter().all(|e| !e.is_trust()),
                name_match: !errors.contains(&CertProblem::NameMismatch),
                name: "x.example".into(),
                errors: errors.to_vec(),
                notes: errors.iter().map(|e| format!("{e:?}")).collect(),
                earliest_expiry_days: None,
                earliest_expiry_subject: None,
            }),
            vhost,
            default_cert: Some(CertRef {
                subject: "CN=default.example".into(),
                sha256: "AA".into(),
            }),
            ..TlsReport::default()
        });
        r
    }

    fn settled(mut r: Report, expect: &Expectations) -> Report {
        settle(&mut r, expect);
        r
    }

    fn stop(r: &Report) -> (Layer, String) {
        let s = r.stopped.expect("stopped");
        (s.layer, s.reason.word())
    }

    #[test]
    fn tcp_states_map_to_portqry_codes() {
        let none = Expectations::default();
        let cases = [
            (TcpState::Closed, TcpReason::Rst, ExitCode::NotListening),
            (
                TcpState::Rejected,
                TcpReason::IcmpAdminProhibited,
                ExitCode::NotListening,
            ),
            (
                TcpState::Unreachable,
                TcpReason::NoRoute,
                ExitCode::NotListening,
            ),
            (TcpState::Filtered, TcpReason::Timeout, ExitCode::Filtered),
            (TcpState::Error, TcpReason::LocalPolicy, ExitCode::Local),
        ];
        for (state, reason, code) in cases {
            let r = settled(with_tcp(state, reason), &none);
            assert_eq!(r.exit, code, "{state:?}");
            assert_eq!(r.reached, None);
            assert_eq!(stop(&r), (Layer::Tcp, word(&state)));
        }
        let ok = settled(open(), &none);
        assert_eq!(
            (ok.exit, ok.reached, ok.stopped),
            (ExitCode::Ok, Some(Layer::Tcp), None)
        );
        assert!(ok.problems.is_empty());
    }

    #[test]
    fn dns_failure_stops_before_tcp() {
        let r = settled(
            Report {
                dns: Some(DnsReport {
                    name: "nosuch.example".into(),
                    outcome: DnsOutcome::Nxdomain,
                    addresses: vec![],
                    resolve_ms: 1.0,
                    detail: None,
                }),
                ..Report::default()
            },
            &Expectations::default(),
        );
        assert_eq!(stop(&r), (Layer::Dns, "nxdomain".into()));
        assert_eq!(r.exit, ExitCode::Dns);
        assert_eq!(r.problems[0].detail, "the name does not exist");
    }

    /// The precedence table of README "Verdict precedence", row by row.
    #[test]
    fn precedence_names_the_cause_not_the_symptom() {
        use CertProblem as C;
        let none = Expectations::default();
        let rows: [(&[CertProblem], Option<Vhost>, Layer, &str); 7] = [
            // A default fallback explains the name mismatch, and the self-signed default.
            (
                &[C::NameMismatch, C::SelfSigned],
                Some(Vhost::DefaultFallback),
                Layer::Vhost,
                "default_fallback",
            ),
            // An untrusted chain is never hidden behind a name mismatch.
            (
                &[C::NameMismatch, C::UnknownIssuer],
                None,
                Layer::Certificate,
                "unknown_issuer",
            ),
            (
                &[C::NameMismatch, C::UnknownIssuer],
                Some(Vhost::Mismatch),
                Layer::Certificate,
                "unknown_issuer",
            ),
            // Who signed comes before when: an expired self-signed certificate is self-signed.
            (
                &[C::Expired, C::SelfSigned],
                None,
                Layer::Certificate,
                "self_signed",
            ),
            (
                &[C::Expired],
                Some(Vhost::Mismatch),
                Layer::Certificate,
                "expired",
            ),
            // A trusted certificate for other names: the vhost side says more than the name.
            (
                &[C::NameMismatch],
                Some(Vhost::Mismatch),
                Layer::Vhost,
                "mismatch",
            ),
            (
                &[C::NameMismatch],
                None,
                Layer::Certificate,
                "name_mismatch",
            ),
        ];
        for (errors, vhost, layer, reason) in rows {
            let r = settled(with_tls(errors, vhost), &none);
            assert_eq!(
                stop(&r),
                (layer, reason.to_string()),
                "{errors:?} {vhost:?}"
            );
            assert_eq!(r.exit, ExitCode::Certificate);
            assert_eq!(r.reached, Some(Layer::Tls));
            let expected_problems = errors.len() + usize::from(vhost.is_some());
            assert_eq!(r.problems.len(), expected_problems, "{:?}", r.problems);
        }
        let fine = settled(with_tls(&[], Some(Vhost::Matched)), &none);
        assert_eq!(
            (fine.exit, fine.reached),
            (ExitCode::Ok, Some(Layer::Vhost))
        );
    }

    #[test]
    fn handshake_and_starttls_failures_exit_3_and_unrecognized_name_is_a_vhost_stop() {
        let none = Expectations::default();
        let mut r = open();
        r.starttls = Some(StarttlsReport {
            protocol: "smtp".into(),
            result: StarttlsResult::Refused,
            ..StarttlsReport::default()
        });
        let r = settled(r, &none);
        assert_eq!(
            (stop(&r), r.exit),
            ((Layer::Starttls, "refused".into()), ExitCode::Tls)
        );

        let failing = |alert: Option<TlsAlert>, sni: bool| {
            let mut r = open();
            r.tls = Some(TlsReport {
                sni: sni.then(|| "x.example".into()),
                error: Some(TlsFailure {
                    kind: TlsFailureKind::Alert,
                    alert,
                    detail: "refused".into(),
                    received: None,
                }),
                ..TlsReport::default()
            });
            settled(r, &none)
        };
        let refused = failing(Some(TlsAlert::UNRECOGNIZED_NAME), true);
        assert_eq!(stop(&refused), (Layer::Vhost, "unrecognized_name".into()));
        assert_eq!(refused.exit, ExitCode::Certificate);
        let broken = failing(Some(TlsAlert(40)), true);
        assert_eq!(stop(&broken), (Layer::Tls, "alert".into()));
        assert_eq!(broken.exit, ExitCode::Tls);
        // Without SNI there is no name to refuse: the alert is a TLS failure.
        let no_sni = failing(Some(TlsAlert::UNRECOGNIZED_NAME), false);
        assert_eq!(stop(&no_sni), (Layer::Tls, "alert".into()));
    }

    #[test]
    fn expectations_explain_themselves_and_decide_the_code() {
        let closed = Expectations {
            state: Some(TcpState::Closed),
        };
        let r = settled(open(), &closed);
        assert_eq!(r.exit, ExitCode::Expectation);
        assert_eq!(
            (
                r.expect[0].wanted.as_str(),
                r.expect[0].seen.as_str(),
                r.expect[0].ok
            ),
            ("closed", "open", false)
        );
        assert!(matches!(headline(&r), Headline::Expectation(_)));
        assert_eq!(r.problems.last().map(|p| p.layer), Some(Layer::Expect));

        let r = settled(with_tcp(TcpState::Closed, TcpReason::Rst), &closed);
        assert_eq!(r.exit, ExitCode::Ok);
        assert!(r.expect[0].ok);
        assert_eq!(stop(&r), (Layer::Tcp, "closed".into()));

        // `--expect open` holds, but a certificate problem above TCP still counts.
        let open_wanted = Expectations {
            state: Some(TcpState::Open),
        };
        let r = settled(with_tls(&[CertProblem::SelfSigned], None), &open_wanted);
        assert_eq!(r.exit, ExitCode::Certificate);
        let r = settled(
            with_tcp(TcpState::Filtered, TcpReason::Timeout),
            &open_wanted,
        );
        assert_eq!(r.exit, ExitCode::Expectation);
    }

    #[test]
    fn a_fault_is_reported_and_never_exits_0() {
        let mut r = open();
        fault(&mut r, InternalFault::Panic, "boom".into());
        assert_eq!(stop(&r), (Layer::Internal, "panic".into()));
        assert_eq!(r.exit, ExitCode::Internal);
        assert_eq!(r.problems.len(), 1);
    }
}
