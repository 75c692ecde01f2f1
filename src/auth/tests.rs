//! The guard's decision table, without HTTP.

use super::*;
use crate::config::types::Cidr;

const PORT: u16 = 7698;
const OK_ORIGIN: &str = "http://127.0.0.1:7698";

struct Fixture {
    _dir: tempfile::TempDir,
    auth: Arc<Auth>,
}

fn fixture(edit: impl FnOnce(&mut Config)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = Config { state_dir: dir.path().to_owned(), ..Config::default() };
    edit(&mut cfg);
    let (auth, _) = Auth::open(&cfg, PORT, None).unwrap();
    Fixture { _dir: dir, auth: Arc::new(auth) }
}

fn enabled(cfg: &mut Config) {
    cfg.auth.enabled = true;
    cfg.auth.password_required = true;
}

fn with_proxy(cfg: &mut Config) {
    enabled(cfg);
    cfg.auth.reverse_proxy.enabled = true;
    cfg.auth.reverse_proxy.trusted_ips = vec![Cidr("127.0.0.1/32".parse().unwrap())];
    cfg.auth.reverse_proxy.shared_secret = Some("proxysecret".into());
}

impl<const N: usize> Headers for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

fn req<'a, const N: usize>(
    method: &'a str,
    path: &'a str,
    headers: &'a [(&'a str, &'a str); N],
    cookie: Option<&'a str>,
) -> Request<'a> {
    Request { method, path, peer: Some("127.0.0.1".parse().unwrap()), tls: false, headers, cookie }
}

#[test]
fn debug_output_holds_no_secrets() {
    let f = fixture(|c| {
        with_proxy(c);
        c.auth.password_hash = Some("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA".into());
    });
    let shown = format!("{:?}", f.auth);
    assert!(!shown.contains("argon2id") && !shown.contains("proxysecret"), "{shown}");
    assert!(shown.contains("<set>") && shown.contains("<redacted>"), "{shown}");
}

#[test]
fn paths_are_classified_as_the_router_sees_them() {
    for (p, c) in [
        ("/healthz", PathClass::Public),
        ("//healthz/", PathClass::Public),
        ("/login", PathClass::Public),
        ("/static/clauster.css", PathClass::Public),
        ("/static", PathClass::Page),
        ("/healthzz", PathClass::Page),
        ("/api/projects", PathClass::Api),
        ("//api//projects", PathClass::Api),
        ("/ws/events", PathClass::WebSocket),
        ("/", PathClass::Page),
        ("/logout", PathClass::Page),
        ("/nope", PathClass::Page),
    ] {
        assert_eq!(classify(p), c, "{p}");
    }
    assert!(changes_state("POST") && changes_state("DELETE") && changes_state("PUT") && changes_state("PATCH"));
    assert!(changes_state("FROBNICATE"), "unknown methods are treated as unsafe");
    assert!(!changes_state("GET") && !changes_state("HEAD"));
}

#[test]
fn with_auth_off_everything_is_open_but_foreign_origins_are_refused() {
    let f = fixture(|_| {});
    let a = &f.auth;
    assert_eq!(a.check_http(&req("GET", "/api/projects", &[], None), 0), Ok(Some(Principal::Open)));
    // Scripts without an Origin keep working...
    assert_eq!(a.check_http(&req("POST", "/api/projects/x/trust", &[], None), 0), Ok(Some(Principal::Open)));
    // ...a page on another site does not (quirk 13.1 fixed).
    let evil = [("Origin", "http://evil.example")];
    assert_eq!(a.check_http(&req("POST", "/api/projects/x/trust", &evil, None), 0), Err(Denial::Origin));
    assert_eq!(a.check_http(&req("POST", "/logout", &[("Origin", "null")], None), 0), Err(Denial::Origin));
    let ours = [("Origin", "http://localhost:7698")];
    assert!(a.check_http(&req("DELETE", "/api/x", &ours, None), 0).is_ok());
    // Reading is never origin-checked (browsers send Origin on some GETs too).
    assert!(a.check_http(&req("GET", "/api/projects", &evil, None), 0).is_ok());
}

