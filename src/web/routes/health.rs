//! `GET /healthz`: cheap, from the snapshot; the claude probe result is cached.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::web::state::AppState;

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let snap = state.bus.snapshot();
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "claude_ok": snap.claude.ok,
        "claude_version": snap.claude.version,
        "instances_running": snap.instances.values().filter(|i| i.status == crate::messages::instance::Status::Running).count(),
        "projects": snap.projects.len(),
    }))
}
