//! Real OpenSSH, Postfix, Dovecot and vsftpd instances on loopback for the greeting and
//! STARTTLS tests, each with a temporary configuration.

use std::process::Command;

use super::daemons::{Daemon, TestCert, chown, make_cert, run_in};
use super::{TempDir, free_port, require_binary, require_root};

/// OpenSSH's sshd on one port.
pub struct Sshd {
    /// Declared first: dropped (stopped) before its directory is removed.
    _daemon: Daemon,
    pub port: u16,
    _dir: TempDir,
}

/// Starts sshd (`-D -e -f`) with a fresh ed25519 host key.
pub fn sshd() -> Option<Sshd> {
    require_root()?;
    let sshd = require_binary(&["/usr/sbin/sshd"], "openssh-server")?;
    let keygen = require_binary(&["ssh-keygen"], "openssh-client")?;
    let dir = TempDir::new("sshd");
    let key = dir.join("host_ed25519");
    let mut keygen = Command::new(keygen);
    keygen
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key);
    run_in(&dir, keygen);
    // Privilege separation needs this directory (normally made by the service unit).
    let _ = std::fs::create_dir_all("/run/sshd");
    let port = free_port();
    let config = dir.write(
        "sshd_config",
        &format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nUsePAM no\n\
             StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n",
            key.display(),
            dir.join("sshd.pid").display()
        ),
    );
    let mut cmd = Command::new(sshd);
    cmd.arg("-D").arg("-e").arg("-f").arg(&config);
    let daemon = Daemon::start("sshd", cmd, &dir, &[port]);
    Some(Sshd {
        _daemon: daemon,
        port,
        _dir: dir,
    })
}

/// Postfix with a STARTTLS listener, a listener without TLS and an implicit-TLS (smtps,
/// wrapper mode) listener. (Postfix rather than OpenSMTPD: Debian's OpenSMTPD 6.8 aborts every
/// TLS handshake with OpenSSL 3, and the two MTAs cannot be installed together.)
pub struct Postfix {
    /// Declared first: dropped (stopped) before its directory is removed.
    _daemon: Daemon,
    pub port: u16,
    pub plain_port: u16,
    pub smtps_port: u16,
    pub cert: TestCert,
    _dir: TempDir,
}

/// The Postfix services a minimal SMTP server needs (master.cf rows after the listeners).
const POSTFIX_SERVICES: &[&str] = &[
    "pickup unix n - n 60 1 pickup",
    "cleanup unix n - n - 0 cleanup",
    "qmgr unix n - n 300 1 qmgr",
    "tlsmgr unix - - n 1000? 1 tlsmgr",
    "rewrite unix - - n - - trivial-rewrite",
    "bounce unix - - n - 0 bounce",
    "defer unix - - n - 0 bounce",
    "trace unix - - n - 0 bounce",
    "verify unix - - n - 1 verify",
    "proxymap unix - - n - - proxymap",
    "smtp unix - - n - - smtp",
    "error unix - - n - - error",
    "retry unix - - n - - error",
    "discard unix - - n - - discard",
    "local unix - n n - - local",
    "anvil unix - - n - 1 anvil",
    "scache unix - - n - 1 scache",
    "postlog unix-dgram n - n - 1 postlogd",
];

/// Starts Postfix (`postfix -c DIR start-fg`) with its own configuration and queue.
pub fn postfix() -> Option<Postfix> {
    require_root()?;
    let bin = require_binary(&["/usr/sbin/postfix"], "postfix")?;
    let dir = TempDir::new("postfix");
    let cert = make_cert(&dir, "postfix");
    let (port, plain_port, smtps_port) = (free_port(), free_port(), free_port());
    let d = dir.path().display();
    std::fs::create_dir_all(dir.join("conf")).expect("conf dir");
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    std::fs::create_dir_all(dir.join("queue")).expect("queue dir");
    chown(&dir.join("data"), "postfix");
    dir.write(
        "conf/main.cf",
        &format!(
            "compatibility_level = 3.6\nqueue_directory = {d}/queue\ndata_directory = {d}/data\n\
             mail_owner = postfix\nmyhostname = mx.reach.test\ninet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\nmydestination =\nalias_maps =\nalias_database =\n\
             smtpd_tls_cert_file = {}\nsmtpd_tls_key_file = {}\n\
             smtpd_tls_security_level = may\nmaillog_file = /dev/stdout\n",
            cert.cert.display(),
            cert.key.display()
        ),
    );
    let mut master = format!(
        "127.0.0.1:{port} inet n - n - - smtpd\n\
         127.0.0.1:{plain_port} inet n - n - - smtpd -o smtpd_tls_security_level=none\n\
         127.0.0.1:{smtps_port} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes\n"
    );
    for row in POSTFIX_SERVICES {
        master.push_str(row);
        master.push('\n');
    }
    dir.write("conf/master.cf", &master);
    let conf = dir.join("conf");
    let mut permissions = Command::new(&bin);
    permissions
        .arg("-c")
        .arg(&conf)
        .args(["set-permissions", "create-missing"]);
    run_in(&dir, permissions);
    let mut cmd = Command::new(bin);
    cmd.arg("-c").arg(&conf).arg("start-fg");
    let daemon = Daemon::start("postfix", cmd, &dir, &[port, plain_port, smtps_port])
        .with_pidfile(dir.join("queue/pid/master.pid"));
    Some(Postfix {
        port,
        plain_port,
        smtps_port,
        cert,
        _dir: dir,
        _daemon: daemon,
    })
}

