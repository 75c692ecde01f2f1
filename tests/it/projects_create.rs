//! `POST /api/projects`: create an empty project (optionally a git repository); refuse bad
//! names and existing folders; never leave a half-made folder behind.

use std::os::unix::fs::PermissionsExt;

use crate::common::{Fixture, names};

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn create(srv: &crate::common::Server, body: &str) -> crate::common::Response {
    srv.request("POST", "/api/projects", &[JSON], Some(body.as_bytes()))
}

#[test]
fn create_answers_201_and_the_project_is_listed_at_once() {
    let fx = Fixture::new();
    fx.project("alpha");
    let srv = fx.start();
    srv.get_json("/api/projects");

    let r = create(&srv, r#"{"name":"gamma","git_init":true}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    let p = r.json();
    assert_eq!(p["name"], "gamma");
    assert_eq!(p["is_git_repo"], true);
    assert_eq!(p["trust_state"], "untrusted");
    assert!(fx.root.join("gamma/.git").is_dir());
    // The reply came from the refreshed snapshot, so the list already has it.
    assert_eq!(names(&srv.get_json("/api/projects")), ["alpha", "gamma"]);
    assert_eq!(srv.get_json("/api/instances"), serde_json::json!([]), "creating never starts a bridge");

    let r = create(&srv, r#"{"name":"plain","git_init":0}"#);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["is_git_repo"], false);
    assert!(!fx.root.join("plain/.git").exists());
}

#[test]
fn create_refuses_existing_folders_bad_names_and_bad_bodies() {
    let fx = Fixture::new();
    fx.project("alpha");
    std::fs::write(fx.root.join("afile"), "x").unwrap();
    let srv = fx.start();

    for taken in ["alpha", "afile"] {
        let r = create(&srv, &format!(r#"{{"name":"{taken}"}}"#));
        assert_eq!(r.status, 409, "{}", r.text());
        assert!(r.detail().contains("already exists"), "{}", r.detail());
    }
    let long = "x".repeat(65);
    for bad in ["a/b", "../x", "a b", ".hidden", long.as_str()] {
        let r = create(&srv, &serde_json::json!({ "name": bad }).to_string());
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
        assert!(r.detail().contains("invalid project name"), "{}", r.detail());
    }
    for body in ["{}", r#"{"name":5}"#, r#"{"name":""}"#, "[1]"] {
        let r = create(&srv, body);
        assert_eq!(r.status, 422, "{body}: {}", r.text());
    }
    assert_eq!(create(&srv, "{}").detail(), "body must include a 'name' string");
    let r = srv.request("POST", "/api/projects", &[("Content-Type", "text/plain")], Some(br#"{"name":"t"}"#));
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(!fx.root.join("x").exists() && !fx.root.join("t").exists());
    let mut left: Vec<_> = std::fs::read_dir(&fx.root).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["afile", "alpha"], "nothing was created");
}

#[test]
fn a_failing_or_missing_git_leaves_no_folder_behind() {
    let fx = Fixture::new();
    // A git that fails, first on PATH.
    let git = fx.bin.join("git");
    std::fs::write(&git, "#!/bin/sh\necho \"fatal: cannot init: disk on fire\" >&2\nexit 128\n").unwrap();
    std::fs::set_permissions(&git, std::fs::Permissions::from_mode(0o755)).unwrap();
    let srv = fx.start();
    let r = create(&srv, r#"{"name":"broken","git_init":true}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.detail(), "git init failed: fatal: cannot init: disk on fire");
    assert!(!fx.root.join("broken").exists(), "the folder is removed");
    drop(srv);

    // No git anywhere on PATH.
    std::fs::remove_file(&git).unwrap();
    let cfg = fx.config("");
    let srv = fx.start_with(|c| {
        c.env("PATH", &fx.bin).arg("run").arg("-c").arg(&cfg);
    });
    let r = create(&srv, r#"{"name":"nogit","git_init":true}"#);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.detail().starts_with("git is not installed on the host"), "{}", r.detail());
    assert!(!fx.root.join("nogit").exists(), "no folder left behind (0.6.0 left one)");
    // Without git_init, git is not needed.
    assert_eq!(create(&srv, r#"{"name":"nogit"}"#).status, 201);
}
