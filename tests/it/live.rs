//! Live streams over WebSocket: a bridge's log (backlog, live lines, redaction, partial
//! lines, truncation, unknown ids) and `/ws/events` (snapshot, then every change).

use std::fs;
use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::ws::{Next, Ws};
use crate::common::{Fixture, SIGTERM, Server, kill};

fn trusted(names: &[&str], env: &[(&str, &str)]) -> (Fixture, Server) {
    let fx = Fixture::new();
    for n in names {
        fx.project(n);
    }
    fs::write(
        fx.claude_json(),
        json!({"projects": {fx.root.to_str().unwrap(): {"hasTrustDialogAccepted": true}}}).to_string(),
    )
    .unwrap();
    let cfg = fx.config("");
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg);
        for (k, v) in env {
            c.env(k, v);
        }
    });
    (fx, srv)
}

fn start(srv: &Server, name: &str) -> Value {
    let body = json!({ "project": name }).to_string();
    let r = srv.request("POST", "/api/instances", &[("Content-Type", "application/json")], Some(body.as_bytes()));
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

fn append(path: &str, data: &str) {
    fs::OpenOptions::new().append(true).open(path).unwrap().write_all(data.as_bytes()).unwrap();
}

#[test]
fn the_log_replays_then_streams_live_redacted_lines() {
    let (_fx, srv) = trusted(&["alpha"], &[]);
    let inst = start(&srv, "alpha");
    let log = inst["bridge_debug_log_path"].as_str().unwrap().to_string();
    let env_id = inst["environment_id"].as_str().unwrap().to_string();
    let mut ws = Ws::connect(&srv.addr, "/ws/bridge-log/alpha");
    let backlog = ws.until("the poll-loop line", |t| t.contains("Starting poll loop")).join("\n");
    assert!(backlog.contains("environment_id=env_<redacted>"), "{backlog}");
    assert!(backlog.contains("bridgeId=<redacted>"), "{backlog}");
    assert!(!backlog.contains(&env_id[4..]), "the raw id never goes out: {backlog}");
    assert!(fs::read_to_string(&log).unwrap().contains(&env_id), "the file on disk stays verbatim");

    append(&log, "\x1b[31mred\x1b[0m ghp_abcdefghijklmnop1234 Bearer abcdefghijklmn\n");
    ws.until("the sanitized line", |t| t.lines().any(|l| l == "red <redacted> <redacted>"));

    append(&log, "first half, ");
    std::thread::sleep(Duration::from_millis(300));
    append(&log, "second half\n");
    let seen = ws.until("the joined line", |t| t.contains("second half"));
    assert!(seen.last().unwrap().lines().any(|l| l == "first half, second half"), "{seen:?}");

    // Truncated: streaming goes on from the start of the file.
    fs::OpenOptions::new().write(true).open(&log).unwrap().set_len(0).unwrap();
    append(&log, "after truncation\n");
    ws.until("a line after truncation", |t| t.contains("after truncation"));
    ws.close();
}

#[test]
fn unknown_bridges_are_refused_with_1008() {
    let (_fx, srv) = trusted(&["alpha"], &[]);
    for path in ["/ws/bridge-log/nope", "/ws/bridge-log/alpha"] {
        let mut ws = Ws::connect(&srv.addr, path);
        assert_eq!(ws.next(Duration::from_secs(5)), Next::Closed(Some(1008)), "{path}");
    }
}

#[test]
fn events_carry_a_snapshot_then_every_change() {
    let (fx, srv) = trusted(&["alpha"], &[]);
    let mut ws = Ws::connect(&srv.addr, "/ws/events");
    let Next::Text(first) = ws.next(Duration::from_secs(5)) else { panic!("no snapshot") };
    let snap: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(snap["type"], "snapshot");
    assert_eq!(snap["projects"][0]["name"], "alpha");
    assert_eq!(snap["instances"], json!([]));

    let status_frame = |want: &'static str| {
        move |t: &str| {
            serde_json::from_str::<Value>(t).is_ok_and(|v| v["type"] == "instance" && v["instance"]["status"] == want)
        }
    };
    let inst = start(&srv, "alpha");
    ws.until("starting", status_frame("starting"));
    ws.until("running", status_frame("running"));
    kill(inst["bridge_pid"].as_u64().unwrap() as u32, 9);
    ws.until("crashed", status_frame("crashed"));

    // A new folder: just that project, not the whole list again.
    fx.project("gamma");
    let frames = ws.until("the new project", |t| t.contains(r#""type":"projects_delta""#));
    let delta: Value = serde_json::from_str(frames.last().unwrap()).unwrap();
    assert_eq!((delta["upsert"][0]["name"].as_str(), delta["count"].as_u64()), (Some("gamma"), Some(2)), "{delta}");
    assert_eq!(delta["remove"], serde_json::json!([]));
    assert_eq!(delta["upsert"].as_array().unwrap().len(), 1, "{delta}");
    ws.close();
}

#[test]
fn thousands_of_viewers_coming_and_going_leave_nothing_running() {
    let (_fx, mut srv) = trusted(&["alpha"], &[]);
    start(&srv, "alpha");
    assert_eq!(srv.request("DELETE", "/api/instances/alpha", &[], None).status, 200);
    let threads = |pid: u32| -> u64 {
        let s = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        s.lines().find_map(|l| l.strip_prefix("Threads:")).unwrap().trim().parse().unwrap()
    };
    let cpu = |pid: u32| -> u64 {
        let s = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let f: Vec<&str> = s.rsplit_once(')').unwrap().1.split_whitespace().collect();
        f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
    };
    let before = threads(srv.pid());
    for _ in 0..10_000 {
        let mut ws = Ws::connect(&srv.addr, "/ws/bridge-log/alpha");
        let _ = ws.next(Duration::from_millis(0));
        ws.close();
    }
    std::thread::sleep(Duration::from_millis(500));
    let c0 = cpu(srv.pid());
    std::thread::sleep(Duration::from_secs(2));
    let idle_ticks = cpu(srv.pid()) - c0;
    assert!(idle_ticks <= 10, "clauster kept working after the sockets closed: {idle_ticks} ticks in 2 s");
    assert!(threads(srv.pid()) <= before + 2, "threads grew: {before} -> {}", threads(srv.pid()));
    // And open sockets never hold shutdown up.
    let _held = Ws::connect(&srv.addr, "/ws/events");
    let _log = Ws::connect(&srv.addr, "/ws/bridge-log/alpha");
    let (status, took) = srv.stop_with(SIGTERM);
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_client_close_is_answered_with_its_code() {
    let (_fx, srv) = trusted(&["alpha"], &[]);
    let mut ws = Ws::connect(&srv.addr, "/ws/events");
    assert!(matches!(ws.next(Duration::from_secs(5)), Next::Text(_)), "the snapshot comes first");
    let frame = tungstenite::protocol::CloseFrame {
        code: tungstenite::protocol::frame::coding::CloseCode::Away,
        reason: "bye".into(),
    };
    ws.0.close(Some(frame)).unwrap();
    let answer = loop {
        match ws.next(Duration::from_secs(5)) {
            Next::Text(_) => continue, // events already on their way
            other => break other,
        }
    };
    assert_eq!(answer, Next::Closed(Some(1001)));
}
