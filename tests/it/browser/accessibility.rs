//! An accessibility audit with axe-core (WCAG 2 A/AA and best practices) of the pages as
//! people use them: the dashboard with its panels open, in both themes, and the login
//! page. axe-core is vendored beside these tests (`vendor/`, MPL-2.0), never embedded.

use serde_json::{Value, json};

use super::{Browser, browser, in_card, log_rate, open, open_running, origin, serve, trust, wait_status};
use crate::auth::auth_yaml;

const AXE: &str = include_str!("vendor/axe.min.js");

/// Runs axe on the current page; returns one line per violated rule and node.
fn audit(b: &Browser) -> Vec<String> {
    if b.js("return typeof window.axe", json!([])) != json!("object") {
        b.js(&format!("{AXE}\n;return 1"), json!([]));
    }
    b.js(
        "window.__axe = null; \
         axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}) \
           .then(r => { window.__axe = r.violations.flatMap(v => v.nodes.map(n => \
             `${v.id} [${v.impact}] ${n.target.join(' ')}: ${n.failureSummary.replace(/\\s+/g, ' ')}`)); });",
        json!([]),
    );
    let found = b.wait_js("the axe audit", "return window.__axe", json!([]));
    found.as_array().unwrap().iter().map(|v: &Value| v.as_str().unwrap_or_default().to_owned()).collect()
}

#[test]
fn the_dashboard_passes_an_axe_audit_in_both_themes() {
    let b = browser!("the_dashboard_passes_an_axe_audit_in_both_themes");
    let (fx, srv) =
        serve(&["alpha", "beta", "delta", "gamma"], "projects:\n  gamma:\n    allow_bypass_permissions: true\n");
    log_rate(&fx, "alpha", 5);
    std::fs::write(fx.root.join("delta/.fake-claude-mode"), "logged-out\n").unwrap();
    trust(&srv, "delta");
    let (_inst, _log) = open_running(&b, &srv, "alpha");
    // A failed start: the error, claude's stderr, a toast.
    b.click(&in_card("delta", "button[data-action=start]"));
    b.wait_el(&in_card("delta", "[data-role=error-detail]"));
    // Everything else that can be open at once: logs, QR, a trust confirm, options, the
    // editor, the new-project form.
    b.click(&in_card("alpha", "button[data-action=logs]"));
    b.click(&in_card("alpha", "button[data-action=qr]"));
    b.click(&in_card("beta", "button[data-action=start]"));
    b.wait_el(&in_card("beta", "[data-role=trust-confirm]"));
    b.click(&in_card("gamma", "button[data-action=options]"));
    b.click(&in_card("gamma", "button[data-action=menu]"));
    b.click(&in_card("gamma", "button[data-action=edit-claude-md]"));
    b.wait_el(&in_card("gamma", "[data-role=claude-md]"));
    b.click("button#new-project-toggle");
    b.wait_el("#new-project input[name=name]");
    b.wait_text(&in_card("alpha", "pre[data-role=log]"), "seq=");
    wait_status(&b, "gamma", "stopped");

    for theme in ["dark", "light"] {
        if b.attr("html", "data-bs-theme").as_deref() != Some(theme) {
            b.click("#theme-toggle");
            b.wait_attr("html", "data-bs-theme", theme);
        }
        let found = audit(&b);
        assert!(found.is_empty(), "{theme} theme:\n{}", found.join("\n"));
    }
}

#[test]
fn the_login_page_passes_an_axe_audit() {
    let b = browser!("the_login_page_passes_an_axe_audit");
    let (_fx, srv) = serve(&["alpha"], &auth_yaml(""));
    b.goto(&format!("{}/login", origin(&srv)));
    b.wait_el("input#password");
    let found = audit(&b);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn an_empty_dashboard_passes_an_axe_audit() {
    let b = browser!("an_empty_dashboard_passes_an_axe_audit");
    let (_fx, srv) = serve(&[], "");
    let _log = open(&b, &srv);
    b.wait_text(".empty", "No projects found");
    let found = audit(&b);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

const ENTER: &str = "\u{E007}";
const ESCAPE: &str = "\u{E00C}";
const TAB: &str = "\u{E004}";

#[test]
fn a_bridge_starts_and_stops_from_the_keyboard_and_the_menu_works_without_a_mouse() {
    let b = browser!("a_bridge_starts_and_stops_from_the_keyboard_and_the_menu_works_without_a_mouse");
    let (_fx, srv) = serve(&["alpha"], "");
    let _log = open(&b, &srv);
    let focus = |sel: &str| b.js("document.querySelector(arguments[0]).focus()", json!([sel]));
    let focused = || {
        b.js("return document.activeElement.dataset.action || document.activeElement.dataset.role || null", json!([]))
    };
    let wait_focus = |on: &str| b.wait_for(&format!("the focus on {on}"), || (focused() == json!(on)).then_some(()));

    // Start on an untrusted folder: the confirm takes the focus (its checkbox); Space
    // ticks it, Tab reaches "Trust & start", Enter starts; the focus returns to the card.
    focus(&in_card("alpha", "button[data-action=start]"));
    b.press(ENTER);
    wait_focus("trust-check");
    b.press(" ");
    b.press(TAB);
    wait_focus("trust-start");
    b.press(ENTER);
    wait_status(&b, "alpha", "running");
    // The one primary button keeps the focus across the state change: Enter again stops.
    wait_focus("stop");
    b.press(ENTER);
    wait_status(&b, "alpha", "stopped");

    focus(&in_card("alpha", "button[data-action=menu]"));
    b.press(ENTER);
    wait_focus("edit-claude-md");
    b.press(ESCAPE);
    b.wait_hidden(&in_card("alpha", "button[data-action=edit-claude-md]"));
}
