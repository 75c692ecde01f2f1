//! A running bridge's card: the live log pane, the session QR code and link, and the
//! bypassPermissions confirm.

use std::time::Duration;

use serde_json::json;

use super::{browser, in_card, instance, log_rate, open, open_running, serve, trust, wait_status};

/// Non-empty lines in the card's log pane.
fn log_lines(b: &super::Browser, name: &str) -> Vec<String> {
    let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : ''";
    let text = b.js(script, json!([in_card(name, "pre[data-role=log]")]));
    text.as_str().unwrap_or_default().lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

#[test]
fn the_log_pane_streams_lines_live_and_pauses_and_clears() {
    let b = browser!("the_log_pane_streams_lines_live_and_pauses_and_clears");
    let (fx, srv) = serve(&["alpha"], "");
    log_rate(&fx, "alpha", 20);
    let (_inst, _log) = open_running(&b, &srv, "alpha");

    b.click(&in_card("alpha", "button[data-action=logs]"));
    b.wait_el(&in_card("alpha", "pre[data-role=log]"));
    let first = b.wait_for("log lines", || Some(log_lines(&b, "alpha").len()).filter(|n| *n >= 3));
    b.wait_for("the log to grow live", || (log_lines(&b, "alpha").len() >= first + 10).then_some(()));
    assert!(log_lines(&b, "alpha").iter().any(|l| l.contains("seq=")), "heartbeats: {:?}", log_lines(&b, "alpha"));

    // Paused: nothing is appended; resumed: it grows again.
    b.click(&in_card("alpha", "button[data-action=log-pause]"));
    let paused = log_lines(&b, "alpha").len();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(log_lines(&b, "alpha").len(), paused, "no lines while paused (20 per second arrive)");
    b.click(&in_card("alpha", "button[data-action=log-pause]"));
    b.wait_for("lines after resuming", || (log_lines(&b, "alpha").len() > paused).then_some(()));

    // Cleared: the old lines are gone, new ones keep coming.
    let last = log_lines(&b, "alpha").last().cloned().unwrap();
    b.click(&in_card("alpha", "button[data-action=log-clear]"));
    b.wait_for("the pane to clear", || (!log_lines(&b, "alpha").contains(&last)).then_some(()));
    b.wait_for("new lines after clearing", || (!log_lines(&b, "alpha").is_empty()).then_some(()));

    b.click(&in_card("alpha", "button[data-action=logs]"));
    b.wait_hidden(&in_card("alpha", "pre[data-role=log]"));
}

#[test]
fn a_running_card_links_the_session_and_renders_its_qr_code() {
    let b = browser!("a_running_card_links_the_session_and_renders_its_qr_code");
    let (_fx, srv) = serve(&["alpha"], "");
    let (inst, _log) = open_running(&b, &srv, "alpha");

    let link = in_card("alpha", "a[data-role=session-link]");
    b.wait_el(&link);
    let href = b.attr(&link, "href").unwrap_or_default();
    assert!(href.starts_with("https://claude.ai/code/"), "session link: {href:?}");
    assert_eq!(Some(href.as_str()), inst["session_url"].as_str().or(inst["url"].as_str()));
    b.wait_el(&in_card("alpha", "button[data-action=copy]"));

    b.click(&in_card("alpha", "button[data-action=qr]"));
    let img = in_card("alpha", "img[data-role=qr]");
    b.wait_el(&img);
    let src = b.attr(&img, "src").unwrap_or_default();
    assert!(src.contains("/api/instances/alpha/qr"), "qr src: {src:?}");
    let loaded = "const i = document.querySelector(arguments[0]); return i && i.complete && i.naturalWidth > 0 || null";
    b.wait_js("the QR image to load", loaded, json!([img]));
    b.click(&in_card("alpha", "button[data-action=qr]"));
    b.wait_hidden(&img);
}

#[test]
fn bypass_permissions_needs_the_config_and_the_typed_project_name() {
    let b = browser!("bypass_permissions_needs_the_config_and_the_typed_project_name");
    let (_fx, srv) = serve(&["alpha", "beta"], "projects:\n  alpha:\n    allow_bypass_permissions: true\n");
    trust(&srv, "alpha");
    trust(&srv, "beta");
    let _log = open(&b, &srv);
    wait_status(&b, "beta", "stopped");

    let bypass = "select[data-role=permission] option[value=bypassPermissions]";
    b.click(&in_card("beta", "button[data-action=options]"));
    b.wait_el(&in_card("beta", "select[data-role=permission]"));
    b.wait_el(&in_card("beta", "select[data-role=spawn]"));
    b.wait_el(&in_card("beta", "select[data-role=mode]"));
    assert!(b.query(&in_card("beta", bypass)).is_none(), "beta is not allowed bypassPermissions");

    b.click(&in_card("alpha", "button[data-action=options]"));
    b.wait_el(&in_card("alpha", "select[data-role=permission]"));
    b.select(&in_card("alpha", "select[data-role=permission]"), "bypassPermissions");
    b.click(&in_card("alpha", "button[data-action=start]"));
    b.wait_el(&in_card("alpha", "[data-role=bypass-confirm]"));

    b.type_into(&in_card("alpha", "input[data-role=bypass-name]"), "alph");
    b.click(&in_card("alpha", "button[data-action=bypass-start]"));
    b.wait_text(&in_card("alpha", "[data-role=error]"), "Type the project name exactly to confirm bypass.");
    assert_eq!(srv.get("/api/instances/alpha").status, 404, "a wrong name starts nothing");

    b.type_into(&in_card("alpha", "input[data-role=bypass-name]"), "alpha");
    b.click(&in_card("alpha", "button[data-action=bypass-start]"));
    wait_status(&b, "alpha", "running");
    assert_eq!(instance(&srv, "alpha")["permission_mode"], "bypassPermissions");
}
