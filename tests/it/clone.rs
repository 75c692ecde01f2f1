//! `POST /api/projects/clone` and `/ws/clone-progress/{job_id}`: the URL guard (IP
//! literals and localhost only, no DNS), and whole jobs against a stub `git` on PATH that
//! records how it was run. No test touches the network beyond loopback.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::ws::{Next, Ws};
use crate::common::{Fixture, Response, Server, names};

/// A git that plays a clone by the URL's last path segment, and records its args and env.
/// `…/ships` is `…/ok` plus a CLAUDE.md and a `.claude/` folder.
pub const STUB_GIT: &str = r#"#!/bin/sh
for a; do url="$tmp"; tmp="$a"; done
log="$(dirname "$0")/git-calls.log"
echo "ARGS $*" >> "$log"
echo "ENV $GIT_ALLOW_PROTOCOL $GIT_TERMINAL_PROMPT $GIT_CONFIG_NOSYSTEM $GIT_CONFIG_GLOBAL" >> "$log"
case "$url" in
  */ok|*/ships) sleep 0.5
        printf 'Cloning into %s...\n' "$tmp" >&2
        printf 'remote: Counting objects:  42%% (10/24)\r' >&2; sleep 0.2
        printf 'Receiving objects:  57%% (700/1234)\r' >&2; sleep 0.2
        printf 'Receiving objects: 100%% (1234/1234), done.\n' >&2
        mkdir -p "$tmp/.git" && echo hi > "$tmp/README.md"
        case "$url" in */ships) echo '# run me' > "$tmp/CLAUDE.md"; mkdir -p "$tmp/.claude" ;; esac ;;
  */fail) mkdir -p "$tmp/.git"
        echo "fatal: unable to access 'https://10.1.2.3/fail/': Connection refused" >&2; exit 128 ;;
  */slow) mkdir -p "$tmp"; sleep 30 ;;
  */big) mkdir -p "$tmp/.git" && head -c 1100000 /dev/zero > "$tmp/blob" ;;
esac
"#;

const JSON: (&str, &str) = ("Content-Type", "application/json");

fn clone(srv: &Server, body: Value) -> Response {
    srv.request("POST", "/api/projects/clone", &[JSON], Some(body.to_string().as_bytes()))
}

pub fn stub_fixture() -> Fixture {
    let fx = Fixture::new();
    let git = fx.bin.join("git");
    std::fs::write(&git, STUB_GIT).unwrap();
    std::fs::set_permissions(&git, std::fs::Permissions::from_mode(0o755)).unwrap();
    fx
}

fn start(fx: &Fixture, extra: &str) -> Server {
    let cfg = fx.config(extra);
    fx.start_with(|c| {
        c.arg("run").arg("-c").arg(&cfg);
    })
}

