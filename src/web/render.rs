//! Rendering a page: the template plus what every page needs (the CSP nonce for inline
//! `<script>`/`<style>`, `root_path` for links, whether sign-in is on).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse};

use crate::auth::headers::CspNonce;
use crate::web::error::ApiError;
use crate::web::state::AppState;

/// Renders `template` with `ctx` plus `csp_nonce`, `root_path`, `auth_enabled`, `version`,
/// `asset_v` (the static files' digest, for cache-busting links) and `icons` (the sprite's
/// URL). Pages are never cached: they carry a per-response nonce and, signed in, private
/// data.
pub fn page(
    req: &HttpRequest,
    state: &AppState,
    template: &str,
    mut ctx: tera::Context,
    status: StatusCode,
) -> Result<HttpResponse, ApiError> {
    let nonce = req.extensions().get::<CspNonce>().map(|n| n.0.clone()).unwrap_or_default();
    ctx.insert("csp_nonce", &nonce);
    ctx.insert("root_path", &state.config.config.root_path);
    ctx.insert("auth_enabled", &state.auth.enabled());
    ctx.insert("version", env!("CARGO_PKG_VERSION"));
    let asset_v = crate::web::routes::assets::version();
    ctx.insert("asset_v", asset_v);
    ctx.insert("icons", &format!("{}/static/vendor/icons.svg?v={asset_v}", state.config.config.root_path));
    let html = state.templates.render(template, &ctx).map_err(|e| {
        tracing::error!(template, error = %e, "template failed");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the page could not be rendered; see the server log")
    })?;
    Ok(HttpResponse::build(status)
        .content_type(ContentType::html())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html))
}
