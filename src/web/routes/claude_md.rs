//! `/api/projects/{name}/claude-md`: read (no actor hop: a read has no side effects) and
//! save (a command to the Projects actor, which owns the trust index and the write).

use actix_web::http::StatusCode;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde_json::Value;

use crate::auth::Principal;
use crate::claude_md::{self, ClaudeMdError, Doc};
use crate::messages::Snapshot;
use crate::messages::commands::SaveClaudeMd;
use crate::messages::instance::Status;
use crate::web::body::Body;
use crate::web::error::ApiError;
use crate::web::state::AppState;

pub async fn get(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let snap = state.ready_snapshot().await?;
    let dir = snap.projects.get(&name).ok_or_else(|| ClaudeMdError::NoSuchProject(name.clone()))?.path.clone();
    let doc = web::block(move || claude_md::read(&dir)).await.map_err(|e| ClaudeMdError::Read(e.to_string()))??;
    Ok(reply(doc, &snap, &name))
}

/// `PUT {"content": str, "base_sha256"?: str|null}`. Without `base_sha256` the save is
/// last-write-wins (or a create); with one, it fails with 409 if the file moved on.
pub async fn put(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let snap = state.ready_snapshot().await?;
    if snap.projects.get(&name).is_none() {
        return Err(ClaudeMdError::NoSuchProject(name).into());
    }
    let b = Body::new(&body)?;
    let (content, base_sha256) = (b.string("content")?, b.optional("base_sha256")?);
    let user = match req.extensions().get::<Principal>() {
        None | Some(Principal::Open) => "local".to_owned(),
        Some(p) => p.user().to_owned(),
    };
    let addr = state.tree.projects.get().ok_or_else(|| state.unavailable("projects"))?;
    let doc = addr
        .send(SaveClaudeMd { name: name.clone(), content, base_sha256, user })
        .await
        .map_err(|_| state.unavailable("projects"))??;
    Ok(reply(doc, &state.bus.snapshot(), &name))
}

/// The ClaudeMdDoc: the document plus whether a bridge or an outside session is attached
/// (saved changes only reach new sessions, and the editor says so).
fn reply(doc: Doc, snap: &Snapshot, name: &str) -> HttpResponse {
    let running = snap.instances.get(name).is_some_and(|i| i.status == Status::Running)
        || snap.sessions.get(name).is_some_and(|s| !s.is_empty());
    let mut body = serde_json::to_value(doc).unwrap_or_default();
    body["bridge_running"] = Value::Bool(running);
    HttpResponse::Ok().json(body)
}

impl From<ClaudeMdError> for ApiError {
    fn from(e: ClaudeMdError) -> ApiError {
        let status = match &e {
            ClaudeMdError::NoSuchProject(_) => StatusCode::NOT_FOUND,
            ClaudeMdError::NotTrusted(_) => StatusCode::FORBIDDEN,
            ClaudeMdError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ClaudeMdError::Conflict { .. } => StatusCode::CONFLICT,
            ClaudeMdError::Escapes | ClaudeMdError::NotUtf8 | ClaudeMdError::Read(_) | ClaudeMdError::Write(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
        };
        let mut err = ApiError::new(status, e.to_string());
        if let ClaudeMdError::Conflict { current } = e {
            err.extra = Some(("current_sha256", current.map_or(Value::Null, Value::String)));
        }
        err
    }
}
