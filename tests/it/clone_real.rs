//! Real clones: the system `git`, through clauster's API and progress socket, from a git
//! smart-HTTP server over HTTPS that each test starts itself. The guard refuses loopback,
//! so the server lives in a network namespace the test creates (`ip netns add`), reached
//! over a veth pair in an unused 10.251.x.y/30; test traffic goes nowhere else. The server
//! is a stdlib Python script running `git http-backend` as CGI, with a self-signed
//! certificate clauster's git trusts through `GIT_SSL_CAINFO` in clauster's environment.
//!
//! Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), `ip`, `openssl`, `python3` and `git`; without
//! them each test says SKIPPED on stderr and passes. Under `CI` a missing tool is a failure
//! (`.ci/run` installs them); missing privileges are still a skip.

use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::ws::{Next, Ws};
use crate::common::{Fixture, PATIENCE, Response, Server};

const JSON: (&str, &str) = ("Content-Type", "application/json");
/// Two files of this many random (incompressible) bytes make the pack ~3 MB.
const BLOB: usize = 1_500_000;

/// Smart HTTP over HTTPS: `git http-backend` as CGI for every path except `/auth/…`, which
/// demands credentials. Responses bigger than one chunk (the pack) wait for the gate file,
/// then trickle out, so the clone is slow enough for a watcher to see its progress.
const SERVER_PY: &str = r##"import http.server, os, ssl, subprocess, sys, time

root, git, cert, key, host, port, log, gate, ready = sys.argv[1:10]
CHUNK = 64 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def serve(self):
        path, _, query = self.path.partition("?")
        with open(log, "a") as f:
            f.write(f"{self.command} {path}\n")
        body = self.body()
        if path.startswith("/auth/"):
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="clone_real"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "SERVER_PROTOCOL": "HTTP/1.1",
        }
        for header, var in (("Content-Encoding", "HTTP_CONTENT_ENCODING"), ("Git-Protocol", "GIT_PROTOCOL")):
            if self.headers.get(header):
                env[var] = self.headers[header]
        out = subprocess.run([git, "http-backend"], input=body, env=env, capture_output=True, timeout=60).stdout
        ends = [(i, i + len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := out.find(sep)) >= 0]
        cut, start = min(ends) if ends else (0, 0)
        head, payload = out[:cut], out[start:]
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        big = len(payload) > CHUNK
        if big:
            deadline = time.time() + 60
            while not os.path.exists(gate) and time.time() < deadline:
                time.sleep(0.02)
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        for i in range(0, len(payload), CHUNK):
            self.wfile.write(payload[i : i + CHUNK])
            self.wfile.flush()
            if big:
                time.sleep(0.02)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


httpd = Server((host, int(port)), Handler)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain(cert, key)
httpd.socket = tls.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
with open(ready, "w") as f:
    f.write("ready\n")
