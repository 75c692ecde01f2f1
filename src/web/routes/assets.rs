//! `/static/*`: files embedded in the binary, with ETags so browsers revalidate cheaply.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

use crate::web::error::ApiError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

pub async fn get(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::new(actix_web::http::StatusCode::NOT_FOUND, "Not Found");
    let file = Static::get(&path).ok_or_else(not_found)?;
    let etag =
        format!("\"{}\"", file.metadata.sha256_hash().iter().take(12).map(|b| format!("{b:02x}")).collect::<String>());
    if req.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, etag)).finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_str(file.metadata.mimetype())
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        ))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(file.data.into_owned()))
}
