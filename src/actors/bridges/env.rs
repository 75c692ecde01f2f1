//! What every bridge needs to know from the config, and what one start asks for.

use std::path::PathBuf;
use std::time::Duration;

use crate::actors::supervisor::Backoff;
use crate::config::Config;
use crate::config::types::{PermissionMode, ResumeMode, SpawnMode};
use crate::restart::{RestartPolicy, RestartRules};

/// Settings shared by all bridges, fixed for clauster's lifetime.
#[derive(Debug, Clone)]
pub struct BridgeEnv {
    pub claude_binary: String,
    pub logs_dir: PathBuf,
    pub home: PathBuf,
    /// How long a start request waits for `running` before answering `starting`.
    pub sync_wait: Duration,
    /// How long a bridge may take to register before it is called failed and stopped.
    pub startup_grace: Duration,
    /// How long a stopping bridge gets after SIGINT before SIGKILL.
    pub stop_grace: Duration,
    pub min_uptime: Duration,
    pub backoff: Backoff,
    pub max_attempts: u32,
    /// Strip ANSI escapes from log lines sent to viewers.
    pub strip_ansi: bool,
}

impl BridgeEnv {
    pub fn from_config(cfg: &Config, home: PathBuf) -> BridgeEnv {
        let d = &cfg.instance_defaults;
        BridgeEnv {
            claude_binary: cfg.claude.binary.clone(),
            logs_dir: cfg.state_dir.join("logs"),
            home,
            sync_wait: Duration::from_secs(15),
            startup_grace: cfg.claude.startup_grace_seconds.duration(),
            stop_grace: cfg.claude.stop_grace_seconds.duration(),
            min_uptime: d.restart_min_uptime_seconds.duration(),
            backoff: Backoff {
                initial: d.restart_backoff_initial_seconds.duration(),
                factor: 2.0,
                max: d.restart_backoff_max_seconds.duration(),
                jitter: 0.2,
            },
            max_attempts: d.restart_max_attempts.get() as u32,
            strip_ansi: cfg.logs.strip_ansi_in_stream,
        }
    }

    pub fn restart_rules(&self, policy: RestartPolicy) -> RestartRules {
        RestartRules { policy, min_uptime: self.min_uptime, backoff: self.backoff, max_attempts: self.max_attempts }
    }
}

/// One start: resolved, validated options and where to run.
#[derive(Debug, Clone)]
pub struct LaunchSpec {
    /// The project name, passed to claude as `--name`.
    pub project: String,
    pub label: String,
    /// `projects_root/name`, the bridge's working directory.
    pub dir: PathBuf,
    /// The same with symlinks resolved, where claude keeps its bridge pointer.
    pub real_dir: PathBuf,
    pub spawn_mode: SpawnMode,
    pub permission_mode: PermissionMode,
    pub resume_mode: ResumeMode,
    pub policy: RestartPolicy,
}
