//! Config loading through the real binary: built-in defaults, search order, errors that
//! name file, line, key and fix (exit 2), environment overrides, and the bind rule.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::common::{Fixture, names};

fn run_with_config(fx: &Fixture, yaml: &str) -> (i32, String) {
    let p = fx.dir.path().join("bad.yml");
    fs::write(&p, yaml).unwrap();
    let (status, _, stderr) = fx.run(|c| {
        c.args(["run", "-c"]).arg(&p);
    });
    (status.code().unwrap_or(-1), stderr)
}

#[test]
fn no_config_file_starts_on_built_in_defaults_and_creates_the_folders() {
    let fx = Fixture::new();
    fs::remove_dir(&fx.root).unwrap();
    // Port 0 only so parallel tests never collide; everything else is built in.
    let srv = fx.start_with(|c| {
        c.env("CLAUSTER_PORT", "0");
    });
    assert!(srv.logs().contains("built-in defaults"), "{}", srv.logs());
    assert!(srv.addr.starts_with("127.0.0.1:"), "{}", srv.addr);
    assert!(fx.home.join("projects").is_dir(), "~/projects is created");
    let state = fx.home.join(".clauster");
    assert!(state.is_dir());
    assert_eq!(fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(srv.get_json("/api/projects"), serde_json::json!([]));
}

#[test]
fn config_is_found_in_the_working_directory_and_through_clauster_config() {
    let fx = Fixture::new();
    fx.project("alpha");
    let cfg = fx.config("");
    fs::copy(&cfg, fx.cwd.join("clauster.yml")).unwrap();
    let srv = fx.start_with(|c| {
        c.arg("run");
    });
    assert!(srv.logs().contains(&fx.cwd.join("clauster.yml").display().to_string()), "{}", srv.logs());
    drop(srv);
    fs::remove_file(fx.cwd.join("clauster.yml")).unwrap();
    let srv = fx.start_with(|c| {
        c.env("CLAUSTER_CONFIG", &cfg);
    });
    assert_eq!(names(&srv.get_json("/api/projects")), ["alpha"]);

    let (status, _, stderr) = fx.run(|c| {
        c.env("CLAUSTER_CONFIG", fx.dir.path().join("missing.yml"));
    });
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("missing.yml") && stderr.contains("CLAUSTER_CONFIG"), "{stderr}");
}

#[test]
fn errors_name_the_file_line_key_and_fix_and_exit_2() {
    let fx = Fixture::new();
    let root = fx.root.display().to_string();
    let cases: Vec<(String, &str, &[&str])> = vec![
        (format!("projects_root: {root}\nport: [1, 2\n"), "syntax", &["bad.yml:2:", "fix:"]),
        (format!("projects_root: {root}\nport: abc\n"), "wrong type", &["bad.yml:2:7", "`port`", "whole number"]),
        (format!("projects_root: {root}\nport: 70000\n"), "out of range", &["bad.yml:2:", "`port`", "65535"]),
        (
            format!("projects_root: {root}\nclaude:\n  agents_json_poll_interval_seconds: 0\n"),
            "bad value",
            &["bad.yml:3:", "`claude.agents_json_poll_interval_seconds`", "at least 1"],
        ),
        (
            format!("projects_root: {root}\ninstance_defaults:\n  spawn_mode: sideways\n"),
            "bad enum",
            &["`instance_defaults.spawn_mode`", "same-dir"],
        ),
        ("port: 8080\n".to_string(), "missing projects_root", &["bad.yml", "`projects_root`", "is required"]),
        (format!("projects_root: {root}/nope\n"), "missing folder", &["`projects_root`", "does not exist", "mkdir"]),
        (
            format!("projects_root: {root}\nauth:\n  password_required: true\n"),
            "password without hash",
            &["auth.password_hash", "clauster hash-password"],
        ),
        ("- just\n- a list\n".to_string(), "non-mapping root", &["mapping"]),
    ];
    for (yaml, what, needles) in cases {
        let (code, stderr) = run_with_config(&fx, &yaml);
        assert_eq!(code, 2, "{what}: {stderr}");
        assert!(stderr.starts_with("clauster: config error: "), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        for n in needles {
            assert!(stderr.contains(n), "{what}: expected {n:?} in:\n{stderr}");
        }
    }
}

#[test]
fn unknown_keys_are_warned_about_not_fatal() {
    let fx = Fixture::new();
    let cfg = fx.config("foo: bar\nauth:\n  zzz: 1\n");
    let mut srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg);
    });
    srv.wait_log("unknown key `foo`");
    srv.wait_log("unknown key `auth.zzz`");
}

