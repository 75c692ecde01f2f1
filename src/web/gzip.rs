//! gzip for responses whose body is known ahead: compressed once and reused, instead of
//! by the Compress middleware on every request (which sees only a stream). A response
//! that already carries `Content-Encoding` passes the middleware untouched.

use actix_web::HttpRequest;
use actix_web::http::header;

/// gzip of `data` (default level).
pub fn compress(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).and_then(|()| enc.finish()).expect("gzip into memory cannot fail")
}

/// Whether the client's `Accept-Encoding` lists gzip (with a non-zero quality).
pub fn accepted(req: &HttpRequest) -> bool {
    req.headers().get_all(header::ACCEPT_ENCODING).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let q_zero = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q == 0.0)));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
        },
    )
}
