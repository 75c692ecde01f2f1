//! `GET /`: the server-rendered landing page (the live dashboard replaces it).

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};

use crate::web::error::ApiError;
use crate::web::state::AppState;

pub async fn index(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snap = state.ready_snapshot().await?;
    let mut ctx = tera::Context::new();
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    ctx.insert("projects_root", &state.config.projects_root().display().to_string());
    ctx.insert("projects", snap.projects.items());
    ctx.insert("projects_error", &snap.projects_error);
    ctx.insert("claude", &snap.claude);
    let html = state.templates.render("index.html", &ctx).map_err(|e| {
        tracing::error!(error = %e, "template failed");
        ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "the page could not be rendered; see the server log",
        )
    })?;
    Ok(HttpResponse::Ok().content_type(ContentType::html()).body(html))
}
