//! The test lab of the real-clone tests: a network namespace with a veth pair in an
//! unused 10.251.x.y/30, a git smart-HTTP server over HTTPS inside it (`server.py`), the
//! repositories it serves, and the teardown. Test traffic goes nowhere else.

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::common::{Fixture, PATIENCE, Server};

/// Two files of this many random (incompressible) bytes make the pack ~3 MB.
const BLOB: usize = 1_500_000;

/// Smart HTTP over HTTPS: `git http-backend` as CGI for every path except `/auth/…`, which
/// demands credentials. Responses bigger than one chunk (the pack) wait for the gate file,
/// then trickle out, so the clone is slow enough for a watcher to see its progress.
const SERVER_PY: &str = include_str!("server.py");

/// Says why a test did not run, straight to fd 2 (libtest's capture would hide an
/// `eprintln!` of a passing test).
fn skip(test: &str, why: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED clone_real {test}: {why}");
}

struct Tools {
    ip: PathBuf,
    openssl: PathBuf,
    python3: PathBuf,
    git: PathBuf,
}

fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    // `Uid:` real, effective, saved, filesystem.
    status.lines().find_map(|l| l.strip_prefix("Uid:")).and_then(|l| l.split_whitespace().nth(1)) == Some("0")
}

/// The tools, or `None` after saying SKIPPED. Under `CI` a missing tool panics.
fn tools(test: &str) -> Option<Tools> {
    if !is_root() {
        skip(test, "not root (a network namespace and a veth pair need CAP_SYS_ADMIN and CAP_NET_ADMIN)");
        return None;
    }
    let found = ["ip", "openssl", "python3", "git"].map(|t| (t, find_tool(t)));
    let mut missing: Vec<&str> = found.iter().filter(|(_, p)| p.is_none()).map(|(t, _)| *t).collect();
    if let Some(py) = &found[2].1 {
        let check = "import http.server, ssl, subprocess, sys; assert sys.version_info >= (3, 8)";
        if !Command::new(py).args(["-c", check]).stderr(Stdio::null()).status().is_ok_and(|s| s.success()) {
            missing.push("python3 >= 3.8 with ssl");
        }
    }
    if !missing.is_empty() {
        let why = format!("not installed: {} (apt-get install iproute2 openssl python3 git)", missing.join(", "));
        if std::env::var_os("CI").is_some() {
            panic!("clone_real {test}: {why}; .ci/run installs them, so their absence is a bug");
        }
        skip(test, &why);
        return None;
    }
    let [ip, openssl, python3, git] = found.map(|(_, p)| p.unwrap());
    Some(Tools { ip, openssl, python3, git })
}

/// Runs `cmd`, panicking with its stderr on failure; returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = Vec::with_capacity(n);
    std::fs::File::open("/dev/urandom").unwrap().take(n as u64).read_to_end(&mut b).unwrap();
    b
}

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A number unique within this test process, for names and subnets.
pub(super) fn next_seq() -> u32 {
    SEQ.fetch_add(1, Ordering::Relaxed)
}
/// Serializes `ip netns add` within this process (its first use sets up /run/netns mounts).
static NETNS: Mutex<()> = Mutex::new(());

/// A /30 in 10.251.0.0/16 that no route of this host covers as narrowly as a /24:
/// (network, host end, server end).
fn free_subnet(ip: &Path, seq: u32) -> (Ipv4Addr, Ipv4Addr, Ipv4Addr) {
    let start = std::process::id().wrapping_mul(31).wrapping_add(seq.wrapping_mul(7919));
    for attempt in 0..256 {
        let k = start.wrapping_add(attempt) % 16384;
        let net = Ipv4Addr::new(10, 251, (k / 64) as u8, (k % 64 * 4) as u8);
        let [a, b, c, d] = net.octets();
        let server = Ipv4Addr::new(a, b, c, d + 2);
        let routes = run(Command::new(ip).args(["-4", "route", "show", "match", &server.to_string()]));
        // Each line's destination (after an optional type such as `blackhole`).
        let taken = routes
            .lines()
            .filter_map(|l| {
                l.split_whitespace().find(|t| t.starts_with(|c: char| c.is_ascii_digit()) || *t == "default")
            })
            .any(|dst| dst != "default" && dst.split_once('/').map_or(32, |(_, len)| len.parse().unwrap_or(32)) >= 24);
        if !taken {
            return (net, Ipv4Addr::new(a, b, c, d + 1), server);
        }
    }
    panic!("no free /30 in 10.251.0.0/16");
}

