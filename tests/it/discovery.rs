//! Every discovery rule through `GET /api/projects`, and live refresh from file events.

use std::fs;
use std::os::unix::fs::symlink;

use serde_json::json;

use crate::common::{Fixture, names};

#[test]
fn lists_exactly_the_projects_by_every_rule() {
    let fx = Fixture::new();
    for n in ["beta", "Alpha", "alpha", "zeta_9", "mid-dash"] {
        fx.project(n);
    }
    for skipped in [".hidden", "bad name", "a.b", "café", "ünï", &"x".repeat(65)] {
        fx.project(skipped);
    }
    fx.project(&"y".repeat(64));
    fs::write(fx.root.join("plainfile"), "").unwrap();
    symlink(fx.root.join("beta"), fx.root.join("linkdir")).unwrap();
    symlink(fx.root.join("plainfile"), fx.root.join("linkfile")).unwrap();
    symlink(fx.root.join("nowhere"), fx.root.join("broken")).unwrap();
    let alpha = fx.root.join("alpha");
    fs::create_dir(alpha.join(".git")).unwrap();
    fs::write(alpha.join("CLAUDE.md"), "# alpha\n").unwrap();
    fs::create_dir(alpha.join(".claude")).unwrap();
    fs::write(fx.root.join("beta/.git"), "gitdir: /elsewhere\n").unwrap();
    fs::create_dir(fx.root.join("beta/CLAUDE.md")).unwrap();

    let srv = fx.start();
    let list = srv.get_json("/api/projects");
    assert_eq!(names(&list), ["Alpha", "alpha", "beta", "linkdir", "mid-dash", &"y".repeat(64), "zeta_9"]);
    let by = |n: &str| list.as_array().unwrap().iter().find(|p| p["name"] == n).unwrap().clone();
    let a = by("alpha");
    assert_eq!(a["path"], json!(alpha));
    assert_eq!(
        (a["is_git_repo"].clone(), a["has_claude_md"].clone(), a["has_claude_dir"].clone()),
        (json!(true), json!(true), json!(true))
    );
    assert_eq!(a["trust_state"], "untrusted");
    assert_eq!(a["allow_bypass_permissions"], false);
    let b = by("beta");
    assert_eq!(b["is_git_repo"], true, "a .git file counts");
    assert_eq!(b["has_claude_md"], false, "CLAUDE.md must be a regular file");
    assert_eq!(by("linkdir")["path"], json!(fx.root.join("linkdir")), "symlinked projects keep the link path");
    assert_eq!(by("mid-dash")["has_claude_dir"], false);
}

#[test]
fn trust_is_inherited_from_an_ancestor_and_resolved_through_symlinks() {
    let fx = Fixture::new();
    fx.project("alpha");
    fx.project("beta");
    let outside = fx.dir.path().join("outside/real");
    fs::create_dir_all(&outside).unwrap();
    symlink(&outside, fx.root.join("linked")).unwrap();
    let claude_json = json!({
        "numStartups": 7,
        "projects": {
            fx.home.to_str().unwrap(): {"hasTrustDialogAccepted": false},
            fx.root.join("alpha").to_str().unwrap(): {"hasTrustDialogAccepted": true},
            fs::canonicalize(fx.dir.path().join("outside")).unwrap().to_str().unwrap(): {"hasTrustDialogAccepted": true},
        }
    });
    fs::write(fx.claude_json(), serde_json::to_string_pretty(&claude_json).unwrap()).unwrap();
    fx.project("alpha/sub");
    let srv = fx.start();
    let list = srv.get_json("/api/projects");
    let trust: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["trust_state"].as_str().unwrap()))
        .collect();
    assert_eq!(trust, [("alpha", "trusted"), ("beta", "untrusted"), ("linked", "trusted")]);

    // Trust for the whole root makes every project trusted, without a restart.
    let mut j = claude_json;
    j["projects"][fx.root.to_str().unwrap()] = json!({"hasTrustDialogAccepted": true});
    let tmp = fx.home.join(".claude.json.tmp-test");
    fs::write(&tmp, serde_json::to_string(&j).unwrap()).unwrap();
    fs::rename(&tmp, fx.claude_json()).unwrap();
    srv.eventually("beta to become trusted via the root", || {
        let list = srv.get_json("/api/projects");
        list.as_array().unwrap().iter().all(|p| p["trust_state"] == "trusted").then_some(())
    });
}

#[test]
fn new_removed_and_badged_projects_appear_without_a_restart() {
    let fx = Fixture::new();
    fx.project("alpha");
    let srv = fx.start();
    assert_eq!(names(&srv.get_json("/api/projects")), ["alpha"]);

    fx.project("gamma");
    srv.eventually("gamma to appear", || (names(&srv.get_json("/api/projects")) == ["alpha", "gamma"]).then_some(()));

    fs::write(fx.root.join("gamma/CLAUDE.md"), "# g\n").unwrap();
    srv.eventually("the CLAUDE.md badge", || {
        let list = srv.get_json("/api/projects");
        (list[1]["has_claude_md"] == true).then_some(())
    });

    fs::remove_dir(fx.root.join("alpha")).unwrap();
    srv.eventually("alpha to disappear", || (names(&srv.get_json("/api/projects")) == ["gamma"]).then_some(()));
}

#[test]
fn bypass_ceiling_comes_from_config() {
    let fx = Fixture::new();
    fx.project("alpha");
    fx.project("beta");
    let cfg = fx.config("projects:\n  beta:\n    allow_bypass_permissions: true\n");
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg);
    });
    let list = srv.get_json("/api/projects");
    assert_eq!(list[0]["allow_bypass_permissions"], false);
    assert_eq!(list[1]["allow_bypass_permissions"], true);
}
