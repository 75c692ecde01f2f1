//! API errors: every failure is a JSON `{"detail": "..."}` with a status that says whose
//! fault it is, and a detail that says what to do about it.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::messages::commands::ProjectsError;
use crate::messages::instance::BridgeError;

#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// Extra fields for the body (e.g. the instance a failed start left behind).
    pub extra: Option<(&'static str, serde_json::Value)>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> ApiError {
        ApiError { status, detail: detail.into(), extra: None }
    }

    pub fn unprocessable(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// A supervised actor is restarting (retry) or has failed (say why).
    pub fn unavailable(what: &str, snapshot: &crate::messages::Snapshot) -> ApiError {
        let detail = match snapshot.children.get(what).map(|c| &c.status) {
            Some(crate::messages::ChildStatus::Failed { reason, .. }) => {
                format!("the {what} service has failed: {reason}; restart clauster, and report this if it recurs")
            }
            _ => format!("the {what} service is restarting; retry in a moment"),
        };
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut body = serde_json::json!({ "detail": self.detail });
        if let Some((k, v)) = &self.extra {
            body[*k] = v.clone();
        }
        let mut res = HttpResponse::build(self.status).json(body);
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut()
                .insert(actix_web::http::header::RETRY_AFTER, actix_web::http::header::HeaderValue::from_static("1"));
        }
        res
    }
}

impl From<ProjectsError> for ApiError {
    fn from(e: ProjectsError) -> ApiError {
        let status = match &e {
            ProjectsError::InvalidName(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ProjectsError::NotFound(_) | ProjectsError::Vanished(_) => StatusCode::NOT_FOUND,
            ProjectsError::ClaudeJson(_) => StatusCode::CONFLICT,
            ProjectsError::Interrupted(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

/// The fallback for unknown routes.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::NOT_FOUND, "Not Found"))
}

/// The fallback for a known route called with the wrong method.
pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"))
}

impl From<BridgeError> for ApiError {
    fn from(e: BridgeError) -> ApiError {
        let status = match &e {
            BridgeError::UnknownProject(_) => StatusCode::NOT_FOUND,
            BridgeError::InvalidOption(_) => StatusCode::UNPROCESSABLE_ENTITY,
            BridgeError::NotAllowed(_) => StatusCode::FORBIDDEN,
            BridgeError::NotTrusted(_) | BridgeError::LaunchFailed { .. } => StatusCode::CONFLICT,
            BridgeError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        let mut err = ApiError::new(status, e.to_string());
        if let BridgeError::LaunchFailed { instance, .. } = e {
            err.extra = serde_json::to_value(&*instance).ok().map(|v| ("instance", v));
        }
        err
    }
}