/// The namespace, its veth, the HTTPS git server in it, and the served repositories.
/// Dropping it kills the server's process group and deletes the veth and the namespace.
pub(super) struct Lab {
    tools: Tools,
    /// Removed after the namespace is gone (fields drop after `drop`).
    _dir: tempfile::TempDir,
    base: PathBuf,
    ns: String,
    host_if: String,
    netns_made: bool,
    veth_made: bool,
    server: Option<Child>,
    pub ip: Ipv4Addr,
    /// The namespace's /30, for `clone.allowed_private_cidrs`.
    pub cidr: String,
    pub cert: PathBuf,
    /// The work tree `repo.git` was made from.
    pub work: PathBuf,
    gate: PathBuf,
    log: PathBuf,
}

impl Lab {
    /// Sets everything up, or returns `None` after saying SKIPPED. With `gated`, the pack
    /// is held back until [`Lab::open_gate`].
    pub(super) fn start(test: &str, gated: bool) -> Option<Lab> {
        let tools = tools(test)?;
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let (net, host_ip, ip) = free_subnet(&tools.ip, seq);
        let dir = tempfile::Builder::new().prefix("clauster-clone-real-").tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let mut lab = Lab {
            ns: format!("clauster-rt-{pid}-{seq}"),
            host_if: format!("crt{pid}x{seq}h"),
            netns_made: false,
            veth_made: false,
            server: None,
            ip,
            cidr: format!("{net}/30"),
            cert: base.join("cert.pem"),
            work: base.join("work"),
            gate: base.join("gate"),
            log: base.join("requests.log"),
            tools,
            _dir: dir,
            base,
        };
        let ns_if = format!("crt{pid}x{seq}n");
        let (ns, host_if) = (lab.ns.clone(), lab.host_if.clone());
        let made = {
            let _one = NETNS.lock().unwrap_or_else(|e| e.into_inner());
            lab.ip_cmd(&["netns", "add", &ns])
        };
        if let Err(e) = made {
            skip(test, &format!("`ip netns add` failed (no CAP_SYS_ADMIN/CAP_NET_ADMIN here?): {e}"));
            return None;
        }
        lab.netns_made = true;
        if let Err(e) = lab.ip_cmd(&["link", "add", &host_if, "type", "veth", "peer", "name", &ns_if, "netns", &ns]) {
            skip(test, &format!("cannot make a veth pair: {e}"));
            return None;
        }
        lab.veth_made = true;
        for args in [
            vec!["addr", "add", &format!("{host_ip}/30"), "dev", &host_if],
            vec!["link", "set", &host_if, "up"],
            vec!["-n", &ns, "addr", "add", &format!("{ip}/30"), "dev", &ns_if],
            vec!["-n", &ns, "link", "set", &ns_if, "up"],
            vec!["-n", &ns, "link", "set", "lo", "up"],
        ] {
            lab.ip_cmd(&args).unwrap_or_else(|e| panic!("ip {args:?}: {e}"));
        }
        lab.make_repos();
        lab.make_cert();
        if !gated {
            lab.open_gate();
        }
        lab.spawn_server();
        Some(lab)
    }

