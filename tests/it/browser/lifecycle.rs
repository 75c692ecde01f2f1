//! A card through a bridge's life: the trust confirm on a first start, Stop, and a
//! bridge killed behind clauster's back, all without a page reload.

use super::{
    Browser, assert_no_reload, browser, card, in_card, instance, mark_no_reload, open, open_running, serve, trust,
    wait_status,
};
use crate::common::kill;

#[test]
fn starting_an_untrusted_project_asks_for_trust_first() {
    let b = browser!("starting_an_untrusted_project_asks_for_trust_first");
    let (_fx, srv) = serve(&["alpha"], "");
    let _log = open(&b, &srv);
    wait_status(&b, "alpha", "stopped");
    assert!(!b.is_displayed(&in_card("alpha", "[data-role=trusted]")), "not trusted yet");
    mark_no_reload(&b);

    // Cancel leaves everything as it was.
    b.click(&in_card("alpha", "button[data-action=start]"));
    b.wait_el(&in_card("alpha", "[data-role=trust-confirm]"));
    b.click(&in_card("alpha", "[data-role=trust-confirm] button[data-action=cancel]"));
    b.wait_hidden(&in_card("alpha", "[data-role=trust-confirm]"));
    assert_eq!(b.attr(&card("alpha"), "data-status").as_deref(), Some("stopped"));
    assert_eq!(srv.get("/api/instances/alpha").status, 404, "nothing was started");

    b.click(&in_card("alpha", "button[data-action=start]"));
    let go = in_card("alpha", "button[data-action=trust-start]");
    b.wait_el(&go);
    assert!(!b.query(&go).unwrap().enabled().unwrap(), "Trust & start is disabled until the box is ticked");
    b.click(&in_card("alpha", "input[data-role=trust-check]"));
    b.wait_for("Trust & start to be enabled", || b.query(&go)?.enabled().ok()?.then_some(()));
    b.click(&go);

    wait_status(&b, "alpha", "running");
    b.wait_el(&in_card("alpha", "[data-role=trusted]"));
    b.wait_hidden(&in_card("alpha", "[data-role=trust-confirm]"));
    assert_eq!(instance(&srv, "alpha")["status"], "running");
    assert_no_reload(&b);
}

#[test]
fn a_trusted_project_starts_at_once_and_stops() {
    let b = browser!("a_trusted_project_starts_at_once_and_stops");
    let (_fx, srv) = serve(&["alpha"], "");
    trust(&srv, "alpha");
    let _log = open(&b, &srv);
    b.wait_el(&in_card("alpha", "[data-role=trusted]"));
    mark_no_reload(&b);

    b.click(&in_card("alpha", "button[data-action=start]"));
    wait_status(&b, "alpha", "running");
    assert!(!b.is_displayed(&in_card("alpha", "[data-role=trust-confirm]")), "no trust confirm when trusted");
    assert_eq!(b.text_content(&in_card("alpha", "[data-role=status]")), "Running");

    b.click(&in_card("alpha", "button[data-action=stop]"));
    wait_status(&b, "alpha", "stopped");
    assert_eq!(b.text_content(&in_card("alpha", "[data-role=status]")), "Stopped");
    assert_eq!(instance(&srv, "alpha")["status"], "stopped");
    wait_start_or_resume(&b, "alpha");
    assert_no_reload(&b);
}

#[test]
fn a_bridge_killed_from_outside_shows_as_crashed() {
    let b = browser!("a_bridge_killed_from_outside_shows_as_crashed");
    let (_fx, srv) = serve(&["alpha"], "");
    let (inst, _log) = open_running(&b, &srv, "alpha");
    mark_no_reload(&b);

    kill(inst["bridge_pid"].as_u64().expect("bridge_pid") as u32, 9);
    let status = b.wait_attr_in(&card("alpha"), "data-status", &["crashed", "interrupted"]);
    let label = if status == "crashed" { "Crashed" } else { "Interrupted" };
    assert_eq!(b.text_content(&in_card("alpha", "[data-role=status]")), label);
    wait_start_or_resume(&b, "alpha");
    assert_no_reload(&b);
}

/// A stopped bridge with a session offers Resume, one without offers Start.
fn wait_start_or_resume(b: &Browser, name: &str) {
    let sel =
        format!("{0}, {1}", in_card(name, "button[data-action=start]"), in_card(name, "button[data-action=resume]"));
    b.wait_for(&format!("Start or Resume on {name}'s card"), || {
        b.query_all(&sel).iter().any(|e| e.displayed().unwrap_or(false)).then_some(())
    });
}
