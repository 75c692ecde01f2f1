//! Turning a start request into a [`LaunchSpec`]: defaults, then validation in the
//! original's order (modes, worktree needs git, the bypass ceiling), then the trust gate.
//! Runs even when the bridge is already up, so a bad option is always refused.

use serde::de::DeserializeOwned;
use serde::de::value::{Error as DeError, StrDeserializer};

use super::env::LaunchSpec;
use crate::config::Config;
use crate::config::types::{PermissionMode, ResumeMode, SpawnMode};
use crate::messages::instance::{BridgeError, Instance, StartOptions};
use crate::messages::{Snapshot, TrustState};
use crate::names::is_valid_project_name;
use crate::restart::RestartPolicy;

/// The restart policy of `project`: its own `projects.<name>.restart`, else the default.
pub fn policy_for(cfg: &Config, project: &str) -> RestartPolicy {
    cfg.projects.get(project).and_then(|p| p.restart).unwrap_or(cfg.instance_defaults.restart)
}

fn parse<T: DeserializeOwned>(field: &str, value: &str, allowed: &str) -> Result<T, BridgeError> {
    T::deserialize(StrDeserializer::<DeError>::new(value))
        .map_err(|_| BridgeError::InvalidOption(format!("invalid {field} {value:?}: use one of {allowed}")))
}

/// Resolves and validates a start. `prev` is the instance being resumed: its modes are
/// the defaults then.
pub fn resolve(
    snap: &Snapshot,
    cfg: &Config,
    project: &str,
    opts: &StartOptions,
    prev: Option<&Instance>,
) -> Result<LaunchSpec, BridgeError> {
    if !is_valid_project_name(project) {
        return Err(BridgeError::UnknownProject(format!("invalid project name: {project:?}")));
    }
    let Some(p) = snap.projects.get(project) else {
        return Err(BridgeError::UnknownProject(format!("no such project under projects_root: {project:?}")));
    };
    let d = &cfg.instance_defaults;
    let given = |o: &Option<String>| o.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
    let spawn_mode: SpawnMode = match given(&opts.spawn_mode) {
        Some(s) => parse("spawn_mode", &s, "same-dir, worktree, session")?,
        None => prev.map_or(d.spawn_mode, |i| i.spawn_mode),
    };
    let permission_mode: PermissionMode = match given(&opts.permission_mode) {
        Some(s) => parse("permission_mode", &s, "default, plan, acceptEdits, auto, dontAsk, bypassPermissions")?,
        None => prev.map_or(d.permission_mode, |i| i.permission_mode),
    };
    let resume_mode: ResumeMode = match &opts.resume_mode {
        Some(s) => parse("resume_mode", s, "standard, pty")?,
        None => prev.map_or(cfg.claude.resume_mode, |i| i.resume_mode),
    };
    if resume_mode == ResumeMode::Pty {
        return Err(BridgeError::InvalidOption(
            "resume_mode \"pty\" is not available in this build yet; use \"standard\"".into(),
        ));
    }
    if spawn_mode == SpawnMode::Worktree && !p.is_git_repo {
        return Err(BridgeError::InvalidOption(format!(
            "spawn_mode \"worktree\" needs a git repository, and {project:?} is not one"
        )));
    }
    if permission_mode == PermissionMode::BypassPermissions && !p.allow_bypass_permissions {
        return Err(BridgeError::NotAllowed(format!(
            "permission_mode bypassPermissions is not allowed for {project:?}: set \
             projects.{project}.allow_bypass_permissions: true in the config to allow it"
        )));
    }
    if p.trust_state != TrustState::Trusted {
        return Err(BridgeError::NotTrusted(p.path.display().to_string()));
    }
    Ok(LaunchSpec {
        project: project.to_owned(),
        label: prev.map_or_else(|| project.to_owned(), |i| i.label.clone()),
        dir: p.path.clone(),
        real_dir: p.real_path.clone().unwrap_or_else(|| p.path.clone()),
        spawn_mode,
        permission_mode,
        resume_mode,
        policy: policy_for(cfg, project),
    })
}
