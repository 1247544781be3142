//! Real UDP daemons for the UDP tests: unbound (DNS), chronyd (NTP server mode), snmpd, each
//! with its own configuration in a temporary directory, on loopback or inside the lab's
//! server namespace, and a bounded wait until one answers.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::daemons::Daemon;
use super::{TempDir, require_binary, require_root};

/// The SNMP community the tests configure (a test credential, nothing else knows it).
pub const COMMUNITY: &str = "reach-test-community";
/// The sysDescr the snmpd of the tests reports.
pub const SYS_DESCR: &str = "reach test agent";
/// The address unbound's local zone gives `lab.test`.
pub const LAB_TEST_A: &str = "192.0.2.53";

/// Where a daemon listens: `addrs` (IP literals, no brackets) and one port.
pub struct Bind<'a> {
    pub addrs: &'a [&'a str],
    pub port: u16,
}

/// unbound answering `.` SOA and `lab.test` A from a static local zone: it never recurses, so
/// nothing leaves the machine.
pub fn unbound(dir: &TempDir, bind: &Bind) -> Option<Command> {
    let exe = require_binary(&["unbound"], "unbound")?;
    let mut conf = String::from("server:\n");
    for a in bind.addrs {
        conf.push_str(&format!("    interface: {a}@{}\n", bind.port));
    }
    conf.push_str(&format!(
        "    port: {port}\n    do-daemonize: no\n    username: \"\"\n    chroot: \"\"\n    \
         directory: \"{dir}\"\n    pidfile: \"\"\n    use-syslog: no\n    logfile: \"\"\n    \
         access-control: 0.0.0.0/0 allow\n    access-control: ::/0 allow\n    \
         do-not-query-localhost: yes\n    local-zone: \".\" static\n    \
         local-data: \". 3600 IN SOA ns.test. hostmaster.test. 2026120101 1800 900 604800 86400\"\n    \
         local-data: \"lab.test. 300 IN A {LAB_TEST_A}\"\n    module-config: \"iterator\"\n    \
         num-threads: 1\n    so-reuseport: no\nremote-control:\n    control-enable: no\n",
        port = bind.port,
        dir = dir.path().display()
    ));
    let path = dir.write("unbound.conf", &conf);
    let mut cmd = Command::new(exe);
    cmd.arg("-d").arg("-c").arg(path);
    Some(cmd)
}

/// chronyd as an NTP server with its local clock at stratum 8, never touching the system
/// clock (`-x`), no command port. Needs root (it checks at start).
pub fn chronyd(dir: &TempDir, bind: &Bind) -> Option<Command> {
    require_root()?;
    let exe = require_binary(&["chronyd"], "chrony")?;
    let mut conf = format!("port {}\ncmdport 0\nlocal stratum 8\n", bind.port);
    for a in bind.addrs {
        conf.push_str(&format!("bindaddress {a}\n"));
    }
    conf.push_str("allow all\n");
    conf.push_str(&format!("pidfile {}\n", dir.join("chronyd.pid").display()));
    let path = dir.write("chrony.conf", &conf);
    let mut cmd = Command::new(exe);
    cmd.args(["-d", "-x", "-u", "root", "-f"]).arg(path);
    Some(cmd)
}

/// snmpd with a read-only community (`COMMUNITY`) and sysDescr `SYS_DESCR`, no other config
/// files (`-C`), state in `dir`.
pub fn snmpd(dir: &TempDir, bind: &Bind) -> Option<Command> {
    require_root()?;
    let exe = require_binary(&["snmpd"], "snmpd")?;
    let conf = format!(
        "rocommunity {COMMUNITY}\nrocommunity6 {COMMUNITY}\nsysdescr {SYS_DESCR}\n\
         syslocation test lab\n"
    );
    let path = dir.write("snmpd.conf", &conf);
    let listen: Vec<String> = bind
        .addrs
        .iter()
        .map(|a| {
            if a.contains(':') {
                format!("udp6:[{a}]:{}", bind.port)
            } else {
                format!("udp:{a}:{}", bind.port)
            }
        })
        .collect();
    let mut cmd = Command::new(exe);
    cmd.env("SNMP_PERSISTENT_DIR", dir.join("snmp-state"))
        .env("MIBS", "")
        // No smux: it would bind TCP 199, shared by every snmpd on the machine.
        .args(["-f", "-Lo", "-I", "-smux", "-C", "-c"])
        .arg(path)
        .arg("-p")
        .arg(dir.join("snmpd.pid"))
        .arg(listen.join(","));
    Some(cmd)
}

