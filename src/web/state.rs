//! What every handler can reach: the bus (for the snapshot), the actor slots (for
//! commands), the loaded config, the templates, and the auth state.

use std::sync::Arc;

use crate::actors::Tree;
use crate::auth::Auth;
use crate::bus::EventBus;
use crate::config::Loaded;

pub struct AppState {
    pub bus: EventBus,
    pub tree: Tree,
    pub config: Arc<Loaded>,
    pub templates: tera::Tera,
    /// Flips to true when clauster shuts down, so open WebSockets close at once.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Sessions, login throttle and the guard's settings: the one owner of auth state.
    pub auth: Arc<Auth>,
    /// Parsed session transcripts for the usage route, reused while unchanged.
    pub usage: Arc<crate::usage::Cache>,
    /// Clone jobs by id (the Projects actor runs them; `/ws/clone-progress` follows them).
    pub clones: Arc<crate::clone_job::CloneJobs>,
}

impl AppState {
    /// The error for a supervised actor that cannot take a command right now.
    pub fn unavailable(&self, child: &str) -> crate::web::error::ApiError {
        crate::web::error::ApiError::unavailable(child, &self.bus.snapshot())
    }

    /// The snapshot once the first project scan has landed, so a request in clauster's
    /// first milliseconds never sees an empty list that is merely not loaded yet.
    pub async fn ready_snapshot(&self) -> Result<crate::messages::Snapshot, crate::web::error::ApiError> {
        let snap = self.bus.snapshot();
        if snap.projects_ready {
            return Ok(snap);
        }
        let mut rx = self.bus.watch();
        match tokio::time::timeout(std::time::Duration::from_secs(10), rx.wait_for(|s| s.projects_ready)).await {
            Ok(Ok(s)) => Ok(s.clone()),
            _ => Err(self.unavailable("projects")),
        }
    }
}
