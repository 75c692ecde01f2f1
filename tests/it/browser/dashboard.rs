//! The page as a whole: cards from the snapshot, nothing fetched from other hosts, the
//! theme, and the connection banner across a server restart.

use serde_json::json;

use super::{
    assert_fits, assert_no_reload, browser, card, free_port, in_card, log_rate, mark_no_reload, open, origin, serve,
    start_api, trust, wait_status,
};
use crate::common::{Fixture, SIGTERM};

#[test]
fn the_page_shows_a_stopped_card_per_project_and_loads_nothing_from_elsewhere() {
    let b = browser!("the_page_shows_a_stopped_card_per_project_and_loads_nothing_from_elsewhere");
    let (fx, srv) = serve(&["alpha", "beta", "gamma"], "");
    let _log = open(&b, &srv);
    b.wait_count("#project-grid article.project-card", 3);
    for name in ["alpha", "beta", "gamma"] {
        wait_status(&b, name, "stopped");
        assert_eq!(b.text_content(&in_card(name, "[data-role=status]")), "Stopped", "{name}'s badge");
        assert!(b.is_displayed(&in_card(name, "button[data-action=start]")), "{name} offers Start");
    }
    b.wait_for("the readiness panel", || b.query("#readiness"));

    let own = format!("{}/", origin(&srv));
    let urls = b.js(
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))\
         .map(e => e.name)",
        json!([]),
    );
    let urls: Vec<&str> = urls.as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
    assert!(urls.len() > 1, "the page loads its own assets: {urls:?}");
    let foreign: Vec<_> = urls.iter().filter(|u| !u.starts_with(&own)).collect();
    assert!(foreign.is_empty(), "requests outside {own}: {foreign:?}");

    // Folders come and go on disk: the grid follows, in the server's order.
    std::fs::remove_dir(fx.root.join("beta")).unwrap();
    fx.project("Aardvark");
    b.wait_js(
        "the grid to follow the folders",
        "const n = [...document.querySelectorAll('#project-grid article.project-card')].map(c => c.dataset.project); \
         return n.join(',') === 'Aardvark,alpha,gamma' || null",
        json!([]),
    );
}

#[test]
fn the_page_fits_a_360px_phone() {
    let b = browser!("the_page_fits_a_360px_phone");
    // Not logged in and an untrusted root: the readiness panel shows its long details.
    let (fx, srv) = serve(&["a-rather-long-project-name_with-more-words", "beta"], "");
    trust(&srv, "beta");
    log_rate(&fx, "beta", 5);
    start_api(&srv, "beta");
    b.set_window_size(360, 800);
    let _log = open(&b, &srv);
    wait_status(&b, "beta", "running");
    b.click(&in_card("beta", "button[data-action=logs]"));
    b.wait_text(&in_card("beta", "pre[data-role=log]"), "seq=");
    b.wait_el("#readiness");
    assert_fits(&b);
}

#[test]
fn many_projects_page_in_filter_by_name_and_count_running_bridges_in_the_title() {
    let b = browser!("many_projects_page_in_filter_by_name_and_count_running_bridges_in_the_title");
    let names: Vec<String> = (0..75).map(|i| format!("proj-{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (_fx, srv) = serve(&refs, "");
    let _log = open(&b, &srv);
    // 60 cards first, the rest behind "Show more".
    b.wait_count("#project-grid article.project-card", 60);
    b.wait_text("main", "Show 15 more of 15");
    b.js(
        "[...document.querySelectorAll('main button')].find(x => x.innerText.includes('Show 15 more')).click()",
        json!([]),
    );
    b.wait_count("#project-grid article.project-card", 75);

    // "/" jumps to the filter, which narrows the grid by name.
    b.js("document.activeElement.blur()", json!([]));
    b.press("/");
    b.wait_js("the filter to have the focus", "return document.activeElement.id === 'filter' || null", json!([]));
    b.press("proj-7");
    b.wait_count("#project-grid article.project-card", 5);

    assert_eq!(b.title(), "clauster");
    trust(&srv, "proj-70");
    start_api(&srv, "proj-70");
    b.wait_for("the running count in the title", || (b.title() == "(1) clauster").then_some(()));
}

#[test]
fn the_theme_toggles_and_survives_a_reload() {
    let b = browser!("the_theme_toggles_and_survives_a_reload");
    let (_fx, srv) = serve(&["alpha"], "");
    let _log = open(&b, &srv);
    let theme = || b.attr("html", "data-bs-theme");
    assert_eq!(theme().as_deref(), Some("dark"), "dark by default");

    b.click("#theme-toggle");
    b.wait_attr("html", "data-bs-theme", "light");
    assert_eq!(b.js("return localStorage.getItem('clauster-theme')", json!([])), json!("light"));
    b.refresh();
    assert_eq!(theme().as_deref(), Some("light"), "light after a reload");
    b.wait_el(&card("alpha"));

    b.click("#theme-toggle");
    b.wait_attr("html", "data-bs-theme", "dark");
    b.refresh();
    assert_eq!(theme().as_deref(), Some("dark"), "dark again after a reload");
}

#[test]
fn the_banner_shows_while_the_server_is_down_and_the_page_resyncs_after() {
    let b = browser!("the_banner_shows_while_the_server_is_down_and_the_page_resyncs_after");
    let fx = Fixture::new();
    fx.project("alpha");
    fx.project("beta");
    let cfg = fx.config("");
    let port = free_port().to_string();
    let start = || {
        fx.start_with(|c| {
            c.args(["run", "-c"]).arg(&cfg).env("CLAUSTER_PORT", &port);
        })
    };
    let mut srv = start();
    let addr = srv.addr.clone();
    open(&b, &srv);
    b.wait_count("article.project-card", 2);
    b.wait_attr("body", "data-conn", "live");
    assert!(!b.is_displayed("#conn-banner"), "no banner while connected");
    mark_no_reload(&b);

    srv.stop_with(SIGTERM);
    drop(srv);
    b.wait_el("#conn-banner");
    b.wait_attr_in("body", "data-conn", &["lost", "connecting"]);

    // What changed while the page was cut off arrives with the resync.
    fx.project("gamma");
    let srv = start();
    assert_eq!(srv.addr, addr, "the server is back on the same port");
    b.wait_attr("body", "data-conn", "live");
    b.wait_hidden("#conn-banner");
    b.wait_count("article.project-card", 3);
    wait_status(&b, "gamma", "stopped");
    assert_no_reload(&b);
}
