//! One dashboard in several states at once (running with logs and QR, an untrusted
//! project's confirm, a crashed bridge), on a desktop, a phone and in the light theme.
//! With `CLAUSTER_SCREENSHOTS=1` the states are saved as `docs/screenshots/*.png`.

use std::fs;

use serde_json::json;

use super::{assert_fits, browser, card, in_card, log_rate, open, serve, start_api, trust, wait_status};
use crate::common::kill;

#[test]
fn the_main_states_render_together_on_desktop_phone_and_light() {
    let b = browser!("the_main_states_render_together_on_desktop_phone_and_light");
    let (fx, srv) = serve(&["api-server", "docs-site", "ml-pipeline", "scratch"], "");
    // Logged in, so the readiness panel shows what a real user sees.
    fs::create_dir_all(fx.home.join(".claude")).unwrap();
    fs::write(fx.home.join(".claude/.credentials.json"), r#"{"claudeAiOauth":{"accessToken":"fake"}}"#).unwrap();
    for n in ["api-server", "ml-pipeline", "scratch"] {
        trust(&srv, n);
    }
    log_rate(&fx, "api-server", 5);
    start_api(&srv, "api-server");
    let doomed = start_api(&srv, "ml-pipeline");
    kill(doomed["bridge_pid"].as_u64().unwrap() as u32, 9);

    // Tall enough for a running card with its QR code and log pane open.
    b.set_window_size(1280, 1500);
    let _log = open(&b, &srv);
    wait_status(&b, "api-server", "running");
    b.wait_attr_in(&card("ml-pipeline"), "data-status", &["crashed", "interrupted"]);
    b.click(&in_card("api-server", "button[data-action=logs]"));
    b.click(&in_card("api-server", "button[data-action=qr]"));
    let loaded = "const i = document.querySelector(arguments[0]); return i && i.complete && i.naturalWidth > 0 || null";
    b.wait_js("the QR image to load", loaded, json!([in_card("api-server", "img[data-role=qr]")]));
    b.wait_text(&in_card("api-server", "pre[data-role=log]"), "seq=");
    b.scroll_top();
    b.snap("dashboard");

    b.set_window_size(1280, 900);
    b.scroll_into_view(&card("ml-pipeline"));
    b.snap("crashed");

    b.click(&in_card("docs-site", "button[data-action=start]"));
    b.wait_el(&in_card("docs-site", "[data-role=trust-confirm]"));
    b.scroll_into_view(&card("docs-site"));
    b.snap("trust-confirm");
    b.click(&in_card("docs-site", "button[data-action=cancel]"));

    b.set_window_size(360, 800);
    b.wait_js("a phone-sized window", "return window.innerWidth <= 360 || null", json!([]));
    b.scroll_top();
    assert_fits(&b);
    b.snap("mobile");

    b.set_window_size(1280, 1500);
    b.click("#theme-toggle");
    b.wait_attr("html", "data-bs-theme", "light");
    b.scroll_top();
    b.snap("light");
}
