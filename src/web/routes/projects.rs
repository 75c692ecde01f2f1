//! `/api/projects`: the list (pre-rendered JSON from the snapshot) and the Trust action.

use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};

use crate::messages::commands::TrustProject;
use crate::names::is_valid_project_name;
use crate::web::error::ApiError;
use crate::web::state::AppState;

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snap = state.ready_snapshot().await?;
    Ok(HttpResponse::Ok().content_type(ContentType::json()).body(snap.projects.json()))
}

pub async fn trust(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if !is_valid_project_name(&name) {
        return Err(ApiError::unprocessable(format!(
            "invalid project name: {name:?} (names are 1-64 letters, digits, '_' or '-')"
        )));
    }
    state.ready_snapshot().await?;
    let addr = state.tree.projects.get().ok_or_else(|| ApiError::unavailable("projects"))?;
    let project = addr.send(TrustProject { name }).await.map_err(|_| ApiError::unavailable("projects"))??;
    Ok(HttpResponse::Ok().json(project))
}
