//! `/api/instances`: list, start, get, stop, resume, QR. Reads come from the snapshot;
//! every change is a command to the Bridges actor.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::Value;

use crate::messages::instance::{Instance, ResumeBridge, StartBridge, StartOptions, Status, StopBridge};
use crate::web::body::Body;
use crate::web::error::ApiError;
use crate::web::state::AppState;

pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    state.bus.note_interest();
    let snap = state.bus.snapshot();
    HttpResponse::Ok().json(snap.instances.values().collect::<Vec<_>>())
}

pub async fn get(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    state.bus.note_interest();
    Ok(HttpResponse::Ok().json(instance(&state, &name)?))
}

fn instance(state: &AppState, name: &str) -> Result<Instance, ApiError> {
    state
        .bus
        .snapshot()
        .instances
        .get(name)
        .cloned()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no managed instance: {name:?}")))
}

/// `POST /api/instances {"project", "spawn_mode"?, "permission_mode"?, "resume_mode"?}`:
/// 201 running, 202 still starting, 409 when the bridge failed to start (with why).
pub async fn start(state: web::Data<AppState>, body: web::Json<Value>) -> Result<HttpResponse, ApiError> {
    let (project, options) = parse_start(&body)?;
    state.ready_snapshot().await?;
    let addr = state.tree.bridges.get().ok_or_else(|| state.unavailable("bridges"))?;
    let inst = addr.send(StartBridge { project, options }).await.map_err(|_| state.unavailable("bridges"))??;
    Ok(started(inst))
}

fn started(inst: Instance) -> HttpResponse {
    let code = if inst.status == Status::Starting { StatusCode::ACCEPTED } else { StatusCode::CREATED };
    HttpResponse::build(code).json(inst)
}

fn parse_start(body: &Value) -> Result<(String, StartOptions), ApiError> {
    let b = Body::new(body)?;
    let options = StartOptions {
        spawn_mode: b.optional("spawn_mode")?,
        permission_mode: b.optional("permission_mode")?,
        resume_mode: b.optional("resume_mode")?,
    };
    Ok((b.required("project")?, options))
}

pub async fn stop(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let addr = state.tree.bridges.get().ok_or_else(|| state.unavailable("bridges"))?;
    let inst =
        addr.send(StopBridge { project: name.into_inner() }).await.map_err(|_| state.unavailable("bridges"))??;
    Ok(HttpResponse::Ok().json(inst))
}

pub async fn resume(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    state.ready_snapshot().await?;
    let addr = state.tree.bridges.get().ok_or_else(|| state.unavailable("bridges"))?;
    let inst =
        addr.send(ResumeBridge { project: name.into_inner() }).await.map_err(|_| state.unavailable("bridges"))??;
    Ok(started(inst))
}

/// `POST /api/instances/{id}/new-session`: a fresh environment and session (Resume keeps
/// the old ones). Stops the bridge if it runs.
pub async fn new_session(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    state.ready_snapshot().await?;
    let addr = state.tree.bridges.get().ok_or_else(|| state.unavailable("bridges"))?;
    let inst = addr
        .send(crate::messages::instance::NewSession { project: name.into_inner() })
        .await
        .map_err(|_| state.unavailable("bridges"))??;
    Ok(started(inst))
}

/// The deep link as a QR code (SVG), for opening the session on a phone.
pub async fn qr(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let inst = instance(&state, &name)?;
    let target = inst.qr_target().ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "no session URL available yet"))?;
    let code = qrcode::QrCode::with_error_correction_level(target, qrcode::EcLevel::M)
        .map_err(|e| ApiError::new(StatusCode::CONFLICT, format!("cannot encode the session URL as a QR code: {e}")))?;
    let svg = code.render::<qrcode::render::svg::Color>().min_dimensions(200, 200).quiet_zone(true).build();
    Ok(HttpResponse::Ok().content_type("image/svg+xml").insert_header(("Cache-Control", "no-store")).body(svg))
}

/// `GET /api/sessions`: Claude sessions started outside clauster, by project.
pub async fn sessions(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(&*state.bus.snapshot().sessions)
}
