//! Against a real nginx (Debian `nginx-light`, /usr/sbin/nginx) on loopback with several SNI
//! `server` blocks: a default server, two named ones (one with a certificate for another
//! name), and a second port whose default server rejects unknown names
//! (`ssl_reject_handshake`). Skips without nginx unless `CI=true`.

use crate::support::words::*;
use std::net::SocketAddr;
use std::process::Command;

use reach::demo::pki::{Credential, LeafSpec};

use crate::support::daemons::Daemon;
use crate::support::tls::*;
use crate::support::{TempDir, free_port, loopback, require_binary};

struct Nginx {
    _daemon: Daemon,
    open: SocketAddr,
    strict: SocketAddr,
    a: Credential,
    other: Credential,
    default: Credential,
}

fn start_nginx(ca: &reach::demo::pki::DemoCa, dir: &TempDir) -> Option<Nginx> {
    let nginx = require_binary(&["/usr/sbin/nginx"], "nginx-light")?;
    let a = ca.issue(&LeafSpec::server(&["a.test"])).expect("leaf");
    let other = ca.issue(&LeafSpec::server(&["other.test"])).expect("leaf");
    let default = ca
        .issue(&LeafSpec::server(&["default.test"]))
        .expect("leaf");
    let mut files = Vec::new();
    for (name, cred) in [("a", &a), ("other", &other), ("default", &default)] {
        let cert = dir.write(&format!("{name}.pem"), &cred.chain_pem());
        let key = dir.write(&format!("{name}.key"), &cred.key_pem());
        files.push((cert.display().to_string(), key.display().to_string()));
    }
    let (open_port, strict_port) = (free_port(), free_port());
    let d = dir.path().display();
    let server = |listen: String, names: &str, (cert, key): &(String, String)| {
        format!(
            "server {{ listen {listen}; server_name {names}; ssl_certificate {cert}; \
             ssl_certificate_key {key}; return 200 \"{names}\\n\"; }}\n"
        )
    };
    let mut http = String::new();
    http += &server(
        format!("127.0.0.1:{open_port} ssl default_server"),
        "default.test",
        &files[2],
    );
    http += &server(format!("127.0.0.1:{open_port} ssl"), "a.test", &files[0]);
    http += &server(format!("127.0.0.1:{open_port} ssl"), "c.test", &files[1]);
    http += &format!(
        "server {{ listen 127.0.0.1:{strict_port} ssl default_server; ssl_reject_handshake on; }}\n"
    );
    http += &server(format!("127.0.0.1:{strict_port} ssl"), "a.test", &files[0]);
    let temp_paths: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|t| format!("{t}_temp_path {d}/{t};\n"))
        .collect();
    let config = format!(
        "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\naccess_log off;\n{temp_paths}{http}}}\n"
    );
    let conf = dir.write("nginx.conf", &config);
    let conf = conf.to_str().expect("utf-8 path");
    let prefix = format!("{d}/");
    let mut cmd = Command::new(nginx);
    cmd.args(["-p", &prefix, "-e", "stderr", "-c", conf]);
    let daemon = Daemon::start("nginx", cmd, dir, &[open_port, strict_port]);
    Some(Nginx {
        _daemon: daemon,
        open: loopback(open_port),
        strict: loopback(strict_port),
        a,
        other,
        default,
    })
}

#[tokio::test]
async fn nginx_virtual_hosts_get_every_verdict() {
    let ca = root("Nginx Root");
    let dir = TempDir::new("nginx");
    let Some(nginx) = start_nginx(&ca, &dir) else {
        return;
    };
    let (ctx, _d) = context(&[&ca], |o| o.alpn = vec!["http/1.1".into()]);

    let report = probe(nginx.open, &sni("a.test"), &ctx).await;
    assert_eq!(report.error, None);
    assert_eq!(report.vhost.map(|v| word(&v)).as_deref(), Some("matched"));
    assert_eq!(report.chain[0].sha256, nginx.a.leaf_sha256());
    assert_eq!(report.alpn.as_deref(), Some("http/1.1"));
    // Covered: `matched` without fetching the default certificate.
    assert_eq!(report.default_cert, None);

    let report = probe(nginx.open, &sni("b.test"), &ctx).await;
    assert_eq!(
        report.vhost.map(|v| word(&v)).as_deref(),
        Some("default_fallback")
    );
    assert_eq!(report.chain[0].sha256, nginx.default.leaf_sha256());
    let default_cert = report.default_cert.as_ref().expect("default fetched");
    assert_eq!(default_cert.sha256, nginx.default.leaf_sha256());
    assert_error(&report, "name_mismatch");

    let report = probe(nginx.open, &sni("c.test"), &ctx).await;
    assert_eq!(report.vhost.map(|v| word(&v)).as_deref(), Some("mismatch"));
    assert_eq!(report.chain[0].sha256, nginx.other.leaf_sha256());

    let report = probe(nginx.strict, &sni("b.test"), &ctx).await;
    assert_eq!(
        report.vhost.map(|v| word(&v)).as_deref(),
        Some("unrecognized_name")
    );
    let error = report.error.as_ref().expect("rejected");
    assert_eq!(
        error.alert.map(|a| a.name()).as_deref(),
        Some("unrecognized_name")
    );

    let report = probe(nginx.strict, &sni("a.test"), &ctx).await;
    assert_eq!(report.vhost.map(|v| word(&v)).as_deref(), Some("matched"));
    assert_eq!(
        report.default_cert, None,
        "the default server rejects a handshake without SNI"
    );
}
