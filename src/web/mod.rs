//! The HTTP surface: actix-web with thin handlers over the bus and the actor slots.
//!
//! Unknown routes are 404, known routes with the wrong method 405, and malformed bodies
//! or path parameters 422, all as `{"detail": ...}`.
//!
//! Every request passes, outermost first: [`hardening::security_headers`] (CSP nonce and
//! security headers on whatever comes back), [`hardening::limit_body`] (413 over the
//! limit), [`guard::guard`] (Origin rule and sign-in), then path normalisation,
//! compression and the route.

pub mod body;
pub mod error;
pub mod guard;
pub mod gzip;
pub mod hardening;
pub mod render;
pub mod routes;
pub mod state;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, Resource, web};

use error::ApiError;
use routes::{assets, auth, claude_md, doctor, health, instances, pages, projects, ws};
use state::AppState;

/// Largest JSON body accepted by any route.
pub const JSON_LIMIT: usize = 256 * 1024;

/// A resource whose unsupported methods answer 405 with a JSON detail.
fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(error::method_not_allowed))
}

/// Registers every route; shared by the server and by in-process tests.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().limit(JSON_LIMIT).error_handler(|err, _| {
        let status = match &err {
            actix_web::error::JsonPayloadError::Overflow { .. }
            | actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
            | actix_web::error::JsonPayloadError::Payload(actix_web::error::PayloadError::Overflow) => {
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, format!("invalid JSON body: {err}")).into()
    }))
    .app_data(
        web::PathConfig::default()
            .error_handler(|err, _| ApiError::unprocessable(format!("invalid path: {err}")).into()),
    )
    .app_data(
        web::QueryConfig::default()
            .error_handler(|err, _| ApiError::unprocessable(format!("invalid query: {err}")).into()),
    )
    .service(resource("/").route(web::get().to(pages::index)))
    .service(resource("/healthz").route(web::get().to(health::healthz)))
    .service(resource("/login").route(web::get().to(auth::login_page)).route(web::post().to(auth::login)))
    .service(resource("/logout").route(web::get().to(auth::logout_page)).route(web::post().to(auth::logout)))
    .service(resource("/api/projects").route(web::get().to(projects::list)).route(web::post().to(projects::create)))
    .service(
        resource("/api/projects/{name}/claude-md")
            .route(web::get().to(claude_md::get))
            .route(web::put().to(claude_md::put)),
    )
    .service(resource("/api/projects/clone").route(web::post().to(projects::clone)))
    .service(resource("/api/projects/{name}/usage").route(web::get().to(projects::usage)))
    .service(resource("/api/projects/{name}/trust").route(web::post().to(projects::trust)))
    .service(resource("/api/doctor").route(web::get().to(doctor::doctor)))
    .service(resource("/api/instances").route(web::get().to(instances::list)).route(web::post().to(instances::start)))
    .service(
        resource("/api/instances/{name}").route(web::get().to(instances::get)).route(web::delete().to(instances::stop)),
    )
    .service(resource("/api/instances/{name}/resume").route(web::post().to(instances::resume)))
    .service(resource("/api/instances/{name}/new-session").route(web::post().to(instances::new_session)))
    .service(resource("/api/instances/{name}/qr").route(web::get().to(instances::qr)))
    .service(resource("/api/sessions").route(web::get().to(instances::sessions)))
    .service(resource("/ws/bridge-log/{name}").route(web::get().to(ws::bridge_log)))
    .service(resource("/ws/events").route(web::get().to(ws::events)))
    .service(resource("/ws/clone-progress/{job_id}").route(web::get().to(ws::clone_progress)))
    .service(resource("/static/{path:.*}").route(web::get().to(assets::get)))
    .default_service(web::to(error::not_found));
}

/// Starts serving on `listener`. Signals are handled by the caller, which stops the
/// server through its handle; open connections get at most a second to finish.
pub fn serve(state: web::Data<AppState>, listener: TcpListener, workers: usize) -> std::io::Result<Server> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(actix_web::middleware::Compress::default())
            .wrap(actix_web::middleware::NormalizePath::trim())
            .wrap(actix_web::middleware::from_fn(guard::guard))
            .wrap(actix_web::middleware::from_fn(hardening::limit_body))
            .wrap(actix_web::middleware::from_fn(hardening::security_headers))
            .configure(configure)
    })
    .workers(workers)
    // Without this, a chunked (compressed) body's last segment waits on the client's
    // delayed ACK: ~40 ms per response (Nagle).
    .tcp_nodelay(true)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)?
    .run();
    Ok(server)
}
