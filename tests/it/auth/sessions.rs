//! Sign-in, the session cookie, expiry, logout (one session and everywhere, surviving a
//! restart), the session secret and the login throttle. Spec §14 scenarios 6-23.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use clauster::auth::session::{Claims, SessionKey};

use super::*;
use crate::common::Fixture;

#[test]
fn strangers_get_401_from_the_api_and_a_redirect_from_pages() {
    let fx = Fixture::new();
    fx.project("alpha");
    let srv = start(&fx, &auth_yaml(""));
    // 6, 7
    let r = srv.get("/");
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    let r = srv.get("/api/projects");
    assert_eq!((r.status, r.detail().as_str()), (401, "authentication required"));
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    for path in ["/nope", "/logout", "/api"] {
        let r = srv.get(path);
        assert_eq!((r.status, r.header("location")), (303, Some("/login")), "{path}");
    }
    assert_eq!(srv.get("/api/doctor").status, 401);
    // 8: the reduced health body; 9: static files are public.
    assert_eq!(srv.get("/healthz").json(), serde_json::json!({"status": "ok"}));
    let icon = srv.get("/static/favicon.svg");
    assert_eq!((icon.status, icon.header("content-type")), (200, Some("image/svg+xml")));
    let page = srv.get("/login");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<title>clauster — Sign in</title>"), "{}", page.text());

    // Signed in, the same requests go through, and /healthz tells everything.
    let c = session(&srv);
    assert_eq!(call(&srv, "GET", "/api/projects", &c, &[]).json()[0]["name"], "alpha");
    assert_eq!(call(&srv, "GET", "/", &c, &[]).status, 200);
    let h = call(&srv, "GET", "/healthz", &c, &[]).json();
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert!(h.get("claude_ok").is_some() && h.get("instances_running").is_some(), "{h}");
}

#[test]
fn a_wrong_password_is_401_and_the_right_one_sets_a_strict_cookie() {
    let fx = Fixture::new();
    let srv = start(&fx, &auth_yaml(""));
    // 12
    let r = login(&srv, "wrong");
    assert_eq!(r.status, 401);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    assert!(r.text().contains("Incorrect password.") && r.text().contains("Sign in to continue"), "{}", r.text());
    assert!(r.set_cookie("clauster_session").is_none());
    // 13, with the argon2-cffi hash from the config; SameSite is Strict, not 0.6.0's lax.
    let r = login(&srv, "s3cret");
    assert_eq!((r.status, r.header("location")), (303, Some("/")));
    let set = r.set_cookie("clauster_session").unwrap();
    let attrs: Vec<&str> = set.split(';').map(str::trim).collect();
    for want in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=604800"] {
        assert!(attrs.contains(&want), "{want} missing: {set}");
    }
    assert!(!attrs.iter().any(|a| a.eq_ignore_ascii_case("secure")), "no Secure over plain http: {set}");
    let c = r.cookie("clauster_session").unwrap();
    let claims = claims(&c);
    assert_eq!((claims["u"].as_str(), claims["e"].as_u64()), (Some("admin"), Some(0)), "{claims}");
    // 17
    let r = call(&srv, "GET", "/login", &c, &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/")));
    // The password never reaches the log.
    assert!(!srv.logs().contains("s3cret") && !srv.logs().contains("wrong\""), "{}", srv.logs());
}

#[test]
fn a_tampered_cookie_is_refused() {
    let fx = Fixture::new();
    let srv = start(&fx, &auth_yaml(""));
    let c = session(&srv);
    assert_eq!(call(&srv, "GET", "/api/projects", &c, &[]).status, 200);
    let value = c.split_once('=').unwrap().1;
    let parts: Vec<&str> = value.split('.').collect();
    let mut forged = claims(&c);
    forged["exp"] = serde_json::json!(forged["exp"].as_u64().unwrap() + 1_000_000);
    let forged = URL_SAFE_NO_PAD.encode(forged.to_string());
    let flipped =
        if parts[2].starts_with('A') { parts[2].replacen('A', "B", 1) } else { format!("A{}", &parts[2][1..]) };
    for bad in [
        format!("clauster_session=v1.{forged}.{}", parts[2]),
        format!("clauster_session=v1.{}.{flipped}", parts[1]),
        format!("clauster_session={value}x"),
        "clauster_session=garbage".to_string(),
    ] {
        let r = call(&srv, "GET", "/api/projects", &bad, &[]);
        assert_eq!(r.status, 401, "{bad}");
    }
}