#[test]
fn environment_overrides_win_over_the_file() {
    let fx = Fixture::new();
    fx.project("from_file");
    let other = fx.dir.path().join("other-root");
    fs::create_dir_all(other.join("from_env")).unwrap();
    let cfg = fx.config("claude:\n  binary: /no/such/claude\n");
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg).env("CLAUSTER_PROJECTS_ROOT", &other).env("CLAUSTER_CLAUDE_BINARY", "claude");
    });
    assert_eq!(names(&srv.get_json("/api/projects")), ["from_env"]);
    let h = srv.eventually("the claude probe", || {
        let h = srv.get_json("/healthz");
        (!h["claude_ok"].is_null()).then_some(h)
    });
    assert_eq!(h["claude_ok"], true, "CLAUSTER_CLAUDE_BINARY replaced the file's bad path");

    let (status, _, stderr) = fx.run(|c| {
        c.args(["run", "-c"]).arg(&cfg).env("CLAUSTER_PORT", "eighty");
    });
    assert_eq!(status.code(), Some(2));
    assert!(stderr.contains("CLAUSTER_PORT") && stderr.contains("`port`"), "{stderr}");
}

#[test]
fn a_non_loopback_bind_needs_enforced_auth_and_says_which_keys_to_set() {
    let fx = Fixture::new();
    let root = fx.root.display().to_string();
    for host in ["0.0.0.0", "::", "192.0.2.1"] {
        let (code, stderr) = run_with_config(&fx, &format!("projects_root: {root}\nhost: \"{host}\"\n"));
        assert_eq!(code, 2, "{host}: {stderr}");
        for key in [
            "`host`",
            "auth.enabled",
            "auth.password_required",
            "auth.reverse_proxy.enabled",
            "allow_unauthenticated_network",
        ] {
            assert!(stderr.contains(key), "{key} missing: {stderr}");
        }
    }
    // auth.enabled alone enforces nothing (spec scenario 69).
    let (status, _, stderr) = fx.run(|c| {
        c.env("CLAUSTER_HOST", "0.0.0.0").env("CLAUSTER_PORT", "0").env("CLAUSTER_AUTH_ENABLED", "true");
    });
    assert_eq!(status.code(), Some(2), "{stderr}");
    let (status, _, stderr) = fx.run(|c| {
        c.env("CLAUSTER_HOST", "0.0.0.0")
            .env("CLAUSTER_PORT", "0")
            .env("CLAUSTER_AUTH_ENABLED", "true")
            .env("CLAUSTER_AUTH_PASSWORD_REQUIRED", "true");
    });
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("auth.password_hash") && stderr.contains("clauster hash-password"), "{stderr}");
    // A reverse proxy must come with a secret and the proxy's address (0.6.0 quirk 5).
    for (yaml, key) in [
        ("  reverse_proxy:\n    enabled: true\n    trusted_ips: [127.0.0.1]\n", "`auth.reverse_proxy.shared_secret`"),
        (
            "  reverse_proxy:\n    enabled: true\n    shared_secret: s3cret-s3cret-s3cret\n",
            "`auth.reverse_proxy.trusted_ips`",
        ),
    ] {
        let (code, stderr) = run_with_config(&fx, &format!("projects_root: {root}\nauth:\n  enabled: true\n{yaml}"));
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.starts_with("clauster: config error: ") && stderr.contains(key), "{key}: {stderr}");
    }

    // Enforced by password: it starts on every interface (tests only ever call loopback).
    let hash = crate::auth::CFFI_HASH;
    let mut srv = fx.start_with(|c| {
        c.env("CLAUSTER_HOST", "0.0.0.0")
            .env("CLAUSTER_PORT", "0")
            .env("CLAUSTER_PROJECTS_ROOT", &fx.root)
            .env("CLAUSTER_AUTH_ENABLED", "true")
            .env("CLAUSTER_AUTH_PASSWORD_REQUIRED", "true")
            .env("CLAUSTER_AUTH_PASSWORD_HASH", hash);
    });
    assert!(srv.addr.starts_with("0.0.0.0:"), "{}", srv.addr);
    srv.addr = srv.addr.replace("0.0.0.0", "127.0.0.1");
    assert_eq!(srv.get("/api/projects").status, 401);
    assert_eq!(srv.get_json("/healthz"), serde_json::json!({"status": "ok"}));
    drop(srv);
    // The explicit opt-out starts too, loudly.
    let mut srv = fx.start_with(|c| {
        c.env("CLAUSTER_HOST", "0.0.0.0")
            .env("CLAUSTER_PORT", "0")
            .env("CLAUSTER_AUTH_ALLOW_UNAUTHENTICATED_NETWORK", "yes");
    });
    srv.wait_log("NO enforced authentication");
    drop(srv);
    // Any 127/8 address is loopback.
    let cfg = fx.config("host: 127.0.0.2\n");
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg);
    });
    assert!(srv.addr.starts_with("127.0.0.2:"));
}