#[test]
fn with_auth_on_strangers_get_401_or_a_redirect_and_public_paths_stay_open() {
    let f = fixture(enabled);
    let a = &f.auth;
    assert_eq!(a.check_http(&req("GET", "/api/projects", &[], None), 0), Err(Denial::Unauthorized));
    assert_eq!(a.check_http(&req("GET", "/", &[], None), 0), Err(Denial::LoginFirst));
    assert_eq!(a.check_http(&req("GET", "/nope", &[], None), 0), Err(Denial::LoginFirst));
    for p in ["/healthz", "/login", "/static/favicon.svg"] {
        assert_eq!(a.check_http(&req("GET", p, &[], None), 0), Ok(None), "{p}");
    }
    // Origin before the public-path rule: POST /login needs an allowed Origin.
    assert_eq!(a.check_http(&req("POST", "/login", &[], None), 0), Err(Denial::Origin));
    let evil = [("Origin", "http://evil.com")];
    assert_eq!(a.check_http(&req("POST", "/login", &evil, None), 0), Err(Denial::Origin));
    let ok = [("Origin", OK_ORIGIN)];
    assert_eq!(a.check_http(&req("POST", "/login", &ok, None), 0), Ok(None));
    // Not signed in: the origin passes, sign-in is still required.
    assert_eq!(a.check_http(&req("POST", "/logout", &ok, None), 0), Err(Denial::LoginFirst));
}

#[test]
fn a_session_cookie_signs_in_and_still_needs_an_origin_to_change_state() {
    let f = fixture(enabled);
    let a = &f.auth;
    let now = now_unix();
    let (cookie, claims) = a.sessions.issue(SESSION_USER, now);
    let ok = [("Origin", OK_ORIGIN)];
    let p = a.check_http(&req("GET", "/api/projects", &[], Some(&cookie)), now).unwrap().unwrap();
    assert_eq!(p, Principal::Session(claims.clone()));
    assert_eq!(p.user(), "admin");
    assert_eq!(a.check_http(&req("DELETE", "/api/instances/a", &[], Some(&cookie)), now), Err(Denial::Origin));
    assert!(a.check_http(&req("DELETE", "/api/instances/a", &ok, Some(&cookie)), now).is_ok());
    // Logging out kills it.
    a.logout(Some(&p), false, now).unwrap();
    assert_eq!(a.check_http(&req("GET", "/api/projects", &[], Some(&cookie)), now), Err(Denial::Unauthorized));
}

#[test]
fn proxy_signed_requests_skip_only_the_missing_origin_rule() {
    let f = fixture(with_proxy);
    let a = &f.auth;
    let now = now_unix();
    let t = now as i64;
    let sig = format!("t={t},v1={}", proxy::sign(b"proxysecret", "bob", t, "POST", "/api/projects"));
    let signed = [("Remote-User", "bob"), ("X-Proxy-Auth", sig.as_str())];
    let got = a.check_http(&req("POST", "/api/projects", &signed, None), now).unwrap();
    assert_eq!(got, Some(Principal::Proxy { user: "bob".into() }));
    // A foreign page's request relayed by the proxy is still refused.
    let relayed = [("Remote-User", "bob"), ("X-Proxy-Auth", sig.as_str()), ("Origin", "http://evil.com")];
    assert_eq!(a.check_http(&req("POST", "/api/projects", &relayed, None), now), Err(Denial::Origin));
    // The same headers from an untrusted peer mean nothing.
    let mut from_elsewhere = req("POST", "/api/projects", &signed, None);
    from_elsewhere.peer = Some("127.0.0.2".parse().unwrap());
    assert_eq!(a.check_http(&from_elsewhere, now), Err(Denial::Origin));
    let ok = [("Remote-User", "bob"), ("X-Proxy-Auth", sig.as_str()), ("Origin", OK_ORIGIN)];
    let mut from_elsewhere = req("POST", "/api/projects", &ok, None);
    from_elsewhere.peer = Some("127.0.0.2".parse().unwrap());
    assert_eq!(a.check_http(&from_elsewhere, now), Err(Denial::Unauthorized));
}

#[test]
fn websockets_need_an_origin_when_auth_is_on() {
    let f = fixture(enabled);
    let a = &f.auth;
    let now = now_unix();
    let (cookie, _) = a.sessions.issue(SESSION_USER, now);
    let ok = [("Origin", OK_ORIGIN)];
    let evil = [("Origin", "http://evil.com")];
    assert_eq!(a.check_ws(&req("GET", "/ws/events", &[], Some(&cookie)), now), Err(Denial::Origin));
    assert_eq!(a.check_ws(&req("GET", "/ws/events", &evil, Some(&cookie)), now), Err(Denial::Origin));
    assert_eq!(a.check_ws(&req("GET", "/ws/events", &ok, None), now), Err(Denial::Forbidden));
    assert!(matches!(a.check_ws(&req("GET", "/ws/events", &ok, Some(&cookie)), now), Ok(Principal::Session(_))));
    // The HTTP guard applies the same rule to /ws/ paths.
    assert_eq!(a.check_http(&req("GET", "/ws/events", &ok, None), now), Err(Denial::Forbidden));

    let off = fixture(|_| {});
    assert_eq!(off.auth.check_ws(&req("GET", "/ws/events", &[], None), now), Ok(Principal::Open));
    assert_eq!(off.auth.check_ws(&req("GET", "/ws/events", &evil, None), now), Err(Denial::Origin));
}

