//! The Origin rule on state-changing requests, with and without auth, on loopback and
//! network binds, and on WebSocket paths. Spec §14 scenarios 10-11, 24-28, 36-37.

use super::*;
use crate::common::Fixture;

/// A state-changing request that reaches its handler only if the guard lets it through:
/// the handler then answers 422 for the invalid project name.
const PROBE: &str = "/api/projects/a.b/trust";

#[test]
fn login_needs_an_allowed_origin() {
    let fx = Fixture::new();
    let srv = start(&fx, &auth_yaml(""));
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    // 10
    let r = srv.request("POST", "/login", &form, Some(b"password=s3cret"));
    assert_eq!((r.status, r.detail().as_str()), (403, "origin check failed"));
    // 11
    let evil = [("Origin", "http://evil.com"), ("Content-Type", "application/x-www-form-urlencoded")];
    let r = srv.request("POST", "/login", &evil, Some(b"password=s3cret"));
    assert_eq!((r.status, r.detail().as_str()), (403, "origin check failed"));
    assert!(r.set_cookie("clauster_session").is_none());
}

#[test]
fn signed_in_state_changes_need_one_of_our_origins() {
    let fx = Fixture::new();
    let srv = start(&fx, &auth_yaml(""));
    let c = session(&srv);
    let port = srv.addr.rsplit(':').next().unwrap().to_string();
    // 24: every loopback alias of the bound port passes (and reaches the handler).
    for o in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("HTTP://LOCALHOST:{port}/"),
    ] {
        let r = call(&srv, "POST", PROBE, &c, &[("Origin", &o)]);
        assert_eq!(r.status, 422, "{o}: {}", r.text());
    }
    // 25: wrong port, null, or only a Referer.
    let referer = format!("http://127.0.0.1:{port}/");
    for h in [
        ("Origin", "http://127.0.0.1:7621"),
        ("Origin", "http://127.0.0.1"),
        ("Origin", "null"),
        ("Origin", ""),
        ("Referer", referer.as_str()),
    ] {
        let r = call(&srv, "POST", PROBE, &c, &[h]);
        assert_eq!((r.status, r.detail().as_str()), (403, "origin check failed"), "{h:?}");
    }
    // 28: every unsafe method is checked, even on routes that do not exist.
    for method in ["DELETE", "PUT", "PATCH"] {
        let r = call(&srv, method, "/api/instances/alpha", &c, &[]);
        assert_eq!((r.status, r.detail().as_str()), (403, "origin check failed"), "{method}");
        let r = call(&srv, method, "/api/instances/alpha", &c, &[("Origin", "http://evil.example")]);
        assert_eq!(r.status, 403, "{method}");
        let r = call(&srv, method, "/api/instances/alpha", &c, &[("Origin", &origin(&srv))]);
        assert!(matches!(r.status, 404 | 405), "{method} passes the guard with our origin: {}", r.text());
    }
    // Logout, too, is origin-checked: a foreign page cannot sign you out.
    let r = call(&srv, "POST", "/logout", &c, &[("Origin", "http://evil.example")]);
    assert_eq!(r.status, 403);
    assert_eq!(call(&srv, "GET", "/api/projects", &c, &[]).status, 200);
}

#[test]
fn without_auth_scripts_work_but_web_pages_cannot_change_anything() {
    let fx = Fixture::new();
    fx.project("alpha");
    let srv = start(&fx, "");
    // Quirk 13.1 fixed: a cross-site form POST is refused even with auth off...
    let r = srv.request("POST", "/api/projects/alpha/trust", &[("Origin", "http://evil.example")], None);
    assert_eq!((r.status, r.detail().as_str()), (403, "origin check failed"));
    assert!(!fx.claude_json().exists(), "nothing was written");
    for (method, path) in [("POST", "/logout"), ("DELETE", "/api/projects"), ("PUT", "/api/x")] {
        assert_eq!(srv.request(method, path, &[("Origin", "null")], None).status, 403, "{method} {path}");
    }
    // ...while curl and scripts (no Origin) and the dashboard itself (our origin) work.
    let r = srv.post("/api/projects/alpha/trust");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = srv.request("POST", "/api/projects/alpha/trust", &[("Origin", &origin(&srv))], None);
    assert_eq!(r.status, 200, "{}", r.text());
    // With auth off everyone is let in, so /healthz is complete.
    assert!(srv.get_json("/healthz").get("version").is_some());
}

#[test]
fn a_network_bind_allows_only_the_configured_origins() {
    let fx = Fixture::new();
    // 27: nothing is auto-allowed on 0.0.0.0, and the log says which key to set.
    let mut srv = start(&fx, &format!("host: 0.0.0.0\n{}", auth_yaml("")));
    srv.wait_log("auth.allowed_origins");
    srv.addr = srv.addr.replace("0.0.0.0", "127.0.0.1");
    let r = login(&srv, "s3cret");
    assert_eq!((r.status, r.detail().as_str()), (403, "origin check failed"));
    drop(srv);
    // 26: a configured origin is compared in normal form.
    let mut srv = start(
        &fx,
        &format!("host: 0.0.0.0\n{}", auth_yaml("  allowed_origins: [\"https://clauster.example.com/\"]\n")),
    );
    srv.addr = srv.addr.replace("0.0.0.0", "127.0.0.1");
    let r = login_with(&srv, "s3cret", &[]);
    assert_eq!(r.status, 403, "the loopback origin is not allowed on a network bind");
    let form = [("Origin", "https://clauster.example.com:443"), ("Content-Type", "application/x-www-form-urlencoded")];
    let r = srv.request("POST", "/login", &form, Some(b"password=s3cret"));
    assert_eq!(r.status, 303, "{}", r.text());
}

#[test]
fn websocket_paths_need_an_origin_and_a_session() {
    let fx = Fixture::new();
    let srv = start(&fx, &auth_yaml(""));
    let c = session(&srv);
    let o = origin(&srv);
    let ws = [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")];
    let with = |extra: &[(&str, &str)]| {
        let mut h = ws.to_vec();
        h.extend_from_slice(extra);
        srv.request("GET", "/ws/events", &h, None)
    };
    // 36, 37: the guard runs before the WebSocket handshake.
    let r = with(&[("Cookie", &c)]);
    assert_eq!((r.status, r.detail().as_str()), (403, "origin check failed"));
    let r = with(&[("Cookie", &c), ("Origin", "http://evil.com")]);
    assert_eq!((r.status, r.detail().as_str()), (403, "origin check failed"));
    let r = with(&[("Origin", &o)]);
    assert_eq!((r.status, r.detail().as_str()), (403, "authentication required"));
    let r = with(&[("Origin", &o), ("Cookie", &c)]);
    assert_eq!(
        r.status, 400,
        "passes the guard; this bare handshake (no Sec-WebSocket-Key) is then refused by the handler"
    );
}
