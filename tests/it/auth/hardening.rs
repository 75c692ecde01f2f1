//! Security headers with a per-response CSP nonce on every kind of response, and the
//! request-body limit.

use std::collections::HashSet;

use super::*;
use crate::common::{Fixture, http};

/// The nonce in a response's CSP, after checking the rest of the policy and headers.
fn nonce_of(r: &Response, what: &str) -> String {
    let csp = r.header("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP in {:?}", r.headers));
    assert!(!csp.contains("unsafe-eval") && !csp.contains("unsafe-inline"), "{what}: {csp}");
    for must in
        ["default-src 'self'", "'strict-dynamic'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"]
    {
        assert!(csp.contains(must), "{what}: {must} missing from {csp}");
    }
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"), "{what}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(r.header("referrer-policy"), Some("same-origin"), "{what}");
    let start = csp.find("script-src 'nonce-").unwrap_or_else(|| panic!("{what}: {csp}")) + "script-src 'nonce-".len();
    let nonce = &csp[start..start + csp[start..].find('\'').unwrap()];
    assert!(csp.contains(&format!("style-src 'self' 'nonce-{nonce}'")), "{what}: {csp}");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(nonce).unwrap().len(), 16, "{what}: {nonce}");
    nonce.to_string()
}

#[test]
fn every_response_has_the_security_headers_and_its_own_nonce() {
    let fx = Fixture::new();
    fx.project("alpha");
    let mut seen = HashSet::new();
    let srv = start(&fx, "");
    let responses = [
        ("page", srv.get("/")),
        ("json", srv.get("/api/projects")),
        ("json again", srv.get("/api/projects")),
        ("404", srv.get("/nope")),
        ("405", srv.request("PATCH", "/api/projects", &[], None)),
        ("static", srv.get("/static/clauster.css")),
        ("health", srv.get("/healthz")),
        ("403", srv.request("POST", "/logout", &[("Origin", "http://evil.com")], None)),
    ];
    for (what, r) in &responses {
        assert!(seen.insert(nonce_of(r, what)), "{what}: nonce reused");
    }
    assert_eq!(responses[3].1.status, 404);
    drop(srv);
    let srv = start(&fx, &auth_yaml(""));
    for (what, r) in [
        ("401", srv.get("/api/projects")),
        ("303", srv.get("/")),
        ("login page", srv.get("/login")),
        ("login 401", login(&srv, "wrong")),
    ] {
        assert!(seen.insert(nonce_of(&r, what)), "{what}: nonce reused");
    }
}

#[test]
fn bodies_over_the_limit_are_refused_with_413() {
    let fx = Fixture::new();
    for yaml in [String::new(), auth_yaml("")] {
        let srv = start(&fx, &yaml);
        // Refused on the declared length, before any of it is read or anything else checked.
        let head = format!(
            "POST /login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: 10000000\r\nConnection: close\r\n\r\n",
            srv.addr
        );
        let r = http::raw(&srv.addr, head.as_bytes());
        assert_eq!(r.status, 413, "{}", r.text());
        assert!(r.detail().contains("too large") && r.detail().contains("10000000 bytes"), "{}", r.detail());
        assert!(r.header("content-security-policy").is_some());
        // A chunked login form over its (small) limit.
        let o = origin(&srv);
        let chunk = format!("password={}", "x".repeat(20_000));
        let raw = format!(
            "POST /login HTTP/1.1\r\nHost: {}\r\nOrigin: {o}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
            srv.addr,
            chunk.len()
        );
        let r = http::raw(&srv.addr, raw.as_bytes());
        assert_eq!(r.status, 413, "{}", r.text());
        assert!(r.detail().contains("too large"), "{}", r.detail());
    }
}