/// Cookies minted with a known secret: the server must check the times itself.
#[test]
fn expiry_is_enforced_by_the_server() {
    let fx = Fixture::new();
    let secret = "0123456789abcdef0123456789abcdef";
    let srv =
        start_with_env(&fx, &auth_yaml("  session_max_age_seconds: 3600\n"), &[("CLAUSTER_SESSION_SECRET", secret)]);
    let key = SessionKey::derive(secret.as_bytes());
    let mint = |iat: i64, exp: i64| {
        let c = Claims { sid: "minted".into(), user: "admin".into(), epoch: 0, iat: iat as u64, exp: exp as u64 };
        format!("clauster_session={}", key.seal(&c))
    };
    let now = now();
    let status = |c: String| call(&srv, "GET", "/api/projects", &c, &[]).status;
    assert_eq!(status(mint(now - 10, now + 3000)), 200, "the minted cookie is genuine");
    // 19: older than session_max_age_seconds, whatever its own exp says.
    assert_eq!(status(mint(now - 3700, now + 3000)), 401);
    assert_eq!(status(mint(now - 100, now - 5)), 401, "past its exp");
    assert_eq!(status(mint(now + 3000, now + 6000)), 401, "issued in the future");
}

#[test]
fn a_session_expires_in_real_time() {
    let fx = Fixture::new();
    let srv = start(&fx, &auth_yaml("  session_max_age_seconds: 1\n"));
    let r = login(&srv, "s3cret");
    assert!(r.set_cookie("clauster_session").unwrap().contains("Max-Age=1"));
    let c = r.cookie("clauster_session").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2200));
    assert_eq!(call(&srv, "GET", "/api/projects", &c, &[]).status, 401);
}

#[test]
fn logout_ends_this_session_only_and_a_restart_keeps_it_ended() {
    let fx = Fixture::new();
    let mut srv = start(&fx, &auth_yaml(""));
    let (a, b) = (session(&srv), session(&srv));
    let o = origin(&srv);
    // 21: without a session, logout changes nothing.
    let r = srv.request("POST", "/logout", &[("Origin", &o)], None);
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    assert_eq!(call(&srv, "GET", "/api/projects", &a, &[]).status, 200);
    // 20
    let r = call(&srv, "POST", "/logout", &a, &[("Origin", &o)]);
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    let removal = r.set_cookie("clauster_session").unwrap();
    assert!(removal.contains("Max-Age=0") && removal.starts_with("clauster_session=;"), "{removal}");
    assert_eq!(call(&srv, "GET", "/api/projects", &a, &[]).status, 401, "the logged-out cookie is dead");
    assert_eq!(call(&srv, "GET", "/api/projects", &b, &[]).status, 200, "other sessions live on");
    assert!(!fx.state.join("session.epoch").exists(), "a plain logout does not end every session");
    let revoked = fx.state.join("session.revoked");
    assert_eq!(fs::metadata(&revoked).unwrap().permissions().mode() & 0o777, 0o600);
    // 22: after a restart the secret is the same and the revocation holds.
    let secret = fs::read(fx.state.join("session.secret")).unwrap();
    srv.stop_with(crate::common::SIGTERM);
    let srv = start(&fx, &auth_yaml(""));
    assert_eq!(fs::read(fx.state.join("session.secret")).unwrap(), secret);
    assert_eq!(call(&srv, "GET", "/api/projects", &a, &[]).status, 401);
    assert_eq!(call(&srv, "GET", "/api/projects", &b, &[]).status, 200, "restarts do not log anyone out");
}

