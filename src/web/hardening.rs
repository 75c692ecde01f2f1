//! Middleware that hardens every response and request, whatever route (or no route)
//! handles it: security headers with a fresh CSP nonce, and the request-body size limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage as _, ResponseError as _};
use bytes::Bytes;

use crate::auth::headers::{CspNonce, FIXED, content_security_policy};
use crate::web::error::ApiError;

/// The largest request body any route accepts.
pub const MAX_BODY: usize = crate::web::JSON_LIMIT;

/// Sets the security headers on every response, including errors and 404s, and puts a
/// fresh [`CspNonce`] in the request extensions for templates. Runs outermost, so even a
/// response produced by another middleware gets the headers.
///
/// Handler and extractor errors reach this point as responses (actix renders them inside
/// the route service), so they get the headers too. An `Err` could only come from a
/// middleware failing outright; ours never do. It cannot be rendered here: that needs a
/// clone of the request taken before routing, and the router panics on a shared request.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let nonce = CspNonce::generate();
    req.extensions_mut().insert(nonce.clone());
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce)) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    for (name, value) in FIXED {
        headers.insert(HeaderName::from_static(name), HeaderValue::from_static(value));
    }
    Ok(res)
}

/// Refuses a body over [`MAX_BODY`]: at once (413) when `Content-Length` says so, and for
/// a chunked body by failing the stream with `Overflow` once it passes the limit, which
/// every body reader maps to 413. (A body with a Content-Length within the limit is
/// already bounded by the HTTP layer.)
pub async fn limit_body(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    match declared {
        Some(n) if n > MAX_BODY as u64 => {
            return Ok(req.into_response(too_large(Some(n), MAX_BODY).error_response()).map_into_right_body());
        }
        Some(_) => {}
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
            let inner = req.take_payload();
            req.set_payload(Payload::Stream { payload: Box::pin(Limited { inner, left: MAX_BODY, failed: false }) });
        }
        None => {}
    }
    next.call(req).await.map(ServiceResponse::map_into_left_body)
}

/// The 413 for a body over `limit` (`declared` when Content-Length said how big).
pub fn too_large(declared: Option<u64>, limit: usize) -> ApiError {
    let size = declared.map_or_else(|| "over the limit".to_owned(), |n| format!("{n} bytes"));
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is too large ({size}); the limit is {limit} bytes"),
    )
}

/// Whether a body-reading error means the body was over the limit.
pub fn is_overflow(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Overflow)
}

/// A payload stream that fails with `Overflow` once more than `left` bytes have passed.
struct Limited {
    inner: Payload,
    left: usize,
    failed: bool,
}

impl futures_core::Stream for Limited {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.failed {
            return Poll::Ready(Some(Err(PayloadError::Overflow)));
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) if chunk.len() > this.left => {
                this.failed = true;
                Poll::Ready(Some(Err(PayloadError::Overflow)))
            }
            Poll::Ready(Some(Ok(chunk))) => {
                this.left -= chunk.len();
                Poll::Ready(Some(Ok(chunk)))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::test::{self, TestRequest};
    use actix_web::{App, HttpResponse, web};

    use super::*;

    /// Echoes the body length, mapping a body-read failure the way real routes do.
    async fn echo(body: web::Payload) -> Result<HttpResponse, ApiError> {
        match body.to_bytes().await {
            Ok(b) => Ok(HttpResponse::Ok().body(b.len().to_string())),
            Err(e) if e.as_error::<PayloadError>().is_some_and(is_overflow) => Err(too_large(None, MAX_BODY)),
            Err(e) => Err(ApiError::new(StatusCode::BAD_REQUEST, e.to_string())),
        }
    }

    fn chunked(total: usize) -> Payload {
        let chunks: Vec<Result<Bytes, PayloadError>> =
            (0..total.div_ceil(4096)).map(|i| Ok(Bytes::from(vec![b'x'; 4096.min(total - i * 4096)]))).collect();
        let stream = futures_stream(chunks);
        Payload::Stream { payload: Box::pin(stream) }
    }

    /// A minimal stream over a vector (futures-util is not a dependency).
    fn futures_stream(
        items: Vec<Result<Bytes, PayloadError>>,
    ) -> impl futures_core::Stream<Item = Result<Bytes, PayloadError>> {
        struct Iter(std::vec::IntoIter<Result<Bytes, PayloadError>>);
        impl futures_core::Stream for Iter {
            type Item = Result<Bytes, PayloadError>;
            fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
                Poll::Ready(self.0.next())
            }
        }
        Iter(items.into_iter())
    }

    #[actix_web::test]
    async fn chunked_bodies_are_bounded() {
        let app = test::init_service(
            App::new().wrap(from_fn(limit_body)).wrap(from_fn(security_headers)).route("/", web::post().to(echo)),
        )
        .await;
        for (size, status) in [(MAX_BODY, 200), (MAX_BODY + 1, 413)] {
            let req = TestRequest::post().uri("/").insert_header((header::TRANSFER_ENCODING, "chunked")).to_request();
            let (req, _) = req.replace_payload(chunked(size));
            let res = test::call_service(&app, req).await;
            assert_eq!(res.status().as_u16(), status, "{size} bytes");
            assert!(res.headers().contains_key(header::CONTENT_SECURITY_POLICY));
            if status == 413 {
                let body: serde_json::Value = test::read_body_json(res).await;
                assert!(body["detail"].as_str().unwrap().contains("too large"), "{body}");
            }
        }
    }

    #[actix_web::test]
    async fn a_declared_oversize_body_is_refused_before_reading() {
        let app = test::init_service(
            App::new().wrap(from_fn(limit_body)).wrap(from_fn(security_headers)).route("/", web::post().to(echo)),
        )
        .await;
        let req = TestRequest::post()
            .uri("/")
            .insert_header((header::CONTENT_LENGTH, (MAX_BODY + 1).to_string()))
            .to_request();
        let res = test::call_service(&app, req).await;
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert!(body["detail"].as_str().unwrap().contains(&format!("{} bytes", MAX_BODY + 1)), "{body}");
    }

    #[actix_web::test]
    async fn every_response_carries_the_headers_and_a_fresh_nonce() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(security_headers))
                .route("/", web::get().to(|| async { HttpResponse::Ok().finish() })),
        )
        .await;
        let mut seen = std::collections::HashSet::new();
        for path in ["/", "/missing", "/"] {
            let res = test::call_service(&app, TestRequest::get().uri(path).to_request()).await;
            let csp = res.headers().get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap().to_owned();
            assert!(seen.insert(csp), "nonce reused");
            for (name, value) in FIXED {
                assert_eq!(res.headers().get(name).unwrap(), value, "{path}");
            }
        }
    }
}
