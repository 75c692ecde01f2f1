//! `/api/projects`: the list (pre-rendered JSON from the snapshot) and the Trust action.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::messages::commands::TrustProject;
use crate::names::is_valid_project_name;
use crate::web::error::ApiError;
use crate::web::state::AppState;

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snap = state.ready_snapshot().await?;
    let mut res = HttpResponse::Ok();
    res.content_type(ContentType::json()).insert_header((header::VARY, "Accept-Encoding"));
    if accepts_gzip(&req) {
        res.insert_header((header::CONTENT_ENCODING, "gzip"));
        return Ok(res.body(snap.projects.json_gzip()));
    }
    Ok(res.body(snap.projects.json()))
}

/// Whether the client's `Accept-Encoding` lists gzip (with a non-zero quality).
fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers().get_all(header::ACCEPT_ENCODING).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let q_zero = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0)));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
        },
    )
}

pub async fn trust(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if !is_valid_project_name(&name) {
        return Err(ApiError::unprocessable(format!(
            "invalid project name: {name:?} (names are 1-64 letters, digits, '_' or '-')"
        )));
    }
    state.ready_snapshot().await?;
    let addr = state.tree.projects.get().ok_or_else(|| state.unavailable("projects"))?;
    let project = addr.send(TrustProject { name }).await.map_err(|_| state.unavailable("projects"))??;
    Ok(HttpResponse::Ok().json(project))
}
