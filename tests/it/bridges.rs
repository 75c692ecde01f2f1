//! The bridge lifecycle against the real binary and the repo's fake `claude`: start,
//! readiness, idempotency, validation, stop, resume, failures, restart policy, crash
//! detection, re-adoption after clauster dies, and leftovers (zombies, orphans).

use std::collections::HashMap;
use std::fs;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Fixture, Response, SIGTERM, Server, alive, kill, pids_with, zombies_of};

/// Trusts the whole projects root, so every project can start.
fn trust_root(fx: &Fixture) {
    let j = json!({"projects": {fx.root.to_str().unwrap(): {"hasTrustDialogAccepted": true}}});
    fs::write(fx.claude_json(), j.to_string()).unwrap();
}

/// A fixture with trusted projects `names`, started with `yaml` config and `env`.
fn setup(names: &[&str], yaml: &str, env: &[(&str, &str)]) -> (Fixture, Server) {
    let fx = Fixture::new();
    for n in names {
        fx.project(n);
    }
    trust_root(&fx);
    let cfg = fx.config(yaml);
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg);
        for (k, v) in env {
            c.env(k, v);
        }
    });
    (fx, srv)
}

fn post_json(srv: &Server, path: &str, body: &Value) -> Response {
    srv.request("POST", path, &[("Content-Type", "application/json")], Some(body.to_string().as_bytes()))
}

fn start(srv: &Server, project: &str) -> Response {
    post_json(srv, "/api/instances", &json!({ "project": project }))
}

fn instance(srv: &Server, name: &str) -> Value {
    srv.get_json(&format!("/api/instances/{name}"))
}

/// Polls the instance (which may not exist yet) until `pred` holds.
fn wait_for(srv: &Server, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    srv.eventually(what, || {
        let r = srv.get(&format!("/api/instances/{name}"));
        (r.status == 200).then(|| r.json()).filter(|i| pred(i))
    })
}

