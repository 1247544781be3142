//! The network-namespace lab for integration tests: topology up/down (via `tests/lab/lab.sh`),
//! processes inside its namespaces, and the re-executed test binary as the in-namespace child.
//!
//! ```text
//! client ── r1 ── r2 ── server      (tests/lab/README.md has every address, port and rule)
//! ```
//!
//! A test that needs the lab starts with
//! `if lab::serve_child_request() { return; }` (so the same test function, re-executed inside
//! a namespace with `REACH_LAB_CHILD` set, does the in-namespace work instead) and then
//! `let Some(lab) = Lab::up_or_skip() else { return };`. The lab re-executes the calling test
//! by its libtest name (`tcp::lab::cli_tcp_verdicts_ipv4`), which it reads from the name of the
//! thread libtest runs the test on, so a test moved to another module needs no change.

use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{TempDir, find_binary, is_root, skip_or_fail};

/// The client's addresses (behind r1).
pub const CLIENT_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
pub const CLIENT_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2));
/// r1, hop 1, as the client sees it.
pub const R1_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
pub const R1_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1));
/// r2, hop 2, as the client sees it (its address towards r1).
pub const R2_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 2));
pub const R2_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2));
/// The server, hop 3.
pub const SERVER_V4: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 10));
pub const SERVER_V6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 3, 0, 0, 0, 0, 0x10));

/// r2 drops it silently (at prerouting: r2 does not even say "time exceeded").
pub const PORT_DROPPED_AT_R2: u16 = 61000;
/// r1 rejects it with ICMP administratively prohibited (v4 3/13, v6 1/1).
pub const PORT_ADMIN_PROHIBITED_AT_R1: u16 = 61001;
/// r2 answers it with a forged RST carrying the server's address (at prerouting).
pub const PORT_RESET_BY_R2: u16 = 61002;
/// The server listens on it (after [`Lab::listen`]).
pub const PORT_OPEN: u16 = 61003;
/// Nothing listens on the server: the server's kernel answers RST.
pub const PORT_CLOSED: u16 = 61004;
/// r1 rejects it with ICMP port unreachable (v4 3/3, v6 1/4).
pub const PORT_UNREACHABLE_AT_R1: u16 = 61005;
/// The client's own firewall rejects it on the way out (ICMP admin-prohibited from itself).
pub const PORT_LOCAL_REJECT: u16 = 61006;
/// Server: a listener started by the test that resets every connection it accepts
/// (`SO_LINGER` 0), as a crashing or overloaded service does.
pub const PORT_RESET_ON_ACCEPT: u16 = 61010;

/// The unprivileged identity children can be run as (`nobody` on Debian).
const NOBODY: &str = "65534";
/// Environment variable carrying the request to a re-executed child.
const CHILD_ENV: &str = "REACH_LAB_CHILD";
/// Prefix of the lines a child writes for its parent (libtest prints its own lines too).
const RESULT_PREFIX: &str = "REACH-LAB-RESULT ";
const READY_LINE: &str = "REACH-LAB-READY";
/// A lab listener exits on its own after this, should its parent die without cleaning up.
const LISTENER_LIFETIME: Duration = Duration::from_secs(300);
/// Upper bound for any child run to completion.
const CHILD_DEADLINE: Duration = Duration::from_secs(120);

/// A role in the lab: which namespace a command runs in. No test runs anything on the routers
/// yet, but they are namespaces of the lab like the others.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Client,
    R1,
    R2,
    Server,
}

impl Role {
    fn suffix(self) -> &'static str {
        match self {
            Role::Client => "c",
            Role::R1 => "r1",
            Role::R2 => "r2",
            Role::Server => "s",
        }
    }
}

/// Whether the lab can run here: root and the `ip`, `nft`, `setpriv` and `sysctl` commands.
/// Otherwise [`skip_or_fail`] says what is missing and this is `false`.
pub fn lab_available() -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root".to_string());
    }
    for tool in ["ip", "nft", "setpriv", "sysctl"] {
        if find_binary(tool).is_none() {
            missing.push(format!("the `{tool}` command"));
        }
    }
    if !missing.is_empty() {
        skip_or_fail(&format!("the network lab needs {}", missing.join(", ")));
    }
    missing.is_empty()
}

fn lab_script() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/lab.sh"))
}

/// The libtest name of the running test (`module::function`): libtest runs each test on a
/// thread named after it.
fn current_test() -> String {
    match std::thread::current().name() {
        Some(name) if name != "main" => name.to_string(),
        other => panic!("the lab must be used from a libtest test thread, not {other:?}"),
    }
}

/// One running lab. Dropping it kills every process it started and deletes its namespaces.
pub struct Lab {
    name: String,
    /// The test that built it: the children it starts are this test, re-executed.
    test: String,
    children: Vec<Child>,
    /// The working directory of every process it starts (declared after `children`, which
    /// are killed first).
    dir: TempDir,
}

impl Lab {
    /// Builds a lab for the calling test, or returns `None` after saying why it was skipped
    /// (see [`lab_available`]).
    pub fn up_or_skip() -> Option<Lab> {
        lab_available().then(Lab::up)
    }

