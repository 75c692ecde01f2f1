//! Issue 7's parts of the page: the New project form (create, clone with live progress,
//! refusals), the CLAUDE.md editor on a card, and the cost badge.

use serde_json::json;

use super::{Browser, browser, card, in_card, open, serve, trust, wait_status};
use crate::clone::stub_fixture;
use crate::common::Fixture;
use crate::usage::{TRANSCRIPT, transcripts_dir};

/// Opens the New project form and fills in the name and kind (`create` or `clone`).
fn fill_form(b: &Browser, name: &str, kind: &str) {
    if !b.is_displayed("#new-project") {
        b.click("button#new-project-toggle");
        b.wait_el("#new-project input[name=name]");
    }
    b.click(&format!("#new-project input[name=kind][value={kind}]"));
    b.js("document.querySelector('#new-project input[name=name]').value = ''", json!([]));
    b.type_into("#new-project input[name=name]", name);
}

fn toasts(b: &Browser) -> String {
    b.text_content("#toasts")
}

#[test]
fn a_project_created_from_the_form_gets_a_card() {
    let b = browser!("a_project_created_from_the_form_gets_a_card");
    let (fx, srv) = serve(&["alpha"], "");
    let _log = open(&b, &srv);
    b.wait_count("article.project-card", 1);
    assert!(!b.is_displayed("#new-project"), "the form starts closed");

    b.click("button#new-project-toggle");
    b.wait_el("#new-project");
    b.click("#new-project input[name=kind][value=clone]");
    b.wait_el("#new-project input[name=url]");
    assert!(!b.is_displayed("#new-project input[name=git_init]"), "git init is a create option");
    fill_form(&b, "fresh-one", "create");
    b.click("#new-project button[data-action=create-project]");

    wait_status(&b, "fresh-one", "stopped");
    b.wait_count("article.project-card", 2);
    assert!(fx.root.join("fresh-one").is_dir(), "the folder exists");
    b.wait_for("the ready toast", || toasts(&b).contains("fresh-one: ready").then_some(()));
    b.wait_hidden("#new-project");

    // The same name again: the server's 409 detail, inline and as a toast.
    fill_form(&b, "fresh-one", "create");
    b.click("#new-project button[data-action=create-project]");
    let err = b.wait_text("[data-role=new-project-error]", "already exists");
    assert!(err.contains("fresh-one"), "{err}");
    b.wait_for("the failure toast", || toasts(&b).contains("Project create failed").then_some(()));
}

#[test]
fn a_clone_shows_its_progress_and_warns_when_the_repo_ships_claude_config() {
    let b = browser!("a_clone_shows_its_progress_and_warns_when_the_repo_ships_claude_config");
    let fx = stub_fixture();
    fx.project("alpha");
    let cfg = fx.config("clone:\n  allowed_private_cidrs: [\"10.0.0.0/8\"]\n");
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg);
    });
    let _log = open(&b, &srv);
    fill_form(&b, "cloned", "clone");
    b.type_into("#new-project input[name=url]", "https://10.1.2.3/ships");
    // Every state of the progress block, as the page shows it.
    b.js(
        "window.__progress = []; const el = document.querySelector('[data-role=clone-progress]'); \
         new MutationObserver(() => window.__progress.push(el.innerText.replace(/\\s+/g, ' ').trim())) \
           .observe(el, {subtree: true, childList: true, characterData: true, attributes: true});",
        json!([]),
    );
    b.click("#new-project button[data-action=create-project]");

    let warning = b.wait_text("[data-role=new-project-warning]", "ships CLAUDE.md + .claude/");
    assert!(warning.contains("cloned") && warning.contains("Review it before starting"), "{warning}");
    b.wait_for("the review toast", || toasts(&b).contains("cloned: added — review before starting").then_some(()));
    let seen = b.js("return window.__progress", json!([]));
    let seen: Vec<&str> = seen.as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert!(seen.iter().any(|s| s.contains("Cloning")), "the phase before git reports: {seen:?}");
    assert!(seen.iter().any(|s| s.contains('%')), "a percent was shown: {seen:?}");

    // The card is there, stopped, untrusted: a clone never starts a bridge.
    wait_status(&b, "cloned", "stopped");
    assert!(!b.is_displayed(&in_card("cloned", "[data-role=trusted]")));
    assert_eq!(srv.get("/api/instances/cloned").status, 404);
    assert!(fx.root.join("cloned/CLAUDE.md").is_file());

    b.click("[data-action=show-new-card]");
    b.wait_js(
        "the new card to have focus",
        "return document.activeElement.dataset.project === 'cloned' || null",
        json!([]),
    );
}

#[test]
fn a_clone_of_a_blocked_host_is_refused_in_the_form() {
    let b = browser!("a_clone_of_a_blocked_host_is_refused_in_the_form");
    let (_fx, srv) = serve(&["alpha"], "");
    let _log = open(&b, &srv);
    fill_form(&b, "nope", "clone");
    b.type_into("#new-project input[name=url]", "https://127.0.0.1/x.git");
    b.click("#new-project button[data-action=create-project]");
    b.wait_text("[data-role=new-project-error]", "resolves to blocked address");
    b.wait_for("the failure toast", || toasts(&b).contains("Clone failed").then_some(()));
    assert!(b.query(&card("nope")).is_none());
}

