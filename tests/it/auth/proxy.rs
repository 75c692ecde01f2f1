//! Reverse-proxy trust: the peer allow-list, the X-Proxy-Auth HMAC and its window, and
//! X-Forwarded-* honoured only from trusted peers. Spec §14 scenarios 15-16, 29-35.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::*;
use crate::common::Fixture;

const SECRET: &str = "proxysecret-0123456789";

/// The proxy part of the config, trusting `trusted` (the tests always connect from 127.0.0.1).
fn proxy_yaml(trusted: &str) -> String {
    auth_yaml(&format!(
        "  reverse_proxy:\n    enabled: true\n    trusted_ips: [\"{trusted}\"]\n    shared_secret: \"{SECRET}\"\n"
    ))
}

/// What the proxy sends, computed here independently of clauster's code.
fn signature(secret: &str, user: &str, t: i64, method: &str, path: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{user}:{t}:{method}:{path}").as_bytes());
    let sig: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={sig}")
}

fn signed(srv: &Server, method: &str, url: &str, user: &str, auth: &str, extra: &[(&str, &str)]) -> Response {
    let mut h = vec![("Remote-User", user), ("X-Proxy-Auth", auth)];
    h.extend_from_slice(extra);
    srv.request(method, url, &h, None)
}

#[test]
fn a_signed_request_from_a_trusted_proxy_is_signed_in() {
    let fx = Fixture::new();
    fx.project("alpha");
    let srv = start(&fx, &proxy_yaml("127.0.0.1/32"));
    let now = now();
    // 29
    let ok = signature(SECRET, "bob", now, "GET", "/api/projects");
    let r = signed(&srv, "GET", "/api/projects", "bob", &ok, &[]);
    assert_eq!(r.status, 200, "{}\n{}", r.text(), srv.logs());
    // A query string is not part of what is signed (32).
    assert_eq!(signed(&srv, "GET", "/api/projects?x=1", "bob", &ok, &[]).status, 200);
    // 30: signed for another path; 31: another user; a wrong secret; another method.
    let other_path = signature(SECRET, "bob", now, "GET", "/api/doctor");
    assert_eq!(signed(&srv, "GET", "/api/projects", "bob", &other_path, &[]).status, 401);
    assert_eq!(signed(&srv, "GET", "/api/projects", "eve", &ok, &[]).status, 401);
    let wrong_key = signature("not-the-secret", "bob", now, "GET", "/api/projects");
    assert_eq!(signed(&srv, "GET", "/api/projects", "bob", &wrong_key, &[]).status, 401);
    let for_get = signature(SECRET, "bob", now, "GET", "/api/projects/alpha/trust");
    let o = origin(&srv);
    assert_eq!(signed(&srv, "POST", "/api/projects/alpha/trust", "bob", &for_get, &[("Origin", &o)]).status, 401);
    // 33: the header format is strict.
    let spaced = ok.replace(",v1=", ", v1=");
    assert_eq!(signed(&srv, "GET", "/api/projects", "bob", &spaced, &[]).status, 401);
    let upper = format!("t={now},v1={}", ok.split("v1=").nth(1).unwrap().to_uppercase());
    assert_eq!(signed(&srv, "GET", "/api/projects", "bob", &upper, &[]).status, 401);
    assert_eq!(signed(&srv, "GET", "/api/projects", "", &ok, &[]).status, 401, "an empty user");
    // A page path: signed in, no redirect.
    let page = signature(SECRET, "bob", now, "GET", "/");
    assert_eq!(signed(&srv, "GET", "/", "bob", &page, &[]).status, 200);
    assert!(srv.logs().contains("reverse-proxy sign-in refused"), "failures are logged for debugging");
}

#[test]
fn the_signature_window_is_inclusive() {
    let fx = Fixture::new();
    let srv = start(&fx, &proxy_yaml("127.0.0.1/32"));
    let at = |t: i64| {
        let sig = signature(SECRET, "bob", t, "GET", "/api/projects");
        signed(&srv, "GET", "/api/projects", "bob", &sig, &[]).status
    };
    // 32: exactly 60 s old or ahead is fine; 61 s is not (window 60, the default).
    assert_eq!(within_one_second(|now| at(now - 60)), 200);
    assert_eq!(within_one_second(|now| at(now + 60)), 200);
    assert_eq!(within_one_second(|now| at(now - 61)), 401);
    assert_eq!(within_one_second(|now| at(now + 61)), 401);
}