#[test]
fn log_out_everywhere_ends_every_session_and_a_restart_keeps_them_ended() {
    let fx = Fixture::new();
    let mut srv = start(&fx, &auth_yaml(""));
    let (a, b) = (session(&srv), session(&srv));
    let o = origin(&srv);
    let form = [("Origin", o.as_str()), ("Cookie", a.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
    let r = srv.request("POST", "/logout", &form, Some(b"everywhere=1"));
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    assert_eq!(fs::read_to_string(fx.state.join("session.epoch")).unwrap().trim(), "1");
    for c in [&a, &b] {
        assert_eq!(call(&srv, "GET", "/api/projects", c, &[]).status, 401);
    }
    let fresh = session(&srv);
    assert_eq!(claims(&fresh)["e"], 1);
    assert_eq!(call(&srv, "GET", "/api/projects", &fresh, &[]).status, 200);
    srv.stop_with(crate::common::SIGTERM);
    let srv = start(&fx, &auth_yaml(""));
    for c in [&a, &b] {
        assert_eq!(call(&srv, "GET", "/api/projects", c, &[]).status, 401, "still ended after a restart");
    }
    assert_eq!(call(&srv, "GET", "/api/projects", &fresh, &[]).status, 200);
    // The logout page offers both.
    let page = call(&srv, "GET", "/logout", &fresh, &[]);
    assert_eq!(page.status, 200);
    assert!(page.text().contains("name=\"everywhere\""), "{}", page.text());
}

#[test]
fn the_session_secret_can_come_from_the_environment() {
    let fx = Fixture::new();
    let cfg = fx.config(&auth_yaml(""));
    // 23
    let (status, _, stderr) = fx.run(|c| {
        c.args(["run", "-c"]).arg(&cfg).env("CLAUSTER_SESSION_SECRET", "x".repeat(31));
    });
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("CLAUSTER_SESSION_SECRET is 31 bytes") && stderr.contains("at least 32"), "{stderr}");
    assert!(!stderr.contains(&"x".repeat(31)), "the secret itself is never printed");

    let secret = "y".repeat(32);
    let one = start_with_env(&fx, &auth_yaml(""), &[("CLAUSTER_SESSION_SECRET", &secret)]);
    let other_fx = Fixture::new();
    let two = start_with_env(&other_fx, &auth_yaml(""), &[("CLAUSTER_SESSION_SECRET", &secret)]);
    let c = session(&one);
    assert_eq!(call(&two, "GET", "/api/projects", &c, &[]).status, 200, "a shared secret shares sessions");
    assert!(!fx.state.join("session.secret").exists(), "no file when the environment has the secret");
    assert!(!one.logs().contains(&secret), "{}", one.logs());
    // Without it, each server has its own secret file, 0600.
    let fx3 = Fixture::new();
    let three = start(&fx3, &auth_yaml(""));
    assert_eq!(call(&three, "GET", "/api/projects", &c, &[]).status, 401);
}

#[test]
fn five_failures_lock_a_client_out_even_with_the_right_password() {
    let fx = Fixture::new();
    let srv = start(&fx, &auth_yaml(""));
    for i in 0..5 {
        assert_eq!(login(&srv, "wrong").status, 401, "attempt {i}");
    }
    // 16
    let r = login(&srv, "s3cret");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("Too many attempts — wait a few minutes."), "{}", r.text());
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&wait), "{wait}");
    assert!(r.set_cookie("clauster_session").is_none());
    // Without a trusted proxy, X-Forwarded-For is just a header: no escape through it.
    let r = login_with(&srv, "s3cret", &[("X-Forwarded-For", "198.51.100.9")]);
    assert_eq!(r.status, 429);
}

#[test]
fn with_no_password_hash_nobody_signs_in() {
    let fx = Fixture::new();
    let mut srv = start(&fx, "auth:\n  enabled: true\n  password_hash: \"\"\n");
    srv.wait_log("nobody can sign in");
    for pw in ["", "clauster-dummy-do-not-use", "s3cret"] {
        assert_eq!(login(&srv, pw).status, 401, "{pw:?}");
    }
}
