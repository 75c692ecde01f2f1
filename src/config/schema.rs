//! The configuration schema: every key, its type and its default.
//!
//! The schema is additive: unknown keys are reported as warnings by the loader and never
//! fail a load, so a config written for a newer clauster still starts an older one.
//! `clauster.yml.example` documents every key here; a test keeps the two in step.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::types::*;
use crate::restart::RestartPolicy;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct Config {
    pub schema_version: i64,
    /// The folder whose direct subfolders are the projects. Required in a config file;
    /// the built-in defaults use `~/projects`.
    pub projects_root: Option<PathBuf>,
    pub host: String,
    pub port: Port,
    pub state_dir: PathBuf,
    /// URL prefix when served under a sub-path by a reverse proxy (e.g. `/clauster`).
    pub root_path: String,
    pub log_format: LogFormat,
    pub instance_name: Option<InstanceName>,
    pub claude: ClaudeConfig,
    pub instance_defaults: InstanceDefaults,
    pub projects: BTreeMap<String, ProjectConfig>,
    pub auth: AuthConfig,
    pub logs: LogsConfig,
    pub clone: CloneConfig,
    pub reaper: ReaperConfig,
    pub usage: UsageConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            schema_version: 1,
            projects_root: None,
            host: "127.0.0.1".into(),
            port: Port(7621),
            state_dir: PathBuf::from("~/.clauster"),
            root_path: String::new(),
            log_format: LogFormat::Auto,
            instance_name: None,
            claude: ClaudeConfig::default(),
            instance_defaults: InstanceDefaults::default(),
            projects: BTreeMap::new(),
            auth: AuthConfig::default(),
            logs: LogsConfig::default(),
            clone: CloneConfig::default(),
            reaper: ReaperConfig::default(),
            usage: UsageConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ClaudeConfig {
    /// A name looked up on PATH, or an absolute path.
    pub binary: String,
    /// The oldest CLI version `doctor` accepts.
    pub min_version: String,
    pub agents_json_poll_interval_seconds: AtLeast<1>,
    pub startup_grace_seconds: Seconds,
    /// Seconds a stopping bridge gets after SIGINT before it is killed.
    pub stop_grace_seconds: Seconds,
    pub auto_enable_remote_control: bool,
    pub resume_recap: bool,
    pub resume_recap_max_chars: AtLeast<500>,
    pub resume_mode: ResumeMode,
}

impl Default for ClaudeConfig {
    fn default() -> Self {
        ClaudeConfig {
            binary: "claude".into(),
            min_version: "2.1.145".into(),
            agents_json_poll_interval_seconds: AtLeast(300),
            startup_grace_seconds: Seconds(60.0),
            stop_grace_seconds: Seconds(5.0),
            auto_enable_remote_control: true,
            resume_recap: false,
            resume_recap_max_chars: AtLeast(8000),
            resume_mode: ResumeMode::Standard,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct InstanceDefaults {
    pub spawn_mode: SpawnMode,
    pub permission_mode: PermissionMode,
    pub capacity: AtLeast<1>,
    /// What happens when a bridge exits on its own: never, on-failure or always.
    pub restart: RestartPolicy,
    /// Runs shorter than this count as a crash loop.
    pub restart_min_uptime_seconds: Seconds,
    /// First delay before a restart; it doubles per quick failure.
    pub restart_backoff_initial_seconds: Seconds,
    pub restart_backoff_max_seconds: Seconds,
    /// Quick failures in a row before the bridge is left `failed`.
    pub restart_max_attempts: AtLeast<1>,
}

impl Default for InstanceDefaults {
    fn default() -> Self {
        InstanceDefaults {
            spawn_mode: SpawnMode::SameDir,
            permission_mode: PermissionMode::Default,
            capacity: AtLeast(32),
            restart: RestartPolicy::Never,
            restart_min_uptime_seconds: Seconds(10.0),
            restart_backoff_initial_seconds: Seconds(1.0),
            restart_backoff_max_seconds: Seconds(300.0),
            restart_max_attempts: AtLeast(5),
        }
    }
}

/// Per-project settings under `projects.<name>`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ProjectConfig {
    /// The ceiling for `permission_mode: bypassPermissions` on this project.
    pub allow_bypass_permissions: bool,
    /// This project's restart policy, overriding `instance_defaults.restart`.
    pub restart: Option<RestartPolicy>,
    /// Start this bridge when clauster starts, and keep it up by its restart policy.
    pub autostart: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct AuthConfig {
    pub enabled: bool,
    pub password_required: bool,
    /// An argon2 PHC string from `clauster hash-password`.
    pub password_hash: Option<String>,
    /// Explicit opt-out of the rule that a non-loopback bind needs enforced auth.
    pub allow_unauthenticated_network: bool,
    pub cookie_secure: CookieSecure,
    pub session_max_age_seconds: AtLeast<1>,
    pub allowed_origins: Vec<String>,
    pub reverse_proxy: ReverseProxyConfig,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            enabled: false,
            password_required: false,
            password_hash: None,
            allow_unauthenticated_network: false,
            cookie_secure: CookieSecure::Auto,
            session_max_age_seconds: AtLeast(604_800),
            allowed_origins: Vec::new(),
            reverse_proxy: ReverseProxyConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ReverseProxyConfig {
    pub enabled: bool,
    pub user_header: String,
    pub shared_secret_header: String,
    pub trusted_ips: Vec<Cidr>,
    pub shared_secret: Option<String>,
    pub hmac_window_seconds: AtLeast<0>,
}

impl Default for ReverseProxyConfig {
    fn default() -> Self {
        ReverseProxyConfig {
            enabled: false,
            user_header: "Remote-User".into(),
            shared_secret_header: "X-Proxy-Auth".into(),
            trusted_ips: Vec::new(),
            shared_secret: None,
            hmac_window_seconds: AtLeast(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct LogsConfig {
    pub bridge_log_max_size_mb: AtLeast<1>,
    pub keep_rotated: AtLeast<0>,
    pub redact_session_url: bool,
    pub strip_ansi_in_stream: bool,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            bridge_log_max_size_mb: AtLeast(10),
            keep_rotated: AtLeast(5),
            redact_session_url: false,
            strip_ansi_in_stream: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct CloneConfig {
    pub enabled: bool,
    pub allowed_schemes: Vec<String>,
    pub allow_private_hosts: bool,
    pub allowed_private_cidrs: Vec<Cidr>,
    pub timeout_seconds: AtLeast<1>,
    pub max_mb: AtLeast<0>,
}

impl Default for CloneConfig {
    fn default() -> Self {
        CloneConfig {
            enabled: true,
            allowed_schemes: vec!["https".into(), "ssh".into()],
            allow_private_hosts: false,
            allowed_private_cidrs: Vec::new(),
            timeout_seconds: AtLeast(300),
            max_mb: AtLeast(2048),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ReaperConfig {
    pub ui_enabled: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct UsageConfig {
    pub show_cost: bool,
}

impl Default for UsageConfig {
    fn default() -> Self {
        UsageConfig { show_cost: true }
    }
}