/// What the fake recorded about how it was started.
fn launch_record(inst: &Value) -> HashMap<String, String> {
    let path = format!("{}.argv", inst["bridge_debug_log_path"].as_str().unwrap());
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Live bridges started by this fixture's clauster (their `--debug-file` is in its state dir).
fn bridges_of(fx: &Fixture) -> Vec<u32> {
    pids_with(&format!("--debug-file {}", fx.state.display()))
}

fn pid_of(inst: &Value) -> u32 {
    inst["bridge_pid"].as_u64().unwrap_or_else(|| panic!("no pid in {inst}")) as u32
}

#[test]
fn start_reaches_running_with_the_exact_command_line() {
    let (fx, srv) = setup(&["alpha"], "", &[]);
    let r = start(&srv, "alpha");
    assert_eq!(r.status, 201, "{}", r.text());
    let i = r.json();
    assert_eq!(i["status"], "running");
    let env = i["environment_id"].as_str().unwrap();
    assert!(env.starts_with("env_"));
    assert_eq!(i["url"], format!("https://claude.ai/code?environment={env}"));
    let session = i["starter_session_id"].as_str().unwrap();
    assert_eq!(i["session_url"], format!("https://claude.ai/code/{session}?from=cli"));
    assert!(i["bridge_id"].as_str().unwrap().len() >= 8);
    assert_eq!((i["resume_mode"].as_str(), i["intentional_stop"].as_bool()), (Some("standard"), Some(false)));

    let log = i["bridge_debug_log_path"].as_str().unwrap();
    let name = std::path::Path::new(log).file_name().unwrap().to_str().unwrap();
    assert!(log.starts_with(&fx.state.join("logs").display().to_string()), "{log}");
    assert!(name.starts_with("alpha-") && name.len() == "alpha-".len() + 13 + 4, "{name}");
    let rec = launch_record(&i);
    assert_eq!(
        rec["argv"],
        format!("remote-control --name alpha --debug-file {log} --spawn same-dir --permission-mode default")
    );
    assert_eq!(rec["cwd"], fx.root.join("alpha").display().to_string());
    assert_eq!(rec["sid"], rec["pid"], "the bridge leads its own session");
    assert_eq!(rec["pgid"], rec["pid"], "and its own process group");
    assert_eq!(rec["stdin"], "/dev/null");
    let fds = fs::read_to_string(format!("{log}.argv")).unwrap();
    assert!(!fds.contains("socket:") && !fds.contains("inotify"), "leaked fds into the bridge:\n{fds}");

    let claude_json: Value = serde_json::from_str(&fs::read_to_string(fx.claude_json()).unwrap()).unwrap();
    assert_eq!(
        (claude_json["hasUsedRemoteControl"].clone(), claude_json["remoteDialogSeen"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(srv.get_json("/healthz")["instances_running"], 1);
    assert_eq!(srv.get_json("/api/instances").as_array().unwrap().len(), 1);
}

#[test]
fn a_repeat_start_returns_the_same_bridge_but_still_validates() {
    let (fx, srv) = setup(&["alpha", "beta"], "instance_defaults:\n  permission_mode: acceptEdits\n", &[]);
    // Five at once: one process, one answer.
    let answers: Vec<_> = (0..5)
        .map(|_| {
            let addr = srv.addr.clone();
            std::thread::spawn(move || {
                let body = json!({"project": "beta"}).to_string();
                crate::common::http::request(
                    &addr,
                    "POST",
                    "/api/instances",
                    &[("Content-Type", "application/json")],
                    Some(body.as_bytes()),
                )
            })
        })
        .map(|t| t.join().unwrap())
        .collect();
    let pids: Vec<_> = answers.iter().map(|r| (r.status, r.json()["bridge_pid"].clone())).collect();
    assert!(pids.iter().all(|p| *p == pids[0] && p.0 == 201), "{pids:?}");
    assert_eq!(pids_with(&format!("--name beta --debug-file {}", fx.state.display())).len(), 1);
    let beta = instance(&srv, "beta");
    assert!(launch_record(&beta)["argv"].ends_with("--permission-mode acceptEdits"), "config default applies");

    let again = post_json(&srv, "/api/instances", &json!({"project": "beta", "spawn_mode": "session"}));
    assert_eq!(again.status, 201);
    assert_eq!(again.json()["spawn_mode"], "same-dir", "a running bridge is returned unchanged");
    let bad = post_json(&srv, "/api/instances", &json!({"project": "beta", "spawn_mode": "sideways"}));
    assert_eq!(bad.status, 422, "options are validated even when already running: {}", bad.text());
    assert!(bad.detail().contains("spawn_mode"));
    let bypass = post_json(&srv, "/api/instances", &json!({"project": "beta", "permission_mode": "bypassPermissions"}));
    assert_eq!(bypass.status, 403, "{}", bypass.text());
    assert!(bypass.detail().contains("allow_bypass_permissions"));
}

#[test]
fn bad_requests_are_refused_with_a_reason() {
    let (fx, srv) = setup(&["alpha"], "", &[]);
    fs::create_dir_all(fx.dir.path().join("outside")).unwrap();
    std::os::unix::fs::symlink(fx.dir.path().join("outside"), fx.root.join("untrusted")).unwrap();
    let cases: Vec<(Value, u16, &str)> = vec![
        (json!({}), 422, "'project' string"),
        (json!([1]), 422, "JSON object"),
        (json!({"project": "alpha", "spawn_mode": 5}), 422, "spawn_mode must be a string"),
        (json!({"project": "nope"}), 404, "no such project"),
        (json!({"project": "../x"}), 404, "invalid project name"),
        (json!({"project": "alpha", "permission_mode": "Default"}), 422, "permission_mode"),
        (json!({"project": "alpha", "resume_mode": ""}), 422, "resume_mode"),
        (json!({"project": "alpha", "spawn_mode": "worktree"}), 422, "git repository"),
    ];
    for (body, status, needle) in cases {
        let r = post_json(&srv, "/api/instances", &body);
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.detail().contains(needle), "{body}: {}", r.detail());
    }
    let r = srv.request("POST", "/api/instances", &[("Content-Type", "application/json")], Some(b"{not json"));
    assert_eq!(r.status, 422);
    let r = start(&srv, "untrusted");
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.detail().contains("directory not trusted"));
    assert!(bridges_of(&fx).is_empty(), "nothing was started");
    for (method, path) in [
        ("GET", "/api/instances/alpha"),
        ("DELETE", "/api/instances/alpha"),
        ("POST", "/api/instances/alpha/resume"),
        ("GET", "/api/instances/alpha/qr"),
    ] {
        let r = srv.request(method, path, &[], None);
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
        assert!(r.detail().contains("alpha"));
    }
}

#[test]
fn stop_leaves_no_process_and_no_zombie_and_resume_reuses_the_environment() {
    let (fx, srv) = setup(&["alpha"], "", &[]);
    let first = start(&srv, "alpha").json();
    let pid = pid_of(&first);
    let r = srv.request("DELETE", "/api/instances/alpha", &[], None);
    assert_eq!(r.status, 200, "{}", r.text());
    let stopped = r.json();
    assert_eq!((stopped["status"].as_str(), stopped["intentional_stop"].as_bool()), (Some("stopped"), Some(true)));
    assert_eq!(stopped["restart"]["last_exit"]["class"], "stopped");
    assert!(!alive(pid), "the reply comes when the process is gone");
    assert!(zombies_of(srv.pid()).is_empty());
    let log = fs::read_to_string(first["bridge_debug_log_path"].as_str().unwrap()).unwrap();
    assert!(
        log.trim_end().ends_with(&format!(
            "Skipping archive+deregister to allow resume (env {}, spawnMode same-dir)",
            first["environment_id"].as_str().unwrap()
        )),
        "{log}"
    );
    let state: Value = serde_json::from_str(&fs::read_to_string(fx.state.join("state.json")).unwrap()).unwrap();
    assert_eq!(state["instances"]["alpha"]["intentional_stop"], true);

    let r = srv.post("/api/instances/alpha/resume");
    assert_eq!(r.status, 201, "{}", r.text());
    let resumed = r.json();
    assert_eq!(resumed["status"], "running");
    assert_eq!(resumed["environment_id"], first["environment_id"], "the same environment");
    assert_eq!(resumed["session_url"], first["session_url"], "the same session, from claude's bridge pointer");
    assert_ne!(resumed["bridge_debug_log_path"], first["bridge_debug_log_path"], "a new log per run");
    assert_eq!(
        srv.post("/api/instances/alpha/resume").json()["bridge_pid"],
        resumed["bridge_pid"],
        "resuming a running bridge is a no-op"
    );

    let qr = srv.get("/api/instances/alpha/qr");
    assert_eq!(qr.status, 200);
    assert_eq!(qr.header("content-type"), Some("image/svg+xml"));
    assert!(qr.text().starts_with("<?xml") && qr.text().contains("<svg"));
}

#[test]
fn a_logged_out_claude_is_a_clear_error() {
    let (_fx, srv) = setup(&["alpha"], "", &[("FAKE_CLAUDE_MODE", "logged-out")]);
    let r = start(&srv, "alpha");
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.detail().contains("not logged in on this host") && r.detail().contains("/login"), "{}", r.detail());
    let i = &r.json()["instance"];
    assert_eq!(i["status"], "error");
    assert!(i["error_detail"].as_str().unwrap().contains("You must be logged in to use Remote Control"), "{i}");
    assert_eq!(i["restart"]["last_exit"]["class"], "logged_out");
    assert_eq!(srv.get("/api/instances/alpha/qr").status, 409, "no URL, no QR");
}

#[test]
fn a_bridge_that_never_registers_is_an_error_and_is_stopped() {
    let (fx, srv) = setup(
        &["alpha"],
        "claude:\n  startup_grace_seconds: 1\n  stop_grace_seconds: 1\n",
        &[("FAKE_CLAUDE_MODE", "hang")],
    );
    let r = start(&srv, "alpha");
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.detail().contains("did not register"), "{}", r.detail());
    srv.eventually("the stuck process to be stopped", || bridges_of(&fx).is_empty().then_some(()));
    assert_eq!(instance(&srv, "alpha")["status"], "error", "stays error, so a retry is a fresh start");
}

