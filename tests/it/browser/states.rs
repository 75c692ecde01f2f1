//! The card's less common states, each as the server reports it: a failed start with
//! claude's stderr, a new session replacing a resumable one, external sessions, the
//! restart policy at work (and giving up), and CPU/RSS of a running bridge.

use std::fs;

use serde_json::json;

use super::{browser, card, in_card, instance, open, open_running, serve, trust, wait_status};
use crate::common::Fixture;

#[test]
fn a_failed_start_shows_the_advice_inline_and_claudes_stderr_below() {
    let b = browser!("a_failed_start_shows_the_advice_inline_and_claudes_stderr_below");
    let (fx, srv) = serve(&["alpha"], "");
    trust(&srv, "alpha");
    fs::write(fx.root.join("alpha/.fake-claude-mode"), "logged-out\n").unwrap();
    let _log = open(&b, &srv);
    b.click(&in_card("alpha", "button[data-action=start]"));

    wait_status(&b, "alpha", "error");
    assert_eq!(b.text_content(&in_card("alpha", "[data-role=status]")), "Failed to start");
    let advice = b.wait_text(&in_card("alpha", "[data-role=error]"), "not logged in");
    let stderr = b.wait_text(&in_card("alpha", "[data-role=error-detail]"), "You must be logged in");
    assert!(!stderr.contains(&advice), "the advice is not repeated in the stderr box:\n{stderr}");
    b.wait_for("the toast", || b.text_content("#toasts").contains("alpha: start failed").then_some(()));
    // Fixed, it starts from the same card.
    fs::write(fx.root.join("alpha/.fake-claude-mode"), "ok\n").unwrap();
    b.click(&in_card("alpha", "button[data-action=start]"));
    wait_status(&b, "alpha", "running");
    assert!(b.query(&in_card("alpha", "[data-role=error]")).is_none(), "the error went with the retry");
}

#[test]
fn start_new_session_asks_first_then_replaces_the_environment() {
    let b = browser!("start_new_session_asks_first_then_replaces_the_environment");
    let (_fx, srv) = serve(&["alpha"], "");
    let (first, _log) = open_running(&b, &srv, "alpha");
    b.click(&in_card("alpha", "button[data-action=stop]"));
    b.wait_el(&in_card("alpha", "button[data-action=resume]"));

    b.click(&in_card("alpha", "button[data-action=menu]"));
    b.click(&in_card("alpha", "button[data-action=new-session-menu]"));
    let confirm = in_card("alpha", "[data-role=new-session-confirm]");
    assert!(b.text_content(&confirm).contains("Resume may no longer reach it"));
    b.click(&in_card("alpha", "[data-role=new-session-confirm] button[data-action=cancel]"));
    b.wait_hidden(&confirm);
    assert_eq!(instance(&srv, "alpha")["status"], "stopped", "Cancel started nothing");

    b.click(&in_card("alpha", "button[data-action=menu]"));
    b.click(&in_card("alpha", "button[data-action=new-session-menu]"));
    b.click(&in_card("alpha", "button[data-action=new-session]"));
    wait_status(&b, "alpha", "running");
    let now = instance(&srv, "alpha");
    assert_ne!(now["environment_id"], first["environment_id"], "a new environment: {now}");
    let link = b.attr(&in_card("alpha", "a[data-role=session-link]"), "href").unwrap();
    assert_eq!(Some(link.as_str()), now["session_url"].as_str());
}

#[test]
fn external_sessions_show_on_their_project_card() {
    let b = browser!("external_sessions_show_on_their_project_card");
    let fx = Fixture::new();
    for p in ["alpha", "beta"] {
        fx.project(p);
    }
    let item = |id: &str| json!({"pid": 4242, "cwd": fx.root.join("beta"), "kind": "interactive", "startedAt": 1_764_000_000_000u64, "sessionId": id});
    let agents = fx.dir.path().join("agents.json");
    fs::write(&agents, json!([item("one")]).to_string()).unwrap();
    let cfg = fx.config("claude:\n  agents_json_poll_interval_seconds: 1\n");
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg).env("FAKE_CLAUDE_AGENTS_JSON", &agents);
    });
    let _log = open(&b, &srv);
    b.wait_text(&in_card("beta", "[data-role=external]"), "External session active — not managed by clauster");
    assert!(b.query(&in_card("alpha", "[data-role=external]")).is_none());

    // A second one appears: pushed (sessions_changed), no reload.
    fs::write(&agents, json!([item("one"), item("two")]).to_string()).unwrap();
    b.wait_text(&in_card("beta", "[data-role=external]"), "2 external sessions active");
}

#[test]
fn the_restart_policy_shows_its_restarts_and_why_it_gave_up() {
    let b = browser!("the_restart_policy_shows_its_restarts_and_why_it_gave_up");
    let yaml = "instance_defaults:\n  restart: on-failure\n  restart_backoff_initial_seconds: 0.3\n  restart_max_attempts: 2\n";
    let fx = Fixture::new();
    fx.project("alpha");
    fs::write(fx.root.join("alpha/.fake-claude-mode"), "crash\n").unwrap();
    let cfg = fx.config(yaml);
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg).env("FAKE_CLAUDE_CRASH_AFTER_MS", "300");
    });
    trust(&srv, "alpha");
    let _log = open(&b, &srv);
    b.click(&in_card("alpha", "button[data-action=start]"));
    b.wait_text(&in_card("alpha", "[data-role=restart]"), "Restart: on-failure · 1 restart");
    wait_status(&b, "alpha", "failed");
    assert_eq!(b.text_content(&in_card("alpha", "[data-role=status]")), "Gave up");
    b.wait_text(&in_card("alpha", "[data-role=restart]"), "gave up after 2 restarts");
}

#[test]
fn a_running_card_shows_cpu_and_memory() {
    let b = browser!("a_running_card_shows_cpu_and_memory");
    let (_fx, srv) = serve(&["alpha"], "");
    let (_inst, _log) = open_running(&b, &srv, "alpha");
    let line = b.wait_text(&in_card("alpha", "[data-role=resources]"), "MiB");
    assert!(line.starts_with("CPU ") && line.contains("% · "), "{line}");
    b.click(&in_card("alpha", "button[data-action=stop]"));
    wait_status(&b, "alpha", "stopped");
    assert!(!b.is_displayed(&in_card("alpha", "[data-role=resources]")));
    assert!(b.query(&card("alpha")).is_some());
}
