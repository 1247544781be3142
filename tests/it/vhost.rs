//! Virtual-host verdicts against an in-process SNI server on loopback: matched,
//! default_fallback, unrecognized_name, mismatch; the SNI actually sent.

use crate::support::words::*;
use reach::demo::pki::LeafSpec;
use reach::demo::tls_server::UnknownName;
use reach::probe::tls::TlsRequest;

use crate::support::tls::*;

#[tokio::test]
async fn sni_routes_to_its_certificate_and_is_matched() {
    let ca = root("Vhost Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let default = ca
        .issue(&LeafSpec::server(&["default.test"]))
        .expect("leaf");
    let srv = server(routes(&[("a.test", &a)], Some(&default))).await;
    let (ctx, _dir) = context(&[&ca], |_| {});

    let report = probe(srv.addr(), &sni("a.test"), &ctx).await;
    assert_eq!(report.error, None);
    assert_eq!(report.sni.as_deref(), Some("a.test"));
    assert_eq!(report.version.as_deref(), Some("TLSv1.3"));
    let verify = report.verify.as_ref().expect("verified");
    assert!(verify.trusted && verify.name_match, "{verify:?}");
    assert_eq!(report.chain[0].sha256, a.leaf_sha256());
    assert_eq!(report.vhost.map(|v| word(&v)).as_deref(), Some("matched"));
    // A covered name is `matched` whatever the default is: no second connection is made.
    assert_eq!(report.default_cert, None);
    assert!(!certificate_problem(&report) && report.error.is_none());
    assert_eq!(srv.sni_seen(), vec![Some("a.test".to_string())]);
}

#[tokio::test]
async fn unknown_name_gets_the_default_certificate() {
    let ca = root("Vhost Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let default = ca
        .issue(&LeafSpec::server(&["default.test"]))
        .expect("leaf");
    let srv = server(routes(&[("a.test", &a)], Some(&default))).await;
    let (ctx, _dir) = context(&[&ca], |_| {});

    let report = probe(srv.addr(), &sni("b.test"), &ctx).await;
    assert_eq!(report.error, None);
    assert_eq!(
        report.vhost.map(|v| word(&v)).as_deref(),
        Some("default_fallback")
    );
    assert_eq!(report.chain[0].sha256, default.leaf_sha256());
    let verify = report.verify.as_ref().expect("verified");
    assert!(verify.trusted && !verify.name_match);
    assert_error(&report, "name_mismatch");
    assert!(certificate_problem(&report));
}

#[tokio::test]
async fn server_refusing_the_name_is_unrecognized_name() {
    let ca = root("Vhost Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let default = ca
        .issue(&LeafSpec::server(&["default.test"]))
        .expect("leaf");
    let mut spec = routes(&[("a.test", &a)], Some(&default));
    spec.unknown_name = UnknownName::Refuse;
    let srv = server(spec).await;
    let (ctx, _dir) = context(&[&ca], |_| {});

    let report = probe(srv.addr(), &sni("b.test"), &ctx).await;
    let error = report.error.as_ref().expect("refused");
    assert_eq!(word(&error.kind), "alert");
    assert_eq!(
        error.alert.map(|a| a.name()).as_deref(),
        Some("unrecognized_name")
    );
    assert_eq!(
        report.vhost.map(|v| word(&v)).as_deref(),
        Some("unrecognized_name")
    );
    assert!(report.error.is_some());
    assert!(report.chain.is_empty() && report.verify.is_none());
}

#[tokio::test]
async fn non_default_certificate_for_another_name_is_mismatch() {
    let ca = root("Vhost Root");
    let wrong = ca.issue(&LeafSpec::server(&["other.test"])).expect("leaf");
    let default = ca
        .issue(&LeafSpec::server(&["default.test"]))
        .expect("leaf");
    let srv = server(routes(&[("c.test", &wrong)], Some(&default))).await;
    let (ctx, _dir) = context(&[&ca], |_| {});

    let report = probe(srv.addr(), &sni("c.test"), &ctx).await;
    assert_eq!(report.vhost.map(|v| word(&v)).as_deref(), Some("mismatch"));
    assert_eq!(report.chain[0].sha256, wrong.leaf_sha256());
    assert_error(&report, "name_mismatch");
}

#[tokio::test]
async fn no_sni_sends_none_and_gets_the_default() {
    let ca = root("Vhost Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let default = ca
        .issue(&LeafSpec::server(&["a.test", "default.test"]))
        .expect("leaf");
    let srv = server(routes(&[("a.test", &a)], Some(&default))).await;
    let (ctx, _dir) = context(&[&ca], |_| {});

    let req = TlsRequest {
        sni: None,
        verify_name: "a.test".into(),
        want_vhost: true,
        ..TlsRequest::default()
    };
    let report = probe(srv.addr(), &req, &ctx).await;
    assert_eq!(report.sni, None);
    assert_eq!(report.chain[0].sha256, default.leaf_sha256());
    assert!(report.verify.as_ref().expect("verified").name_match);
    // No SNI: no vhost comparison to make.
    assert_eq!(report.vhost, None);
    assert_eq!(srv.sni_seen(), vec![None]);
}

#[tokio::test]
async fn ip_target_sends_no_sni_and_matches_an_ip_san() {
    let ca = root("Vhost Root");
    let by_ip = ca.issue(&LeafSpec::server(&["127.0.0.1"])).expect("leaf");
    let srv = server(routes(&[], Some(&by_ip))).await;
    let (ctx, _dir) = context(&[&ca], |_| {});

    let req = TlsRequest::for_host("127.0.0.1");
    assert_eq!(req.sni, None);
    let report = probe(srv.addr(), &req, &ctx).await;
    assert_eq!(report.sni, None);
    assert_eq!(report.chain[0].sans, vec!["127.0.0.1".to_string()]);
    let verify = report.verify.as_ref().expect("verified");
    assert!(verify.trusted && verify.name_match, "{verify:?}");
    assert_eq!(srv.sni_seen(), vec![None]);

    // The same certificate does not cover another address.
    let other = TlsRequest {
        verify_name: "127.0.0.2".into(),
        ..req
    };
    let report = probe(srv.addr(), &other, &ctx).await;
    assert_error(&report, "name_mismatch");
}

/// How many handshakes `srv` has seen so far.
fn handshakes(srv: &reach::demo::tls_server::ServerHandle) -> usize {
    srv.sni_seen().len()
}

#[tokio::test]
async fn an_endpoints_defaults_are_remembered_and_asked_again_when_they_change() {
    let ca = root("Vhost Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let first = ca.issue(&LeafSpec::server(&["one.test"])).expect("leaf");
    let second = ca.issue(&LeafSpec::server(&["two.test"])).expect("leaf");
    // Two back ends of one endpoint (as behind a load balancer), with different defaults.
    let one = server(routes(&[("a.test", &a)], Some(&first))).await;
    let two = server(routes(&[("a.test", &a)], Some(&second))).await;
    let (ctx, _dir) = context(&[&ca], |_| {});
    let at = |name: &str| TlsRequest {
        endpoint: Some("the endpoint".to_string()),
        ..sni(name)
    };
    let fallback = |report: &reach::report::TlsReport| report.vhost.map(|v| word(&v));

    // First uncovered name: two reference handshakes beside its own.
    let report = probe(one.addr(), &at("b.test"), &ctx).await;
    assert_eq!(fallback(&report).as_deref(), Some("default_fallback"));
    assert_eq!(report.references.len(), 2);
    assert!(report.references.iter().all(|r| !r.remembered));
    assert_eq!(handshakes(&one), 3);

    // Second: its own handshake only; the references are the remembered ones.
    let report = probe(one.addr(), &at("c.test"), &ctx).await;
    assert_eq!(fallback(&report).as_deref(), Some("default_fallback"));
    assert!(report.references.iter().all(|r| r.remembered), "{report:?}");
    assert!(report.references.iter().any(|r| r.same_as_served));
    assert!(!report.defaults_changed);
    assert_eq!(handshakes(&one), 4);

    // The other back end serves another default: neither remembered one, so it is asked
    // again, the verdict comes from what it answers now, and the change is said.
    let report = probe(two.addr(), &at("d.test"), &ctx).await;
    assert_eq!(fallback(&report).as_deref(), Some("default_fallback"));
    assert!(report.defaults_changed, "{report:?}");
    assert!(report.references.iter().all(|r| !r.remembered));
    assert_eq!(report.chain[0].sha256, second.leaf_sha256());
    assert_eq!(handshakes(&two), 3);

    // From then on the new defaults are the remembered ones.
    let report = probe(two.addr(), &at("e.test"), &ctx).await;
    assert!(report.references.iter().all(|r| r.remembered));
    assert_eq!(handshakes(&two), 4);

    // A request without an endpoint is never answered from memory.
    let report = probe(two.addr(), &sni("f.test"), &ctx).await;
    assert_eq!(fallback(&report).as_deref(), Some("default_fallback"));
    assert!(report.references.iter().all(|r| !r.remembered));
    assert_eq!(handshakes(&two), 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_makes_an_endpoints_references_once_for_all_its_uncovered_names() {
    let ca = root("Vhost Root");
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let default = ca
        .issue(&LeafSpec::server(&["default.test"]))
        .expect("leaf");
    let srv = server(routes(&[("a.test", &a)], Some(&default))).await;
    let dir = crate::support::TempDir::new("vhost-memory");
    let ca_path = dir.write("ca.pem", &ca.cert_pem());
    let target = srv.addr().to_string();
    let (lines, code) = crate::support::reach_json(&[
        "--ca-file",
        ca_path.to_str().expect("utf-8 path"),
        "--sni",
        "u1.test",
        "--sni",
        "u2.test",
        "--sni",
        "u3.test",
        &target,
    ])
    .await;
    assert_eq!(code, 4, "{lines:?}");
    assert_eq!(lines.len(), 3);
    assert!(
        lines
            .iter()
            .all(|l| l["tls"]["vhost"] == "default_fallback"),
        "{lines:?}"
    );
    // Each name's own handshake, and the two references once for the run.
    assert_eq!(handshakes(&srv), 5, "{:?}", srv.sni_seen());
    let remembered = |l: &serde_json::Value| {
        l["tls"]["references"]
            .as_array()
            .expect("references")
            .iter()
            .all(|r| r["remembered"] == true)
    };
    assert_eq!(
        lines.iter().filter(|l| remembered(l)).count(),
        2,
        "{lines:?}"
    );
}
