//! Real OpenSSH, OpenSMTPD, Dovecot and vsftpd instances on loopback for the greeting and
//! STARTTLS tests, each with a temporary configuration.

#![allow(dead_code)]

use std::process::Command;

use crate::daemons::{Daemon, TempDir, TestCert, free_port, make_cert, require_binary, require_root};

/// OpenSSH's sshd on one port.
pub struct Sshd {
    pub port: u16,
    pub dir: TempDir,
    pub daemon: Daemon,
}

/// Starts sshd (`-D -e -f`) with a fresh ed25519 host key.
pub fn sshd() -> Option<Sshd> {
    require_root()?;
    let sshd = require_binary(&["/usr/sbin/sshd"], "openssh-server")?;
    let keygen = require_binary(&["ssh-keygen"], "openssh-client")?;
    let dir = TempDir::new("sshd");
    let key = dir.join("host_ed25519");
    let ok = Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ssh-keygen");
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
    let daemon = Daemon::start("sshd", cmd, dir.join("log"), &[port]);
    Some(Sshd { port, dir, daemon })
}

/// OpenSMTPD with a STARTTLS listener, a plain listener and an implicit-TLS (smtps) one.
pub struct Smtpd {
    pub starttls_port: u16,
    pub plain_port: u16,
    pub smtps_port: u16,
    pub cert: TestCert,
    pub dir: TempDir,
    pub daemon: Daemon,
}

/// Starts OpenSMTPD in the foreground (`-d`).
pub fn smtpd() -> Option<Smtpd> {
    require_root()?;
    let bin = require_binary(&["/usr/sbin/smtpd"], "opensmtpd")?;
    let dir = TempDir::new("smtpd");
    let cert = make_cert(&dir, "smtpd");
    let (starttls_port, plain_port, smtps_port) = (free_port(), free_port(), free_port());
    let config = dir.write(
        "smtpd.conf",
        &format!(
            "pki localhost cert \"{}\"\npki localhost key \"{}\"\n\
             listen on lo port {starttls_port} tls pki localhost hostname localhost\n\
             listen on lo port {plain_port} hostname localhost\n\
             listen on lo port {smtps_port} smtps pki localhost hostname localhost\n\
             action \"local\" mbox\nmatch from local for local action \"local\"\n",
            cert.cert.display(),
            cert.key.display()
        ),
    );
    let mut cmd = Command::new(bin);
    cmd.arg("-d").arg("-f").arg(&config);
    let daemon = Daemon::start(
        "smtpd",
        cmd,
        dir.join("log"),
        &[starttls_port, plain_port, smtps_port],
    );
    Some(Smtpd {
        starttls_port,
        plain_port,
        smtps_port,
        cert,
        dir,
        daemon,
    })
}

/// Dovecot serving IMAP, IMAPS, POP3, POP3S, LMTP and ManageSieve.
pub struct Dovecot {
    pub imap: u16,
    pub imaps: u16,
    pub pop3: u16,
    pub pop3s: u16,
    pub lmtp: u16,
    pub sieve: u16,
    pub cert: TestCert,
    pub dir: TempDir,
    pub daemon: Daemon,
}

/// Starts Dovecot in the foreground (`-F -c`). ManageSieve needs dovecot-managesieved.
pub fn dovecot() -> Option<Dovecot> {
    require_root()?;
    let bin = require_binary(&["/usr/sbin/dovecot"], "dovecot-imapd")?;
    require_binary(&["/usr/lib/dovecot/managesieve-login"], "dovecot-managesieved")?;
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
    let daemon = Daemon::start("dovecot", cmd, dir.join("log"), &ports);
    Some(Dovecot {
        imap,
        imaps,
        pop3,
        pop3s,
        lmtp,
        sieve,
        cert,
        dir,
        daemon,
    })
}

/// vsftpd with explicit TLS (AUTH TLS).
pub struct Vsftpd {
    pub port: u16,
    pub cert: TestCert,
    pub dir: TempDir,
    pub daemon: Daemon,
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
    let daemon = Daemon::start("vsftpd", cmd, dir.join("log"), &[port]);
    Some(Vsftpd {
        port,
        cert,
        dir,
        daemon,
    })
}
