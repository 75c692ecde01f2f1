//! The WebDriver harness itself, on a page of its own (a `data:` URL, so it depends on
//! nothing clauster serves): navigation, finding, reading, scripts with element
//! arguments, typing, clicking, screenshots, window size, the message of a failed wait,
//! and cleanup.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use serde_json::json;

use super::browser;

#[test]
fn the_harness_drives_a_real_page() {
    let b = browser!("the_harness_drives_a_real_page");
    let page = "data:text/html;charset=utf-8,<!doctype html><html lang=en><title>harness page</title><body><p>hi";
    b.goto(page);
    assert_eq!(b.title(), "harness page");
    assert!(b.url().starts_with("data:text/html"), "{}", b.url());
    assert_eq!(b.attr("html", "lang").as_deref(), Some("en"));
    assert_eq!(b.text("p"), "hi");
    assert!(b.is_displayed("body"));
    assert!(b.query("#surely-not-here").is_none());
    assert!(!b.is_displayed("#surely-not-here"));

    // Scripts: arguments in, values out, elements both ways.
    assert_eq!(b.js("return arguments[0] + arguments[1]", json!([2, 3])), json!(5));
    let body = b.query("body").unwrap();
    assert_eq!(b.js("return arguments[0].tagName", json!([body.json()])), json!("BODY"));
    assert_eq!(body.prop("tagName").unwrap(), json!("BODY"));

    // A form built on the page: typing, clearing, clicking, reading back.
    b.js(
        "document.body.insertAdjacentHTML('beforeend', \
         '<div id=t><input id=inp><button id=btn disabled>go</button><span id=out></span></div>'); \
         document.getElementById('btn').onclick = () => { document.getElementById('out').textContent = \
         'clicked:' + document.getElementById('inp').value }",
        json!([]),
    );
    b.type_into("#inp", "first");
    b.type_into("#inp", "héllo");
    assert_eq!(b.query("#inp").unwrap().prop("value").unwrap(), json!("héllo"));
    assert!(!b.query("#btn").unwrap().enabled().unwrap());
    b.js("setTimeout(() => document.getElementById('btn').disabled = false, 300)", json!([]));
    b.click("#btn"); // waits until enabled
    assert_eq!(b.wait_text("#out", "clicked"), "clicked:héllo");
    let t = b.query("#t").unwrap();
    assert_eq!(t.find_all("input, button").unwrap().len(), 2);
    assert!(t.find("select").unwrap().is_none());
    b.js("document.getElementById('t').style.display = 'none'", json!([]));
    b.wait_hidden("#inp");

    // Screenshots are PNGs of the viewport; the window can be phone-sized.
    let png = b.screenshot_png();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    b.set_window_size(360, 800);
    b.wait_js("a 360 px wide window", "return window.innerWidth <= 360 || null", json!([]));
    let dir = tempfile::tempdir().unwrap();
    b.screenshot(&dir.path().join("shot.png"));
    assert!(std::fs::metadata(dir.path().join("shot.png")).unwrap().len() > 1000);

    // A failed wait names what it waited for and shows the page and console.
    b.js("console.error('marker-from-console')", json!([]));
    let err = catch_unwind(AssertUnwindSafe(|| {
        b.wait_within(Duration::from_millis(200), "something that never happens", || None::<()>)
    }))
    .unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("something that never happens"), "{msg}");
    assert!(msg.contains("page text"), "{msg}");
    assert!(msg.contains("marker-from-console"), "{msg}");
}

#[test]
fn dropping_the_browser_ends_chromedriver_and_chromium() {
    let b = browser!("dropping_the_browser_ends_chromedriver_and_chromium");
    b.goto("about:blank");
    let dir = b.profile_dir();
    assert!(!crate::common::pids_with(&dir).is_empty(), "chromium runs with the profile {dir}");
    drop(b);
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        crate::common::pids_with(&dir).is_empty()
    });
    assert!(gone, "processes left with {dir}: {:?}", crate::common::pids_with(&dir));
}
