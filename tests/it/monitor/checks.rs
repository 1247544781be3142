//! `reach check FILE`: the stale-node scenario (3 addresses × 2 names, one address still on
//! the old certificate) with its JUnit report validated with a real XML parser against what
//! the JUnit schema requires; and malformed files, each a usage error naming line and column.

use std::collections::BTreeMap;

use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use reach::demo::pki::{LeafSpec, Validity};
use serde_json::Value;

use super::{Pki, reach, spec, stdout, tls_on};
use crate::support::TempDir;

/// One `<testcase>`: its attributes and its failure's, if any.
#[derive(Debug)]
struct Case {
    suite: String,
    name: String,
    failure: Option<BTreeMap<String, String>>,
}

fn attributes(e: &BytesStart<'_>) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("well-formed attribute");
            (
                a.key.as_ref().to_string(),
                a.normalized_value(XmlVersion::Implicit1_0)
                    .expect("attribute text")
                    .into_owned(),
            )
        })
        .collect()
}

fn require(element: &str, attrs: &BTreeMap<String, String>, names: &[&str]) {
    for name in names {
        assert!(
            attrs.contains_key(*name),
            "<{element}> lacks the required attribute {name}: {attrs:?}"
        );
    }
}

/// Parses a JUnit document and checks the structure the JUnit schema (Ant's junit-4.xsd,
/// which CI systems read) requires: `testsuites` holds `testsuite`s with name, tests,
/// failures, errors, time, timestamp, hostname, id, package, a `properties`, `system-out`
/// and `system-err`; each `testcase` has name, classname, time; each `failure` has message
/// and type. Counts must agree with the cases. Returns the cases.
fn parse_junit(xml: &str) -> Vec<Case> {
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<String> = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut suite = String::new();
    let mut suite_counts: Vec<(BTreeMap<String, String>, usize, usize)> = Vec::new();
    let mut seen_in_suite: Vec<String> = Vec::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(e) => {
                let name = e.name().as_ref().to_string();
                if name == "testsuite" {
                    for required in ["properties", "system-out", "system-err"] {
                        assert!(
                            seen_in_suite.iter().any(|s| s == required),
                            "testsuite {suite} lacks <{required}>"
                        );
                    }
                }
                assert_eq!(stack.pop().as_deref(), Some(name.as_str()));
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(e) = start else { continue };
        let name = e.name().as_ref().to_string();
        let attrs = attributes(&e);
        let parent = stack.last().map(String::as_str);
        match name.as_str() {
            "testsuites" => assert_eq!(parent, None, "testsuites is the root"),
            "testsuite" => {
                assert_eq!(parent, Some("testsuites"));
                require(
                    "testsuite",
                    &attrs,
                    &[
                        "name",
                        "tests",
                        "failures",
                        "errors",
                        "time",
                        "timestamp",
                        "hostname",
                        "id",
                        "package",
                    ],
                );
                assert!(
                    !attrs["timestamp"].ends_with('Z') && attrs["timestamp"].len() == 19,
                    "timestamp is an xs:dateTime without zone: {}",
                    attrs["timestamp"]
                );
                suite = attrs["name"].clone();
                seen_in_suite.clear();
                suite_counts.push((attrs, 0, 0));
            }
            "properties" | "system-out" | "system-err" => {
                assert_eq!(parent, Some("testsuite"));
                seen_in_suite.push(name.clone());
            }
            "testcase" => {
                assert_eq!(parent, Some("testsuite"));
                require("testcase", &attrs, &["name", "classname", "time"]);
                attrs["time"].parse::<f64>().expect("time is a number");
                if let Some(last) = suite_counts.last_mut() {
                    last.1 += 1;
                }
                cases.push(Case {
                    suite: suite.clone(),
                    name: attrs["name"].clone(),
                    failure: None,
                });
            }
            "failure" => {
                assert_eq!(parent, Some("testcase"));
                require("failure", &attrs, &["message", "type"]);
                if let Some(last) = suite_counts.last_mut() {
                    last.2 += 1;
                }
                if let Some(case) = cases.last_mut() {
                    case.failure = Some(attrs);
                }
            }
            other => panic!("unexpected element <{other}>"),
        }
        if !empty {
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}");
    for (attrs, tests, failures) in suite_counts {
        assert_eq!(attrs["tests"], tests.to_string(), "{attrs:?}");
        assert_eq!(attrs["failures"], failures.to_string(), "{attrs:?}");
    }
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_node_fails_the_deploy_check_and_junit_names_it() {
    let pki = Pki::new();
    let names = ["www.example", "api.example"];
    let current = pki.leaf(&names, Validity::Current);
    // The node nobody redeployed: last quarter's certificate, from the old CA, 5 days left.
    let old_ca = crate::support::tls::root("Old Issuing CA");
    let stale = old_ca
        .issue(&LeafSpec {
            validity: Validity::EndsIn(5),
            ..LeafSpec::server(&names)
        })
        .unwrap();
    let first = tls_on("127.0.0.1", 0, spec(&names, &current, None)).await;
    let port = first.addr().port();
    let second = tls_on("127.0.0.2", port, spec(&names, &current, None)).await;
    let third = tls_on("127.0.0.3", port, spec(&names, &stale, None)).await;
    let dir = TempDir::new("checks");
    std::fs::write(dir.join("ca.pem"), pki._root_pem() + &old_ca.cert_pem()).unwrap();
    let file = dir.write(
        "deploy.toml",
        &format!(
            r#"# After the deploy: every node serves the new certificate.
[[check]]
name = "web"
names = ["www.example", "api.example"]
addresses = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
port = {port}
tls = {{ ca_file = ["ca.pem"], no_default_roots = true }}
expect = {{ min_days = 30, issuer = "CN=Example Issuing CA", same_cert = true }}
"#
        ),
    );
    let junit = dir.join("report.xml");
    let file_arg = file.display().to_string();
    let junit_arg = junit.display().to_string();
    let out = reach(&["check", &file_arg, "--junit", &junit_arg]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(6), "{text}");
    for name in names {
        assert!(
            text.contains(&format!(
                "127.0.0.3:{port} sni={name}  EXPECT min_days failed"
            )),
            "{text}"
        );
    }
    assert!(text.contains("6 probes"), "{text}");

    let xml = std::fs::read_to_string(&junit).expect("JUnit report written");
    let cases = parse_junit(&xml);
    // 6 probes × (verdict + min_days + issuer + same_cert).
    assert_eq!(cases.len(), 24, "{xml}");
    assert!(cases.iter().all(|c| c.suite == "web"));
    let failed: Vec<&Case> = cases.iter().filter(|c| c.failure.is_some()).collect();
    assert_eq!(
        failed.len(),
        6,
        "three expectations × two names: {failed:#?}"
    );
    for case in &failed {
        assert!(
            case.name.starts_with(&format!("127.0.0.3:{port} sni=")),
            "{case:?}"
        );
    }
    let same = failed
        .iter()
        .find(|c| c.name.ends_with("www.example: expect same_cert"))
        .expect("the stale node's same_cert case");
    let failure = same.failure.as_ref().unwrap();
    assert_eq!(failure["type"], "expect.same_cert");
    assert!(
        failure["message"].starts_with("certificate: expect same_cert failed: wanted ")
            && failure["message"].contains("(served by 2 of 3 addresses), saw "),
        "{failure:?}"
    );
    let issuer = failed
        .iter()
        .find(|c| c.name.ends_with("api.example: expect issuer"))
        .unwrap();
    assert!(
        issuer.failure.as_ref().unwrap()["message"].contains("saw CN=Old Issuing CA"),
        "{issuer:?}"
    );

    // The same file as JSON lines: each report names its entry.
    let out = reach(&["check", &file_arg, "--json"]).await;
    let reports: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 6);
    assert!(reports.iter().all(|r| r["check"] == "web"));
    drop((first, second, third));
}

#[tokio::test]
async fn a_malformed_checks_file_is_a_usage_error_with_line_and_column() {
    let dir = TempDir::new("checks-bad");
    let cases: [(&str, &str); 7] = [
        (
            "[[check]]\nnames = [\"a.example\"]\nport = 70000\n",
            "line 3, column 8",
        ),
        (
            "[[check]]\nnames = [\"a.example\"]\nexpect = { min_days = 30, issuer = \"(\" }\n",
            "line 3, column 36",
        ),
        (
            "[[check]]\nnames = [\"a.example\"]\nexpect = { mindays = 30 }\n",
            "unknown field `mindays`",
        ),
        (
            "[[check]]\nnames = [\"a.example\"]\nstarttls = \"smtps\"\n",
            "line 3, column 12",
        ),
        ("[[check]]\nnames = [\"a.example\"\n", "line 2"),
        (
            "[[check]]\nname = \"empty\"\n",
            "give targets, names or addresses",
        ),
        ("# nothing\n", "no [[check]] entry"),
    ];
    for (i, (contents, said)) in cases.iter().enumerate() {
        let path = dir.write(&format!("bad{i}.toml"), contents);
        let out = reach(&["check", &path.display().to_string()]).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{contents}: {err}");
        assert!(err.contains(said), "{contents}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = reach(&["check", "/nonexistent/deploy.toml"]).await;
    assert_eq!(out.status.code(), Some(64));
    // In plugin mode a bad file is UNKNOWN.
    let path = dir.join("bad0.toml").display().to_string();
    let out = reach(&["check", &path, "--format", "nagios"]).await;
    assert_eq!(out.status.code(), Some(3));
    assert!(stdout(&out).starts_with("REACH UNKNOWN - usage: "));
}