    fn ip_cmd(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new(&self.tools.ip).args(args).stdin(Stdio::null()).output().map_err(|e| e.to_string())?;
        if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).trim().to_string()) }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://{}/{path}", self.ip)
    }

    /// A git for building the repositories: no user or system config, a fixed identity.
    pub(super) fn git(&self, dir: &Path, args: &[&str]) -> String {
        run(Command::new(&self.tools.git)
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &self.base)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid"))
    }

    /// `srv/sub.git` (one commit) and `srv/repo.git`: three commits with a CLAUDE.md, a
    /// `.claude/settings.json`, two random blobs, a tag and a submodule pointing at sub.git
    /// on this same server (served, so a recursing clone would fetch it).
    fn make_repos(&self) {
        let (work, sub, srv) = (&self.work, self.base.join("subwork"), self.base.join("srv"));
        for d in [work, &sub, &srv] {
            std::fs::create_dir_all(d).unwrap();
        }
        self.git(&sub, &["init", "-q", "-b", "main"]);
        std::fs::write(sub.join("lib.txt"), "sub\n").unwrap();
        self.git(&sub, &["add", "-A"]);
        self.git(&sub, &["commit", "-qm", "sub"]);
        let sub_head = self.git(&sub, &["rev-parse", "HEAD"]).trim().to_string();

        self.git(work, &["init", "-q", "-b", "main"]);
        std::fs::create_dir_all(work.join(".claude")).unwrap();
        std::fs::write(work.join("README.md"), "real clone\n").unwrap();
        std::fs::write(work.join("CLAUDE.md"), "# Served over HTTPS\n").unwrap();
        std::fs::write(work.join(".claude/settings.json"), "{\"permissions\": {}}\n").unwrap();
        self.git(work, &["add", "-A"]);
        self.git(work, &["commit", "-qm", "one"]);
        self.git(work, &["tag", "v1"]);
        std::fs::create_dir_all(work.join("data")).unwrap();
        std::fs::write(work.join("data/a.bin"), random_bytes(BLOB)).unwrap();
        self.git(work, &["add", "-A"]);
        self.git(work, &["commit", "-qm", "two"]);
        std::fs::write(work.join("data/b.bin"), random_bytes(BLOB)).unwrap();
        let modules = format!("[submodule \"vendor/sub\"]\n\tpath = vendor/sub\n\turl = {}\n", self.url("sub.git"));
        std::fs::write(work.join(".gitmodules"), modules).unwrap();
        self.git(work, &["add", "-A"]);
        self.git(work, &["update-index", "--add", "--cacheinfo", &format!("160000,{sub_head},vendor/sub")]);
        self.git(work, &["commit", "-qm", "three"]);

        self.git(&srv, &["clone", "-q", "--bare", "--", &work.to_string_lossy(), "repo.git"]);
        self.git(&srv, &["clone", "-q", "--bare", "--", &sub.to_string_lossy(), "sub.git"]);
    }

    fn make_cert(&self) {
        let ip = self.ip;
        run(Command::new(&self.tools.openssl)
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .arg("-keyout")
            .arg(self.base.join("key.pem"))
            .arg("-out")
            .arg(&self.cert)
            .args(["-subj", &format!("/CN={ip}"), "-addext", &format!("subjectAltName=IP:{ip}")]));
    }

    /// Starts the server in the namespace, in its own process group, and waits until it
    /// listens.
    fn spawn_server(&mut self) {
        let script = self.base.join("server.py");
        std::fs::write(&script, SERVER_PY).unwrap();
        let (ready, stderr) = (self.base.join("ready"), self.base.join("server.err"));
        let mut cmd = Command::new(&self.tools.ip);
        cmd.args(["netns", "exec", &self.ns])
            .arg(&self.tools.python3)
            .arg(&script)
            .arg(self.base.join("srv"))
            .arg(&self.tools.git)
            .arg(&self.cert)
            .arg(self.base.join("key.pem"))
            .args([&self.ip.to_string(), "443"])
            .args([&self.log, &self.gate, &ready])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .process_group(0);
        self.server = Some(cmd.spawn().expect("spawn the git server"));
        let deadline = Instant::now() + PATIENCE;
        while !ready.exists() {
            let exited = self.server.as_mut().unwrap().try_wait().unwrap();
            let err = || std::fs::read_to_string(&stderr).unwrap_or_default();
            assert!(exited.is_none(), "the git server exited ({exited:?}):\n{}", err());
            assert!(Instant::now() < deadline, "the git server not ready within {PATIENCE:?}:\n{}", err());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(super) fn open_gate(&self) {
        std::fs::write(&self.gate, "go\n").unwrap();
    }

    /// `METHOD /path` of every request the server saw.
    pub(super) fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// clauster with this lab's CA trusted by its git (and the found git's folder on PATH).
    pub(super) fn clauster(&self, fx: &Fixture, clone_cfg: &str) -> Server {
        let cfg = fx.config(&format!("clone:\n{clone_cfg}"));
        let git_dir = self.tools.git.parent().unwrap().to_owned();
        fx.start_with(|c| {
            c.arg("run").arg("-c").arg(&cfg);
            c.env("PATH", format!("{}:{}:/usr/local/bin:/usr/bin:/bin", fx.bin.display(), git_dir.display()));
            c.env("GIT_SSL_CAINFO", &self.cert);
        })
    }

    /// A plain `git clone` (no lockdown) as a user whose HOME is the fixture's: the control
    /// showing that what the lockdown blocks would otherwise have happened.
    pub(super) fn unlocked_clone(&self, fx: &Fixture, url: &str, dest: &Path) -> std::process::Output {
        Command::new(&self.tools.git)
            .args(["clone", "-q", "--"])
            .arg(url)
            .arg(dest)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &fx.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_SSL_CAINFO", &self.cert)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            // The server leads its own group; its `git http-backend` children are in it too.
            let group = format!("-{}", server.id());
            let _ = Command::new("kill").args(["-9", "--", &group]).stderr(Stdio::null()).status();
            let _ = server.kill();
            let _ = server.wait();
        }
        if self.veth_made {
            let _ = self.ip_cmd(&["link", "del", &self.host_if]);
        }
        if self.netns_made {
            let _ = self.ip_cmd(&["netns", "del", &self.ns]);
        }
    }
}
