//! The Prometheus text exposition of one scrape: `blackbox_exporter`'s names where the
//! meaning is the same, so dashboards and alerts keep working, and `reach_*` series for what
//! it cannot say (where a probe stopped and why, per-layer durations, the vhost verdict, the
//! chain of an invalid certificate). A pure function of the reports.

use std::fmt::Write;

use crate::report::{Layer, Report, word};

/// One series: name, labels, value.
struct Series<'a> {
    name: &'a str,
    labels: Vec<(&'a str, String)>,
    value: f64,
}

/// HELP and TYPE (all gauges) for each metric, in output order.
const METRICS: &[(&str, &str)] = &[
    (
        "probe_success",
        "Whether every probe of the target succeeded (blackbox_exporter).",
    ),
    (
        "probe_duration_seconds",
        "How long the scrape's probes took (blackbox_exporter).",
    ),
    (
        "probe_ssl_earliest_cert_expiry",
        "Earliest NotAfter of any certificate presented, valid chain or not (unix time).",
    ),
    (
        "probe_ssl_last_chain_expiry_timestamp_seconds",
        "Earliest NotAfter in the chain presented (unix time), valid or not.",
    ),
    (
        "probe_tls_version_info",
        "The TLS version negotiated (blackbox_exporter).",
    ),
    (
        "probe_ssl_last_chain_info",
        "The leaf certificate presented (blackbox_exporter labels).",
    ),
    (
        "reach_probes",
        "Probes made for this target (addresses x SNI names).",
    ),
    (
        "reach_probes_unfinished",
        "Probes cut off by the scrape's deadline (X-Prometheus-Scrape-Timeout-Seconds).",
    ),
    (
        "reach_probe_success",
        "Whether this probe reached what was asked (exit 0).",
    ),
    (
        "reach_probe_stopped",
        "Where and why the probe stopped: the layer and the verdict word (1 when stopped).",
    ),
    (
        "reach_probe_reached",
        "The deepest layer the probe got through.",
    ),
    ("reach_layer_duration_seconds", "Time spent on each layer."),
    (
        "reach_vhost_verdict",
        "The virtual-host verdict for the SNI name.",
    ),
    (
        "reach_cert_trusted",
        "Whether the chain presented is trusted and covers the name.",
    ),
    (
        "reach_cert_not_after_timestamp_seconds",
        "NotAfter of each certificate presented (position 0 is the leaf), valid chain or not.",
    ),
    (
        "reach_expect_ok",
        "Each expectation of the module: 1 met, 0 failed.",
    ),
];

