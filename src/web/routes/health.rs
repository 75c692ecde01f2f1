//! `GET /healthz`: cheap, from the snapshot; the claude probe result is cached. With auth
//! on, a caller that is not signed in learns only that the server is up.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::web::guard::principal;
use crate::web::state::AppState;

pub async fn healthz(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if state.auth.enabled() && principal(&req).is_none() {
        return HttpResponse::Ok().json(json!({ "status": "ok" }));
    }
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
