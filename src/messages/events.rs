//! Events broadcast on the bus. Each carries enough to act on without a second lookup;
//! the full current state is always in the snapshot.

use std::sync::Arc;

use serde::Serialize;

use super::project::ProjectList;
use super::snapshot::{ChildState, ClaudeInfo};

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The project list changed (a folder, a badge or trust).
    ProjectsChanged {
        #[serde(skip)]
        projects: Arc<ProjectList>,
        count: usize,
    },
    /// A supervised actor started, is restarting, stopped or failed.
    ChildChanged(ChildState),
    /// A bridge changed (status, ids, restart state, ...).
    InstanceChanged(Box<super::instance::Instance>),
    /// The list of sessions started outside clauster changed.
    SessionsChanged { count: usize },
    /// The `claude --version` probe finished.
    ClaudeProbed(ClaudeInfo),
}
