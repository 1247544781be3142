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
