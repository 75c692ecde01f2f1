//! The Sessions actor: asks `claude agents --json` which Claude sessions run on this host,
//! every `claude.agents_json_poll_interval_seconds` (there is no event to wait for: it is
//! another program's state), and publishes the ones started outside clauster in a
//! project's folder. Requests never wait on it; they read the snapshot.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use serde::Serialize;
use serde_json::Value;

use super::supervisor::ExitGuard;
use crate::bus::EventBus;
use crate::messages::Event;

/// One session as `/api/sessions` shows it (0.6.0's WorkingSession).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkingSession {
    pub pid: u64,
    pub cwd: PathBuf,
    pub kind: String,
    /// Epoch milliseconds.
    pub started_at: u64,
    pub local_uuid: String,
    pub parent_instance: Option<String>,
    pub attribution: &'static str,
}

/// Parses `agents --json`: an array, or an object holding one under `agents` or
/// `sessions`. Items missing a field are skipped. `None` for any other shape.
pub fn parse_agents(stdout: &str) -> Option<Vec<WorkingSession>> {
    if stdout.trim().is_empty() {
        return Some(Vec::new());
    }
    let v: Value = serde_json::from_str(stdout).ok()?;
    let items = match &v {
        Value::Array(a) => a,
        Value::Object(o) => o.get("agents").or_else(|| o.get("sessions"))?.as_array()?,
        _ => return None,
    };
    Some(
        items
            .iter()
            .filter_map(|i| {
                Some(WorkingSession {
                    pid: i["pid"].as_u64()?,
                    cwd: PathBuf::from(i["cwd"].as_str()?),
                    kind: i["kind"].as_str().unwrap_or_default().to_owned(),
                    started_at: i["startedAt"].as_u64()?,
                    local_uuid: i["sessionId"].as_str()?.to_owned(),
                    parent_instance: None,
                    attribution: "external",
                })
            })
            .collect(),
    )
}

/// Groups external sessions by the project whose folder they run in (exact match of the
/// resolved path). Sessions in a folder with a live managed bridge are that bridge's own.
pub fn attribute(
    sessions: Vec<WorkingSession>,
    projects: &[(String, PathBuf)],
    managed: &[String],
) -> BTreeMap<String, Vec<WorkingSession>> {
    let mut out: BTreeMap<String, Vec<WorkingSession>> = BTreeMap::new();
    for s in sessions {
        let cwd = std::fs::canonicalize(&s.cwd).unwrap_or_else(|_| s.cwd.clone());
        let Some((name, _)) = projects.iter().find(|(_, real)| *real == cwd) else { continue };
        if managed.contains(name) {
            continue; // tracked: part of a bridge clauster runs
        }
        out.entry(name.clone()).or_default().push(s);
    }
    out
}

pub struct SessionsActor {
    binary: String,
    interval: Duration,
    bus: EventBus,
    _guard: ExitGuard,
}

impl SessionsActor {
    pub fn new(binary: String, interval: Duration, bus: EventBus, guard: ExitGuard) -> SessionsActor {
        SessionsActor { binary, interval, bus, _guard: guard }
    }

    fn poll(&mut self, ctx: &mut Context<Self>) {
        let (binary, bus) = (self.binary.clone(), self.bus.clone());
        ctx.spawn(fut::wrap_future(async move {
            let stdout = match run_agents(&binary).await {
                Ok(s) => s,
                Err(e) => return tracing::debug!(error = %e, "claude agents --json failed; keeping the last list"),
            };
            let Some(sessions) = parse_agents(&stdout) else {
                return tracing::warn!("claude agents --json printed an unexpected shape; keeping the last list");
            };
            let snap = bus.snapshot();
            let projects: Vec<(String, PathBuf)> =
                snap.projects.items().iter().filter_map(|p| Some((p.name.clone(), p.real_path.clone()?))).collect();
            let managed: Vec<String> =
                snap.instances.values().filter(|i| i.status.is_live()).map(|i| i.project.clone()).collect();
            let by_project =
                tokio::task::spawn_blocking(move || attribute(sessions, &projects, &managed)).await.unwrap_or_default();
            if *bus.snapshot().sessions != by_project {
                let by_project = Arc::new(by_project);
                let count = by_project.values().map(Vec::len).sum();
                bus.update(move |s| s.sessions = by_project, Event::SessionsChanged { count });
            }
        }));
    }
}

async fn run_agents(binary: &str) -> Result<String, String> {
    let exe = crate::claude_cli::resolve(binary, std::env::var_os("PATH").as_ref()).ok_or("claude not found")?;
    let child = tokio::process::Command::new(exe)
        .args(["agents", "--json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .map_err(|_| "timed out after 10s".to_string())?
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("exited with {}", out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Actor for SessionsActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.poll(ctx);
        ctx.run_interval(self.interval, |act, ctx| act.poll(ctx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn item(cwd: &Path, uuid: &str) -> Value {
        serde_json::json!({"pid": 1, "cwd": cwd, "kind": "interactive", "startedAt": 1_700_000_000_000u64, "sessionId": uuid})
    }

    #[test]
    fn parses_every_shape_and_skips_bad_items() {
        let a = item(Path::new("/x"), "u1");
        let mut bad = a.clone();
        bad.as_object_mut().unwrap().remove("startedAt");
        for text in [
            serde_json::json!([a, bad]).to_string(),
            serde_json::json!({"sessions": [a, bad]}).to_string(),
            serde_json::json!({"agents": [a]}).to_string(),
        ] {
            let s = parse_agents(&text).unwrap();
            assert_eq!(s.len(), 1, "{text}");
            assert_eq!(s[0].local_uuid, "u1");
        }
        assert_eq!(parse_agents("").unwrap(), vec![]);
        assert!(parse_agents("null").is_none());
        assert!(parse_agents("{oops").is_none());
    }

    #[test]
    fn only_external_sessions_in_a_project_folder_count() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        for p in ["alpha", "beta", "alpha/sub"] {
            std::fs::create_dir_all(root.join(p)).unwrap();
        }
        let sessions = parse_agents(
            &serde_json::json!([
                item(&root.join("alpha"), "a"),
                item(&root.join("beta"), "b"),
                item(&root.join("alpha/sub"), "c")
            ])
            .to_string(),
        )
        .unwrap();
        let projects = vec![("alpha".to_string(), root.join("alpha")), ("beta".to_string(), root.join("beta"))];
        let out = attribute(sessions, &projects, &["alpha".to_string()]);
        assert_eq!(out.keys().collect::<Vec<_>>(), ["beta"]);
        assert_eq!(out["beta"][0].attribution, "external");
    }
}
