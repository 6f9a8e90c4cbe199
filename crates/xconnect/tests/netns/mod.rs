//! Network namespaces for end-to-end tests: created per test, removed by exact name on drop (even
//! when the test fails), with helpers to run commands inside them, start daemons that are
//! stopped by their pid, and poll for a condition with a generous deadline.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn run(args: &[&str]) -> std::process::Output {
    Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e} (is the package installed? .ci/run installs it)"))
}

pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn require_root() {
    assert!(
        ok(&["id", "-u"]).trim() == "0",
        "this test needs root (it creates network namespaces)"
    );
}

/// Polls `f` every 100 ms until it holds; panics with `what` and `context()` after `deadline`.
pub fn wait_for(
    what: &str,
    deadline: Duration,
    mut f: impl FnMut() -> bool,
    context: impl Fn() -> String,
) -> Duration {
    let start = Instant::now();
    loop {
        if f() {
            return start.elapsed();
        }
        if start.elapsed() > deadline {
            panic!(
                "timed out after {deadline:?} waiting for {what}\n{}",
                context()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A process started in a namespace, killed (SIGTERM, then SIGKILL) when dropped.
pub struct Daemon {
    pub name: String,
    pub child: Child,
    pub log: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to the process (the `ip netns exec` wrapper execs it, so the pid is its
    /// own).
    pub fn signal(&self, sig: &str) {
        let _ = run(&["kill", &format!("-{sig}"), &self.pid().to_string()]);
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops with SIGTERM and waits (SIGKILL after 10 s).
    pub fn stop(&mut self) {
        self.signal("TERM");
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills with SIGKILL: a crash, nothing cleaned up.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if !self.exited() {
            self.stop();
        }
    }
}

/// Two namespaces `xct-<tag>-a` and `xct-<tag>-b` joined by a veth pair `<tag>-a` / `<tag>-b`
/// carrying 169.254.100.1/30 and .2/30, and fd00:100::1/64 and ::2/64.
pub struct Pair {
    pub ns: [String; 2],
    pub dev: [String; 2],
    pub dir: tempfile::TempDir,
}

pub const ADDR4: [&str; 2] = ["169.254.100.1", "169.254.100.2"];
pub const ADDR6: [&str; 2] = ["fd00:100::1", "fd00:100::2"];

impl Pair {
    pub fn new(tag: &str) -> Self {
        require_root();
        assert!(tag.len() <= 10, "veth names are at most 15 bytes");
        let ns = [format!("xct-{tag}-a"), format!("xct-{tag}-b")];
        let dev = [format!("{tag}-a"), format!("{tag}-b")];
        for n in &ns {
            let _ = run(&["ip", "netns", "del", n]);
        }
        let p = Pair {
            ns: ns.clone(),
            dev: dev.clone(),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        for n in &ns {
            ok(&["ip", "netns", "add", n]);
        }
        ok(&[
            "ip", "link", "add", &dev[0], "netns", &ns[0], "type", "veth", "peer", "name", &dev[1],
            "netns", &ns[1],
        ]);
        for side in 0..2 {
            let (n, d) = (&ns[side], &dev[side]);
            ok(&[
                "ip",
                "-n",
                n,
                "addr",
                "add",
                &format!("{}/30", ADDR4[side]),
                "dev",
                d,
            ]);
            ok(&[
                "ip",
                "-n",
                n,
                "addr",
                "add",
                &format!("{}/64", ADDR6[side]),
                "dev",
                d,
                "nodad",
            ]);
            ok(&["ip", "-n", n, "link", "set", d, "up"]);
            ok(&["ip", "-n", n, "link", "set", "lo", "up"]);
        }
        p
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn exec(&self, side: usize, args: &[&str]) -> std::process::Output {
        let mut a = vec!["ip", "netns", "exec", &self.ns[side]];
        a.extend_from_slice(args);
        run(&a)
    }

    pub fn exec_ok(&self, side: usize, args: &[&str]) -> String {
        let mut a = vec!["ip", "netns", "exec", &self.ns[side]];
        a.extend_from_slice(args);
        ok(&a)
    }

    /// `ip route` (or `ip -6 route`) of a side.
    pub fn routes(&self, side: usize, v6: bool) -> String {
        let fam = if v6 { "-6" } else { "-4" };
        String::from_utf8_lossy(&self.exec(side, &["ip", fam, "route"]).stdout).into_owned()
    }

    /// Starts `args` in the namespace of `side`, its output in `<dir>/<name>.log`.
    pub fn spawn(&self, side: usize, name: &str, args: &[&str]) -> Daemon {
        spawn_in(
            &self.ns[side],
            self.path(&format!("{name}.log")),
            name,
            args,
        )
    }

    /// Sets the veth end of `side` down or up.
    pub fn link(&self, side: usize, up: bool) {
        ok(&[
            "ip",
            "-n",
            &self.ns[side],
            "link",
            "set",
            &self.dev[side],
            if up { "up" } else { "down" },
        ]);
    }

    pub fn ping(&self, side: usize, from: &str, to: &str) -> bool {
        self.exec(side, &["ping", "-c", "1", "-W", "1", "-I", from, to])
            .status
            .success()
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for n in &self.ns {
            let _ = run(&["ip", "netns", "del", n]);
        }
    }
}

/// Makes a directory usable by a daemon that drops to another user (FRR runs as `frr`).
pub fn chown(path: &Path, user: &str) {
    ok(&[
        "chown",
        "-R",
        &format!("{user}:{user}"),
        &path.display().to_string(),
    ]);
}

/// Several namespaces `xct-<tag>-<node>` wired by veth pairs, for topologies beyond a pair;
/// removed by exact name on drop.
pub struct Topo {
    pub tag: String,
    pub nodes: Vec<String>,
    pub dir: tempfile::TempDir,
}

impl Topo {
    pub fn new(tag: &str, nodes: &[&str]) -> Self {
        require_root();
        let t = Topo {
            tag: tag.to_owned(),
            nodes: nodes.iter().map(|n| (*n).to_owned()).collect(),
            dir: tempfile::tempdir().expect("tempdir"),
        };
        for n in nodes {
            let ns = t.ns(n);
            let _ = run(&["ip", "netns", "del", &ns]);
            ok(&["ip", "netns", "add", &ns]);
            ok(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            ok(&[
                "ip",
                "netns",
                "exec",
                &ns,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
                "net.ipv6.conf.all.forwarding=1",
            ]);
        }
        t
    }

    pub fn ns(&self, node: &str) -> String {
        format!("xct-{}-{node}", self.tag)
    }

    /// A veth pair from `a`'s `a_if` to `b`'s `b_if`, both up, with optional addresses.
    pub fn wire(
        &self,
        a: &str,
        a_if: &str,
        a_addr: Option<&str>,
        b: &str,
        b_if: &str,
        b_addr: Option<&str>,
    ) {
        let (na, nb) = (self.ns(a), self.ns(b));
        ok(&[
            "ip", "link", "add", a_if, "netns", &na, "type", "veth", "peer", "name", b_if, "netns",
            &nb,
        ]);
        for (ns, dev, addr) in [(&na, a_if, a_addr), (&nb, b_if, b_addr)] {
            if let Some(addr) = addr {
                ok(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]);
            }
            ok(&["ip", "-n", ns, "link", "set", dev, "up"]);
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn exec(&self, node: &str, args: &[&str]) -> std::process::Output {
        let ns = self.ns(node);
        let mut a = vec!["ip", "netns", "exec", ns.as_str()];
        a.extend_from_slice(args);
        run(&a)
    }

    pub fn exec_ok(&self, node: &str, args: &[&str]) -> String {
        let ns = self.ns(node);
        let mut a = vec!["ip", "netns", "exec", ns.as_str()];
        a.extend_from_slice(args);
        ok(&a)
    }

    pub fn routes(&self, node: &str) -> String {
        String::from_utf8_lossy(&self.exec(node, &["ip", "-4", "route"]).stdout).into_owned()
    }

    pub fn routes6(&self, node: &str) -> String {
        String::from_utf8_lossy(&self.exec(node, &["ip", "-6", "route"]).stdout).into_owned()
    }

    pub fn ping(&self, node: &str, from: &str, to: &str) -> bool {
        self.exec(node, &["ping", "-c", "1", "-W", "1", "-I", from, to])
            .status
            .success()
    }

    /// Starts `args` in `node`'s namespace, its output in `<dir>/<name>.log`.
    pub fn spawn(&self, node: &str, name: &str, args: &[&str]) -> Daemon {
        spawn_in(
            &self.ns(node),
            self.path(&format!("{name}.log")),
            name,
            args,
        )
    }
}

impl Drop for Topo {
    fn drop(&mut self) {
        for n in &self.nodes {
            let _ = run(&["ip", "netns", "del", &self.ns(n)]);
        }
    }
}

/// Starts `args` in namespace `ns`, its output in `log`.
fn spawn_in(ns: &str, log: PathBuf, name: &str, args: &[&str]) -> Daemon {
    let f = std::fs::File::create(&log).expect("log file");
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdout(f.try_clone().expect("log"))
        .stderr(f)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    Daemon {
        name: name.to_owned(),
        child,
        log,
    }
}

/// Runs the xconnect CLI in namespace `ns` against `endpoint` with an access key, and returns its
/// JSON output (or its error line).
pub fn cli_json(
    ns: &str,
    endpoint: &str,
    key: &str,
    secret: &str,
    args: &[&str],
) -> Result<serde_json::Value, String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_xconnect")])
        .args(args)
        .args(["--output", "json"])
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env("XCONNECT_ENDPOINT", endpoint)
        .output()
        .expect("run the CLI");
    if out.status.success() {
        serde_json::from_slice(&out.stdout)
            .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The command line of an FRR daemon (`zebra`, `bgpd`, `bfdd`) whose configuration, sockets and
/// pid file live in `dir` (made the `frr` user's with [`chown`]).
pub fn frr_daemon(dir: &Path, daemon: &str) -> Vec<String> {
    let d = dir.display();
    vec![
        format!("/usr/lib/frr/{daemon}"),
        "-u".into(),
        "frr".into(),
        "-g".into(),
        "frr".into(),
        "--vty_socket".into(),
        format!("{d}/vty"),
        "-z".into(),
        format!("{d}/zserv.api"),
        "-P".into(),
        "0".into(),
        "-f".into(),
        format!("{d}/{daemon}.conf"),
        "-i".into(),
        format!("{d}/{daemon}.pid"),
    ]
}