/// Every frame of a job until its terminal frame, and how the socket closed.
fn follow(srv: &Server, job: &str) -> (Vec<Value>, Next) {
    let mut ws = Ws::connect(&srv.addr, &format!("/ws/clone-progress/{job}"));
    let frames = ws.until("the done frame", |t| t.contains(r#""type":"done""#));
    let close = ws.next(Duration::from_secs(5));
    (frames.iter().map(|f| serde_json::from_str(f).unwrap()).collect(), close)
}

fn hidden_leftovers(fx: &Fixture) -> Vec<String> {
    std::fs::read_dir(&fx.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn the_url_guard_refuses_bad_schemes_and_blocked_addresses() {
    let fx = stub_fixture();
    fx.project("alpha");
    let srv = fx.start();
    for (url, want) in [
        ("http://github.com/x/y", "scheme 'http' not allowed; permitted: [https, ssh]"),
        ("file:///etc", "scheme 'file' not allowed"),
        ("git@github.com:o/r.git", "scheme '(none)' not allowed"),
        ("https:///x", "clone URL has no host"),
        ("https://[::1/x", "malformed clone URL"),
        ("https://h:99999/x", "malformed clone URL"),
    ] {
        let r = clone(&srv, json!({"name": "n", "url": url}));
        assert_eq!(r.status, 422, "{url}: {}", r.text());
        assert!(r.detail().starts_with(want), "{url}: {}", r.detail());
    }
    for url in [
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0.0.0.0/x",
        "https://169.254.169.254/latest",
        "https://10.0.0.1/x",
        "https://100.64.0.1/x",
        "ssh://git@192.168.1.1/x",
        "https://224.0.0.1/x",
        "https://240.0.0.1/x",
        "HTTPS://127.0.0.1/x",
        "https://[64:ff9b::a00:1]/x",
    ] {
        let r = clone(&srv, json!({"name": "n", "url": url}));
        assert_eq!(r.status, 403, "{url}: {}", r.text());
        assert!(r.detail().contains("resolves to blocked address"), "{url}: {}", r.detail());
    }
    assert_eq!(clone(&srv, json!({"url": "https://1.1.1.1/x"})).detail(), "body must include a 'name' string");
    assert_eq!(clone(&srv, json!({"name": "n"})).detail(), "body must include a 'url' string");
    assert_eq!(clone(&srv, json!({"name": "a.b", "url": "https://1.1.1.1/x"})).status, 422);
    let r = clone(&srv, json!({"name": "alpha", "url": "https://1.1.1.1/x"}));
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(!fx.bin.join("git-calls.log").exists(), "git never ran");
    drop(srv);

    let srv = start(&fx, "clone:\n  enabled: false\n");
    let r = srv.request("POST", "/api/projects/clone", &[JSON], Some(b"[]"));
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.detail(), "clone is disabled in config");
}

#[test]
fn private_opt_ins_widen_only_the_private_ranges() {
    let fx = stub_fixture();
    let srv = start(&fx, "clone:\n  allowed_private_cidrs: [\"10.0.0.0/8\"]\n");
    let r = clone(&srv, json!({"name": "p1", "url": "https://192.168.1.1/x"}));
    assert_eq!(r.status, 403, "{}", r.text());
    let r = clone(&srv, json!({"name": "p1", "url": "https://10.1.2.3/nothing"}));
    assert_eq!(r.status, 202, "{}", r.text());
    drop(srv);
    let srv = start(&fx, "clone:\n  allow_private_hosts: true\n");
    assert_eq!(clone(&srv, json!({"name": "p2", "url": "https://192.168.9.9/nothing"})).status, 202);
    for url in ["https://127.0.0.1/x", "https://169.254.169.254/"] {
        assert_eq!(clone(&srv, json!({"name": "p3", "url": url})).status, 403, "{url}");
    }
}

#[test]
fn a_clone_streams_progress_lands_the_project_and_leaves_nothing_behind() {
    let fx = stub_fixture();
    let srv = start(&fx, "clone:\n  allowed_private_cidrs: [\"10.0.0.0/8\"]\n");
    let r = clone(&srv, json!({"name": "cloned", "url": "https://10.1.2.3/ok", "shallow": true}));
    assert_eq!(r.status, 202, "{}", r.text());
    let job = r.json()["job_id"].as_str().unwrap().to_string();
    assert_eq!(r.json()["name"], "cloned");
    assert!(job.len() == 32 && job.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{job}");

    let (frames, close) = follow(&srv, &job);
    assert_eq!(frames[0], json!({"type": "progress", "phase": "", "percent": null}));
    assert!(frames.iter().any(|f| f["phase"] == "Receiving"), "{frames:?}");
    assert_eq!(frames.last().unwrap(), &json!({"type": "done", "status": "done", "error": null}));
    assert_eq!(close, Next::Closed(Some(1000)));

    assert_eq!(std::fs::read_to_string(fx.root.join("cloned/README.md")).unwrap(), "hi\n");
    srv.eventually("the clone listed", || {
        names(&srv.get_json("/api/projects")).contains(&"cloned".into()).then_some(())
    });
    let p = srv.get_json("/api/projects");
    assert_eq!(p[0]["trust_state"], "untrusted");
    assert_eq!(srv.get_json("/api/instances"), json!([]));
    assert!(hidden_leftovers(&fx).is_empty(), "{:?}", hidden_leftovers(&fx));

    let calls = std::fs::read_to_string(fx.bin.join("git-calls.log")).unwrap();
    assert!(calls.contains("-c protocol.file.allow=never"), "{calls}");
    assert!(
        calls.contains("clone --progress --no-tags --no-recurse-submodules --depth 1 -- https://10.1.2.3/ok"),
        "{calls}"
    );
    assert!(calls.contains("ENV https:ssh 0 1 /dev/null"), "{calls}");

    // Reconnecting after the end gets the terminal frame at once; unknown jobs get 1008.
    let (again, _) = follow(&srv, &job);
    assert_eq!(again, [json!({"type": "done", "status": "done", "error": null})]);
    let mut ws = Ws::connect(&srv.addr, "/ws/clone-progress/0123456789abcdef0123456789abcdef");
    assert_eq!(ws.next(Duration::from_secs(5)), Next::Closed(Some(1008)));
}

#[test]
fn failures_timeouts_and_the_size_cap_end_in_an_error_and_clean_up() {
    let fx = stub_fixture();
    let srv = start(&fx, "clone:\n  allowed_private_cidrs: [\"10.0.0.0/8\"]\n  timeout_seconds: 1\n  max_mb: 1\n");
    for (name, want) in [
        ("fail", "git clone failed: fatal: unable to access 'https://10.1.2.3/fail/': Connection refused"),
        ("slow", "clone timed out after 1s"),
        ("big", "clone exceeds the 1 MB size cap"),
    ] {
        let r = clone(&srv, json!({"name": name, "url": format!("https://10.1.2.3/{name}")}));
        assert_eq!(r.status, 202, "{}", r.text());
        let (frames, _) = follow(&srv, r.json()["job_id"].as_str().unwrap());
        let last = frames.last().unwrap();
        assert_eq!((last["status"].as_str(), last["error"].as_str()), (Some("error"), Some(want)), "{frames:?}");
        assert!(!fx.root.join(name).exists(), "{name}: no target");
        assert!(hidden_leftovers(&fx).is_empty(), "{name}: {:?}", hidden_leftovers(&fx));
    }
    // The timed-out git was ended with its whole process group (the stub's `sleep` too).
    let stub = fx.bin.join("git").to_string_lossy().into_owned();
    srv.eventually("the timed-out git gone", || crate::common::pids_with(&stub).is_empty().then_some(()));
}
