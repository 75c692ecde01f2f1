//! The Instance model (one bridge per project) served by `/api/instances` and pushed on
//! the bus, and the commands that act on bridges.

use std::path::PathBuf;

use actix::Message;
use serde::Serialize;

use crate::config::types::{PermissionMode, ResumeMode, SpawnMode};
use crate::markers::ExitClass;
use crate::restart::RestartPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Starting,
    Running,
    Stopped,
    Crashed,
    Error,
    /// The restart policy gave up (too many quick failures in a row).
    Failed,
}

impl Status {
    pub fn is_live(self) -> bool {
        matches!(self, Status::Starting | Status::Running)
    }
}

/// How the last run ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastExit {
    pub class: ExitClass,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub at: String,
    pub uptime_seconds: f64,
}

/// The restart policy's state for this bridge.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct RestartState {
    pub policy: RestartPolicy,
    /// Restarts done by the policy since the user last started the bridge.
    pub restarts: u32,
    /// Quick failures in a row (runs shorter than the minimum uptime).
    pub quick_failures: u32,
    /// When the next automatic start happens (RFC 3339), if one is scheduled.
    pub next_attempt_at: Option<String>,
    pub last_exit: Option<LastExit>,
    /// Why the policy gave up, when status is `failed`.
    pub gave_up: Option<String>,
}

/// One bridge. Field names and meanings follow clauster 0.6.0's RemoteControlInstance;
/// `restart`, `cpu_percent` and `rss_bytes` are new.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instance {
    pub project: String,
    pub label: String,
    pub bridge_pid: Option<u32>,
    /// Process start time, seconds since the epoch.
    pub bridge_proc_start: Option<f64>,
    pub bridge_id: Option<String>,
    pub environment_id: Option<String>,
    pub starter_session_id: Option<String>,
    /// The environment link, `https://claude.ai/code?environment=env_…`.
    pub url: Option<String>,
    pub spawn_mode: SpawnMode,
    pub permission_mode: PermissionMode,
    pub resume_mode: ResumeMode,
    pub keeper_pid: Option<u32>,
    pub status: Status,
    pub intentional_stop: bool,
    pub started_at: Option<String>,
    pub bridge_debug_log_path: Option<PathBuf>,
    pub error_detail: Option<String>,
    /// The primary deep link, `https://claude.ai/code/<session>?from=cli`.
    pub session_url: Option<String>,
    pub restart: RestartState,
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
}

impl Instance {
    pub fn new(project: &str, label: &str, spawn: SpawnMode, perm: PermissionMode, resume: ResumeMode) -> Instance {
        Instance {
            project: project.to_owned(),
            label: label.to_owned(),
            bridge_pid: None,
            bridge_proc_start: None,
            bridge_id: None,
            environment_id: None,
            starter_session_id: None,
            url: None,
            spawn_mode: spawn,
            permission_mode: perm,
            resume_mode: resume,
            keeper_pid: None,
            status: Status::Stopped,
            intentional_stop: false,
            started_at: None,
            bridge_debug_log_path: None,
            error_detail: None,
            session_url: None,
            restart: RestartState::default(),
            cpu_percent: None,
            rss_bytes: None,
        }
    }

    /// Recomputes the derived link fields from the ids.
    pub fn refresh_links(&mut self) {
        self.url = self.environment_id.as_ref().map(|e| format!("https://claude.ai/code?environment={e}"));
        self.session_url = self.starter_session_id.as_ref().map(|s| format!("https://claude.ai/code/{s}?from=cli"));
    }

    /// What a QR code should point at: the session if known, else the environment.
    pub fn qr_target(&self) -> Option<&str> {
        self.session_url.as_deref().or(self.url.as_deref())
    }
}

/// Options of a start request; `None` means "the default".
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    pub spawn_mode: Option<String>,
    pub permission_mode: Option<String>,
    pub resume_mode: Option<String>,
}

/// Why a bridge command failed; the web layer maps each to a status and a `detail`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BridgeError {
    #[error("{0}")]
    UnknownProject(String),
    #[error("{0}")]
    InvalidOption(String),
    #[error("{0}")]
    NotAllowed(String),
    #[error("directory not trusted: {0}. Use the Trust action before starting.")]
    NotTrusted(String),
    /// The bridge was launched but ended in `error`; the instance says why.
    #[error("{detail}")]
    LaunchFailed { detail: String, instance: Box<Instance> },
    #[error("{0}")]
    Unavailable(String),
}

/// Start (or return the running) bridge of a project.
#[derive(Debug, Message)]
#[rtype(result = "Result<Instance, BridgeError>")]
pub struct StartBridge {
    pub project: String,
    pub options: StartOptions,
}

/// Start a stopped/crashed/failed bridge again with its recorded modes.
#[derive(Debug, Message)]
#[rtype(result = "Result<Instance, BridgeError>")]
pub struct ResumeBridge {
    pub project: String,
}

/// Stop a bridge; replies once its process is gone.
#[derive(Debug, Message)]
#[rtype(result = "Result<Instance, BridgeError>")]
pub struct StopBridge {
    pub project: String,
}

/// Stop the bridge if it runs, then start it with a new environment and session: claude's
/// bridge pointer for the folder is moved aside, so claude does not reconnect.
#[derive(Debug, Message)]
#[rtype(result = "Result<Instance, BridgeError>")]
pub struct NewSession {
    pub project: String,
}
