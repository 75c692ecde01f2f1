//! A small blocking W3C WebDriver client: Debian's chromedriver in its own process group
//! on a free loopback port, one headless Chromium session with a throwaway profile (and
//! HOME, so nothing lands in the real one), and the few commands the browser tests use.
//! Every command is one HTTP/1.1 request over a fresh `TcpStream`.
//!
//! Tests act through CSS selectors (`click`, `text`, `attr`, `wait_el`, ...), which find
//! the element again on every try: the dashboard re-renders from a WebSocket, so an element
//! found a moment ago may be gone. [`Element`] handles return `WdResult` for use inside
//! [`Browser::wait_for`] closures (`.ok()?`).

use std::io::Write;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::element::Element;
use super::wire::{WdError, WdResult, http};
use crate::common::{PATIENCE, pids_with};

/// The key of a web element reference in W3C WebDriver JSON.
pub(super) const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";
const POLL: Duration = Duration::from_millis(50);
const DEFAULT_CHROMIUM: &str = "/usr/bin/chromium";
const DEFAULT_CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const INSTALL_HINT: &str = "apt-get install -y chromium chromium-driver";

/// The chromium and chromedriver to use, or `None` (after saying so on stderr) when they
/// are not installed. Under `CI` a missing browser is a failure, not a skip.
fn tools(test: &str) -> Option<(PathBuf, PathBuf)> {
    let pick = |var: &str, default: &str| std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    let chromium = pick("CLAUSTER_CHROMIUM", DEFAULT_CHROMIUM);
    let driver = pick("CLAUSTER_CHROMEDRIVER", DEFAULT_CHROMEDRIVER);
    if chromium.is_file() && driver.is_file() {
        return Some((chromium, driver));
    }
    let why =
        format!("chromium/chromedriver not found at {} / {} ({INSTALL_HINT})", chromium.display(), driver.display());
    if std::env::var_os("CI").is_some() {
        panic!("browser test {test}: {why}; CI installs them, so their absence is a bug");
    }
    // Straight to fd 2: libtest's capture would hide an `eprintln!` of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED browser test {test}: {why}");
    None
}

/// A headless Chromium driven over WebDriver. Dropping it ends the session and kills
/// chromedriver's process group (Chromium included).
pub struct Browser {
    pub test: String,
    driver: Option<Child>,
    addr: String,
    session: String,
    /// Profile, HOME and chromedriver's log, removed on drop.
    dir: tempfile::TempDir,
    /// `dir` with symlinks resolved, as it appears on Chromium's command lines.
    base: PathBuf,
}

impl Browser {
    /// Starts chromedriver and a session, or returns `None` when the browser is not
    /// installed (see [`tools`]); use as `let Some(b) = Browser::launch("name") else { return };`.
    pub fn launch(test: &str) -> Option<Browser> {
        let (chromium, driver_bin) = tools(test)?;
        let dir = tempfile::Builder::new().prefix("clauster-browser-").tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        let (home, profile) = (base.join("home"), base.join("profile"));
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&profile).unwrap();
        let log = base.join("chromedriver.log");

