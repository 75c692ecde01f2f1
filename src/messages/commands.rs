//! Commands: messages to one actor with a typed reply.

use actix::Message;

use super::project::Project;

/// Why a project command failed; the web layer maps each to a status and a `detail`.
#[derive(Debug, thiserror::Error)]
pub enum ProjectsError {
    #[error("invalid project name: {0:?} (names are 1-64 letters, digits, '_' or '-')")]
    InvalidName(String),
    #[error("no such project under projects_root: {0:?}")]
    NotFound(String),
    #[error("could not update trust: {0}")]
    ClaudeJson(#[from] crate::claude_json::ClaudeJsonError),
    #[error("project {0:?} could not be resolved on disk; it may have just been removed")]
    Vanished(String),
    #[error("the trust write was interrupted ({0}); nothing was changed, retry")]
    Interrupted(String),
}

/// Mark a project's folder trusted in `~/.claude.json`; replies with the updated project.
#[derive(Debug, Message)]
#[rtype(result = "Result<Project, ProjectsError>")]
pub struct TrustProject {
    pub name: String,
}

/// Re-read everything now (projects_root and `~/.claude.json`).
#[derive(Debug, Message, Default)]
#[rtype(result = "()")]
pub struct RescanProjects;

/// Create an empty project folder under projects_root (optionally `git init` it), then
/// rescan. Replies once the folder exists; the caller reads the project from the snapshot.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), crate::provision::CreateError>")]
pub struct CreateProject {
    pub name: String,
    pub git_init: bool,
}

/// Save a project's CLAUDE.md (trust-gated, hash-guarded, audited); replies with the new
/// document.
#[derive(Debug, Message)]
#[rtype(result = "Result<crate::claude_md::Doc, crate::claude_md::ClaudeMdError>")]
pub struct SaveClaudeMd {
    pub name: String,
    pub content: String,
    pub base_sha256: Option<String>,
    /// Who saves, for the audit log.
    pub user: String,
}

/// Start cloning `url` into projects_root/`name` in the background (the request has
/// already checked the name and the URL); replies with the job id at once.
#[derive(Debug, Message)]
#[rtype(result = "String")]
pub struct CloneProject {
    pub name: String,
    pub url: String,
    pub shallow: bool,
}