    /// Builds a fresh lab with a name no other lab on this machine uses.
    pub fn up() -> Lab {
        remove_orphaned_labs();
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("rl{}-{n}", std::process::id());
        let lab = Lab {
            name,
            test: current_test(),
            children: Vec::new(),
            dir: TempDir::new("lab"),
        };
        let out = Command::new(lab_script())
            .args(["up", &lab.name])
            .output()
            .expect("run tests/lab/lab.sh");
        assert!(
            out.status.success(),
            "lab.sh up {} failed: {}",
            lab.name,
            String::from_utf8_lossy(&out.stderr)
        );
        lab
    }

    /// The lab's own temporary directory (for files the commands run in it read).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The namespace name of `role`.
    pub fn ns(&self, role: Role) -> String {
        format!("{}-{}", self.name, role.suffix())
    }

    /// A command that runs `program` inside `role`'s namespace (as root).
    pub fn command(&self, role: Role, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(role)])
            .arg(program)
            .current_dir(self.dir.path());
        cmd
    }

    /// A command that runs `program` inside `role`'s namespace as the unprivileged user
    /// 65534, with no supplementary groups and no capabilities.
    pub fn command_unprivileged(
        &self,
        role: Role,
        program: impl AsRef<std::ffi::OsStr>,
    ) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(role), "setpriv"])
            .args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
                "--inh-caps=-all",
                "--",
            ])
            .arg(program)
            .current_dir(self.dir.path());
        cmd
    }

    /// Starts a dual-stack listener on the server's [`PORT_OPEN`] and waits until it accepts.
    ///
    /// The calling test function must start with [`serve_child_request`]: the listener is that
    /// same test, re-executed.
    pub fn listen(&mut self) {
        self.serve(&format!("listen {PORT_OPEN}"));
    }

    /// Starts a dual-stack listener on the server's [`PORT_RESET_ON_ACCEPT`] that resets every
    /// connection it accepts, and waits until it accepts (the same rule as [`Lab::listen`]).
    pub fn listen_resetting(&mut self) {
        self.serve(&format!("listen-reset {PORT_RESET_ON_ACCEPT}"));
    }

    /// Starts the long-running server `request` in the server's namespace and waits until it
    /// says it is ready.
    fn serve(&mut self, request: &str) {
        let mut child = self
            .child_command(Role::Server, false, request)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the lab listener");
        let stdout = child.stdout.take().expect("listener stdout");
        self.children.push(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.ends_with(READY_LINE) {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the lab listener did not become ready within 30 s");
    }

    /// Re-executes the test binary inside `role`'s namespace, running only the test that built
    /// this lab, with `request` for [`serve_child_request`], and returns the result lines the
    /// child printed. Panics if the child fails or overruns its deadline.
    pub fn run_child(&self, role: Role, unprivileged: bool, request: &str) -> Vec<String> {
        let mut child = self
            .child_command(role, unprivileged, request)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn a lab child");
        let output = wait_bounded(&mut child, CHILD_DEADLINE);
        assert!(
            output.success && output.stdout.contains("running 1 test"),
            "lab child `{request}` of {} failed or ran no test\nstdout:\n{}\nstderr:\n{}",
            self.test,
            output.stdout,
            output.stderr
        );
        output
            .stdout
            .lines()
            // libtest may have written "test name ... " in front of the first line.
            .filter_map(|l| {
                l.find(RESULT_PREFIX)
                    .map(|at| l[at + RESULT_PREFIX.len()..].to_string())
            })
            .collect()
    }

    fn child_command(&self, role: Role, unprivileged: bool, request: &str) -> Command {
        let exe = std::env::current_exe().expect("path of the test binary");
        let mut cmd = if unprivileged {
            self.command_unprivileged(role, exe)
        } else {
            self.command(role, exe)
        };
        cmd.args(["--exact", &self.test, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, request)
            .stdin(Stdio::null());
        cmd
    }

    /// Adds `ms` milliseconds to every IPv4 round trip between client and server
    /// (`lab.sh delay`: a TUN delay line in r2, this kernel having no netem). Needs python3.
    pub fn delay(&self, ms: u32) {
        let out = Command::new(lab_script())
            .args(["delay", &self.name, &ms.to_string()])
            .output()
            .expect("run tests/lab/lab.sh delay");
        assert!(
            out.status.success(),
            "lab.sh delay {} {ms} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs a shell-free command inside `role`'s namespace to completion, bounded in time.
    pub fn run(&self, role: Role, program: &str, args: &[&str], deadline: Duration) -> RunOutput {
        let mut child = self
            .command(role, program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
        wait_bounded(&mut child, deadline)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // lab.sh also kills whatever else is left inside the namespaces.
        let status = Command::new(lab_script())
            .args(["down", &self.name])
            .stdout(Stdio::null())
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("warning: lab.sh down {} failed: {status:?}", self.name);
        }
    }
}

/// Deletes labs left behind by test processes that no longer exist (killed before their
/// `Drop` ran). Lab names carry the creating process id: `rl<pid>-<n>-<role>`.
fn remove_orphaned_labs() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    let mut orphans: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|ns| {
            let rest = ns.strip_prefix("rl")?;
            let (pid, tail) = rest.split_once('-')?;
            let (n, _role) = tail.split_once('-')?;
            let alive = Path::new("/proc").join(pid).exists();
            (!alive && pid.parse::<u32>().is_ok()).then(|| format!("rl{pid}-{n}"))
        })
        .collect();
    orphans.sort();
    orphans.dedup();
    for name in orphans {
        let _ = Command::new(lab_script())
            .args(["down", &name])
            .stdout(Stdio::null())
            .status();
    }
}

/// What a bounded run produced.
#[derive(Debug)]
pub struct RunOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Waits for `child` at most `deadline` (then kills it and panics), collecting its output.
fn wait_bounded(child: &mut Child, deadline: Duration) -> RunOutput {
    let started = Instant::now();
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for a lab child") {
            break status;
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a lab child overran its {deadline:?} deadline and was killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    RunOutput {
        success: status.success(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// In a re-executed child (`REACH_LAB_CHILD` set), does the requested in-namespace work, prints
/// its results for the parent and returns `true`; in the parent test it returns `false`.
///
/// Requests: `listen PORT` (dual-stack accept loop until killed), `listen-reset PORT` (the same,
/// resetting each connection with `SO_LINGER` 0), `connect TIMEOUT_MS ADDR...`
/// (`reach::probe::tcp::connect` to each address, one JSON line each), `trace TIMEOUT_MS
/// REFERENCE_PORT|- ADDR...` (`reach::probe::trace::trace` to each address at once, no reverse
/// DNS, one JSON line each).
pub fn serve_child_request() -> bool {
    let Ok(request) = std::env::var(CHILD_ENV) else {
        return false;
    };
    let words: Vec<&str> = request.split_whitespace().collect();
    match words.as_slice() {
        ["listen", port] => listen_forever(port.parse().expect("listen port"), false),
        ["listen-reset", port] => listen_forever(port.parse().expect("listen port"), true),
        ["connect", timeout_ms, addrs @ ..] => {
            let timeout = Duration::from_millis(timeout_ms.parse().expect("timeout ms"));
            let addrs: Vec<SocketAddr> = addrs
                .iter()
                .map(|a| a.parse().expect("socket address"))
                .collect();
            connect_all(timeout, &addrs);
        }
        ["trace", timeout_ms, reference, addrs @ ..] => {
            let timeout = Duration::from_millis(timeout_ms.parse().expect("timeout ms"));
            let reference = (*reference != "-").then(|| reference.parse().expect("port"));
            let addrs: Vec<SocketAddr> = addrs
                .iter()
                .map(|a| a.parse().expect("socket address"))
                .collect();
            trace_all(timeout, reference, &addrs);
        }
        _ => panic!("unknown lab child request {request:?}"),
    }
    true
}

/// Prints one result line for the parent.
pub fn emit(json: &serde_json::Value) {
    println!("{RESULT_PREFIX}{json}");
}

fn listen_forever(port: u16, reset: bool) {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP)).expect("socket");
    socket.set_only_v6(false).expect("dual stack");
    socket.set_reuse_address(true).expect("SO_REUSEADDR");
    let addr: SocketAddr = (Ipv6Addr::UNSPECIFIED, port).into();
    socket.bind(&addr.into()).expect("bind the lab listener");
    socket.listen(128).expect("listen");
    let listener: std::net::TcpListener = socket.into();
    std::thread::spawn(|| {
        std::thread::sleep(LISTENER_LIFETIME);
        std::process::exit(0);
    });
    println!("{READY_LINE}");
    for conn in listener.incoming().map_while(Result::ok) {
        if reset {
            // Closing with a zero linger sends a RST instead of a FIN.
            let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
        }
        drop(conn); // Accept and close: the handshake is what the probes look for.
    }
}

fn connect_all(timeout: Duration, addrs: &[SocketAddr]) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    for &addr in addrs {
        let options = reach::probe::tcp::ConnectOptions { timeout, ttl: None };
        let started = Instant::now();
        let connected = runtime.block_on(reach::probe::tcp::connect(addr, options));
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        emit(&serde_json::json!({
            "address": addr.ip(),
            "port": addr.port(),
            "tcp": connected.report,
            "elapsed_ms": elapsed_ms,
        }));
    }
}

fn trace_all(timeout: Duration, reference_port: Option<u16>, addrs: &[SocketAddr]) {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let options = reach::probe::trace::TraceOptions {
        timeout,
        reference_port,
        reverse_dns: false,
        ..Default::default()
    };
    let reports = runtime.block_on(async {
        let mut traces = tokio::task::JoinSet::new();
        for (index, &addr) in addrs.iter().enumerate() {
            traces.spawn(async move { (index, reach::probe::trace::trace(addr, &options).await) });
        }
        let mut reports = traces.join_all().await;
        reports.sort_by_key(|(index, _)| *index);
        reports
    });
    for (_, report) in reports {
        emit(&serde_json::json!({ "trace": report }));
    }
}
