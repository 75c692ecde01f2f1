//! The OS side of a bridge: log file names, the exact command line, spawning it in its
//! own session, waiting for it, reading its log, and claude's bridge-pointer file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use super::env::{BridgeEnv, LaunchSpec};
use crate::procs::{self, Identity};

/// One running process of a bridge.
#[derive(Debug)]
pub struct Run {
    pub id: Identity,
    pub started: Instant,
    /// Our child (true), or adopted after a restart (false: no exit status, pid may be reused).
    pub owned: bool,
    pub stderr_log: Option<PathBuf>,
    /// Set once we asked it to stop, so its exit is not a crash.
    pub by_us: bool,
}

/// `<logs>/<project>-<ms>.log` (claude's `--debug-file`) and `.stderr.log` (its output).
#[derive(Debug, Clone)]
pub struct LogPaths {
    pub debug: PathBuf,
    pub stderr: PathBuf,
}

impl LogPaths {
    pub fn allocate(logs_dir: &Path, project: &str) -> LogPaths {
        let ms = crate::time::now_ms();
        LogPaths {
            debug: logs_dir.join(format!("{project}-{ms}.log")),
            stderr: logs_dir.join(format!("{project}-{ms}.stderr.log")),
        }
    }
}

/// The project a log file belongs to: `<project>-<13 digits>.log`.
pub fn project_of_log(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?.strip_suffix(".log")?;
    let (project, ms) = name.rsplit_once('-')?;
    (ms.len() >= 10 && ms.bytes().all(|b| b.is_ascii_digit())).then_some(project)
}

/// Files and the binary a spawn needs, prepared on a blocking thread.
pub struct Prepared {
    pub exe: PathBuf,
    pub stderr: File,
    pub paths: LogPaths,
}

pub fn prepare(env: &BridgeEnv, paths: &LogPaths) -> Result<Prepared, String> {
    let exe = crate::claude_cli::resolve(&env.claude_binary, std::env::var_os("PATH").as_ref()).ok_or_else(|| {
        format!(
            "claude binary {:?} not found on PATH: install Claude Code (npm install -g @anthropic-ai/claude-code) \
             or set claude.binary",
            env.claude_binary
        )
    })?;
    std::fs::create_dir_all(&env.logs_dir).map_err(|e| format!("cannot create {}: {e}", env.logs_dir.display()))?;
    let stderr = File::create(&paths.stderr).map_err(|e| format!("cannot create {}: {e}", paths.stderr.display()))?;
    Ok(Prepared { exe, stderr, paths: paths.clone() })
}

/// Spawns `claude remote-control` exactly as clauster 0.6.0 did, but with stdin from
/// /dev/null, in its own session and process group (so signals aimed at clauster never
/// reach it and it outlives a clauster restart). Every fd we hold is close-on-exec.
pub fn spawn(spec: &LaunchSpec, p: &Prepared) -> std::io::Result<(Run, tokio::process::Child)> {
    let mut cmd = tokio::process::Command::new(&p.exe);
    cmd.arg("remote-control")
        .arg("--name")
        .arg(&spec.project)
        .arg("--debug-file")
        .arg(&p.paths.debug)
        .arg("--spawn")
        .arg(mode_str(&spec.spawn_mode))
        .arg("--permission-mode")
        .arg(mode_str(&spec.permission_mode))
        .current_dir(&spec.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(p.stderr.try_clone()?))
        .stderr(Stdio::from(p.stderr.try_clone()?))
        .kill_on_drop(false);
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| if libc::setsid() < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
    }
    let child = cmd.spawn()?;
    let pid = child.id().ok_or_else(|| std::io::Error::other("child exited before its pid was read"))?;
    let id = procs::identity(pid).unwrap_or(Identity { pid, start_ticks: 0, boot_id: String::new() });
    Ok((
        Run { id, started: Instant::now(), owned: true, stderr_log: Some(p.paths.stderr.clone()), by_us: false },
        child,
    ))
}

fn mode_str<T: serde::Serialize>(m: &T) -> String {
    serde_json::to_value(m).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// Waits for our child and reaps it (no zombie is ever left).
pub async fn wait_child(mut child: tokio::process::Child) -> std::process::ExitStatus {
    loop {
        match child.wait().await {
            Ok(s) => return s,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return std::os::unix::process::ExitStatusExt::from_raw(0),
        }
    }
}

/// Fallback when pidfds are unavailable (kernels before 5.3): a cheap check once a second.
pub async fn poll_until_gone(pid: u32) {
    while procs::start_ticks(pid).is_some() {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Start time as seconds since the epoch, from ticks since boot.
pub fn start_epoch(id: &Identity) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: f64 = stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()?;
    Some(btime + id.start_ticks as f64 / procs::ticks_per_second() as f64)
}

/// What claude's bridge-pointer says about a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub session_id: String,
    pub environment_id: String,
    pub path: PathBuf,
}

/// `~/.claude/projects/<cwd with every non-alphanumeric as '-'>/bridge-pointer.json`.
pub fn pointer_path(home: &Path, dir: &Path) -> PathBuf {
    let sanitized: String =
        dir.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    home.join(".claude/projects").join(sanitized).join("bridge-pointer.json")
}

/// Reads the pointer for `dir`; anything missing or malformed is "no pointer". Blocking.
pub fn read_pointer(home: &Path, dir: &Path) -> Option<Pointer> {
    let path = pointer_path(home, dir);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    Some(Pointer {
        session_id: v["sessionId"].as_str().filter(|s| s.starts_with("session_"))?.to_owned(),
        environment_id: v["environmentId"].as_str().filter(|s| s.starts_with("env_"))?.to_owned(),
        path,
    })
}

/// Renames the folder's bridge pointer to `bridge-pointer.json.<ms>.bak` (kept, not
/// deleted), so the next start registers a new environment. No pointer is fine. Blocking.
pub fn set_pointer_aside(home: &Path, dir: &Path) -> std::io::Result<()> {
    let path = pointer_path(home, dir);
    let aside = path.with_extension(format!("json.{}.bak", crate::time::now_ms()));
    match std::fs::rename(&path, aside) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_names_map_back_to_projects() {
        assert_eq!(project_of_log(Path::new("/s/logs/my-proj-1764160000000.log")), Some("my-proj"));
        assert_eq!(project_of_log(Path::new("/s/logs/my-proj-1764160000000.stderr.log")), None);
        assert_eq!(project_of_log(Path::new("/s/logs/latest")), None);
    }

    #[test]
    fn pointer_path_sanitizes_like_claude() {
        let p = pointer_path(Path::new("/home/u"), Path::new("/srv/projects/my_project"));
        assert_eq!(p, Path::new("/home/u/.claude/projects/-srv-projects-my-project/bridge-pointer.json"));
    }
}