/// Starts a UDP daemon on loopback and waits until it answers `request` on `port`.
pub fn start(name: &str, cmd: Command, dir: &TempDir, port: u16, request: &[u8]) -> Daemon {
    let daemon = Daemon::start(name, cmd, dir, &[]);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    if !answers(addr, request, Duration::from_secs(20)) {
        panic!(
            "{name} did not answer on udp/{port}:\n{}",
            daemon.log_text()
        );
    }
    daemon
}

/// Whether `addr` answers `request` within `limit` (re-sent every 200 ms).
pub fn answers(addr: SocketAddr, request: &[u8], limit: Duration) -> bool {
    let bind: SocketAddr = if addr.is_ipv6() {
        "[::1]:0".parse().expect("v6")
    } else {
        "127.0.0.1:0".parse().expect("v4")
    };
    let Ok(socket) = UdpSocket::bind(bind) else {
        return false;
    };
    let _ = socket.set_read_timeout(Some(Duration::from_millis(200)));
    let started = Instant::now();
    let mut buf = [0u8; 2048];
    while started.elapsed() < limit {
        let _ = socket.send_to(request, addr);
        if socket.recv_from(&mut buf).is_ok() {
            return true;
        }
    }
    false
}

/// A DNS query for `.` SOA (id 0x0101), to see that a DNS server is up.
pub const DNS_QUERY: &[u8] = &[1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1];

/// An NTP client request (mode 3, version 4), to see that an NTP server is up.
pub fn ntp_request() -> Vec<u8> {
    let mut r = vec![0u8; 48];
    r[0] = 0x23;
    r
}

/// Writes a real daemon's answer as a seed of fuzz target `target` (fuzz/seeds/TARGET/NAME)
/// when `REACH_RECORD_SEEDS` is set (fuzz/README.md); a no-op otherwise.
pub fn record_seed(target: &str, name: &str, bytes: &[u8]) {
    if std::env::var_os("REACH_RECORD_SEEDS").is_some() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/seeds")
            .join(target);
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(name), bytes);
    }
}

/// A network namespace of a test's own, for daemons that need a well-known port (nmbd's 137,
/// a domain controller's 389) or a non-loopback interface: a veth pair inside it (both ends
/// there, so nothing reaches the host's network), `v0` holding `addr`/24 from a documentation
/// range. Deleted when dropped. Needs root and `ip`; skips (or fails under CI) otherwise.
pub struct Netns {
    name: String,
    pub addr: &'static str,
}

