//! The auth guard as actix middleware, and [`authorize_ws`] for WebSocket handlers.
//!
//! The decisions live in [`crate::auth::Auth`]; this file only translates a request into
//! [`crate::auth::Request`] and a [`Denial`] into a response. The caller's [`Principal`]
//! goes into the request extensions, where handlers find it (`/healthz` shows its full
//! body only to one, `/logout` ends its session).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, HttpRequest, HttpResponse, ResponseError as _, web};

use crate::auth::session::COOKIE_NAME;
use crate::auth::{Auth, Denial, Headers, Principal, Request, now_unix};
use crate::web::error::ApiError;
use crate::web::state::AppState;

impl Headers for HeaderMap {
    fn get(&self, name: &str) -> Option<&str> {
        // A value that is not visible ASCII is present-but-unusable: "", never absent.
        HeaderMap::get(self, name).map(|v| v.to_str().unwrap_or(""))
    }
}

/// What the auth checks need from `req`. `cookie` is the session cookie's value.
pub fn facts<'a>(req: &'a HttpRequest, cookie: Option<&'a str>) -> Request<'a> {
    Request {
        method: req.method().as_str(),
        path: req.path(),
        peer: req.peer_addr().map(|a| a.ip()),
        tls: req.app_config().secure(),
        headers: req.headers(),
        cookie,
    }
}

/// Runs the guard on every request: the Origin rule, then sign-in where required.
pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        // Fail closed: without the auth state nothing can be decided.
        let res = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "clauster is not ready; retry in a moment");
        return Ok(req.into_response(res.error_response()).map_into_right_body());
    };
    let decision = {
        let cookie = req.cookie(COOKIE_NAME);
        state.auth.check_http(&facts(req.request(), cookie.as_ref().map(|c| c.value())), now_unix())
    };
    match decision {
        Ok(principal) => {
            if let Some(p) = principal {
                req.extensions_mut().insert(p);
            }
            next.call(req).await.map(ServiceResponse::map_into_left_body)
        }
        Err(denial) => Ok(req.into_response(denial_response(denial, &state.auth)).map_into_right_body()),
    }
}

/// The response for a request the guard turns away.
fn denial_response(denial: Denial, auth: &Auth) -> HttpResponse {
    match denial {
        Denial::LoginFirst => HttpResponse::SeeOther().insert_header((header::LOCATION, auth.url("/login"))).finish(),
        other => denial_error(other).error_response(),
    }
}

fn denial_error(denial: Denial) -> ApiError {
    match denial {
        Denial::Origin => ApiError::new(StatusCode::FORBIDDEN, "origin check failed"),
        Denial::Unauthorized | Denial::LoginFirst => ApiError::new(StatusCode::UNAUTHORIZED, "authentication required"),
        Denial::Forbidden => ApiError::new(StatusCode::FORBIDDEN, "authentication required"),
    }
}

/// The check a WebSocket handler runs before accepting the upgrade: session cookie or
/// signed proxy headers, and an allowed `Origin` (required when auth is on, since every
/// browser sends one; a present one must be allowed even with auth off). Every refusal
/// is a 403, which a browser reports as a failed handshake.
///
/// The guard already applies this rule to `/ws/*` paths; handlers call it again to get
/// the [`Principal`] and so that a WebSocket route can never be reached unchecked.
pub fn authorize_ws(req: &HttpRequest, auth: &Auth) -> Result<Principal, ApiError> {
    let cookie = req.cookie(COOKIE_NAME);
    auth.check_ws(&facts(req, cookie.as_ref().map(|c| c.value())), now_unix()).map_err(|d| match d {
        Denial::Origin => denial_error(Denial::Origin),
        _ => denial_error(Denial::Forbidden),
    })
}

/// The caller's principal as the guard recorded it; `None` for a stranger on a public path.
pub fn principal(req: &HttpRequest) -> Option<Principal> {
    req.extensions().get::<Principal>().cloned()
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;
    use crate::auth::SESSION_USER;
    use crate::config::Config;

    fn auth(enabled: bool) -> (tempfile::TempDir, Auth) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config { state_dir: dir.path().to_owned(), ..Config::default() };
        cfg.auth.enabled = enabled;
        let (auth, _) = Auth::open(&cfg, 7621, None).unwrap();
        (dir, auth)
    }

    fn ws(headers: &[(&str, &str)], cookie: Option<&str>) -> HttpRequest {
        let mut t = TestRequest::get().uri("/ws/events").peer_addr("127.0.0.1:50000".parse().unwrap());
        for (k, v) in headers {
            t = t.insert_header((*k, *v));
        }
        if let Some(c) = cookie {
            t = t.cookie(actix_web::cookie::Cookie::new(COOKIE_NAME, c.to_owned()));
        }
        t.to_http_request()
    }

    #[test]
    fn websockets_need_a_session_and_an_allowed_origin_when_auth_is_on() {
        let (_d, a) = auth(true);
        let (cookie, claims) = a.issue_for_tests(SESSION_USER);
        let origin = [("Origin", "http://localhost:7621")];
        let refuse = |r: Result<Principal, ApiError>| r.map(|_| ()).map_err(|e| (e.status.as_u16(), e.detail));
        assert_eq!(authorize_ws(&ws(&origin, Some(&cookie)), &a).unwrap(), Principal::Session(claims));
        assert_eq!(refuse(authorize_ws(&ws(&[], Some(&cookie)), &a)), Err((403, "origin check failed".into())));
        let evil = [("Origin", "http://evil.com")];
        assert_eq!(refuse(authorize_ws(&ws(&evil, Some(&cookie)), &a)), Err((403, "origin check failed".into())));
        assert_eq!(refuse(authorize_ws(&ws(&origin, None), &a)), Err((403, "authentication required".into())));
        assert_eq!(
            refuse(authorize_ws(&ws(&origin, Some("v1.forged.x")), &a)),
            Err((403, "authentication required".into()))
        );
    }

    #[test]
    fn with_auth_off_websockets_refuse_only_foreign_origins() {
        let (_d, a) = auth(false);
        assert_eq!(authorize_ws(&ws(&[], None), &a).unwrap(), Principal::Open);
        assert_eq!(authorize_ws(&ws(&[("Origin", "http://127.0.0.1:7621")], None), &a).unwrap(), Principal::Open);
        let e = authorize_ws(&ws(&[("Origin", "http://evil.com")], None), &a).unwrap_err();
        assert_eq!((e.status.as_u16(), e.detail.as_str()), (403, "origin check failed"));
    }

    #[test]
    fn a_header_that_is_not_text_counts_as_present() {
        let req = TestRequest::get()
            .insert_header(("origin", header::HeaderValue::from_bytes(b"http://\xff").unwrap()))
            .to_http_request();
        assert_eq!(Headers::get(req.headers(), "Origin"), Some(""));
        assert_eq!(Headers::get(req.headers(), "X-Missing"), None);
    }
}