#[test]
fn a_crash_is_seen_at_once_and_the_default_policy_leaves_it_down() {
    let (fx, srv) =
        setup(&["alpha", "beta"], "", &[("FAKE_CLAUDE_CRASH_AFTER_MS", "100"), ("FAKE_CLAUDE_LOG_RATE", "50")]);
    // An exit of its own: the fake crashes shortly after it is up.
    fs::write(fx.root.join("alpha/.fake-claude-mode"), "crash\n").unwrap();
    assert_eq!(start(&srv, "alpha").status, 201);
    let crashed = wait_for(&srv, "alpha", "alpha to crash", |i| i["status"] == "crashed");
    assert_eq!(crashed["restart"]["last_exit"]["class"], "crash");
    assert!(crashed["error_detail"].as_str().unwrap().contains("simulated crash"));
    assert!(crashed["restart"]["next_attempt_at"].is_null(), "policy never: no restart");

    // kill -9 from outside: seen through the child's exit, well within a second.
    let beta = start(&srv, "beta").json();
    let t0 = Instant::now();
    kill(pid_of(&beta), 9);
    let b = wait_for(&srv, "beta", "beta to be crashed", |i| i["status"] == "crashed");
    assert!(t0.elapsed() < Duration::from_secs(5), "liveness bound: {:?}", t0.elapsed());
    assert_eq!(b["restart"]["last_exit"]["signal"], 9);
    assert!(zombies_of(srv.pid()).is_empty());
}

