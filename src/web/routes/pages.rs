//! `GET /`: the dashboard page. It carries no project data: the page script takes the
//! state from `/ws/events` (a snapshot, then every change), so the page is the same few
//! kilobytes with 10 projects or 1000 and renders in microseconds.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::web::error::ApiError;
use crate::web::render::page;
use crate::web::state::AppState;

pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let cfg = &state.config.config;
    let mut ctx = tera::Context::new();
    ctx.insert("projects_root", &state.config.projects_root().display().to_string());
    // What the cards need that the event stream does not carry: the option defaults.
    // `</` is escaped so no value can close the <script> element that holds this.
    let page_config = json!({
        "spawn_mode": cfg.instance_defaults.spawn_mode,
        "permission_mode": cfg.instance_defaults.permission_mode,
        "resume_mode": cfg.claude.resume_mode,
        "show_cost": cfg.usage.show_cost,
    })
    .to_string()
    .replace("</", "<\\/");
    ctx.insert("page_config", &page_config);
    page(&req, &state, "index.html", ctx, StatusCode::OK)
}
