//! Real OpenLDAP (slapd), Prosody (XMPP) and InspIRCd (IRC) servers on loopback for the
//! STARTTLS tests. InspIRCd's hostname lookups are off and its resolver points at loopback, so
//! no test ever sends a DNS query off the machine.

use std::process::Command;

use super::daemons::{Daemon, TestCert, chown, make_cert};
use super::{TempDir, free_port, require_binary, require_root};

/// slapd with an mdb database, with or without a TLS certificate.
pub struct Slapd {
    /// Declared first: stopped before its directory is removed.
    _daemon: Daemon,
    pub port: u16,
    pub cert: TestCert,
    _dir: TempDir,
}

/// Starts slapd in the foreground (`-d 0`) from a slapd.conf-style file.
pub fn slapd(tls: bool) -> Option<Slapd> {
    require_root()?;
    let bin = require_binary(&["/usr/sbin/slapd"], "slapd")?;
    let dir = TempDir::new("slapd");
    let cert = make_cert(&dir, "slapd");
    std::fs::create_dir_all(dir.join("db")).expect("db dir");
    let d = dir.path().display();
    let tls_lines = if tls {
        format!(
            "TLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
            cert.cert.display(),
            cert.key.display()
        )
    } else {
        String::new()
    };
    let config = dir.write(
        "slapd.conf",
        &format!(
            "include /etc/ldap/schema/core.schema\npidfile {d}/slapd.pid\nargsfile {d}/slapd.args\n\
             modulepath /usr/lib/ldap\nmoduleload back_mdb\n{tls_lines}\
             database mdb\nsuffix \"dc=reach,dc=test\"\ndirectory {d}/db\nmaxsize 10485760\n"
        ),
    );
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.args(["-d", "0", "-f"])
        .arg(&config)
        .arg("-h")
        .arg(format!("ldap://127.0.0.1:{port}/"));
    let daemon = Daemon::start("slapd", cmd, &dir, &[port]);
    Some(Slapd {
        _daemon: daemon,
        port,
        cert,
        _dir: dir,
    })
}

/// Prosody serving `localhost` on a client port and a server port.
pub struct Prosody {
    /// Declared first: stopped before its directory is removed.
    _daemon: Daemon,
    pub c2s: u16,
    pub s2s: u16,
    pub cert: TestCert,
    _dir: TempDir,
}

/// Starts Prosody in the foreground (`-F --config`).
pub fn prosody() -> Option<Prosody> {
    require_root()?;
    let bin = require_binary(&["/usr/bin/prosody"], "prosody")?;
    let dir = TempDir::new("prosody");
    let cert = make_cert(&dir, "prosody");
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    chown(dir.path(), "prosody");
    let (c2s, s2s) = (free_port(), free_port());
    let d = dir.path().display();
    let config = dir.write(
        "prosody.cfg.lua",
        &format!(
            "pidfile = \"{d}/prosody.pid\"\ndata_path = \"{d}/data\"\n\
             log = {{ {{ levels = {{ min = \"info\" }}, to = \"console\" }} }}\n\
             interfaces = {{ \"127.0.0.1\" }}\nc2s_ports = {{ {c2s} }}\ns2s_ports = {{ {s2s} }}\n\
             c2s_direct_tls_ports = {{}}\ns2s_direct_tls_ports = {{}}\nhttp_ports = {{}}\nhttps_ports = {{}}\n\
             modules_enabled = {{ \"tls\", \"saslauth\", \"dialback\", \"disco\" }}\n\
             modules_disabled = {{ \"posix\" }}\n\
             c2s_require_encryption = true\ns2s_require_encryption = false\n\
             authentication = \"internal_plain\"\n\
             ssl = {{ certificate = \"{}\", key = \"{}\" }}\n\
             VirtualHost \"localhost\"\n",
            cert.cert.display(),
            cert.key.display()
        ),
    );
    let mut cmd = Command::new("setpriv");
    cmd.args(["--reuid=prosody", "--regid=prosody", "--init-groups"])
        .arg(bin)
        .arg("-F")
        .arg("--config")
        .arg(&config);
    let daemon = Daemon::start("prosody", cmd, &dir, &[c2s, s2s]);
    Some(Prosody {
        _daemon: daemon,
        c2s,
        s2s,
        cert,
        _dir: dir,
    })
}

/// InspIRCd with the starttls and ssl_gnutls modules.
pub struct Inspircd {
    /// Declared first: stopped before its directory is removed.
    _daemon: Daemon,
    pub port: u16,
    pub cert: TestCert,
    _dir: TempDir,
}

/// Starts InspIRCd in the foreground (`--nofork --runasroot`).
pub fn inspircd() -> Option<Inspircd> {
    require_root()?;
    let bin = require_binary(&["/usr/sbin/inspircd"], "inspircd")?;
    let dir = TempDir::new("inspircd");
    let cert = make_cert(&dir, "inspircd");
    let port = free_port();
    let d = dir.path().display();
    let config = dir.write(
        "inspircd.conf",
        &format!(
            "<server name=\"irc.reach.test\" description=\"reach test\" network=\"ReachTest\">\n\
             <admin name=\"Admin\" nick=\"admin\" email=\"admin@reach.test\">\n\
             <bind address=\"127.0.0.1\" port=\"{port}\" type=\"clients\">\n\
             <connect allow=\"*\" resolvehostnames=\"no\" timeout=\"60\" pingfreq=\"120\" hardsendq=\"1M\" softsendq=\"8192\" recvq=\"8192\" localmax=\"100\" globalmax=\"100\">\n\
             <pid file=\"{d}/inspircd.pid\">\n<log method=\"file\" type=\"* -USERINPUT -USEROUTPUT\" level=\"default\" target=\"{d}/ircd.log\">\n\
             <module name=\"cap\">\n<module name=\"ssl_gnutls\">\n<module name=\"starttls\">\n\
             <sslprofile name=\"gnutls\" provider=\"gnutls\" certfile=\"{}\" keyfile=\"{}\" hash=\"sha256\" requestclientcert=\"no\">\n\
             <options allowcoreunload=\"no\">\n<dns server=\"127.0.0.1\" timeout=\"1\">\n<security runasuser=\"\" runasgroup=\"\">\n",
            cert.cert.display(),
            cert.key.display()
        ),
    );
    let mut cmd = Command::new(bin);
    cmd.arg("--config")
        .arg(&config)
        .args(["--nofork", "--runasroot"]);
    let daemon = Daemon::start("inspircd", cmd, &dir, &[port]);
    Some(Inspircd {
        _daemon: daemon,
        port,
        cert,
        _dir: dir,
    })
}
