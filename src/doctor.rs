//! `doctor`: the host checks behind `clauster doctor` and `GET /api/doctor`. Every check
//! that is not OK says how to fix it.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::claude_cli::{self, Login};
use crate::config::{ConfigError, Loaded};
use crate::trust::TrustIndex;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    fn new(checks: Vec<Check>) -> Report {
        Report { ok: checks.iter().all(|c| c.status != Status::Fail), checks }
    }

    /// The report for a config that did not load: one failed check, nothing else runs.
    pub fn config_failed(err: &ConfigError) -> Report {
        Report::new(vec![check("config", Status::Fail, format!("invalid config: {err}"))])
    }

    /// The `claude --version` result as the probe cache wants it.
    pub fn claude_version(&self) -> Option<&str> {
        self.checks
            .iter()
            .find(|c| c.name == "claude" && c.status == Status::Ok)
            .and_then(|c| c.detail.split_whitespace().next())
    }
}

fn check(name: &'static str, status: Status, detail: impl Into<String>) -> Check {
    Check { name, status, detail: detail.into() }
}

/// What the host-side checks need besides the config.
pub struct Host {
    pub home: std::path::PathBuf,
    pub api_key_set: bool,
    pub path_var: Option<std::ffi::OsString>,
    pub cwd: std::path::PathBuf,
    /// The length of `CLAUSTER_SESSION_SECRET`, if set (never its value).
    pub session_secret_len: Option<usize>,
}

impl Host {
    pub fn from_env() -> Host {
        Host {
            home: std::env::var_os("HOME").map(Into::into).unwrap_or_default(),
            api_key_set: std::env::var_os("ANTHROPIC_API_KEY").is_some_and(|v| !v.is_empty()),
            path_var: std::env::var_os("PATH"),
            cwd: std::env::current_dir().unwrap_or_default(),
            session_secret_len: std::env::var_os(crate::auth::store::SECRET_ENV).map(|v| v.len()),
        }
    }
}

/// Runs every check. `probe` is the `claude --version` result; `with_port` adds the
/// CLI-only check that the port is free.
pub async fn run(
    loaded: &Loaded,
    host: Host,
    probe: Result<String, claude_cli::ProbeError>,
    with_port: bool,
) -> Report {
    let mut checks = vec![check("config", Status::Ok, format!("loaded {}", loaded.source))];
    let min = &loaded.config.claude.min_version;
    checks.push(match probe {
        Ok(v) if claude_cli::version_at_least(&v, min) => check("claude", Status::Ok, format!("{v} (>= {min})")),
        Ok(v) => check("claude", Status::Fail, format!("{v} is older than the required {min}: run `claude update`")),
        Err(e) => check("claude", Status::Fail, e.to_string()),
    });
    let loaded = loaded.clone();
    let rest = tokio::task::spawn_blocking(move || host_checks(&loaded, &host, with_port)).await;
    checks.extend(rest.unwrap_or_else(|e| vec![check("host", Status::Fail, format!("checks crashed: {e}"))]));
    Report::new(checks)
}

fn host_checks(loaded: &Loaded, host: &Host, with_port: bool) -> Vec<Check> {
    let cfg = &loaded.config;
    let mut checks = vec![
        match claude_cli::login_state(&host.home, host.api_key_set) {
            Login::LoggedIn => check("claude-login", Status::Ok, "logged in (claude.ai credentials present)"),
            Login::ApiKeyOnly => check(
                "claude-login",
                Status::Warn,
                "only ANTHROPIC_API_KEY is set; remote control needs a claude.ai login: run `claude` and /login",
            ),
            Login::LoggedOut(why) => check(
                "claude-login",
                Status::Fail,
                format!("not logged in ({why}): run `claude` as this user and /login; bridges use this login"),
            ),
        },
        {
            let root = loaded.projects_root();
            if root.is_dir() {
                check("projects_root", Status::Ok, root.display().to_string())
            } else {
                check(
                    "projects_root",
                    Status::Fail,
                    format!("{} is not a directory: create it or fix projects_root", root.display()),
                )
            }
        },
        state_dir_check(&cfg.state_dir),
        match claude_cli::resolve("git", host.path_var.as_ref()) {
            Some(p) => check("git", Status::Ok, p.display().to_string()),
            None => check(
                "git",
                Status::Warn,
                "git not on PATH: creating with git init and cloning are unavailable; install git",
            ),
        },
        auth_check(cfg, host.session_secret_len),
        {
            let claude_json = crate::claude_json::read(&host.home.join(".claude.json"));
            let trust = TrustIndex::build(claude_json.as_ref().ok().and_then(Option::as_ref), &host.cwd);
            let real =
                std::fs::canonicalize(loaded.projects_root()).unwrap_or_else(|_| loaded.projects_root().to_owned());
            match claude_json {
                Err(e) => check("workspace-trust", Status::Warn, format!("cannot read trust: {e}")),
                Ok(_) if trust.is_trusted(&real) => check("workspace-trust", Status::Ok, "projects_root is trusted"),
                Ok(_) => check(
                    "workspace-trust",
                    Status::Warn,
                    "projects_root is untrusted: each project asks for Trust before its first Start",
                ),
            }
        },
    ];
    if with_port {
        checks.push(port_check(cfg.port.0));
    }
    checks
}

