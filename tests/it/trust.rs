//! `POST /api/projects/{name}/trust`: what it writes to `~/.claude.json`, what it keeps,
//! and that it never loses an update to a concurrent writer or tears a reader's view.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::common::Fixture;

#[test]
fn trust_writes_the_real_path_and_keeps_everything_else() {
    let fx = Fixture::new();
    fx.project("alpha");
    std::os::unix::fs::symlink(fx.root.join("alpha"), fx.root.join("alias")).unwrap();
    let original = r#"{
  "numStartups": 12,
  "oauthAccount": {"organizationUuid": "org-1", "emailAddress": "me@example.com"},
  "projects": {
    "/somewhere/else": {"allowedTools": ["Bash"], "hasTrustDialogAccepted": true}
  },
  "unicode": "é ✓",
  "bigNumber": 12345678901234
}
"#;
    fs::write(fx.claude_json(), original).unwrap();
    let srv = fx.start();
    let r = srv.post("/api/projects/alias/trust");
    assert_eq!(r.status, 200, "{}", r.text());
    let p = r.json();
    assert_eq!(p["name"], "alias");
    assert_eq!(p["trust_state"], "trusted");

    let v: Value = serde_json::from_str(&fs::read_to_string(fx.claude_json()).unwrap()).unwrap();
    let real = fs::canonicalize(fx.root.join("alpha")).unwrap();
    assert_eq!(v["projects"][real.to_str().unwrap()]["hasTrustDialogAccepted"], true, "keyed by the resolved path");
    assert_eq!(v["projects"]["/somewhere/else"]["allowedTools"], json!(["Bash"]));
    assert_eq!(v["oauthAccount"]["emailAddress"], "me@example.com");
    assert_eq!(v["unicode"], "é ✓");
    assert_eq!(v["bigNumber"], 12345678901234u64);
    let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["numStartups", "oauthAccount", "projects", "unicode", "bigNumber"], "key order kept");
    assert_eq!(fs::read_to_string(fx.home.join(".claude.json.bak")).unwrap(), original, "one-time backup");

    // Both names for the folder are now trusted in the listing.
    let list = srv.get_json("/api/projects");
    assert!(list.as_array().unwrap().iter().all(|p| p["trust_state"] == "trusted"));
}

#[test]
fn a_corrupt_claude_json_is_refused_and_left_byte_identical() {
    let fx = Fixture::new();
    fx.project("alpha");
    let corrupt = "{\"projects\": {\"/x\": {\"hasTrustDialogAccepted\": true},}\n";
    fs::write(fx.claude_json(), corrupt).unwrap();
    let srv = fx.start();
    let r = srv.post("/api/projects/alpha/trust");
    assert_eq!(r.status, 409, "{}", r.text());
    let detail = r.detail();
    assert!(detail.contains(".claude.json") && detail.contains("not valid JSON"), "{detail}");
    assert_eq!(fs::read_to_string(fx.claude_json()).unwrap(), corrupt);
    assert!(!fx.home.join(".claude.json.bak").exists());
}

#[test]
fn a_concurrent_writer_never_loses_an_update_and_readers_never_see_a_torn_file() {
    const PROJECTS: usize = 40;
    const HAMMER: u64 = 300;
    let fx = Fixture::new();
    for i in 0..PROJECTS {
        fx.project(&format!("p{i:02}"));
    }
    fs::write(fx.claude_json(), r#"{"hammer": 0, "projects": {}}"#).unwrap();
    let srv = fx.start();
    srv.get_json("/api/projects");

    let path = fx.claude_json();
    let done = Arc::new(AtomicBool::new(false));
    // Another tool doing locked read-modify-writes of its own key.
    let hammer = {
        let path = path.clone();
        std::thread::spawn(move || {
            for _ in 0..HAMMER {
                let lock = fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(format!("{}.lock", path.display()))
                    .unwrap();
                lock.lock().unwrap();
                let mut v: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
                v["hammer"] = json!(v["hammer"].as_u64().unwrap() + 1);
                let tmp = path.with_extension("hammer-tmp");
                fs::write(&tmp, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
                fs::rename(&tmp, &path).unwrap();
                lock.unlock().unwrap();
            }
        })
    };
    // A reader that must always see a whole, parseable file.
    let reader = {
        let (path, done) = (path.clone(), done.clone());
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !done.load(Ordering::SeqCst) {
                let text = fs::read_to_string(&path).unwrap();
                serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("torn read ({e}): {text}"));
                reads += 1;
            }
            reads
        })
    };
    let posts: Vec<_> = (0..PROJECTS)
        .map(|i| {
            let addr = srv.addr.clone();
            std::thread::spawn(move || {
                crate::common::http::request(&addr, "POST", &format!("/api/projects/p{i:02}/trust"), &[], None).status
            })
        })
        .collect();
    for p in posts {
        assert_eq!(p.join().unwrap(), 200);
    }
    hammer.join().unwrap();
    done.store(true, Ordering::SeqCst);
    assert!(reader.join().unwrap() > 0);

    let v: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["hammer"], HAMMER, "every hammer increment survived");
    let trusted = v["projects"].as_object().unwrap().values().filter(|e| e["hasTrustDialogAccepted"] == true).count();
    assert_eq!(trusted, PROJECTS, "every trust write survived");
}

#[test]
fn trust_rejects_bad_and_unknown_names() {
    let fx = Fixture::new();
    fx.project("alpha");
    let srv = fx.start();
    for bad in ["a.b", "..", "%2e%2e", "a%20b"] {
        let r = srv.post(&format!("/api/projects/{bad}/trust"));
        assert!(r.status == 422 || r.status == 404, "{bad}: {} {}", r.status, r.text());
        assert!(!r.detail().is_empty());
    }
    assert_eq!(srv.post("/api/projects/a.b/trust").status, 422);
    let r = srv.post("/api/projects/nope/trust");
    assert_eq!(r.status, 404);
    assert!(r.detail().contains("nope"));
    assert!(!fx.claude_json().exists(), "nothing written for refused requests");
}
