//! Real nginx and Redis servers on loopback for the client-first greeting probes.

use std::process::Command;

use super::daemons::{Daemon, TestCert, make_cert};
use super::{TempDir, free_port, require_binary, require_root};

/// nginx with a plain HTTP server (a redirect) and an HTTPS server.
pub struct Nginx {
    /// Declared first: stopped before its directory is removed.
    _daemon: Daemon,
    pub http: u16,
    pub https: u16,
    pub cert: TestCert,
    _dir: TempDir,
}

/// Starts nginx in the foreground (`daemon off`).
pub fn nginx() -> Option<Nginx> {
    require_root()?;
    let bin = require_binary(&["/usr/sbin/nginx"], "nginx-light")?;
    let dir = TempDir::new("nginx");
    let cert = make_cert(&dir, "nginx");
    let (http, https) = (free_port(), free_port());
    let d = dir.path().display();
    let config = dir.write(
        "nginx.conf",
        &format!(
            "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nworker_processes 1;\nevents {{}}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{http};\n    server_name www.reach.test;\n\
                 return 301 https://www.reach.test/;\n  }}\n\
               server {{\n    listen 127.0.0.1:{https} ssl;\n    server_name www.reach.test;\n\
                 ssl_certificate {};\n    ssl_certificate_key {};\n    location / {{ return 204; }}\n  }}\n}}\n",
            cert.cert.display(),
            cert.key.display()
        ),
    );
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(&config).arg("-g").arg("daemon off;");
    let daemon = Daemon::start("nginx", cmd, &dir, &[http, https]);
    Some(Nginx {
        _daemon: daemon,
        http,
        https,
        cert,
        _dir: dir,
    })
}

/// A Redis server, optionally with a password.
pub struct Redis {
    /// Declared first: stopped before its directory is removed.
    _daemon: Daemon,
    pub port: u16,
    _dir: TempDir,
}

/// Starts redis-server in the foreground without persistence.
pub fn redis(password: Option<&str>) -> Option<Redis> {
    require_root()?;
    let bin = require_binary(&["/usr/bin/redis-server"], "redis-server")?;
    let dir = TempDir::new("redis");
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args([
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
    ])
    .arg("--dir")
    .arg(dir.path());
    if let Some(pw) = password {
        cmd.args(["--requirepass", pw]);
    }
    let daemon = Daemon::start("redis", cmd, &dir, &[port]);
    Some(Redis {
        _daemon: daemon,
        port,
        _dir: dir,
    })
}
