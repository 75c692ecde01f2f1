//! The current state, held in a `watch` channel: what read handlers serve and what a
//! WebSocket client gets on connect or after it lagged behind the event stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::project::ProjectList;

/// State of one supervised actor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildState {
    pub id: String,
    pub status: ChildStatus,
    /// Restarts inside the current intensity window.
    pub recent_restarts: usize,
    /// Starts since clauster began (1 = never restarted).
    pub generation: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ChildStatus {
    Running,
    /// Waiting `delay_ms` before the next start, after an exit or panic.
    Restarting {
        delay_ms: u64,
        last_exit: String,
    },
    /// Exited and, by its restart type, not restarted.
    Stopped {
        last_exit: String,
    },
    /// Restarted too often inside the intensity window; left down until reset.
    Failed {
        reason: String,
        since_unix_ms: u64,
    },
}

/// The result of the `claude --version` probe.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ClaudeInfo {
    /// `None` while the first probe is still running.
    pub ok: Option<bool>,
    pub version: Option<String>,
    /// What went wrong, when `ok` is false.
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Bumped on every change, so a client can order snapshots and events.
    pub seq: u64,
    pub projects: Arc<ProjectList>,
    /// False until the first scan of projects_root has finished.
    pub projects_ready: bool,
    /// Why the last scan failed (e.g. projects_root vanished); `None` when it worked.
    pub projects_error: Option<String>,
    pub children: Arc<BTreeMap<String, ChildState>>,
    /// Claude sessions started outside clauster, by the project folder they run in.
    pub sessions: Arc<BTreeMap<String, Vec<crate::actors::sessions::WorkingSession>>>,
    /// Every managed bridge, by project name.
    pub instances: Arc<BTreeMap<String, super::instance::Instance>>,
    pub claude: ClaudeInfo,
}
