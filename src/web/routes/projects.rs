//! `/api/projects`: the list (pre-rendered JSON from the snapshot), Create and the Trust
//! action.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::messages::commands::{CreateProject, TrustProject};
use crate::names::is_valid_project_name;
use crate::provision::{CreateError, truthy};
use crate::web::body::Body;
use crate::web::error::ApiError;
use crate::web::state::AppState;

pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let snap = state.ready_snapshot().await?;
    let mut res = HttpResponse::Ok();
    res.content_type(ContentType::json()).insert_header((header::VARY, "Accept-Encoding"));
    if crate::web::gzip::accepted(&req) {
        res.insert_header((header::CONTENT_ENCODING, "gzip"));
        return Ok(res.body(snap.projects.json_gzip()));
    }
    Ok(res.body(snap.projects.json()))
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

/// `POST /api/projects {"name", "git_init"?}`: 201 with the new project as the list now
/// shows it (every dashboard gets the same card over `/ws/events`).
pub async fn create(state: web::Data<AppState>, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let b = Body::new(&body)?;
    let name = b.required("name")?;
    if !is_valid_project_name(&name) {
        return Err(CreateError::InvalidName(name).into());
    }
    let git_init = truthy(b.get("git_init"));
    state.ready_snapshot().await?;
    let addr = state.tree.projects.get().ok_or_else(|| state.unavailable("projects"))?;
    addr.send(CreateProject { name: name.clone(), git_init }).await.map_err(|_| state.unavailable("projects"))??;
    // The actor rescans after creating; wait for the scan that sees the finished folder.
    let mut rx = state.bus.watch();
    let seen = rx.wait_for(|s| s.projects.get(&name).is_some_and(|p| p.is_git_repo || !git_init));
    let project = match tokio::time::timeout(Duration::from_secs(10), seen).await {
        Ok(Ok(snap)) => snap.projects.get(&name).cloned(),
        _ => None,
    };
    let project = project.ok_or(CreateError::NotListed(name))?;
    Ok(HttpResponse::Created().json(project))
}

impl From<CreateError> for ApiError {
    fn from(e: CreateError) -> ApiError {
        let status = match &e {
            CreateError::InvalidName(_) | CreateError::Io(_) => StatusCode::UNPROCESSABLE_ENTITY,
            CreateError::Exists(_) => StatusCode::CONFLICT,
            CreateError::GitFailed(_) => StatusCode::BAD_REQUEST,
            CreateError::GitMissing | CreateError::NotListed(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

/// `GET /api/projects/{name}/usage`: token totals and an approximate cost from the
/// project's session transcripts. A valid name that is not (or no longer) a project
/// answers zeros: its transcripts may outlive the folder.
pub async fn usage(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    if !is_valid_project_name(&name) {
        return Err(CreateError::InvalidName(name).into());
    }
    // Claude Code records its working directory with symlinks resolved; the configured
    // path is read too, for transcripts written under it.
    let mut dirs = vec![state.config.projects_root().join(&name)];
    if let Some(real) = state.bus.snapshot().projects.get(&name).and_then(|p| p.real_path.clone()) {
        dirs.push(real);
    }
    let cache = state.usage.clone();
    let summary = web::block(move || cache.summary(&dirs))
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("usage scan interrupted ({e}); retry")))?;
    Ok(HttpResponse::Ok().json(summary.to_json(&name, state.config.config.usage.show_cost)))
}

/// `POST /api/projects/clone {"name", "url", "shallow"?}`: checks the name and the URL
/// (scheme, resolution, address classes) here, so a bad request fails at once; then 202
/// with the job id to follow on `/ws/clone-progress/{job_id}`.
pub async fn clone(
    state: web::Data<AppState>,
    body: Result<web::Json<Value>, actix_web::Error>,
) -> Result<HttpResponse, ApiError> {
    let cfg = &state.config.config.clone;
    if !cfg.enabled {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "clone is disabled in config"));
    }
    let body = body.map_err(|e| ApiError::unprocessable(format!("invalid JSON body: {e}")))?;
    let b = Body::new(&body)?;
    let (name, url) = (b.required("name")?, b.required("url")?);
    let target = crate::provision::target(state.config.projects_root(), &name)?;
    if tokio::fs::symlink_metadata(&target).await.is_ok() {
        return Err(CreateError::Exists(name).into());
    }
    let policy = crate::ssrf::Policy::from_config(cfg);
    crate::ssrf::validate(&url, &policy).await.map_err(|e| {
        let status = if e.is_blocked() { StatusCode::FORBIDDEN } else { StatusCode::UNPROCESSABLE_ENTITY };
        ApiError::new(status, e.to_string())
    })?;
    let shallow = truthy(body.get("shallow"));
    let addr = state.tree.projects.get().ok_or_else(|| state.unavailable("projects"))?;
    let job_id = addr
        .send(crate::messages::commands::CloneProject { name: name.clone(), url, shallow })
        .await
        .map_err(|_| state.unavailable("projects"))?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({ "job_id": job_id, "name": name })))
}
