//! `GET/PUT /api/projects/{name}/claude-md`: the editor's read, its guarded save, and the
//! audit log.

use std::fs;

use serde_json::{Value, json};

use crate::common::{Fixture, Response, Server};

const PATH: &str = "/api/projects/alpha/claude-md";

fn put(srv: &Server, body: &Value) -> Response {
    srv.request("PUT", PATH, &[("Content-Type", "application/json")], Some(body.to_string().as_bytes()))
}

fn sha(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn audit(fx: &Fixture) -> Vec<Value> {
    fs::read_to_string(fx.state.join("claude_md_audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn read_normalises_newlines_and_404s_unknown_projects() {
    let fx = Fixture::new();
    fs::write(fx.project("alpha").join("CLAUDE.md"), "# alpha\r\nline\rend\n").unwrap();
    let srv = fx.start();
    let doc = srv.get_json(PATH);
    assert_eq!(doc["exists"], true);
    assert_eq!(doc["content"], "# alpha\nline\nend\n");
    assert_eq!(doc["sha256"], sha("# alpha\nline\nend\n"));
    assert_eq!(doc["size"], 17);
    assert_eq!(doc["bridge_running"], false);
    for bad in ["/api/projects/nope/claude-md", "/api/projects/a.b/claude-md"] {
        let r = srv.get(bad);
        assert_eq!(r.status, 404, "{}", r.text());
        assert!(r.detail().starts_with("no such project:"), "{}", r.detail());
    }
    fx.project("beta");
    let missing = srv.eventually("beta listed", || {
        let r = srv.get("/api/projects/beta/claude-md");
        (r.status == 200).then(|| r.json())
    });
    assert_eq!(missing, json!({"exists": false, "content": "", "sha256": null, "size": 0, "bridge_running": false}));
}

#[test]
fn save_is_trust_gated_capped_hash_guarded_and_audited() {
    let fx = Fixture::new();
    fs::write(fx.project("alpha").join("CLAUDE.md"), "# alpha\n").unwrap();
    let srv = fx.start();

    let r = put(&srv, &json!({"content": "x".repeat(70_000)}));
    assert_eq!(r.status, 403, "untrusted wins over oversized: {}", r.text());
    assert!(r.detail().contains("is not a trusted directory"), "{}", r.detail());
    assert_eq!(srv.post("/api/projects/alpha/trust").status, 200);

    assert_eq!(put(&srv, &json!({"content": 5})).detail(), "body must include a 'content' string");
    assert_eq!(put(&srv, &json!({"content": "x", "base_sha256": 5})).detail(), "base_sha256 must be a string");

    let r = put(&srv, &json!({"content": "new", "base_sha256": sha("stale")}));
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(r.json()["current_sha256"], sha("# alpha\n"));
    assert_eq!(fs::read_to_string(fx.root.join("alpha/CLAUDE.md")).unwrap(), "# alpha\n");

    let r = put(&srv, &json!({"content": "# alpha v2\n", "base_sha256": sha("# alpha\n")}));
    assert_eq!(r.status, 200, "{}", r.text());
    let doc = r.json();
    assert_eq!(
        (doc["exists"].clone(), doc["sha256"].clone(), doc["size"].clone()),
        (json!(true), json!(sha("# alpha v2\n")), json!(11))
    );
    assert_eq!(fs::read_to_string(fx.root.join("alpha/CLAUDE.md")).unwrap(), "# alpha v2\n");

    let r = put(&srv, &json!({"content": "a".repeat(65_537)}));
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(r.detail(), "CLAUDE.md is 65537 bytes, over the 65536 byte cap");
    let full = "é".repeat(32_768);
    let r = put(&srv, &json!({"content": full}));
    assert_eq!(r.status, 200, "exactly 65536 bytes: {}", r.text());
    assert_eq!(fs::read(fx.root.join("alpha/CLAUDE.md")).unwrap().len(), 65_536);

    let lines = audit(&fx);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let l = &lines[0];
    assert_eq!(
        (l["project"].as_str(), l["action"].as_str(), l["user"].as_str()),
        (Some("alpha"), Some("update"), Some("local"))
    );
    assert_eq!(l["sha256_before"], sha("# alpha\n"));
    assert_eq!(l["sha256_after"], sha("# alpha v2\n"));
    assert_eq!(l["size"], 11);
    assert!(l["ts"].as_str().is_some_and(|t| t.starts_with("20")), "{l}");
    assert!(!fs::read_to_string(fx.state.join("claude_md_audit.log")).unwrap().contains("alpha v2"), "no content");
    let names: Vec<_> = fs::read_dir(fx.root.join("alpha")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["CLAUDE.md"], "no temp files left");
}

#[test]
fn create_without_a_base_and_conflict_with_one() {
    let fx = Fixture::new();
    fx.project("alpha");
    fs::write(
        fx.claude_json(),
        json!({"projects": {fx.root.to_str().unwrap(): {"hasTrustDialogAccepted": true}}}).to_string(),
    )
    .unwrap();
    let srv = fx.start();
    let r = put(&srv, &json!({"content": "x", "base_sha256": "abc"}));
    assert_eq!(r.status, 409, "a missing file conflicts with any base: {}", r.text());
    let r = put(&srv, &json!({"content": "# new\n", "base_sha256": null}));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(audit(&fx)[0]["action"], "create");
    assert_eq!(audit(&fx)[0]["sha256_before"], Value::Null);
}

#[test]
fn a_symlink_out_of_the_project_is_refused_and_left_untouched() {
    let fx = Fixture::new();
    let outside = fx.home.join("outside.txt");
    fs::write(&outside, "root:x:0:0\n").unwrap();
    let alpha = fx.project("alpha");
    std::os::unix::fs::symlink(&outside, alpha.join("CLAUDE.md")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", fx.project("beta").join("CLAUDE.md")).unwrap();
    fs::write(
        fx.claude_json(),
        json!({"projects": {fx.root.to_str().unwrap(): {"hasTrustDialogAccepted": true}}}).to_string(),
    )
    .unwrap();
    let srv = fx.start();
    for project in ["alpha", "beta"] {
        let r = srv.get(&format!("/api/projects/{project}/claude-md"));
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(r.detail().starts_with("CLAUDE.md resolves outside the project directory"), "{}", r.detail());
    }
    let r = put(&srv, &json!({"content": "pwned"}));
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(fs::read_to_string(&outside).unwrap(), "root:x:0:0\n");
    assert!(fs::symlink_metadata(alpha.join("CLAUDE.md")).unwrap().file_type().is_symlink());
    assert!(audit(&fx).is_empty());
}