        // A port picked by binding :0 can be taken by someone else before chromedriver
        // binds it; then chromedriver exits at once and another port is tried.
        let mut last_failure = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let out = std::fs::File::create(&log).unwrap();
            let mut child = Command::new(&driver_bin)
                .arg(format!("--port={port}"))
                .env("HOME", &home)
                .env("XDG_CONFIG_HOME", home.join(".config"))
                .env("XDG_CACHE_HOME", home.join(".cache"))
                .stdin(Stdio::null())
                .stdout(out.try_clone().unwrap())
                .stderr(out)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", driver_bin.display()));
            let addr = format!("127.0.0.1:{port}");
            let deadline = Instant::now() + PATIENCE;
            let ready = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    last_failure = format!("chromedriver exited ({status}):\n{}", read_lossy(&log));
                    break false;
                }
                if let Ok(v) = http(&addr, "GET", "/status", None, Duration::from_secs(2))
                    && v.1["value"]["ready"] == json!(true)
                {
                    break true;
                }
                if Instant::now() > deadline {
                    kill_group(&mut child);
                    panic!("chromedriver on {addr} not ready within {PATIENCE:?}:\n{}", read_lossy(&log));
                }
                std::thread::sleep(POLL);
            };
            if !ready {
                continue;
            }
            let (test, driver, session) = (test.to_string(), Some(child), String::new());
            let mut b = Browser { test, driver, addr, session, dir, base };
            b.new_session(&chromium, &profile);
            return Some(b);
        }
        panic!("could not start chromedriver: {last_failure}");
    }

    fn new_session(&mut self, chromium: &Path, profile: &Path) {
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-crash-reporter",
            "--window-size=1280,900",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": {"pageLoad": PATIENCE.as_millis() as u64, "script": PATIENCE.as_millis() as u64, "implicit": 0},
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let v = match http(&self.addr, "POST", "/session", Some(&caps), PATIENCE * 2) {
            Ok((200, v)) => v,
            Ok((status, v)) => panic!(
                "WebDriver new session -> {status}: {}\nchromedriver log:\n{}",
                v["value"]["message"].as_str().unwrap_or(&v.to_string()),
                self.driver_log()
            ),
            Err(e) => panic!("WebDriver new session: {e}\nchromedriver log:\n{}", self.driver_log()),
        };
        self.session = v["value"]["sessionId"].as_str().expect("sessionId").to_string();
    }

    fn driver_log(&self) -> String {
        read_lossy(&self.base.join("chromedriver.log"))
    }

    /// The temp folder holding this browser's profile and HOME (on its processes'
    /// command lines).
    pub fn profile_dir(&self) -> String {
        self.base.to_string_lossy().into_owned()
    }

    /// One command on this session: `path` is relative to `/session/{id}` ("" for the
    /// session itself). Returns the response's `value`.
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> WdResult<Value> {
        let full = format!("/session/{}{path}", self.session);
        let command = format!("{method} {path}");
        // Anything with a body is a POST; W3C wants `{}` rather than no body there.
        let body = body.or_else(|| (method == "POST").then(|| json!({})));
        match http(&self.addr, method, &full, body.as_ref(), PATIENCE + Duration::from_secs(10)) {
            Ok((200, v)) => Ok(v.get("value").cloned().unwrap_or(Value::Null)),
            Ok((status, v)) => Err(WdError {
                command,
                status,
                error: v["value"]["error"].as_str().unwrap_or("unknown error").to_string(),
                message: v["value"]["message"].as_str().map_or_else(|| v.to_string(), str::to_string),
            }),
            Err(e) => Err(WdError { command, status: 0, error: "transport".into(), message: e.to_string() }),
        }
    }

    fn must<T>(&self, r: WdResult<T>) -> T {
        r.unwrap_or_else(|e| panic!("[{}] {e}", self.test))
    }

    // ---- navigation and page ----

    pub fn goto(&self, url: &str) {
        self.must(self.cmd("POST", "/url", Some(json!({ "url": url }))));
    }

    pub fn refresh(&self) {
        self.must(self.cmd("POST", "/refresh", None));
    }

    pub fn url(&self) -> String {
        self.must(self.cmd("GET", "/url", None)).as_str().unwrap_or_default().to_string()
    }

    pub fn title(&self) -> String {
        self.must(self.cmd("GET", "/title", None)).as_str().unwrap_or_default().to_string()
    }

    /// Runs `script` (a function body: use `return`, and `arguments[i]` for `args`,
    /// which may include elements as `el.json()`) and returns its result.
    pub fn try_js(&self, script: &str, args: Value) -> WdResult<Value> {
        self.cmd("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    pub fn js(&self, script: &str, args: Value) -> Value {
        self.try_js(script, args).unwrap_or_else(|e| panic!("[{}] script failed: {e}\nscript: {script}", self.test))
    }

    /// Sets the outer window size (e.g. 360 wide for a phone screenshot).
    pub fn set_window_size(&self, width: u32, height: u32) {
        self.must(self.cmd("POST", "/window/rect", Some(json!({ "width": width, "height": height }))));
    }

    /// The viewport as PNG bytes.
    pub fn screenshot_png(&self) -> Vec<u8> {
        let b64 = self.must(self.cmd("GET", "/screenshot", None));
        let b64 = b64.as_str().expect("screenshot is a base64 string");
        base64::engine::general_purpose::STANDARD.decode(b64).expect("screenshot base64")
    }

    pub fn screenshot(&self, path: &Path) {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, self.screenshot_png()).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Saves `docs/screenshots/<name>.png`, only when `CLAUSTER_SCREENSHOTS=1` (normal
    /// runs leave the tree alone), with no focus ring or hover left by the test's clicks.
    /// Returns whether it wrote.
    pub fn snap(&self, name: &str) -> bool {
        if std::env::var("CLAUSTER_SCREENSHOTS").as_deref() != Ok("1") {
            return false;
        }
        self.calm();
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots").join(format!("{name}.png"));
        self.screenshot(&path);
        eprintln!("[{}] wrote {}", self.test, path.display());
        true
    }

    /// Parks the mouse in the top-left corner and blurs the focused element, so a
    /// screenshot shows no hover or focus styles from the last click.
    pub fn calm(&self) {
        let park = json!({"actions": [{"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [{"type": "pointerMove", "x": 0, "y": 0, "origin": "viewport", "duration": 0}]}]});
        self.must(self.cmd("POST", "/actions", Some(park)));
        self.js("if (document.activeElement) document.activeElement.blur()", json!([]));
    }

    /// Scrolls to the top at once (a plain `scrollTo` animates under `scroll-behavior: smooth`).
    pub fn scroll_top(&self) {
        self.js("window.scrollTo({top: 0, left: 0, behavior: 'instant'})", json!([]));
    }

    /// Scrolls the element matching `css` to the middle of the viewport at once.
    pub fn scroll_into_view(&self, css: &str) {
        let el = self.wait_for(&format!("{css} to scroll to"), || self.query(css));
        self.must(self.scroll_to(&el));
    }

    /// The page's console messages since the last call (chromedriver's browser log).
    pub fn console(&self) -> Vec<String> {
        match self.cmd("POST", "/se/log", Some(json!({"type": "browser"}))) {
            Ok(Value::Array(entries)) => entries
                .iter()
                .map(|e| format!("{} {}", e["level"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or("")))
                .collect(),
            Ok(other) => vec![format!("(unexpected log reply: {other})")],
            Err(e) => vec![format!("(no console log: {e})")],
        }
    }

    /// What a failing wait reports: the URL, the start of the page's text and the console.
    pub fn page_state(&self) -> String {
        let text = match self.try_js("return document.body ? document.body.innerText : '(no body)'", json!([])) {
            Ok(v) => v.as_str().unwrap_or_default().chars().take(2000).collect::<String>(),
            Err(e) => format!("({e})"),
        };
        let url = self.cmd("GET", "/url", None).map(|v| v.to_string()).unwrap_or_else(|e| e.to_string());
        let console = self.console();
        format!("url: {url}\n--- page text (start) ---\n{text}\n--- console ---\n{}", console.join("\n"))
    }

    // ---- waiting ----

    /// Polls `check` every 50 ms until it returns `Some`, within `PATIENCE` (a liveness
    /// bound); panics naming `what`, with the page's state, on timeout.
    pub fn wait_for<T>(&self, what: &str, check: impl FnMut() -> Option<T>) -> T {
        self.wait_within(PATIENCE, what, check)
    }

    pub fn wait_within<T>(&self, limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = check() {
                return v;
            }
            if Instant::now() >= deadline {
                panic!("[{}] timed out after {limit:?} waiting for {what}\n{}", self.test, self.page_state());
            }
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `script` returns something other than null/undefined/false, and
    /// returns it.
    pub fn wait_js(&self, what: &str, script: &str, args: Value) -> Value {
        self.wait_for(what, || self.try_js(script, args.clone()).ok().filter(|v| !v.is_null() && *v != json!(false)))
    }

    // ---- elements by CSS ----

    /// The first element matching `css` now, if any. Panics on an invalid selector.
    pub fn query(&self, css: &str) -> Option<Element<'_>> {
        match self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css}))) {
            Ok(v) => Some(self.element(&v)),
            Err(e) if e.error == "no such element" => None,
            Err(e) => panic!("[{}] finding {css:?}: {e}", self.test),
        }
    }

    /// Every element matching `css` now.
    pub fn query_all(&self, css: &str) -> Vec<Element<'_>> {
        let v = self.must(self.cmd("POST", "/elements", Some(json!({"using": "css selector", "value": css}))));
        v.as_array().map(|a| a.iter().map(|v| self.element(v)).collect()).unwrap_or_default()
    }

    /// The element that has the keyboard focus.
    pub fn active(&self) -> Element<'_> {
        let v = self.must(self.cmd("GET", "/element/active", None));
        self.element(&v)
    }

    /// Types `keys` (WebDriver key codes allowed, e.g. `"\u{E007}"` for Enter) into the
    /// focused element, as a keyboard user would.
    pub fn press(&self, keys: &str) {
        self.must(self.active().send_keys(keys));
    }

    pub(super) fn element(&self, v: &Value) -> Element<'_> {
        let id = v[ELEMENT_KEY].as_str().unwrap_or_else(|| panic!("not an element reference: {v}"));
        Element { b: self, id: id.to_string() }
    }

    /// Waits until an element matching `css` exists and is displayed, and returns it.
    pub fn wait_el(&self, css: &str) -> Element<'_> {
        self.wait_for(&format!("{css} to be displayed"), || {
            let el = self.query(css)?;
            el.displayed().ok()?.then_some(el)
        })
    }

    /// Waits until `count` elements match `css`.
    pub fn wait_count(&self, css: &str, count: usize) -> Vec<Element<'_>> {
        self.wait_for(&format!("{count} elements matching {css}"), || {
            let all = self.query_all(css);
            (all.len() == count).then_some(all)
        })
    }

    /// Waits until nothing matching `css` is displayed (absent or hidden).
    pub fn wait_hidden(&self, css: &str) {
        self.wait_for(&format!("{css} to be hidden or gone"), || (!self.is_displayed(css)).then_some(()));
    }

    /// Whether an element matching `css` exists and is displayed now.
    pub fn is_displayed(&self, css: &str) -> bool {
        self.query(css).is_some_and(|el| el.displayed().unwrap_or(false))
    }

    /// Clicks the element matching `css` once it is displayed and enabled, retrying while
    /// it is re-rendered, animating in or covered.
    pub fn click(&self, css: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let state = match self.query(css) {
                None => "absent".to_string(),
                Some(el) => match el.displayed().and_then(|d| Ok((d, el.enabled()?))) {
                    Ok((true, true)) => match self.scroll_to(&el).and_then(|()| el.click()) {
                        Ok(()) => return,
                        Err(e) => e.to_string(),
                    },
                    Ok((d, e)) => format!("displayed={d} enabled={e}"),
                    Err(e) => e.to_string(),
                },
            };
            if Instant::now() >= deadline {
                panic!(
                    "[{}] could not click {css} within {PATIENCE:?} (last: {state})\n{}",
                    self.test,
                    self.page_state()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Scrolls `el` to the middle of the viewport at once. WebDriver's own scrolling
    /// before a click obeys CSS `scroll-behavior: smooth` (Bootstrap sets it on `:root`)
    /// and then clicks where the element was before the animation: "click intercepted".
    pub fn scroll_to(&self, el: &Element<'_>) -> WdResult<()> {
        let script = "arguments[0].scrollIntoView({block: 'center', inline: 'nearest', behavior: 'instant'})";
        self.try_js(script, json!([el.json()])).map(drop)
    }

    /// Replaces the value of the input matching `css` with `text`.
    pub fn type_into(&self, css: &str, text: &str) {
        self.wait_for(&format!("typing into {css}"), || {
            let el = self.query(css)?;
            self.scroll_to(&el).ok()?;
            el.clear().ok()?;
            el.send_keys(text).ok()
        });
    }

    /// Selects `<option value=value>` of the `<select>` matching `css` (fires change).
    pub fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"));
    }

    /// The rendered text of the element matching `css` (waits until it exists).
    pub fn text(&self, css: &str) -> String {
        self.wait_for(&format!("the text of {css}"), || self.query(css)?.text().ok())
    }

    /// An attribute of the element matching `css` (waits until the element exists).
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.wait_for(&format!("attribute {name} of {css}"), || self.query(css)?.attr(name).ok())
    }

    /// Waits until attribute `name` of the element matching `css` equals `value`.
    pub fn wait_attr(&self, css: &str, name: &str, value: &str) {
        self.wait_for(&format!("{css} to have {name}={value:?}"), || {
            (self.query(css)?.attr(name).ok()?.as_deref() == Some(value)).then_some(())
        });
    }

    /// Waits until attribute `name` of the element matching `css` is one of `values`,
    /// and returns it.
    pub fn wait_attr_in(&self, css: &str, name: &str, values: &[&str]) -> String {
        self.wait_for(&format!("{css} to have {name} in {values:?}"), || {
            self.query(css)?.attr(name).ok()?.filter(|v| values.contains(&v.as_str()))
        })
    }

    /// The `textContent` of the element matching `css`, trimmed (waits until it exists);
    /// unlike [`Browser::text`] it ignores CSS `text-transform` and visibility.
    pub fn text_content(&self, css: &str) -> String {
        let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null";
        let v = self.wait_js(&format!("{css} to exist"), script, json!([css]));
        v.as_str().unwrap_or_default().to_string()
    }

    /// Waits until the text of the element matching `css` contains `needle`.
    pub fn wait_text(&self, css: &str, needle: &str) -> String {
        self.wait_for(&format!("{css} to contain {needle:?}"), || {
            self.query(css)?.text().ok().filter(|t| t.contains(needle))
        })
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A clean quit lets chromedriver reap Chromium; the group kill covers the rest.
        if !self.session.is_empty() {
            let path = format!("/session/{}", self.session);
            let _ = http(&self.addr, "DELETE", &path, None, Duration::from_secs(5));
        }
        if let Some(mut child) = self.driver.take() {
            kill_group(&mut child);
        }
        // Chromium's crashpad handler leaves the group (setsid); it carries our HOME.
        for pid in pids_with(&self.profile_dir()) {
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

fn kill_group(child: &mut Child) {
    // process_group(0) made chromedriver the leader: its pid is the group id.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.kill();
    let _ = child.wait();
}

fn read_lossy(p: &Path) -> String {
    std::fs::read(p).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
}
