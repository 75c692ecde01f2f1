//! Creating project folders (spec §7.1, §7.3): the target rules, locating git, and the
//! locked-down environment every git process clauster starts runs with.
//!
//! The blocking parts ([`make_dir`], [`remove_dir`]) run on blocking threads; `git init`
//! runs as a tokio process with a timeout, so nothing here blocks an arbiter.

use std::ffi::OsStr;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::names::is_valid_project_name;

/// How long `git init` may take before it is killed and the folder removed.
pub const GIT_INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why creating a project failed; the web layer maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("invalid project name: {0:?} (names are 1-64 letters, digits, '_' or '-')")]
    InvalidName(String),
    #[error("a directory named {0:?} already exists")]
    Exists(String),
    #[error("git is not installed on the host: install git or create the project without git_init")]
    GitMissing,
    #[error("git init failed: {0}")]
    GitFailed(String),
    #[error("could not create the project folder: {0}")]
    Io(String),
    #[error("project {0:?} was created but did not appear in the project list; reload the page")]
    NotListed(String),
}

/// The truthiness of a JSON value, as the original judged `git_init` (Python's `bool()`).
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
    }
}

/// `<root>/<name>` once the name is valid. The name rule admits no `/` or `.`, so the
/// target's parent is always `root` itself: no escape is possible.
pub fn target(root: &Path, name: &str) -> Result<PathBuf, CreateError> {
    if !is_valid_project_name(name) {
        return Err(CreateError::InvalidName(name.to_owned()));
    }
    Ok(root.join(name))
}

/// Creates the (empty) project folder; never reuses or overwrites anything, a dangling
/// symlink included. Blocking.
pub fn make_dir(target: &Path, name: &str) -> Result<(), CreateError> {
    if std::fs::symlink_metadata(target).is_ok() {
        return Err(CreateError::Exists(name.to_owned()));
    }
    match std::fs::create_dir(target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(CreateError::Exists(name.to_owned())),
        Err(e) => Err(CreateError::Io(format!("{}: {e}", target.display()))),
    }
}

/// Removes a folder this request created (after a failed `git init`). Blocking.
pub fn remove_dir(target: &Path) {
    if let Err(e) = std::fs::remove_dir_all(target) {
        tracing::error!(dir = %target.display(), error = %e, "could not remove a half-created project folder");
    }
}

/// The absolute path of `git` on `path` (a `PATH` value), so git runs by absolute path.
pub fn find_git(path: Option<&OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?).map(|d| d.join("git")).find(|p| {
        p.is_absolute() && std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// The environment overrides for every git clauster runs (§7.3): only https and ssh,
/// never a prompt (a prompt would hang the request), no system or global config (so no
/// hooks, credential helpers or URL rewrites from the host's config).
pub fn git_env() -> [(&'static str, &'static str); 6] {
    [
        ("GIT_ALLOW_PROTOCOL", "https:ssh"),
        ("GIT_TERMINAL_PROMPT", "0"),
        ("GIT_ASKPASS", ""),
        ("GIT_SSH_COMMAND", "ssh -oBatchMode=yes -oStrictHostKeyChecking=accept-new"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ]
}

/// A git command with the lockdown applied: the env above, hooks pointed at nothing,
/// stdin closed, killed if the caller's future is dropped (the timeout).
pub fn git_command(git: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(git);
    cmd.envs(git_env())
        .args(["-c", "core.hooksPath=/dev/null", "-c", "protocol.file.allow=never", "-c", "credential.helper="])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Runs `git init --quiet <dir>` with the lockdown and a timeout; the error carries the
/// last 400 characters of git's stderr.
pub async fn git_init(git: &Path, dir: &Path, timeout: Duration) -> Result<(), CreateError> {
    let mut cmd = git_command(git);
    cmd.arg("init").arg("--quiet").arg("--").arg(dir).stdout(std::process::Stdio::null());
    let out = match tokio::time::timeout(timeout, cmd.output()).await {
        Err(_) => return Err(CreateError::GitFailed(format!("timed out after {}s", timeout.as_secs()))),
        Ok(Err(e)) => return Err(CreateError::GitFailed(format!("could not run {}: {e}", git.display()))),
        Ok(Ok(o)) => o,
    };
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let err = err.trim();
    let tail: String = err.chars().rev().take(400).collect::<Vec<_>>().into_iter().rev().collect();
    Err(CreateError::GitFailed(if tail.is_empty() { format!("git exited with {}", out.status) } else { tail }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness_follows_python() {
        for v in [json!(true), json!(1), json!("x"), json!([0]), json!({"a": 1})] {
            assert!(truthy(Some(&v)), "{v}");
        }
        for v in [json!(false), json!(0), json!(0.0), json!(""), json!([]), json!({}), json!(null)] {
            assert!(!truthy(Some(&v)), "{v}");
        }
        assert!(!truthy(None));
    }

    #[test]
    fn target_and_make_dir_never_reuse() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(target(d.path(), "../x"), Err(CreateError::InvalidName(_))));
        let t = target(d.path(), "new").unwrap();
        assert_eq!(t.parent(), Some(d.path()));
        make_dir(&t, "new").unwrap();
        assert!(matches!(make_dir(&t, "new"), Err(CreateError::Exists(_))));
        let dangling = d.path().join("link");
        std::os::unix::fs::symlink("/nonexistent/x", &dangling).unwrap();
        assert!(matches!(make_dir(&dangling, "link"), Err(CreateError::Exists(_))));
    }

    #[test]
    fn find_git_needs_an_executable_file() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir_all(a.join("git")).unwrap(); // a directory named git
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(b.join("git"), "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(find_git(Some(&path)), None, "not executable");
        std::fs::set_permissions(b.join("git"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_git(Some(&path)), Some(b.join("git")));
        assert_eq!(find_git(None), None);
    }
}