impl Netns {
    pub fn new(tag: &str, addr: &'static str) -> Option<Netns> {
        require_root()?;
        let ip = require_binary(&["ip"], "iproute2")?;
        let name = format!("reach-udp-{tag}-{}", std::process::id());
        let ns = Netns { name, addr };
        let steps: [&[&str]; 6] = [
            &["netns", "add", &ns.name],
            &["-n", &ns.name, "link", "set", "lo", "up"],
            &[
                "-n", &ns.name, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
            ],
            &[
                "-n",
                &ns.name,
                "addr",
                "add",
                &format!("{addr}/24"),
                "dev",
                "v0",
            ],
            &["-n", &ns.name, "link", "set", "v0", "up"],
            &["-n", &ns.name, "link", "set", "v1", "up"],
        ];
        for step in steps {
            let out = Command::new(&ip).args(step).output().ok()?;
            if !out.status.success() {
                super::skip_or_fail(&format!(
                    "ip {}: {}",
                    step.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
                return None;
            }
        }
        Some(ns)
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// The built reach, run inside the namespace with `args`.
    pub fn reach(&self, args: &[&str]) -> std::process::Output {
        self.command(Path::new(env!("CARGO_BIN_EXE_reach")))
            .args(args)
            .output()
            .expect("run reach in the namespace")
    }

    /// Waits until `reach --json -u --udp-probe PROBE ADDR:PORT` run inside says `open`
    /// (daemons take seconds to bind), at most `limit`.
    pub fn wait_open(&self, probe: &str, port: u16, limit: Duration) -> bool {
        let target = format!("{}:{port}", self.addr);
        let started = Instant::now();
        while started.elapsed() < limit {
            let out = self.reach(&[
                "--json",
                "--timeout",
                "500ms",
                "-u",
                "--udp-probe",
                probe,
                &target,
            ]);
            if String::from_utf8_lossy(&out.stdout).contains("\"state\":\"open\"") {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// nmbd (Samba's NetBIOS name server) for `ns`: it refuses to serve with loopback alone
/// ("No local IPv4 non-loopback interfaces available"), hence the namespace's `v0`. Its own
/// smb.conf, every directory in `dir`, foreground, logs on stdout.
pub fn nmbd(dir: &TempDir, ns: &Netns) -> Option<Command> {
    let exe = require_binary(&["nmbd"], "samba")?;
    let mut conf = format!(
        "[global]\n  workgroup = {NETBIOS_GROUP}\n  netbios name = {NETBIOS_HOST}\n  \
         interfaces = v0\n  bind interfaces only = yes\n  server role = standalone server\n  \
         disable netbios = no\n"
    );
    for (key, sub) in [
        ("lock directory", "lock"),
        ("state directory", "state"),
        ("cache directory", "cache"),
        ("pid directory", "pid"),
        ("private dir", "private"),
        ("ncalrpc dir", "ncalrpc"),
    ] {
        let path = dir.join(sub);
        std::fs::create_dir_all(&path).expect("nmbd directory");
        conf.push_str(&format!("  {key} = {}\n", path.display()));
    }
    conf.push_str(&format!(
        "  log file = {}\n",
        dir.join("nmbd-own.log").display()
    ));
    let path = dir.write("smb.conf", &conf);
    let mut cmd = ns.command(&exe);
    cmd.args([
        "-F",
        "--debug-stdout",
        "--no-process-group",
        "-d",
        "1",
        "-s",
    ])
    .arg(path);
    Some(cmd)
}

/// The names nmbd registers in the tests.
pub const NETBIOS_HOST: &str = "LABHOST";
pub const NETBIOS_GROUP: &str = "REACHLAB";
/// The AD domain the CLDAP test provisions.
pub const AD_REALM: &str = "LAB.TEST";

/// A Samba Active Directory domain controller provisioned into `dir` (offline, about 45 s:
/// `samba-tool domain provision` with no DNS backend), then `samba` running only its CLDAP
/// service in `ns`. Needs the Debian packages samba-ad-dc and samba-ad-provision.
pub fn samba_dc(dir: &TempDir, ns: &Netns) -> Option<Command> {
    let tool = require_binary(&["samba-tool"], "samba-ad-dc")?;
    let samba = require_binary(&["samba"], "samba-ad-dc")?;
    if !Path::new("/usr/share/samba/setup/ad-schema").exists() {
        super::skip_or_fail(
            "the AD schema is missing (Debian package samba-ad-provision): cannot provision",
        );
        return None;
    }
    let target = dir.join("dc");
    let out = Command::new(tool)
        .current_dir(dir.path())
        .args([
            "domain",
            "provision",
            "--realm",
            AD_REALM,
            "--domain",
            "LAB",
            "--server-role",
            "dc",
            "--dns-backend",
            "NONE",
            "--host-name",
            "dc1",
            "--host-ip",
            ns.addr,
            "--adminpass",
            "Reach-test-1234",
            "--option",
            "interfaces = v0",
            "--option",
            "bind interfaces only = yes",
            // CLDAP alone: no KDC, NetBIOS, DNS updates or RPC to start, nothing that looks for
            // a resolver.
            "--option",
            "server services = cldap",
            "--option",
            &format!("log file = {}", dir.join("samba-own.log").display()),
            "--targetdir",
        ])
        .arg(&target)
        .output()
        .expect("samba-tool");
    assert!(
        out.status.success(),
        "samba-tool domain provision failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut cmd = ns.command(&samba);
    cmd.args(["-i", "--debug-stdout", "-d", "1", "-s"])
        .arg(target.join("etc/smb.conf"));
    Some(cmd)
}

/// coturn's `turnserver` as a STUN-only server on 127.0.0.1:`port`: no TLS, no relay, no CLI,
/// its database and pid file in `dir`.
pub fn turnserver(dir: &TempDir, port: u16) -> Option<Command> {
    let exe = require_binary(&["turnserver"], "coturn")?;
    let mut cmd = Command::new(exe);
    cmd.args(["-n", "--stun-only", "--no-tls", "--no-dtls", "--no-cli"])
        .arg("--listening-ip=127.0.0.1")
        .arg(format!("--listening-port={port}"))
        .arg(format!("--db={}", dir.join("turndb").display()))
        .arg(format!(
            "--pidfile={}",
            dir.join("turnserver.pid").display()
        ))
        .args(["--log-file=stdout", "--simple-log"]);
    Some(cmd)
}

/// A STUN binding request (transaction ID fixed), to see that a STUN server is up.
pub const STUN_REQUEST: &[u8] = &[
    0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
];