/// Dovecot serving IMAP, IMAPS, POP3, POP3S, LMTP and ManageSieve.
pub struct Dovecot {
    /// Declared first: dropped (stopped) before its directory is removed.
    _daemon: Daemon,
    pub imap: u16,
    pub imaps: u16,
    pub pop3: u16,
    pub pop3s: u16,
    pub lmtp: u16,
    pub sieve: u16,
    pub cert: TestCert,
    _dir: TempDir,
}

/// Starts Dovecot in the foreground (`-F -c`). ManageSieve needs dovecot-managesieved.
pub fn dovecot() -> Option<Dovecot> {
    require_root()?;
    let bin = require_binary(&["/usr/sbin/dovecot"], "dovecot-imapd")?;
    require_binary(
        &["/usr/lib/dovecot/managesieve-login"],
        "dovecot-managesieved",
    )?;
    require_binary(&["/usr/lib/dovecot/lmtp"], "dovecot-lmtpd")?;
    let dir = TempDir::new("dovecot");
    let cert = make_cert(&dir, "dovecot");
    let ports: Vec<u16> = (0..6).map(|_| free_port()).collect();
    let [imap, imaps, pop3, pop3s, lmtp, sieve] = ports[..] else {
        unreachable!()
    };
    let d = dir.path().display();
    let dh = if std::path::Path::new("/usr/share/dovecot/dh.pem").exists() {
        "ssl_dh = </usr/share/dovecot/dh.pem\n"
    } else {
        ""
    };
    let config = dir.write(
        "dovecot.conf",
        &format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
             protocols = imap pop3 lmtp sieve\nlisten = 127.0.0.1\n\
             ssl = yes\nssl_cert = <{}\nssl_key = <{}\n{dh}\
             auth_mechanisms = plain\nmail_location = maildir:{d}/mail/%u\n\
             passdb {{\n  driver = static\n  args = password=unused\n}}\n\
             userdb {{\n  driver = static\n  args = uid=nobody gid=nogroup home={d}/home/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    port = {imap}\n  }}\n  inet_listener imaps {{\n    port = {imaps}\n    ssl = yes\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = {pop3}\n  }}\n  inet_listener pop3s {{\n    port = {pop3s}\n    ssl = yes\n  }}\n}}\n\
             service lmtp {{\n  inet_listener lmtp {{\n    port = {lmtp}\n  }}\n}}\n\
             service managesieve-login {{\n  inet_listener sieve {{\n    port = {sieve}\n  }}\n}}\n\
             protocol sieve {{\n}}\n",
            cert.cert.display(),
            cert.key.display()
        ),
    );
    let mut cmd = Command::new(bin);
    cmd.arg("-F").arg("-c").arg(&config);
    let daemon = Daemon::start("dovecot", cmd, &dir, &ports);
    Some(Dovecot {
        imap,
        imaps,
        pop3,
        pop3s,
        lmtp,
        sieve,
        cert,
        _dir: dir,
        _daemon: daemon,
    })
}

/// vsftpd with explicit TLS (AUTH TLS).
pub struct Vsftpd {
    /// Declared first: dropped (stopped) before its directory is removed.
    _daemon: Daemon,
    pub port: u16,
    pub cert: TestCert,
    _dir: TempDir,
}

/// Starts vsftpd in the foreground (`background=NO`).
pub fn vsftpd() -> Option<Vsftpd> {
    require_root()?;
    let bin = require_binary(&["/usr/sbin/vsftpd"], "vsftpd")?;
    let dir = TempDir::new("vsftpd");
    let cert = make_cert(&dir, "vsftpd");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("secure_chroot_dir");
    let port = free_port();
    let config = dir.write(
        "vsftpd.conf",
        &format!(
            "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\n\
             background=NO\nanonymous_enable=NO\nlocal_enable=YES\nseccomp_sandbox=NO\n\
             secure_chroot_dir={}\nssl_enable=YES\nrsa_cert_file={}\nrsa_private_key_file={}\n\
             xferlog_enable=NO\n",
            empty.display(),
            cert.cert.display(),
            cert.key.display()
        ),
    );
    let mut cmd = Command::new(bin);
    cmd.arg(&config);
    let daemon = Daemon::start("vsftpd", cmd, &dir, &[port]);
    Some(Vsftpd {
        port,
        cert,
        _dir: dir,
        _daemon: daemon,
    })
}
