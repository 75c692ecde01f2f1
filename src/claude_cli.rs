//! Talking to the `claude` CLI from the outside: finding it, asking its version, and
//! whether this host is logged in. Process work is async (tokio), never a blocking wait.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long `claude --version` may take before it counts as failed.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ProbeError {
    #[error(
        "claude binary {0:?} not found on PATH: install Claude Code (npm install -g @anthropic-ai/claude-code) or set claude.binary"
    )]
    NotFound(String),
    #[error("`{0} --version` failed: {1}")]
    Failed(String, String),
    #[error("`{0} --version` did not answer within {1:?}")]
    Timeout(String, Duration),
}

/// Resolves `binary` the way exec would: a path with a `/` as is, else the first
/// executable file of that name on `path_var`.
pub fn resolve(binary: &str, path_var: Option<&OsString>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let is_exec = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if binary.contains('/') {
        let p = PathBuf::from(binary);
        return is_exec(&p).then_some(p);
    }
    std::env::split_paths(path_var?).map(|dir| dir.join(binary)).find(|p| is_exec(p))
}

/// Runs `<binary> --version` and returns its first word (e.g. `2.1.197`).
pub async fn probe_version(binary: &str) -> Result<String, ProbeError> {
    let path = std::env::var_os("PATH");
    let exe = resolve(binary, path.as_ref()).ok_or_else(|| ProbeError::NotFound(binary.to_owned()))?;
    let child = tokio::process::Command::new(&exe)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ProbeError::Failed(binary.to_owned(), e.to_string()))?;
    let out = tokio::time::timeout(PROBE_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| ProbeError::Timeout(binary.to_owned(), PROBE_TIMEOUT))?
        .map_err(|e| ProbeError::Failed(binary.to_owned(), e.to_string()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    match stdout.split_whitespace().next() {
        Some(v) if out.status.success() => Ok(v.to_owned()),
        _ => {
            let err = String::from_utf8_lossy(&out.stderr);
            let why = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("no output");
            Err(ProbeError::Failed(binary.to_owned(), format!("{} ({why})", out.status)))
        }
    }
}

/// Compares dotted versions numerically (`2.1.10` > `2.1.9`); non-digits in a segment
/// are ignored and missing segments count as 0.
pub fn version_at_least(version: &str, min: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.split('.').map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)).collect()
    };
    let (mut a, mut b) = (parse(version), parse(min));
    let n = a.len().max(b.len());
    a.resize(n, 0);
    b.resize(n, 0);
    a >= b
}

/// Whether `claude` on this host can use remote control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// OAuth credentials (a claude.ai login) are present.
    LoggedIn,
    /// Only `ANTHROPIC_API_KEY`: fine for API use, but remote control needs a claude.ai login.
    ApiKeyOnly,
    LoggedOut(String),
}

/// Reads `~/.claude/.credentials.json` for a non-empty `claudeAiOauth.accessToken`,
/// without ever putting the token in a message. Blocking I/O.
pub fn login_state(home: &Path, api_key_set: bool) -> Login {
    let file = home.join(".claude/.credentials.json");
    let fallback = |why: String| if api_key_set { Login::ApiKeyOnly } else { Login::LoggedOut(why) };
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(_) => return fallback(format!("{} is missing", file.display())),
    };
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(v) if v["claudeAiOauth"]["accessToken"].as_str().is_some_and(|t| !t.is_empty()) => Login::LoggedIn,
        Ok(_) => fallback(format!("no access token in {}", file.display())),
        Err(e) => fallback(format!("{} is not valid JSON ({e})", file.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("2.1.197", "2.1.145"));
        assert!(version_at_least("2.1.145", "2.1.145"));
        assert!(!version_at_least("2.1.99", "2.1.145"));
        assert!(version_at_least("2.10", "2.9.9"));
        assert!(version_at_least("3", "2.1.145"));
        assert!(!version_at_least("garbage", "0.1"));
    }

    #[test]
    fn login_states() {
        let d = tempfile::tempdir().unwrap();
        assert!(matches!(login_state(d.path(), false), Login::LoggedOut(m) if m.contains("missing")));
        assert_eq!(login_state(d.path(), true), Login::ApiKeyOnly);
        std::fs::create_dir(d.path().join(".claude")).unwrap();
        let f = d.path().join(".claude/.credentials.json");
        std::fs::write(&f, r#"{"claudeAiOauth":{"accessToken":"sk-secret"}}"#).unwrap();
        assert_eq!(login_state(d.path(), false), Login::LoggedIn);
        std::fs::write(&f, "{oops").unwrap();
        let Login::LoggedOut(m) = login_state(d.path(), false) else { panic!() };
        assert!(m.contains("not valid JSON") && !m.contains("sk-secret"));
    }

    #[tokio::test]
    async fn probe_reports_a_missing_binary() {
        let e = probe_version("/nonexistent/claude").await.unwrap_err();
        assert!(matches!(e, ProbeError::NotFound(_)));
    }
}
