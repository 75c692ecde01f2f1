//! Browser tests: the real `clauster` binary and the fake `claude`, driven through the
//! dashboard in headless Chromium over WebDriver (`driver.rs`). They need Debian's
//! `chromium` and `chromium-driver` (`CLAUSTER_CHROMIUM`/`CLAUSTER_CHROMEDRIVER` override
//! the paths); without them each test says SKIPPED on stderr and passes, except under
//! `CI`, where it fails. `CLAUSTER_SCREENSHOTS=1` also writes `docs/screenshots/*.png`.
//!
//! The dashboard renders from the `/ws/events` snapshot, so tests always wait for what
//! they look for; the DOM hooks they use (`data-project`, `data-status`, `data-action`,
//! `data-role`, ...) are the UI's contract with these tests.

#![allow(dead_code)]

mod accessibility;
mod dashboard;
mod driver;
mod element;
mod lifecycle;
mod login;
mod projects;
mod running;
mod screenshots;
mod selftest;
mod states;
mod wire;

use std::fs;

use serde_json::{Value, json};

use crate::common::{Fixture, Server};
pub use driver::Browser;

/// A browser for the test, or an early return when the browser is not installed.
macro_rules! browser {
    ($test:expr) => {
        match $crate::browser::Browser::launch($test) {
            Some(b) => b,
            None => return,
        }
    };
}
pub(crate) use browser;

/// A fixture with projects `names`, none trusted, served with config `extra`.
pub fn serve(names: &[&str], extra: &str) -> (Fixture, Server) {
    let fx = Fixture::new();
    for n in names {
        fx.project(n);
    }
    let cfg = fx.config(extra);
    let srv = fx.start_with(|c| {
        c.args(["run", "-c"]).arg(&cfg);
    });
    (fx, srv)
}

pub fn origin(srv: &Server) -> String {
    format!("http://{}", srv.addr)
}

/// Opens the dashboard and waits until the events socket is live. Keep the returned
/// guard: a failing test then prints the server's log too.
pub fn open<'a>(b: &Browser, srv: &'a Server) -> LogOnPanic<'a> {
    b.goto(&format!("{}/", origin(srv)));
    b.wait_attr("body", "data-conn", "live");
    LogOnPanic(srv)
}

/// Prints the end of the server's log if the test panics while this is alive.
pub struct LogOnPanic<'a>(pub &'a Server);

impl Drop for LogOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self.0.logs();
            let lines: Vec<&str> = logs.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            eprintln!("--- clauster log (last 60 lines) ---\n{tail}");
        }
    }
}

/// The card of project `name`.
pub fn card(name: &str) -> String {
    format!("article.project-card[data-project=\"{name}\"]")
}

/// `sel` inside the card of project `name`.
pub fn in_card(name: &str, sel: &str) -> String {
    format!("{} {sel}", card(name))
}

/// Waits until the card of `name` has `data-status` = `status`.
pub fn wait_status(b: &Browser, name: &str, status: &str) {
    b.wait_attr(&card(name), "data-status", status);
}

/// Trusts a project through the API (what the UI's trust confirm does).
pub fn trust(srv: &Server, name: &str) {
    let r = srv.post(&format!("/api/projects/{name}/trust"));
    assert_eq!(r.status, 200, "trust {name}: {}", r.text());
}

pub fn instance(srv: &Server, name: &str) -> Value {
    srv.get_json(&format!("/api/instances/{name}"))
}

/// Starts a (trusted) project's bridge through the API and waits until it runs.
pub fn start_api(srv: &Server, name: &str) -> Value {
    let body = json!({ "project": name }).to_string();
    let r = srv.request("POST", "/api/instances", &[("Content-Type", "application/json")], Some(body.as_bytes()));
    assert!(r.status == 201 || r.status == 202, "start {name}: {} {}", r.status, r.text());
    srv.eventually(&format!("{name} running"), || Some(instance(srv, name)).filter(|i| i["status"] == "running"))
}

/// Trusts and starts `name`'s bridge through the API, then opens the dashboard on it
/// running. Returns the instance and the log guard of [`open`].
pub fn open_running<'a>(b: &Browser, srv: &'a Server, name: &str) -> (Value, LogOnPanic<'a>) {
    trust(srv, name);
    let inst = start_api(srv, name);
    let log = open(b, srv);
    wait_status(b, name, "running");
    (inst, log)
}

/// Makes the fake bridge of a project log `per_second` heartbeat lines once running.
pub fn log_rate(fx: &Fixture, name: &str, per_second: u32) {
    fs::write(fx.root.join(name).join(".fake-claude-rate"), format!("{per_second}\n")).unwrap();
}

/// Marks the current document; [`assert_no_reload`] checks the mark is still there.
pub fn mark_no_reload(b: &Browser) {
    b.js("window.__noReload = 1", json!([]));
}

pub fn assert_no_reload(b: &Browser) {
    assert_eq!(b.js("return window.__noReload || null", json!([])), json!(1), "the page reloaded");
}

/// A free loopback port (for a server that must come back on the same one).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Asserts the page needs no horizontal scrolling at the current window width, naming
/// the innermost elements that stick out if it does.
pub fn assert_fits(b: &Browser) {
    let overflow = "return document.documentElement.scrollWidth - document.documentElement.clientWidth";
    if b.js(overflow, json!([])) != json!(0) {
        let width = b.js("return document.documentElement.clientWidth", json!([]));
        panic!("horizontal scrolling at {width} px; elements past the right edge:\n{}", b.js(STICKING_OUT, json!([])));
    }
}

const STICKING_OUT: &str = "const w = document.documentElement.clientWidth; \
    const out = [...document.querySelectorAll('body *')].filter(e => { \
      const r = e.getBoundingClientRect(); return r.width > 0 && r.right > w + 1 \
        && ![...e.children].some(c => c.getBoundingClientRect().right > w + 1); }) \
      .slice(0, 12).map(e => { const r = e.getBoundingClientRect(); \
        return `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')} \
${e.dataset.role || e.dataset.action || ''} right=${Math.round(r.right)} width=${Math.round(r.width)} \
text=${JSON.stringify(e.textContent.trim().slice(0, 60))}`; }); \
    return out.join('\\n')";
