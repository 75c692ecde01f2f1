//! `GET/POST /login`, `GET/POST /logout`. The checks themselves are in
//! [`crate::auth::Auth`]; these handlers read the form, call it, and shape the response.

use actix_web::cookie::{Cookie, SameSite, time};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::auth::session::COOKIE_NAME;
use crate::auth::{Auth, LoginError, now_unix};
use crate::web::error::ApiError;
use crate::web::guard::{facts, principal};
use crate::web::hardening::{is_overflow, too_large};
use crate::web::render::page;
use crate::web::state::AppState;

/// A login or logout form is a few dozen bytes; anything near this is not one.
const FORM_LIMIT: usize = 16 * 1024;

#[derive(Deserialize)]
pub struct LoginForm {
    password: String,
}

#[derive(Deserialize)]
pub struct LogoutForm {
    everywhere: Option<String>,
}

pub async fn login_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if principal(&req).is_some() {
        return Ok(see_other(state.auth.url("/")));
    }
    login_form(&req, &state, StatusCode::OK, None)
}

pub async fn login(req: HttpRequest, state: web::Data<AppState>, body: web::Payload) -> Result<HttpResponse, ApiError> {
    let form: LoginForm = read_form(body).await?;
    let auth = state.auth.clone();
    let (client, secure) = {
        let f = facts(&req, None);
        (auth.client_key(&f), auth.cookie_secure(&f))
    };
    let who = client.map_or_else(|| "unknown".to_owned(), |c| c.to_string());
    match auth.login(client, form.password).await {
        Ok(value) => {
            tracing::info!(client = %who, "signed in");
            Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, auth.url("/")))
                .cookie(session_cookie(&auth, value, secure))
                .finish())
        }
        Err(e @ LoginError::Throttled { retry_after }) => {
            tracing::warn!(client = %who, "sign-in refused: too many failed attempts");
            let mut res = login_form(&req, &state, StatusCode::TOO_MANY_REQUESTS, Some(&e.to_string()))?;
            res.headers_mut().insert(header::RETRY_AFTER, retry_after.as_secs().max(1).into());
            Ok(res)
        }
        Err(e @ LoginError::Incorrect) => {
            tracing::warn!(client = %who, "sign-in failed: incorrect password");
            login_form(&req, &state, StatusCode::UNAUTHORIZED, Some(&e.to_string()))
        }
        Err(e @ LoginError::Unavailable) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())),
    }
}

pub async fn logout_page(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    page(&req, &state, "logout.html", tera::Context::new(), StatusCode::OK)
}

/// Ends this session (its id is revoked on disk), or with `everywhere=1` every session
/// issued so far (the epoch goes up). Either way the browser's cookie is deleted.
pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let form: LogoutForm = read_form(body).await?;
    let everywhere = form.everywhere.as_deref().is_some_and(|v| matches!(v, "1" | "true" | "on" | "yes"));
    let who = principal(&req);
    let auth = state.auth.clone();
    let secure = auth.cookie_secure(&facts(&req, None));
    let mut removal = session_cookie(&auth, String::new(), secure);
    removal.make_removal();
    let result = {
        let auth = auth.clone();
        let who = who.clone();
        web::block(move || auth.logout(who.as_ref(), everywhere, now_unix())).await
    };
    let user = who.as_ref().map_or("nobody", |p| p.user()).to_owned();
    let failure = match result {
        Ok(Ok(epoch)) => {
            tracing::info!(%user, everywhere, epoch, "signed out");
            return Ok(HttpResponse::SeeOther()
                .insert_header((header::LOCATION, auth.url("/login")))
                .cookie(removal)
                .finish());
        }
        Ok(Err(e)) => e.to_string(),
        Err(e) => e.to_string(),
    };
    // The session is already dead in memory; only its persistence failed. Say so, since
    // a restart before the next successful logout would bring it back.
    tracing::error!(%user, everywhere, error = %failure, "could not record the sign-out in state_dir");
    Ok(HttpResponse::ServiceUnavailable().cookie(removal).json(serde_json::json!({
        "detail": format!(
            "signed out, but it could not be saved ({failure}): a restart of clauster would revive the session; \
             fix state_dir and sign out again"
        )
    })))
}

/// The session cookie: HttpOnly, SameSite=Strict, scoped to `root_path`, Secure as the
/// config and connection say, and lasting as long as the server will accept it.
fn session_cookie(auth: &Auth, value: String, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE_NAME, value)
        .path(auth.cookie_path().to_owned())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(time::Duration::seconds(i64::try_from(auth.max_age()).unwrap_or(i64::MAX)))
        .finish()
}

fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location)).finish()
}

fn login_form(
    req: &HttpRequest,
    state: &AppState,
    status: StatusCode,
    error: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let mut ctx = tera::Context::new();
    ctx.insert("error", &error);
    page(req, state, "login.html", ctx, status)
}

/// Reads a small `application/x-www-form-urlencoded` body (an empty one is an empty form).
async fn read_form<T: DeserializeOwned>(body: web::Payload) -> Result<T, ApiError> {
    let bytes = match body.to_bytes_limited(FORM_LIMIT).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) if e.as_error::<PayloadError>().is_some_and(is_overflow) => return Err(too_large(None, FORM_LIMIT)),
        Ok(Err(e)) => return Err(ApiError::new(StatusCode::BAD_REQUEST, format!("could not read the form: {e}"))),
        Err(_) => return Err(too_large(None, FORM_LIMIT)),
    };
    serde_urlencoded::from_bytes(&bytes).map_err(|e| ApiError::unprocessable(format!("invalid form: {e}")))
}