/// The exposition for one scrape: `reports` of one target, `unfinished` probes cut by the
/// scrape's deadline, `seconds` it took.
pub(crate) fn probe_page(reports: &[Report], unfinished: usize, seconds: f64) -> String {
    let mut series: Vec<Series<'_>> = Vec::new();
    let success =
        !reports.is_empty() && unfinished == 0 && reports.iter().all(|r| r.exit.code() == 0);
    series.push(plain("probe_success", f64::from(u8::from(success))));
    series.push(plain("probe_duration_seconds", seconds));
    let earliest = reports
        .iter()
        .filter_map(|r| r.tls.as_ref())
        .flat_map(|t| t.chain.iter())
        .filter_map(|c| c.not_after_unix)
        .min();
    if let Some(t) = earliest {
        series.push(plain("probe_ssl_earliest_cert_expiry", t as f64));
        series.push(plain(
            "probe_ssl_last_chain_expiry_timestamp_seconds",
            t as f64,
        ));
    }
    // The blackbox series describe one connection: the first probe that completed TLS.
    if let Some(tls) = reports
        .iter()
        .filter_map(|r| r.tls.as_ref())
        .find(|t| t.version.is_some())
    {
        if let Some(version) = &tls.version {
            series.push(Series {
                name: "probe_tls_version_info",
                labels: vec![("version", blackbox_version(version))],
                value: 1.0,
            });
        }
        if let Some(leaf) = tls.leaf() {
            series.push(Series {
                name: "probe_ssl_last_chain_info",
                labels: vec![
                    (
                        "fingerprint_sha256",
                        leaf.sha256.replace(':', "").to_ascii_lowercase(),
                    ),
                    ("subject", leaf.subject.clone()),
                    ("issuer", leaf.issuer.clone()),
                    ("subjectalternative", leaf.sans.join(",")),
                ],
                value: 1.0,
            });
        }
    }
    series.push(plain("reach_probes", (reports.len() + unfinished) as f64));
    series.push(plain("reach_probes_unfinished", unfinished as f64));
    for report in reports {
        let id = identity(report);
        let with = |extra: Vec<(&'static str, String)>| {
            let mut labels = id.clone();
            labels.extend(extra);
            labels
        };
        series.push(Series {
            name: "reach_probe_success",
            labels: id.clone(),
            value: f64::from(u8::from(report.exit.code() == 0)),
        });
        if let Some(stopped) = &report.stopped {
            series.push(Series {
                name: "reach_probe_stopped",
                labels: with(vec![
                    ("layer", stopped.layer.as_str().to_string()),
                    ("reason", stopped.reason.word()),
                ]),
                value: 1.0,
            });
        }
        series.push(Series {
            name: "reach_probe_reached",
            labels: with(vec![(
                "layer",
                report.reached.map_or("none", Layer::as_str).to_string(),
            )]),
            value: 1.0,
        });
        let durations = [
            ("dns", report.dns.as_ref().map(|d| d.resolve_ms)),
            ("tcp", report.tcp.as_ref().map(|t| t.connect_ms)),
            (
                "greeting",
                report.greeting.as_ref().and_then(|g| g.banner_ms),
            ),
            ("tls", report.tls.as_ref().and_then(|t| t.handshake_ms)),
        ];
        for (layer, ms) in durations {
            if let Some(ms) = ms {
                series.push(Series {
                    name: "reach_layer_duration_seconds",
                    labels: with(vec![("layer", layer.to_string())]),
                    value: ms / 1000.0,
                });
            }
        }
        if let Some(tls) = &report.tls {
            if let Some(vhost) = tls.vhost {
                series.push(Series {
                    name: "reach_vhost_verdict",
                    labels: with(vec![("verdict", word(&vhost))]),
                    value: 1.0,
                });
            }
            if let Some(verify) = &tls.verify {
                series.push(Series {
                    name: "reach_cert_trusted",
                    labels: id.clone(),
                    value: f64::from(u8::from(verify.trusted && verify.name_match)),
                });
            }
            for (position, cert) in tls.chain.iter().enumerate() {
                if let Some(t) = cert.not_after_unix {
                    series.push(Series {
                        name: "reach_cert_not_after_timestamp_seconds",
                        labels: with(vec![
                            ("position", position.to_string()),
                            ("subject", cert.subject.clone()),
                            ("issuer", cert.issuer.clone()),
                            (
                                "fingerprint_sha256",
                                cert.sha256.replace(':', "").to_ascii_lowercase(),
                            ),
                        ]),
                        value: t as f64,
                    });
                }
            }
        }
        for e in &report.expect {
            let mut extra = vec![("check", word(&e.check))];
            if e.check == crate::report::ExpectCheck::San {
                extra.push(("wanted", e.wanted.clone()));
            }
            series.push(Series {
                name: "reach_expect_ok",
                labels: with(extra),
                value: f64::from(u8::from(e.ok)),
            });
        }
    }
    render(&series)
}

/// `TLSv1.3` → `TLS 1.3`, as blackbox_exporter writes it.
fn blackbox_version(version: &str) -> String {
    match version.strip_prefix("TLSv") {
        Some(number) => format!("TLS {number}"),
        None => version.to_string(),
    }
}

fn plain(name: &str, value: f64) -> Series<'_> {
    Series {
        name,
        labels: Vec::new(),
        value,
    }
}

/// The labels that tell the probes of one target apart.
fn identity(report: &Report) -> Vec<(&'static str, String)> {
    vec![
        (
            "address",
            report.address.map(|a| a.to_string()).unwrap_or_default(),
        ),
        ("port", report.port.to_string()),
        (
            "sni",
            report
                .tls
                .as_ref()
                .and_then(|t| t.sni.clone())
                .unwrap_or_default(),
        ),
    ]
}

fn render(series: &[Series<'_>]) -> String {
    let mut out = String::new();
    for (name, help) in METRICS {
        let mine: Vec<&Series<'_>> = series.iter().filter(|s| s.name == *name).collect();
        if mine.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for s in mine {
            out.push_str(name);
            if !s.labels.is_empty() {
                out.push('{');
                let labels: Vec<String> = s
                    .labels
                    .iter()
                    .map(|(k, v)| format!("{k}=\"{}\"", label_value(v)))
                    .collect();
                out.push_str(&labels.join(","));
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(s.value));
        }
    }
    out
}

/// A label value in the text format: backslash, double quote and newline escaped.
pub(crate) fn label_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value: integers without a fraction, others as Rust prints them.
pub(crate) fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.25), "0.25");
    }

    #[test]
    fn an_empty_scrape_fails_and_says_so() {
        let page = probe_page(&[], 0, 0.5);
        assert!(page.contains("probe_success 0\n"), "{page}");
        assert!(page.contains("# TYPE probe_duration_seconds gauge\nprobe_duration_seconds 0.5\n"));
    }
}
