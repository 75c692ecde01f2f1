//! `GET /`: the server-rendered landing page (the live dashboard replaces it).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::web::error::ApiError;
use crate::web::render::page;
use crate::web::state::AppState;

pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snap = state.ready_snapshot().await?;
    let mut ctx = tera::Context::new();
    ctx.insert("projects_root", &state.config.projects_root().display().to_string());
    ctx.insert("projects", snap.projects.items());
    ctx.insert("projects_error", &snap.projects_error);
    ctx.insert("claude", &snap.claude);
    page(&req, &state, "index.html", ctx, StatusCode::OK)
}
