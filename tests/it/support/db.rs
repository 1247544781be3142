//! Real PostgreSQL and MariaDB servers on loopback for the greeting and STARTTLS tests.

use std::path::PathBuf;
use std::process::Command;

use super::daemons::{Daemon, TestCert, chown, make_cert, run_in};
use super::{TempDir, free_port, require_binary, require_root};

/// A PostgreSQL cluster made with initdb, owned by the `postgres` user.
pub struct PgCluster {
    bin: PathBuf,
    pub cert: TestCert,
    pub dir: TempDir,
}

/// A running postmaster.
pub struct Postgres {
    /// Declared first: stopped before anything else goes.
    _daemon: Daemon,
    pub port: u16,
}

/// Runs initdb as `postgres` in a temporary directory.
pub fn pg_cluster() -> Option<PgCluster> {
    require_root()?;
    let initdb = require_binary(
        &[
            "/usr/local/bin/initdb",
            "/usr/lib/postgresql/15/bin/initdb",
            "initdb",
        ],
        "postgresql",
    )?;
    let bin = initdb.with_file_name("postgres");
    let dir = TempDir::new("pg");
    let cert = make_cert(&dir, "pg");
    chown(dir.path(), "postgres");
    let mut init = Command::new("setpriv");
    init.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
        .arg(&initdb)
        .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
        .arg(dir.join("data"));
    run_in(&dir, init);
    Some(PgCluster { bin, cert, dir })
}

impl PgCluster {
    /// Starts the server with `ssl` on or off.
    pub fn start(&self, ssl: bool) -> Postgres {
        let port = free_port();
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=postgres", "--regid=postgres", "--init-groups"])
            .arg(&self.bin)
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &port.to_string(), "-k"])
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", &format!("ssl={}", if ssl { "on" } else { "off" })])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", self.cert.cert.display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", self.cert.key.display()));
        let daemon = Daemon::start("postgres", cmd, &self.dir, &[port]);
        Postgres {
            _daemon: daemon,
            port,
        }
    }
}

/// A MariaDB server.
pub struct Mariadb {
    /// Declared first: stopped before its directory is removed.
    _daemon: Daemon,
    pub port: u16,
    pub cert: TestCert,
    _dir: TempDir,
}

/// Installs a fresh MariaDB data directory and starts `mariadbd`, with TLS when `ssl`.
pub fn mariadb(ssl: bool) -> Option<Mariadb> {
    require_root()?;
    let install = require_binary(
        &["mariadb-install-db", "mysql_install_db"],
        "mariadb-server",
    )?;
    let server = require_binary(
        &["/usr/sbin/mariadbd", "/usr/sbin/mysqld"],
        "mariadb-server",
    )?;
    let dir = TempDir::new("mariadb");
    let cert = make_cert(&dir, "mariadb");
    let mut install = Command::new(install);
    install
        .args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ])
        .arg(format!("--datadir={}", dir.join("data").display()))
        // Each instance its own temporary directory: two bootstraps sharing /tmp were seen to
        // delete each other's temporary tables when tests start MariaDB concurrently.
        .env("TMPDIR", dir.path());
    run_in(&dir, install);
    let port = free_port();
    let mut cmd = Command::new(server);
    cmd.args([
        "--no-defaults",
        "--user=root",
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
    ])
    .arg(format!("--port={port}"))
    .arg(format!("--datadir={}", dir.join("data").display()))
    .arg(format!("--socket={}", dir.join("sock").display()))
    .arg(format!("--pid-file={}", dir.join("pid").display()))
    .env("TMPDIR", dir.path());
    if ssl {
        cmd.arg(format!("--ssl-cert={}", cert.cert.display()))
            .arg(format!("--ssl-key={}", cert.key.display()));
    }
    let daemon = Daemon::start("mariadbd", cmd, &dir, &[port]);
    Some(Mariadb {
        _daemon: daemon,
        port,
        cert,
        _dir: dir,
    })
}