httpd.serve_forever()
"##;

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
struct Lab {
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
    fn start(test: &str, gated: bool) -> Option<Lab> {
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
    fn git(&self, dir: &Path, args: &[&str]) -> String {
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

    fn open_gate(&self) {
        std::fs::write(&self.gate, "go\n").unwrap();
    }

    /// `METHOD /path` of every request the server saw.
    fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// clauster with this lab's CA trusted by its git (and the found git's folder on PATH).
    fn clauster(&self, fx: &Fixture, clone_cfg: &str) -> Server {
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
    fn unlocked_clone(&self, fx: &Fixture, url: &str, dest: &Path) -> std::process::Output {
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

/// Makes the fixture user's `~/.gitconfig` hostile: every hook runs a script and a
/// credential helper is set, both recording that they ran in the returned file. clauster's
/// git must read none of it.
fn hostile_gitconfig(fx: &Fixture) -> PathBuf {
    let base = std::fs::canonicalize(fx.dir.path()).unwrap();
    let (hooks, marker, helper) = (base.join("hooks"), base.join("ran.log"), base.join("credential-helper"));
    std::fs::create_dir_all(&hooks).unwrap();
    let script = |path: &Path, what: &str| {
        std::fs::write(path, format!("#!/bin/sh\necho \"{what} $1 $PWD\" >> '{}'\n", marker.display())).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(&hooks.join("post-checkout"), "post-checkout");
    script(&helper, "credential");
    let cfg = format!("[core]\n\thooksPath = {}\n[credential]\n\thelper = {}\n", hooks.display(), helper.display());
    std::fs::write(fx.home.join(".gitconfig"), cfg).unwrap();
    marker
}

fn clone(srv: &Server, body: Value) -> Response {
    srv.request("POST", "/api/projects/clone", &[JSON], Some(body.to_string().as_bytes()))
}

/// Starts a clone and returns its job id.
fn start_clone(srv: &Server, name: &str, url: &str, shallow: bool) -> String {
    let r = clone(srv, json!({"name": name, "url": url, "shallow": shallow}));
    assert_eq!(r.status, 202, "{}", r.text());
    r.json()["job_id"].as_str().unwrap().to_string()
}

/// Every frame up to the terminal one, and how the socket closed.
fn follow(mut ws: Ws, mut frames: Vec<Value>) -> (Vec<Value>, Next) {
    let rest = ws.until("the done frame", |t| t.contains(r#""type":"done""#));
    frames.extend(rest.iter().map(|f| serde_json::from_str::<Value>(f).unwrap()));
    (frames, ws.next(Duration::from_secs(5)))
}

fn root_entries(fx: &Fixture) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(&fx.root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn a_real_https_clone_streams_progress_and_lands_locked_down() {
    let Some(lab) = Lab::start("a_real_https_clone_streams_progress_and_lands_locked_down", true) else { return };
    let fx = Fixture::new();
    let marker = hostile_gitconfig(&fx);
    let srv = lab.clauster(&fx, &format!("  allowed_private_cidrs: [\"{}\"]\n  timeout_seconds: 60\n", lab.cidr));
    let url = lab.url("repo.git");

    let job = start_clone(&srv, "real", &url, false);
    let mut ws = Ws::connect(&srv.addr, &format!("/ws/clone-progress/{job}"));
    // The pack is held back until the socket is watching, so no percent has been seen yet.
    let Next::Text(first) = ws.next(PATIENCE) else { panic!("no first frame\n{}", srv.logs()) };
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!((first["type"].as_str(), &first["percent"]), (Some("progress"), &Value::Null), "{first}");
    lab.open_gate();
    let (frames, close) = follow(ws, vec![first]);

    let with_percent: Vec<&Value> = frames.iter().filter(|f| f["percent"].is_u64()).collect();
    assert!(!with_percent.is_empty(), "no progress frame with a percent: {frames:?}");
    assert!(with_percent.iter().all(|f| f["type"] == "progress" && f["percent"].as_u64() <= Some(100)), "{frames:?}");
    assert!(frames.iter().any(|f| f["phase"] == "Receiving" && f["percent"].is_u64()), "{frames:?}");
    assert_eq!(frames.last().unwrap(), &json!({"type": "done", "status": "done", "error": null}), "{frames:?}");
    assert_eq!(close, Next::Closed(Some(1000)));

    // The project: every file, byte for byte, the whole history, in place, nothing hidden left.
    let p = fx.root.join("real");
    assert!(p.join(".git").is_dir());
    for f in ["README.md", "CLAUDE.md", ".claude/settings.json", "data/a.bin", "data/b.bin", ".gitmodules"] {
        assert!(std::fs::read(p.join(f)).unwrap() == std::fs::read(lab.work.join(f)).unwrap(), "{f} differs");
    }
    assert_eq!(lab.git(&p, &["rev-list", "--count", "HEAD"]).trim(), "3", "a full clone, not a shallow one");
    assert_eq!(lab.git(&p, &["tag", "--list"]).trim(), "", "--no-tags");
    assert_eq!(root_entries(&fx), ["real"]);

    let project = srv.eventually("the clone listed", || {
        let list = srv.get_json("/api/projects");
        list.as_array().unwrap().iter().find(|p| p["name"] == "real").cloned()
    });
    assert_eq!(
        (&project["is_git_repo"], &project["has_claude_md"], &project["has_claude_dir"], &project["trust_state"]),
        (&json!(true), &json!(true), &json!(true), &json!("untrusted")),
        "{project}"
    );
    assert_eq!(srv.get("/api/instances/real").status, 404, "a clone never starts a bridge");
    assert_eq!(srv.get_json("/api/instances"), json!([]));

    // Locked down for real: the submodule was neither fetched nor recursed into, and the
    // user's ~/.gitconfig (a post-checkout hook, a credential helper) was never read.
    assert!(p.join("vendor/sub").is_dir() && std::fs::read_dir(p.join("vendor/sub")).unwrap().next().is_none());
    assert!(!p.join(".git/modules").exists());
    let requests = lab.requests();
    assert!(requests.iter().all(|r| !r.contains("sub.git")), "{requests:?}");
    assert!(requests.iter().any(|r| r == "POST /repo.git/git-upload-pack"), "{requests:?}");
    let config = std::fs::read_to_string(p.join(".git/config")).unwrap();
    assert!(config.contains(&format!("url = {url}")), "{config}");
    assert!(!config.contains("credential") && !config.contains("hooksPath"), "{config}");
    assert!(!marker.exists(), "{}", std::fs::read_to_string(&marker).unwrap());
    // The control: the same clone without the lockdown runs the hook.
    let control = fx.dir.path().join("control");
    let out = lab.unlocked_clone(&fx, &url, &control);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ran = std::fs::read_to_string(&marker).unwrap();
    assert!(ran.contains("post-checkout") && ran.contains("control") && !ran.contains("projects"), "{ran}");
}

#[test]
fn a_real_clone_over_the_size_cap_or_refused_credentials_leaves_nothing() {
    let test = "a_real_clone_over_the_size_cap_or_refused_credentials_leaves_nothing";
    let Some(lab) = Lab::start(test, false) else { return };
    let fx = Fixture::new();
    let marker = hostile_gitconfig(&fx);
    let srv = lab.clauster(&fx, &format!("  allowed_private_cidrs: [\"{}\"]\n  max_mb: 1\n", lab.cidr));
    let ip = lab.ip;

    let job = start_clone(&srv, "big", &lab.url("repo.git"), true);
    let (frames, _) = follow(Ws::connect(&srv.addr, &format!("/ws/clone-progress/{job}")), Vec::new());
    let last = frames.last().unwrap();
    assert_eq!((&last["type"], &last["status"]), (&json!("done"), &json!("error")), "{frames:?}");
    let err = last["error"].as_str().unwrap();
    assert!(err.starts_with("clone exceeds the 1 MB size cap (stopped after receiving "), "{err}");
    // The cap follows what git reports receiving, so the download itself was cut off.
    assert!(lab.requests().iter().any(|r| r == "POST /repo.git/git-upload-pack"), "{:?}", lab.requests());
    assert_eq!(root_entries(&fx), Vec::<String>::new(), "no folder, no hidden temp folder");

    // A server asking for credentials: no helper, no prompt, a clean error.
    let job = start_clone(&srv, "private", &lab.url("auth/repo.git"), false);
    let (frames, _) = follow(Ws::connect(&srv.addr, &format!("/ws/clone-progress/{job}")), Vec::new());
    let last = frames.last().unwrap();
    assert_eq!(last["status"], "error", "{frames:?}");
    let want = format!("fatal: could not read Username for 'https://{ip}': terminal prompts disabled");
    let err = last["error"].as_str().unwrap();
    assert!(err.ends_with(&want), "{frames:?}");
    assert!(!err.contains("clone-tmp") && !err.contains(&*fx.root.to_string_lossy()), "no host paths: {err}");
    assert_eq!(root_entries(&fx), Vec::<String>::new());
    assert!(!marker.exists(), "{}", std::fs::read_to_string(&marker).unwrap());
    // The control: without the lockdown the user's credential helper is asked.
    let out = lab.unlocked_clone(&fx, &lab.url("auth/repo.git"), &fx.dir.path().join("control"));
    assert!(!out.status.success());
    assert!(std::fs::read_to_string(&marker).unwrap().contains("credential get"));
}

/// Needs no namespace: the guard refuses before anything connects.
#[test]
fn a_namespace_address_without_the_private_opt_in_is_refused_at_once() {
    let fx = Fixture::new();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let k = std::process::id().wrapping_mul(31).wrapping_add(seq.wrapping_mul(7919)) % 16384;
    let (c, d) = ((k / 64) as u8, (k % 64 * 4) as u8);
    let url = format!("https://10.251.{c}.{}/repo.git", d + 2);
    // No opt-in, then an opt-in for the neighbouring /30 only.
    let neighbour = format!("10.251.{c}.{}/30", d ^ 4);
    for extra in ["", &format!("clone:\n  allowed_private_cidrs: [\"{neighbour}\"]\n")] {
        let cfg = fx.config(extra);
        let srv = fx.start_with(|cmd| {
            cmd.arg("run").arg("-c").arg(&cfg);
        });
        let t0 = Instant::now();
        let r = clone(&srv, json!({"name": "refused", "url": url}));
        assert_eq!(r.status, 403, "{extra}: {}", r.text());
        assert!(t0.elapsed() < Duration::from_secs(5), "refused at once");
        let want = format!("host '10.251.{c}.{}' resolves to blocked address 10.251.{c}.{} (private)", d + 2, d + 2);
        assert!(r.detail().starts_with(&want), "{}", r.detail());
        assert_eq!(root_entries(&fx), Vec::<String>::new());
    }
}