/// How the dashboard is protected, and whether that fits the bind address.
fn auth_check(cfg: &crate::config::Config, session_secret_len: Option<usize>) -> Check {
    use crate::auth::store::{MIN_SECRET_LEN, SECRET_ENV};
    if let Some(len) = session_secret_len.filter(|n| *n < MIN_SECRET_LEN) {
        return check(
            "auth",
            Status::Fail,
            format!(
                "{SECRET_ENV} is {len} bytes; it needs at least {MIN_SECRET_LEN} (`openssl rand -hex 32`), or unset it"
            ),
        );
    }
    let auth = &cfg.auth;
    let loopback = crate::config::load::is_loopback(&cfg.host);
    let password = auth.password_hash.as_deref().is_some_and(|h| !h.is_empty());
    let proxy = auth.reverse_proxy.enabled;
    if auth.enabled && !password && !proxy {
        return check(
            "auth",
            Status::Warn,
            "auth.enabled is true but nobody can sign in: set auth.password_hash (`clauster hash-password`) or enable auth.reverse_proxy",
        );
    }
    let how = match (password, proxy) {
        (true, true) => "password or reverse proxy",
        (true, false) => "password",
        _ => "reverse proxy",
    };
    match (loopback, auth.enabled) {
        (true, false) => check("auth", Status::Ok, format!("bound to loopback ({}); no login needed", cfg.host)),
        (true, true) => check("auth", Status::Ok, format!("bound to loopback ({}); sign-in by {how}", cfg.host)),
        (false, true) if auth.password_required || proxy => {
            check("auth", Status::Ok, format!("bound to {}; sign-in enforced by {how}", cfg.host))
        }
        (false, _) => check(
            "auth",
            Status::Warn,
            format!("bound to {} with no enforced authentication (auth.allow_unauthenticated_network)", cfg.host),
        ),
    }
}

/// Never creates the state dir: checks it is writable, or that it could be created.
fn state_dir_check(dir: &Path) -> Check {
    fn writable(d: &Path) -> Result<(), std::io::Error> {
        let probe = d.join(".doctor-write-probe");
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&probe)?;
        std::fs::remove_file(&probe)
    }
    if dir.is_dir() {
        return match writable(dir) {
            Ok(()) => check("state_dir", Status::Ok, format!("{} (writable)", dir.display())),
            Err(e) => check(
                "state_dir",
                Status::Fail,
                format!("{} is not writable ({e}): fix its owner or permissions", dir.display()),
            ),
        };
    }
    let ancestor = dir.ancestors().skip(1).find(|a| a.is_dir());
    match ancestor {
        Some(a) if writable(a).is_ok() => {
            check("state_dir", Status::Ok, format!("{} (absent; will be created under {})", dir.display(), a.display()))
        }
        Some(a) => check(
            "state_dir",
            Status::Fail,
            format!("{} cannot be created: {} is not writable", dir.display(), a.display()),
        ),
        None => check("state_dir", Status::Fail, format!("{} cannot be created", dir.display())),
    }
}

fn port_check(port: u16) -> Check {
    if port == 0 {
        return check("port", Status::Ok, "0 (any free port)");
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
        Ok(_) => check(
            "port",
            Status::Warn,
            format!("{port} is already in use (clauster already running?): stop it or set port"),
        ),
        Err(_) => check("port", Status::Ok, format!("{port} free")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn the_auth_check_says_how_sign_in_is_enforced() {
        let mut cfg = Config::default();
        assert_eq!(auth_check(&cfg, None).status, Status::Ok);
        let short = auth_check(&cfg, Some(31));
        assert_eq!(short.status, Status::Fail);
        assert!(short.detail.contains("CLAUSTER_SESSION_SECRET is 31 bytes"), "{}", short.detail);
        assert_eq!(auth_check(&cfg, Some(32)).status, Status::Ok);
        cfg.auth.enabled = true;
        let c = auth_check(&cfg, None);
        assert!(c.status == Status::Warn && c.detail.contains("nobody can sign in"), "{}", c.detail);
        cfg.auth.password_hash = Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into());
        cfg.auth.password_required = true;
        cfg.host = "0.0.0.0".into();
        let c = auth_check(&cfg, None);
        assert!(c.status == Status::Ok && c.detail.contains("enforced by password"), "{}", c.detail);
        cfg.auth.password_required = false;
        cfg.auth.allow_unauthenticated_network = true;
        assert_eq!(auth_check(&cfg, None).status, Status::Warn);
    }
}
