//! Real clones: the system `git`, through clauster's API and progress socket, from a git
//! smart-HTTP server over HTTPS that each test starts itself. The guard refuses loopback,
//! so the server lives in a network namespace the test creates (`ip netns add`), reached
//! over a veth pair in an unused 10.251.x.y/30; test traffic goes nowhere else. The server
//! is a stdlib Python script running `git http-backend` as CGI, with a self-signed
//! certificate clauster's git trusts through `GIT_SSL_CAINFO` in clauster's environment.
//!
//! Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN), `ip`, `openssl`, `python3` and `git`; without
//! them each test says SKIPPED on stderr and passes. Under `CI` a missing tool is a failure
//! (`.ci/run` installs them); missing privileges are still a skip.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::ws::{Next, Ws};
use crate::common::{Fixture, PATIENCE, Response, Server};

mod lab;

use lab::Lab;

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// Makes the fixture user's `~/.gitconfig` hostile: every hook runs a script and a
/// credential helper is set, both recording that they ran in the returned file. clauster's
/// git must read none of it.
fn hostile_gitconfig(fx: &Fixture) -> PathBuf {
    let base = std::fs::canonicalize(fx.dir.path()).unwrap();
    let (hooks, marker, helper) = (base.join("hooks"), base.join("ran.log"), base.join("credential-helper"));
    std::fs::create_dir_all(&hooks).unwrap();
    let script = |path: &Path, what: &str| {
        std::fs::write(path, format!("#!/bin/sh\necho \"{what} $1 $PWD\" >> '{}'\n", marker.display())).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    script(&hooks.join("post-checkout"), "post-checkout");
    script(&helper, "credential");
    let cfg = format!("[core]\n\thooksPath = {}\n[credential]\n\thelper = {}\n", hooks.display(), helper.display());
    std::fs::write(fx.home.join(".gitconfig"), cfg).unwrap();
    marker
}

fn clone(srv: &Server, body: Value) -> Response {
    srv.request("POST", "/api/projects/clone", &[JSON], Some(body.to_string().as_bytes()))
}

/// Starts a clone and returns its job id.
fn start_clone(srv: &Server, name: &str, url: &str, shallow: bool) -> String {
    let r = clone(srv, json!({"name": name, "url": url, "shallow": shallow}));
    assert_eq!(r.status, 202, "{}", r.text());
    r.json()["job_id"].as_str().unwrap().to_string()
}

/// Every frame up to the terminal one, and how the socket closed.
fn follow(mut ws: Ws, mut frames: Vec<Value>) -> (Vec<Value>, Next) {
    let rest = ws.until("the done frame", |t| t.contains(r#""type":"done""#));
    frames.extend(rest.iter().map(|f| serde_json::from_str::<Value>(f).unwrap()));
    (frames, ws.next(Duration::from_secs(5)))
}

fn root_entries(fx: &Fixture) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(&fx.root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn a_real_https_clone_streams_progress_and_lands_locked_down() {
    let Some(lab) = Lab::start("a_real_https_clone_streams_progress_and_lands_locked_down", true) else { return };
    let fx = Fixture::new();
    let marker = hostile_gitconfig(&fx);
    let srv = lab.clauster(&fx, &format!("  allowed_private_cidrs: [\"{}\"]\n  timeout_seconds: 60\n", lab.cidr));
    let url = lab.url("repo.git");

    let job = start_clone(&srv, "real", &url, false);
    let mut ws = Ws::connect(&srv.addr, &format!("/ws/clone-progress/{job}"));
    // The pack is held back until the socket is watching, so no percent has been seen yet.
    let Next::Text(first) = ws.next(PATIENCE) else { panic!("no first frame\n{}", srv.logs()) };
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!((first["type"].as_str(), &first["percent"]), (Some("progress"), &Value::Null), "{first}");
    lab.open_gate();
    let (frames, close) = follow(ws, vec![first]);

    let with_percent: Vec<&Value> = frames.iter().filter(|f| f["percent"].is_u64()).collect();
    assert!(!with_percent.is_empty(), "no progress frame with a percent: {frames:?}");
    assert!(with_percent.iter().all(|f| f["type"] == "progress" && f["percent"].as_u64() <= Some(100)), "{frames:?}");
    assert!(frames.iter().any(|f| f["phase"] == "Receiving" && f["percent"].is_u64()), "{frames:?}");
    assert_eq!(frames.last().unwrap(), &json!({"type": "done", "status": "done", "error": null}), "{frames:?}");
    assert_eq!(close, Next::Closed(Some(1000)));

    // The project: every file, byte for byte, the whole history, in place, nothing hidden left.
    let p = fx.root.join("real");
    assert!(p.join(".git").is_dir());
    for f in ["README.md", "CLAUDE.md", ".claude/settings.json", "data/a.bin", "data/b.bin", ".gitmodules"] {
        assert!(std::fs::read(p.join(f)).unwrap() == std::fs::read(lab.work.join(f)).unwrap(), "{f} differs");
    }
    assert_eq!(lab.git(&p, &["rev-list", "--count", "HEAD"]).trim(), "3", "a full clone, not a shallow one");
    assert_eq!(lab.git(&p, &["tag", "--list"]).trim(), "", "--no-tags");
    assert_eq!(root_entries(&fx), ["real"]);

    let project = srv.eventually("the clone listed", || {
        let list = srv.get_json("/api/projects");
        list.as_array().unwrap().iter().find(|p| p["name"] == "real").cloned()
    });
    assert_eq!(
        (&project["is_git_repo"], &project["has_claude_md"], &project["has_claude_dir"], &project["trust_state"]),
        (&json!(true), &json!(true), &json!(true), &json!("untrusted")),
        "{project}"
    );
    assert_eq!(srv.get("/api/instances/real").status, 404, "a clone never starts a bridge");
    assert_eq!(srv.get_json("/api/instances"), json!([]));

    // Locked down for real: the submodule was neither fetched nor recursed into, and the
    // user's ~/.gitconfig (a post-checkout hook, a credential helper) was never read.
    assert!(p.join("vendor/sub").is_dir() && std::fs::read_dir(p.join("vendor/sub")).unwrap().next().is_none());
    assert!(!p.join(".git/modules").exists());
    let requests = lab.requests();
    assert!(requests.iter().all(|r| !r.contains("sub.git")), "{requests:?}");
    assert!(requests.iter().any(|r| r == "POST /repo.git/git-upload-pack"), "{requests:?}");
    let config = std::fs::read_to_string(p.join(".git/config")).unwrap();
    assert!(config.contains(&format!("url = {url}")), "{config}");
    assert!(!config.contains("credential") && !config.contains("hooksPath"), "{config}");
    assert!(!marker.exists(), "{}", std::fs::read_to_string(&marker).unwrap());
    // The control: the same clone without the lockdown runs the hook.
    let control = fx.dir.path().join("control");
    let out = lab.unlocked_clone(&fx, &url, &control);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let ran = std::fs::read_to_string(&marker).unwrap();
    assert!(ran.contains("post-checkout") && ran.contains("control") && !ran.contains("projects"), "{ran}");
}

#[test]
fn a_real_clone_over_the_size_cap_or_refused_credentials_leaves_nothing() {
    let test = "a_real_clone_over_the_size_cap_or_refused_credentials_leaves_nothing";
    let Some(lab) = Lab::start(test, false) else { return };
    let fx = Fixture::new();
    let marker = hostile_gitconfig(&fx);
    let srv = lab.clauster(&fx, &format!("  allowed_private_cidrs: [\"{}\"]\n  max_mb: 1\n", lab.cidr));
    let ip = lab.ip;

    let job = start_clone(&srv, "big", &lab.url("repo.git"), true);
    let (frames, _) = follow(Ws::connect(&srv.addr, &format!("/ws/clone-progress/{job}")), Vec::new());
    let last = frames.last().unwrap();
    assert_eq!((&last["type"], &last["status"]), (&json!("done"), &json!("error")), "{frames:?}");
    let err = last["error"].as_str().unwrap();
    assert!(err.starts_with("clone exceeds the 1 MB size cap (stopped after receiving "), "{err}");
    // The cap follows what git reports receiving, so the download itself was cut off.
    assert!(lab.requests().iter().any(|r| r == "POST /repo.git/git-upload-pack"), "{:?}", lab.requests());
    assert_eq!(root_entries(&fx), Vec::<String>::new(), "no folder, no hidden temp folder");

    // A server asking for credentials: no helper, no prompt, a clean error.
    let job = start_clone(&srv, "private", &lab.url("auth/repo.git"), false);
    let (frames, _) = follow(Ws::connect(&srv.addr, &format!("/ws/clone-progress/{job}")), Vec::new());
    let last = frames.last().unwrap();
    assert_eq!(last["status"], "error", "{frames:?}");
    let want = format!("fatal: could not read Username for 'https://{ip}': terminal prompts disabled");
    let err = last["error"].as_str().unwrap();
    assert!(err.ends_with(&want), "{frames:?}");
    assert!(!err.contains("clone-tmp") && !err.contains(&*fx.root.to_string_lossy()), "no host paths: {err}");
    assert_eq!(root_entries(&fx), Vec::<String>::new());
    assert!(!marker.exists(), "{}", std::fs::read_to_string(&marker).unwrap());
    // The control: without the lockdown the user's credential helper is asked.
    let out = lab.unlocked_clone(&fx, &lab.url("auth/repo.git"), &fx.dir.path().join("control"));
    assert!(!out.status.success());
    assert!(std::fs::read_to_string(&marker).unwrap().contains("credential get"));
}

/// Needs no namespace: the guard refuses before anything connects.
#[test]
fn a_namespace_address_without_the_private_opt_in_is_refused_at_once() {
    let fx = Fixture::new();
    let seq = lab::next_seq();
    let k = std::process::id().wrapping_mul(31).wrapping_add(seq.wrapping_mul(7919)) % 16384;
    let (c, d) = ((k / 64) as u8, (k % 64 * 4) as u8);
    let url = format!("https://10.251.{c}.{}/repo.git", d + 2);
    // No opt-in, then an opt-in for the neighbouring /30 only.
    let neighbour = format!("10.251.{c}.{}/30", d ^ 4);
    for extra in ["", &format!("clone:\n  allowed_private_cidrs: [\"{neighbour}\"]\n")] {
        let cfg = fx.config(extra);
        let srv = fx.start_with(|cmd| {
            cmd.arg("run").arg("-c").arg(&cfg);
        });
        let t0 = Instant::now();
        let r = clone(&srv, json!({"name": "refused", "url": url}));
        assert_eq!(r.status, 403, "{extra}: {}", r.text());
        assert!(t0.elapsed() < Duration::from_secs(5), "refused at once");
        let want = format!("host '10.251.{c}.{}' resolves to blocked address 10.251.{c}.{} (private)", d + 2, d + 2);
        assert!(r.detail().starts_with(&want), "{}", r.detail());
        assert_eq!(root_entries(&fx), Vec::<String>::new());
    }
}