#[test]
fn on_failure_restarts_with_backoff_then_gives_up() {
    let yaml = "instance_defaults:\n  restart: on-failure\n  restart_backoff_initial_seconds: 0.05\n  restart_max_attempts: 2\n";
    let (fx, srv) =
        setup(&["alpha", "beta"], yaml, &[("FAKE_CLAUDE_CRASH_AFTER_MS", "50"), ("FAKE_CLAUDE_LOG_RATE", "50")]);
    fs::write(fx.root.join("alpha/.fake-claude-mode"), "crash\n").unwrap();
    assert_eq!(start(&srv, "alpha").status, 201);
    let failed = wait_for(&srv, "alpha", "the policy to give up", |i| i["status"] == "failed");
    let r = &failed["restart"];
    assert_eq!((r["policy"].as_str(), r["restarts"].as_u64()), (Some("on-failure"), Some(2)), "{failed}");
    assert!(r["gave_up"].as_str().unwrap().contains("gave up after 2 restarts"), "{failed}");
    assert!(bridges_of(&fx).is_empty());

    // A crash that then recovers: the next restart sticks.
    fs::write(fx.root.join("beta/.fake-claude-mode"), "crash\n").unwrap();
    assert_eq!(start(&srv, "beta").status, 201);
    wait_for(&srv, "beta", "a scheduled restart", |i| {
        !i["restart"]["next_attempt_at"].is_null() || i["restart"]["restarts"] != 0
    });
    fs::write(fx.root.join("beta/.fake-claude-mode"), "ok\n").unwrap();
    let back = wait_for(&srv, "beta", "beta back up", |i| {
        i["status"] == "running" && i["restart"]["restarts"].as_u64() >= Some(1)
    });
    assert_eq!(back["restart"]["last_exit"]["class"], "crash");
    // A user stop ends the policy's work.
    assert_eq!(srv.request("DELETE", "/api/instances/beta", &[], None).json()["status"], "stopped");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(instance(&srv, "beta")["status"], "stopped");
}