#[test]
fn proxy_headers_from_an_untrusted_peer_are_ignored() {
    let fx = Fixture::new();
    // 35: the requests come from 127.0.0.1, which is not the proxy here.
    let srv = start(&fx, &proxy_yaml("127.0.0.2/32"));
    let now = now();
    let ok = signature(SECRET, "bob", now, "GET", "/api/projects");
    assert_eq!(signed(&srv, "GET", "/api/projects", "bob", &ok, &[]).status, 401);
    // 15: neither is its X-Forwarded-Proto...
    let r = login_with(&srv, "s3cret", &[("X-Forwarded-Proto", "https")]);
    assert!(!r.set_cookie("clauster_session").unwrap().contains("Secure"), "{:?}", r.headers);
    // ...nor its X-Forwarded-For (the throttle counts the peer).
    for i in 0..5 {
        let xff = format!("198.51.100.{i}");
        assert_eq!(login_with(&srv, "wrong", &[("X-Forwarded-For", &xff)]).status, 401);
    }
    assert_eq!(login_with(&srv, "s3cret", &[("X-Forwarded-For", "198.51.100.99")]).status, 429);
}

#[test]
fn proxy_signed_writes_need_no_origin_but_never_a_foreign_one() {
    let fx = Fixture::new();
    let srv = start(&fx, &proxy_yaml("127.0.0.1/32"));
    let now = now();
    let sig = signature(SECRET, "bob", now, "POST", "/api/projects/a.b/trust");
    // 34: no Origin, and it reaches the handler (422 for the bad name).
    let r = signed(&srv, "POST", "/api/projects/a.b/trust", "bob", &sig, &[]);
    assert_eq!(r.status, 422, "{}", r.text());
    // The proxy signs whatever the browser sends it, a cross-site request included.
    let r = signed(&srv, "POST", "/api/projects/a.b/trust", "bob", &sig, &[("Origin", "http://evil.com")]);
    assert_eq!((r.status, r.detail().as_str()), (403, "origin check failed"));
    // Unsigned, a missing Origin is refused as usual.
    assert_eq!(srv.post("/api/projects/a.b/trust").status, 403);
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_and_scheme_count() {
    let fx = Fixture::new();
    let srv = start(&fx, &proxy_yaml("127.0.0.1/32"));
    // 15: the proxy says the browser used https, so the cookie is Secure.
    let r = login_with(&srv, "s3cret", &[("X-Forwarded-Proto", "HTTPS")]);
    assert!(r.set_cookie("clauster_session").unwrap().contains("; Secure"), "{:?}", r.headers);
    let r = login_with(&srv, "s3cret", &[]);
    assert!(!r.set_cookie("clauster_session").unwrap().contains("Secure"), "{:?}", r.headers);
    // 16: the throttle counts the client the proxy names, so one client's failures do not
    // lock out another behind the same proxy.
    for _ in 0..5 {
        assert_eq!(login_with(&srv, "wrong", &[("X-Forwarded-For", "198.51.100.1")]).status, 401);
    }
    assert_eq!(login_with(&srv, "s3cret", &[("X-Forwarded-For", "198.51.100.1")]).status, 429);
    // A client cannot dodge it by prepending addresses: the proxy's entry is the last one.
    let spoof = [("X-Forwarded-For", "203.0.113.7, 198.51.100.1")];
    assert_eq!(login_with(&srv, "s3cret", &spoof).status, 429);
    assert_eq!(login_with(&srv, "s3cret", &[("X-Forwarded-For", "198.51.100.2")]).status, 303);
}

#[test]
fn secure_cookies_follow_cookie_secure() {
    let fx = Fixture::new();
    // 14
    let srv = start(&fx, &auth_yaml("  cookie_secure: always\n"));
    assert!(login(&srv, "s3cret").set_cookie("clauster_session").unwrap().contains("; Secure"));
    drop(srv);
    let mut yaml = proxy_yaml("127.0.0.1/32");
    yaml.push_str("  cookie_secure: never\n");
    let srv = start(&fx, &yaml);
    let r = login_with(&srv, "s3cret", &[("X-Forwarded-Proto", "https")]);
    assert!(!r.set_cookie("clauster_session").unwrap().contains("Secure"), "never means never");
}
