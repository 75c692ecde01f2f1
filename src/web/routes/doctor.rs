//! `GET /api/doctor`: the same checks as `clauster doctor`, minus the port check.

use actix_web::{HttpResponse, web};

use crate::actors::doctor::RunDoctor;
use crate::web::error::ApiError;
use crate::web::state::AppState;

pub async fn doctor(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let addr = state.tree.doctor.get().ok_or_else(|| state.unavailable("doctor"))?;
    let report = addr.send(RunDoctor).await.map_err(|_| state.unavailable("doctor"))?;
    Ok(HttpResponse::Ok().json(report))
}