#[test]
fn permanent_failures_are_not_restarted() {
    let yaml = "instance_defaults:\n  restart: always\n  restart_backoff_initial_seconds: 0.05\n";
    let (_fx, srv) = setup(&["alpha"], yaml, &[("FAKE_CLAUDE_MODE", "untrusted")]);
    let r = start(&srv, "alpha");
    assert_eq!(r.status, 409);
    assert!(r.detail().contains("not trusted"), "{}", r.detail());
    std::thread::sleep(Duration::from_millis(300));
    let i = instance(&srv, "alpha");
    assert_eq!((i["status"].as_str(), i["restart"]["restarts"].as_u64()), (Some("error"), Some(0)), "{i}");
}

#[test]
fn stop_escalates_to_sigkill_for_the_whole_group() {
    let (_fx, srv) =
        setup(&["alpha"], "claude:\n  stop_grace_seconds: 0.5\n", &[("FAKE_CLAUDE_MODE", "ignore-sigint")]);
    let i = start(&srv, "alpha").json();
    let child: u32 = launch_record(&i)["child"].parse().unwrap();
    assert!(alive(child));
    let r = srv.request("DELETE", "/api/instances/alpha", &[], None);
    assert_eq!(r.json()["status"], "stopped");
    assert_eq!(r.json()["restart"]["last_exit"]["signal"], 9);
    assert!(!alive(pid_of(&i)) && !alive(child), "the bridge and its child are gone");
}

#[test]
fn bridges_outlive_clauster_and_are_re_adopted_with_their_log() {
    let (fx, mut srv) = setup(&["alpha", "beta"], "", &[]);
    let a = start(&srv, "alpha").json();
    let b = start(&srv, "beta").json();
    assert_eq!(srv.request("DELETE", "/api/instances/beta", &[], None).status, 200);
    kill(srv.pid(), 9);
    let _ = srv.stop_with(0);
    assert!(alive(pid_of(&a)), "kill -9 of clauster leaves the bridge running");

    let cfg = fx.dir.path().join("clauster.yml");
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg);
    });
    let again = wait_for(&srv, "alpha", "alpha re-adopted", |i| i["status"] == "running");
    for k in [
        "bridge_pid",
        "bridge_debug_log_path",
        "environment_id",
        "starter_session_id",
        "bridge_id",
        "session_url",
        "started_at",
    ] {
        assert_eq!(again[k], a[k], "{k} kept across the restart");
    }
    let beta = instance(&srv, "beta");
    assert_eq!(
        (beta["status"].as_str(), beta["intentional_stop"].as_bool()),
        (Some("stopped"), Some(true)),
        "a resumable card"
    );
    assert_eq!(beta["environment_id"], b["environment_id"]);
    // The adopted bridge is watched: a kill is noticed, though it is not our child.
    kill(pid_of(&a), 9);
    wait_for(&srv, "alpha", "the adopted bridge to be seen crashing", |i| i["status"] == "crashed");
}

#[test]
fn a_recycled_pid_is_never_adopted() {
    let fx = Fixture::new();
    fx.project("alpha");
    trust_root(&fx);
    // A record whose pid is alive but is not that process any more (wrong start time).
    let me = std::process::id();
    let boot = fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap().trim().to_string();
    fs::create_dir_all(&fx.state).unwrap();
    let state = json!({"schema_version": 1, "instances": {"alpha": {
        "label": "Alpha!", "intentional_stop": false, "spawn_mode": "bogus", "permission_mode": "plan", "resume_mode": "standard",
        "process": {"pid": me, "start_ticks": 1, "boot_id": boot}}}});
    fs::write(fx.state.join("state.json"), state.to_string()).unwrap();
    let srv = fx.start();
    let i = wait_for(&srv, "alpha", "the saved card", |_| true);
    assert_eq!(i["status"], "stopped");
    assert_eq!(
        (i["label"].as_str(), i["permission_mode"].as_str(), i["spawn_mode"].as_str()),
        (Some("Alpha!"), Some("plan"), Some("same-dir"))
    );
    assert!(i["bridge_pid"].is_null());
}