#[test]
fn proxy_signed_websockets_still_need_the_origin() {
    let f = fixture(with_proxy);
    let a = &f.auth;
    let now = now_unix();
    let t = now as i64;
    let sig = format!("t={t},v1={}", proxy::sign(b"proxysecret", "bob", t, "GET", "/ws/events"));
    let signed = [("Remote-User", "bob"), ("X-Proxy-Auth", sig.as_str())];
    assert_eq!(a.check_ws(&req("GET", "/ws/events", &signed, None), now), Err(Denial::Origin));
    let with_origin = [("Remote-User", "bob"), ("X-Proxy-Auth", sig.as_str()), ("Origin", OK_ORIGIN)];
    assert_eq!(
        a.check_ws(&req("GET", "/ws/events", &with_origin, None), now),
        Ok(Principal::Proxy { user: "bob".into() })
    );
}

#[test]
fn the_secure_flag_follows_the_setting_and_trusted_proxies_only() {
    let https = [("X-Forwarded-Proto", "HTTPS")];
    let mut untrusted = req("POST", "/login", &https, None);
    untrusted.peer = Some("192.0.2.1".parse().unwrap());
    let f = fixture(with_proxy);
    assert!(f.auth.cookie_secure(&req("POST", "/login", &https, None)));
    assert!(!f.auth.cookie_secure(&untrusted));
    assert!(!f.auth.cookie_secure(&req("POST", "/login", &[], None)));
    let mut tls = req("POST", "/login", &[], None);
    tls.tls = true;
    assert!(f.auth.cookie_secure(&tls));
    let always = fixture(|c| c.auth.cookie_secure = CookieSecure::Always);
    assert!(always.auth.cookie_secure(&req("POST", "/login", &[], None)));
    let never = fixture(|c| {
        with_proxy(c);
        c.auth.cookie_secure = CookieSecure::Never;
    });
    assert!(!never.auth.cookie_secure(&req("POST", "/login", &https, None)));
    assert!(!never.auth.cookie_secure(&tls));
}

#[test]
fn throttle_keys_use_forwarded_clients_only_behind_trusted_proxies() {
    let xff = [("X-Forwarded-For", "198.51.100.7")];
    let f = fixture(with_proxy);
    let key = f.auth.client_key(&req("POST", "/login", &xff, None)).unwrap();
    assert_eq!(key, ClientKey::new("198.51.100.7".parse().unwrap()));
    let plain = fixture(enabled);
    let key = plain.auth.client_key(&req("POST", "/login", &xff, None)).unwrap();
    assert_eq!(key, ClientKey::new("127.0.0.1".parse().unwrap()));
}

#[actix_web::test]
async fn login_checks_the_password_and_throttles() {
    let hash = crate::password::hash("s3cret").unwrap();
    let f = fixture(|c| {
        enabled(c);
        c.auth.password_hash = Some(hash);
    });
    let client = Some(ClientKey::new("192.0.2.1".parse().unwrap()));
    let cookie = f.auth.login(client, "s3cret".into()).await.unwrap();
    assert!(f.auth.sessions.verify(&cookie, now_unix()).is_ok());
    for _ in 0..5 {
        assert_eq!(f.auth.login(client, "wrong".into()).await, Err(LoginError::Incorrect));
    }
    let err = f.auth.login(client, "s3cret".into()).await.unwrap_err();
    assert!(matches!(err, LoginError::Throttled { .. }), "even the right password is refused: {err:?}");
    assert_eq!(err.to_string(), "Too many attempts — wait a few minutes.");
    let other = Some(ClientKey::new("192.0.2.2".parse().unwrap()));
    assert!(f.auth.login(other, "s3cret".into()).await.is_ok());
}

#[actix_web::test]
async fn without_a_hash_no_password_works_not_even_an_empty_one() {
    for hash in [None, Some(String::new())] {
        let f = fixture(|c| {
            c.auth.enabled = true;
            c.auth.password_hash = hash.clone();
        });
        for pw in ["", "clauster-dummy-do-not-use", "s3cret"] {
            assert_eq!(f.auth.login(None, pw.into()).await, Err(LoginError::Incorrect), "{hash:?} {pw:?}");
        }
    }
}
