//! `/static/*`: files embedded in the binary (read from disk in debug builds).
//!
//! Pages link assets as `/static/<path>?v=<version>`, where the version is a digest of
//! every embedded file. A request carrying the current version is cached for a year
//! (`immutable`): a new build changes the digest and so the URL. Any other request
//! revalidates with the file's ETag, so a stale link still gets the current bytes.
//!
//! Text files are gzipped once per process and the result reused: compressing Tabler's CSS
//! took ~3.4 ms per request in the middleware, and left its buffers behind in RSS.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use crate::web::error::ApiError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

#[derive(serde::Deserialize)]
pub struct Query {
    v: Option<String>,
}

/// The digest of every embedded file (12 hex digits), computed once per process.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut names: Vec<_> = Static::iter().collect();
        names.sort();
        let mut h = Sha256::new();
        for name in names {
            if let Some(f) = Static::get(&name) {
                h.update(name.as_bytes());
                h.update(f.metadata.sha256_hash());
            }
        }
        hex(&h.finalize()[..6])
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn get(req: HttpRequest, path: web::Path<String>, q: web::Query<Query>) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::new(actix_web::http::StatusCode::NOT_FOUND, "Not Found");
    let file = Static::get(&path).ok_or_else(not_found)?;
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..12]));
    let cache = if q.v.as_deref() == Some(version()) { "public, max-age=31536000, immutable" } else { "no-cache" };
    if req.headers().get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes()) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .insert_header((header::VARY, "Accept-Encoding"))
            .finish());
    }
    let mime = file.metadata.mimetype();
    let mut res = HttpResponse::Ok();
    res.insert_header((
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    ))
    .insert_header((header::ETAG, etag.clone()))
    .insert_header((header::CACHE_CONTROL, cache))
    .insert_header((header::VARY, "Accept-Encoding"));
    if compressible(mime)
        && crate::web::gzip::accepted(&req)
        && let Some(body) = gzipped(&etag, &file.data).await
    {
        return Ok(res.insert_header((header::CONTENT_ENCODING, "gzip")).body(body));
    }
    Ok(res.body(file.data.into_owned()))
}

fn compressible(mime: &str) -> bool {
    mime.starts_with("text/") || mime.ends_with("javascript") || mime.ends_with("json") || mime.ends_with("svg+xml")
}

/// The gzip of a file by its ETag, compressed (off the async threads) on first use;
/// `None` only if the blocking pool is gone (shutdown), and the file goes out plain.
async fn gzipped(etag: &str, data: &[u8]) -> Option<Bytes> {
    static CACHE: OnceLock<Mutex<HashMap<String, Bytes>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(hit) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(etag) {
        return Some(hit.clone());
    }
    let data = data.to_vec();
    let gz = web::block(move || Bytes::from(crate::web::gzip::compress(&data))).await.ok()?;
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(etag.to_owned(), gz.clone());
    Some(gz)
}
