//! The harness: a throwaway HOME with a projects folder and the repo's fake `claude`
//! first on PATH, the real `clauster` binary started on a free loopback port, and a
//! small HTTP/1.1 client that can send anything (odd methods, bad bodies, half requests).

#![allow(dead_code)]

pub mod http;
pub mod ws;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

pub use http::Response;

/// How long anything may take before a test calls it stuck (a liveness bound, not a
/// performance assertion).
pub const PATIENCE: Duration = Duration::from_secs(20);

pub fn clauster_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_clauster"))
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub home: PathBuf,
    pub root: PathBuf,
    pub bin: PathBuf,
    /// The working directory clauster runs in (empty, so no ./clauster.yml is found).
    pub cwd: PathBuf,
    pub state: PathBuf,
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let (home, bin, cwd) = (base.join("home"), base.join("bin"), base.join("cwd"));
        let root = home.join("projects");
        for d in [&home, &bin, &cwd, &root] {
            std::fs::create_dir_all(d).unwrap();
        }
        let fake = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fake-claude/claude");
        std::fs::copy(fake, bin.join("claude")).unwrap();
        Fixture { state: home.join("state"), dir, home, root, bin, cwd }
    }

    /// Creates `projects_root/<name>` (and returns its path).
    pub fn project(&self, name: &str) -> PathBuf {
        let p = self.root.join(name);
        std::fs::create_dir_all(&p).unwrap();
        p
    }

    /// Writes a config file; `extra` is appended to the basic keys.
    pub fn config(&self, extra: &str) -> PathBuf {
        let p = self.dir.path().join("clauster.yml");
        let text =
            format!("projects_root: {}\nstate_dir: {}\nport: 0\n{extra}", self.root.display(), self.state.display());
        std::fs::write(&p, text).unwrap();
        p
    }

    /// A `clauster` command with a clean environment: this fixture's HOME and PATH only.
    pub fn command(&self) -> Command {
        let mut c = Command::new(clauster_bin());
        c.env_clear()
            .env("HOME", &self.home)
            .env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display()))
            .env("CLAUSTER_LOG_FORMAT", "json")
            .current_dir(&self.cwd)
            .stdin(Stdio::null());
        c
    }

    /// Starts `clauster run -c <config>` with the basic config.
    pub fn start(&self) -> Server {
        let cfg = self.config("");
        self.start_with(|c| {
            c.arg("run").arg("-c").arg(&cfg);
        })
    }

    /// Starts clauster with the command adjusted by `setup`, and waits until it listens.
    pub fn start_with(&self, setup: impl FnOnce(&mut Command)) -> Server {
        let mut cmd = self.command();
        setup(&mut cmd);
        Server::spawn(cmd)
    }

    /// Runs clauster to completion and returns (status, stdout, stderr).
    pub fn run(&self, setup: impl FnOnce(&mut Command)) -> (ExitStatus, String, String) {
        let mut cmd = self.command();
        setup(&mut cmd);
        let out = cmd.output().unwrap();
        (out.status, String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
    }

    pub fn claude_json(&self) -> PathBuf {
        self.home.join(".claude.json")
    }
}

impl Drop for Fixture {
    /// Bridges deliberately outlive clauster, so a test's bridges are ended here: every
    /// process whose command line carries this fixture's unique temp path, by pid.
    fn drop(&mut self) {
        let mine = self.dir.path().to_string_lossy().into_owned();
        for pid in pids_with(&mine) {
            kill_quiet(pid, 9);
        }
    }
}

/// Pids of live processes whose command line contains `needle`.
pub fn pids_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        if cmd.contains(needle) && !is_zombie(pid) {
            out.push(pid);
        }
    }
    out
}

/// The state letter of `/proc/<pid>/stat` and the parent pid.
pub fn stat(pid: u32) -> Option<(char, u32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = s.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace();
    Some((f.next()?.chars().next()?, f.next()?.parse().ok()?))
}

pub fn is_zombie(pid: u32) -> bool {
    stat(pid).is_some_and(|(st, _)| st == 'Z')
}

/// Zombie children of `parent`.
pub fn zombies_of(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| stat(*pid).is_some_and(|(st, pp)| st == 'Z' && pp == parent))
        .collect()
}

pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(st, _)| st != 'Z')
}

fn kill_quiet(pid: u32, signal: i32) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).stderr(Stdio::null()).status();
}

/// A running clauster. Dropping it kills the process.
pub struct Server {
    child: Option<Child>,
    pub addr: String,
    logs: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Server {
    fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn clauster");
        let stderr = child.stderr.take().unwrap();
        let logs: Arc<(Mutex<Vec<String>>, Condvar)> = Arc::default();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.0.lock().unwrap().push(line);
                sink.1.notify_all();
            }
        });
        let mut server = Server { child: Some(child), addr: String::new(), logs };
        let line = server.wait_log("listening on http://");
        let start = line.find("http://").unwrap() + "http://".len();
        let end = line[start..].find(|c: char| c == '"' || c.is_whitespace()).map_or(line.len(), |i| start + i);
        server.addr = line[start..end].to_string();
        server
    }

    /// Waits until a log line contains `needle` and returns it; panics with the log if the
    /// process exits or `PATIENCE` passes first.
    pub fn wait_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        let (lock, cv) = &*self.logs;
        let mut logs = lock.lock().unwrap();
        loop {
            if let Some(l) = logs.iter().find(|l| l.contains(needle)) {
                return l.clone();
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                drop(logs);
                std::thread::sleep(Duration::from_millis(50));
                panic!("clauster exited ({status}) before logging {needle:?}:\n{}", self.logs());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no log line with {needle:?} within {PATIENCE:?}:\n{}", logs.join("\n"));
            logs = cv.wait_timeout(logs, left.min(Duration::from_millis(100))).unwrap().0;
        }
    }

    pub fn logs(&self) -> String {
        self.logs.0.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Response {
        http::request(&self.addr, method, path, headers, body)
    }

    pub fn get(&self, path: &str) -> Response {
        self.request("GET", path, &[], None)
    }

    pub fn post(&self, path: &str) -> Response {
        self.request("POST", path, &[], None)
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }

    /// Polls `check` until it returns `Some`, within `PATIENCE`.
    pub fn eventually<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(v) = check() {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` and waits for the exit (bounded by `PATIENCE`).
    pub fn stop_with(&mut self, signal: i32) -> (ExitStatus, Duration) {
        let child = self.child.as_mut().unwrap();
        let t0 = Instant::now();
        kill(child.id(), signal);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status, t0.elapsed());
            }
            assert!(t0.elapsed() < PATIENCE, "clauster did not exit after signal {signal}\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub const SIGINT: i32 = 2;
pub const SIGTERM: i32 = 15;

pub fn kill(pid: u32, signal: i32) {
    let status = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status().unwrap();
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Project names from a `/api/projects` body.
pub fn names(projects: &serde_json::Value) -> Vec<String> {
    projects.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap().to_string()).collect()
}