#[test]
fn autostart_brings_a_project_up_with_clauster() {
    let (_fx, srv) = setup(&["alpha", "beta"], "projects:\n  alpha:\n    autostart: true\n", &[]);
    wait_for(&srv, "alpha", "alpha autostarted", |i| i["status"] == "running");
    assert_eq!(srv.get("/api/instances/beta").status, 404);
}

#[test]
fn two_hundred_start_stop_cycles_leave_nothing_behind() {
    let (fx, mut srv) = setup(&["alpha"], "", &[]);
    for n in 0..200 {
        let r = start(&srv, "alpha");
        assert_eq!(r.status, 201, "cycle {n}: {}", r.text());
        let r = srv.request("DELETE", "/api/instances/alpha", &[], None);
        assert_eq!(r.json()["status"], "stopped", "cycle {n}");
    }
    assert!(bridges_of(&fx).is_empty(), "no orphaned bridge");
    assert!(zombies_of(srv.pid()).is_empty(), "no zombie");
    let (status, _) = srv.stop_with(SIGTERM);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn new_session_gets_a_fresh_environment_where_resume_keeps_it() {
    let (_fx, srv) = setup(&["alpha"], "", &[]);
    let first = start(&srv, "alpha").json();
    let r = srv.post("/api/instances/alpha/new-session");
    assert_eq!(r.status, 201, "{}", r.text());
    let fresh = r.json();
    assert_eq!(fresh["status"], "running");
    assert!(!alive(pid_of(&first)), "the old bridge was stopped first");
    assert_ne!(fresh["environment_id"], first["environment_id"]);
    assert_ne!(fresh["session_url"], first["session_url"]);
    assert_eq!(srv.post("/api/instances/nope/new-session").status, 404);
}

#[test]
fn cpu_and_memory_are_reported_while_someone_watches() {
    let (_fx, srv) = setup(&["alpha"], "", &[]);
    start(&srv, "alpha");
    // Reading the instance is what makes clauster sample (an idle clauster samples nothing).
    let i = wait_for(&srv, "alpha", "CPU and RSS figures", |i| {
        i["rss_bytes"].as_u64().is_some_and(|r| r > 0) && i["cpu_percent"].is_number()
    });
    assert!(i["cpu_percent"].as_f64().unwrap() >= 0.0);
    let stopped = srv.request("DELETE", "/api/instances/alpha", &[], None).json();
    assert!(stopped["rss_bytes"].is_null() && stopped["cpu_percent"].is_null());
}

/// CPU ticks (user + system) used by `pid` so far.
fn cpu_ticks(pid: u32) -> u64 {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = s.rsplit_once(')').unwrap().1.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn a_running_bridge_costs_clauster_next_to_nothing() {
    // The bridge logs 5 lines a second; clauster reads each as it lands. Its own reads
    // must never wake it again (a feedback loop once cost 160 % CPU).
    let (_fx, srv) = setup(&["alpha"], "", &[("FAKE_CLAUDE_LOG_RATE", "5")]);
    start(&srv, "alpha");
    std::thread::sleep(Duration::from_millis(500));
    let t0 = cpu_ticks(srv.pid());
    std::thread::sleep(Duration::from_secs(2));
    let running = cpu_ticks(srv.pid()) - t0;
    assert!(running <= 20, "{running} ticks in 2 s with one quiet bridge (a generous bound)");
    srv.request("DELETE", "/api/instances/alpha", &[], None);
    std::thread::sleep(Duration::from_millis(300));
    let t1 = cpu_ticks(srv.pid());
    std::thread::sleep(Duration::from_secs(2));
    let stopped = cpu_ticks(srv.pid()) - t1;
    assert!(stopped <= 10, "{stopped} ticks in 2 s with no bridge running");
}
