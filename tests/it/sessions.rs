//! `GET /api/sessions`: Claude sessions started outside clauster, from `claude agents
//! --json`, attributed to the project whose folder they run in.

use std::fs;

use serde_json::json;

use crate::common::Fixture;

#[test]
fn external_sessions_are_listed_by_project_and_managed_ones_are_not() {
    let fx = Fixture::new();
    for p in ["alpha", "beta", "alpha/sub"] {
        fx.project(p);
    }
    fs::write(
        fx.claude_json(),
        json!({"projects": {fx.root.to_str().unwrap(): {"hasTrustDialogAccepted": true}}}).to_string(),
    )
    .unwrap();
    let item = |cwd: std::path::PathBuf, id: &str| json!({"pid": 4242, "cwd": cwd, "kind": "interactive", "startedAt": 1_764_000_000_000u64, "sessionId": id});
    let agents = fx.dir.path().join("agents.json");
    let sessions = json!({"sessions": [
        item(fx.root.join("alpha"), "in-alpha"),
        item(fx.root.join("beta"), "in-beta"),
        item(fx.root.join("alpha/sub"), "in-sub"),
        {"pid": 1, "cwd": fx.root.join("beta"), "sessionId": "no-start-time"},
    ]});
    fs::write(&agents, sessions.to_string()).unwrap();
    let cfg = fx.config("claude:\n  agents_json_poll_interval_seconds: 1\n");
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg).env("FAKE_CLAUDE_AGENTS_JSON", &agents);
    });
    let body = json!({"project": "alpha"}).to_string();
    let r = srv.request("POST", "/api/instances", &[("Content-Type", "application/json")], Some(body.as_bytes()));
    assert_eq!(r.status, 201, "{}", r.text());
    let got = srv.eventually("beta's external session", || {
        let s = srv.get_json("/api/sessions");
        (s.get("beta").is_some() && s.get("alpha").is_none()).then_some(s)
    });
    assert_eq!(
        got.as_object().unwrap().len(),
        1,
        "alpha's session is its bridge's own; sub-folders match nothing: {got}"
    );
    let b = &got["beta"][0];
    assert_eq!(
        (b["local_uuid"].as_str(), b["attribution"].as_str(), b["started_at"].as_u64()),
        (Some("in-beta"), Some("external"), Some(1_764_000_000_000))
    );

    // A broken `agents --json` keeps the last good list.
    fs::write(&agents, "{not json").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(srv.get_json("/api/sessions"), got);
}