/// Opens the CLAUDE.md editor of `name` from its card menu and waits until it loaded.
fn open_editor(b: &Browser, name: &str) {
    b.click(&in_card(name, "button[data-action=menu]"));
    b.click(&in_card(name, "button[data-action=edit-claude-md]"));
    b.wait_for("the editor to load", || {
        b.query(&in_card(name, "textarea[data-role=claude-md-text]"))?.enabled().ok()?.then_some(())
    });
}

fn set_text(b: &Browser, name: &str, text: &str) {
    b.js(
        "const t = document.querySelector(arguments[0]); t.value = arguments[1]; t.dispatchEvent(new Event('input'));",
        json!([in_card(name, "textarea[data-role=claude-md-text]"), text]),
    );
}

#[test]
fn the_claude_md_editor_saves_and_explains_refusals_and_conflicts() {
    let b = browser!("the_claude_md_editor_saves_and_explains_refusals_and_conflicts");
    let (fx, srv) = serve(&["alpha"], "");
    let _log = open(&b, &srv);
    open_editor(&b, "alpha");
    assert!(b.text_content(&in_card("alpha", "[data-role=claude-md]")).contains("new file"));
    let save = in_card("alpha", "button[data-action=claude-md-save]");

    // Untrusted: the server's 403 detail, nothing written.
    set_text(&b, "alpha", "# Alpha\n");
    b.wait_text(&in_card("alpha", "[data-role=claude-md-count]"), "8 / 65536 bytes");
    b.click(&save);
    b.wait_text(&in_card("alpha", "[data-role=claude-md-error]"), "trust");
    b.wait_for("the failure toast", || toasts(&b).contains("CLAUDE.md save failed").then_some(()));
    assert!(!fx.root.join("alpha/CLAUDE.md").exists());

    trust(&srv, "alpha");
    b.click(&save);
    b.wait_text(&in_card("alpha", "[data-role=claude-md]"), "✓ saved");
    b.wait_for("the saved toast", || toasts(&b).contains("CLAUDE.md saved").then_some(()));
    assert_eq!(std::fs::read_to_string(fx.root.join("alpha/CLAUDE.md")).unwrap(), "# Alpha\n");

    // Someone else saves in between: 409, with a way to load their version.
    std::fs::write(fx.root.join("alpha/CLAUDE.md"), "# Theirs\n").unwrap();
    set_text(&b, "alpha", "# Mine\n");
    b.click(&save);
    b.wait_text(&in_card("alpha", "[data-role=claude-md-error]"), "changed CLAUDE.md since you opened it");
    assert_eq!(std::fs::read_to_string(fx.root.join("alpha/CLAUDE.md")).unwrap(), "# Theirs\n");
    b.click(&in_card("alpha", "button[data-action=claude-md-reload]"));
    b.wait_js(
        "their version in the editor",
        "return document.querySelector(arguments[0]).value === '# Theirs\\n' || null",
        json!([in_card("alpha", "textarea[data-role=claude-md-text]")]),
    );

    // Over the cap: the counter turns red and Save is disabled.
    set_text(&b, "alpha", &"x".repeat(65_537));
    b.wait_text(&in_card("alpha", "[data-role=claude-md-count]"), "65537 / 65536 bytes");
    assert!(b.attr(&in_card("alpha", "[data-role=claude-md-count]"), "class").unwrap().contains("text-red"));
    assert!(!b.query(&save).unwrap().enabled().unwrap(), "Save is disabled over the cap");
}

fn with_transcript(fx: &Fixture, name: &str) {
    let dir = transcripts_dir(&fx.home, &fx.project(name));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("s1.jsonl"), TRANSCRIPT).unwrap();
}

#[test]
fn the_cost_badge_shows_the_estimate_with_its_tokens() {
    let b = browser!("the_cost_badge_shows_the_estimate_with_its_tokens");
    let (fx, srv) = serve(&["alpha", "beta"], "");
    with_transcript(&fx, "alpha");
    let _log = open(&b, &srv);
    let badge = in_card("alpha", "[data-role=usage]");
    b.wait_text(&badge, "≈$0.18");
    let tip = b.attr(&badge, "title").unwrap();
    assert!(tip.contains("7,342 tokens across 1 session · approximate cost"), "{tip}");
    assert!(tip.contains("excludes unpriced: unknown, gpt-x"), "{tip}");
    assert!(!b.is_displayed(&in_card("beta", "[data-role=usage]")), "no transcripts, no badge");
}

#[test]
fn with_show_cost_off_there_is_no_badge_and_no_usage_request() {
    let b = browser!("with_show_cost_off_there_is_no_badge_and_no_usage_request");
    let (fx, srv) = serve(&["alpha"], "usage:\n  show_cost: false\n");
    with_transcript(&fx, "alpha");
    let _log = open(&b, &srv);
    wait_status(&b, "alpha", "stopped");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!b.is_displayed(&in_card("alpha", "[data-role=usage]")));
    let asked = b
        .js("return performance.getEntriesByType('resource').filter(e => e.name.includes('/usage')).length", json!([]));
    assert_eq!(asked, json!(0));
}
