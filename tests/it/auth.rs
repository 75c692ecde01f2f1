//! Issue 6, "safe to expose on a LAN", against the real binary: sign-in and sessions, the
//! Origin rule, reverse-proxy trust, security headers and limits, the bind rule (in
//! `config.rs`). Only loopback addresses are ever contacted.

mod hardening;
mod origins;
mod proxy;
mod sessions;

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::common::{Fixture, Response, Server};

/// `"s3cret"` hashed by Python argon2-cffi 25.1 (`PasswordHasher().hash("s3cret")`).
pub const CFFI_HASH: &str =
    "$argon2id$v=19$m=65536,t=3,p=4$PGjDptyuRCwRifL/jRLDKA$WHloOEbDW0ca/iPTzrVbOc9YlJWfwg/Y4yVskRmoG88";

/// Config lines turning password sign-in on; `more` is appended inside `auth:` (indent
/// its lines by two spaces).
pub fn auth_yaml(more: &str) -> String {
    format!("auth:\n  enabled: true\n  password_required: true\n  password_hash: \"{CFFI_HASH}\"\n{more}")
}

/// Starts clauster with `yaml` added to the fixture's basic config.
pub fn start(fx: &Fixture, yaml: &str) -> Server {
    start_with_env(fx, yaml, &[])
}

pub fn start_with_env(fx: &Fixture, yaml: &str, env: &[(&str, &str)]) -> Server {
    let cfg = fx.config(yaml);
    fx.start_with(|c: &mut Command| {
        c.args(["run", "-c"]).arg(&cfg);
        for (k, v) in env {
            c.env(k, v);
        }
    })
}

/// The Origin a browser sends for a page served by `srv`.
pub fn origin(srv: &Server) -> String {
    format!("http://{}", srv.addr)
}

/// `POST /login` as the login form sends it, with extra headers.
pub fn login_with(srv: &Server, password: &str, headers: &[(&str, &str)]) -> Response {
    let o = origin(srv);
    let mut h = vec![("Origin", o.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
    h.extend_from_slice(headers);
    srv.request("POST", "/login", &h, Some(format!("password={password}").as_bytes()))
}

pub fn login(srv: &Server, password: &str) -> Response {
    login_with(srv, password, &[])
}

/// Signs in with the right password; returns `clauster_session=<value>`.
pub fn session(srv: &Server) -> String {
    let r = login(srv, "s3cret");
    assert_eq!(r.status, 303, "login failed: {}\n{}", r.text(), srv.logs());
    r.cookie("clauster_session").expect("a session cookie")
}

/// A request carrying `cookie` (a `name=value` pair) and more headers.
pub fn call(srv: &Server, method: &str, path: &str, cookie: &str, headers: &[(&str, &str)]) -> Response {
    let mut h = vec![("Cookie", cookie)];
    h.extend_from_slice(headers);
    srv.request(method, path, &h, None)
}

/// The JSON claims inside a session cookie (`name=v1.<payload>.<tag>`).
pub fn claims(cookie: &str) -> serde_json::Value {
    let value = cookie.split_once('=').unwrap().1;
    let payload = value.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// Runs `f` with the current UNIX second until the second did not change while it ran,
/// so a test about time windows knows exactly which second the server saw.
pub fn within_one_second<T>(mut f: impl FnMut(i64) -> T) -> T {
    for _ in 0..10 {
        let before = now();
        let out = f(before);
        if now() == before {
            return out;
        }
    }
    panic!("the clock kept ticking over during every attempt");
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
