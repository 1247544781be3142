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
