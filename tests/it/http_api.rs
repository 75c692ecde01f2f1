//! The HTTP surface: /healthz and /api/doctor shapes, JSON errors for unknown routes,
//! wrong methods and bad input, the page and static files.

use std::fs;

use crate::common::Fixture;

#[test]
fn healthz_shape_and_cached_probe() {
    let fx = Fixture::new();
    fx.project("alpha");
    let srv = fx.start();
    let h = srv.eventually("the first claude probe", || {
        let h = srv.get_json("/healthz");
        (!h["claude_ok"].is_null()).then_some(h)
    });
    assert_eq!(h["status"], "ok");
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(h["claude_ok"], true);
    assert_eq!(h["claude_version"], "2.1.197");
    assert_eq!(h["instances_running"], 0);

    // The probe is not re-run per request: with the CLI gone, /healthz still answers
    // from the cache, and only doctor notices.
    fs::remove_file(fx.bin.join("claude")).unwrap();
    assert_eq!(srv.get_json("/healthz")["claude_ok"], true);
    let d = srv.get_json("/api/doctor");
    let names: Vec<_> = d["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["config", "claude", "claude-login", "projects_root", "state_dir", "git", "auth", "workspace-trust"]
    );
    assert_eq!(d["ok"], false);
    assert_eq!(d["checks"][1]["status"], "fail");
    assert_eq!(srv.get_json("/healthz")["claude_ok"], false, "doctor refreshed the cached probe");
}

#[test]
fn errors_are_json_details_never_500() {
    let fx = Fixture::new();
    fx.project("alpha");
    let srv = fx.start();
    let r = srv.get("/nope");
    assert_eq!((r.status, r.detail().as_str()), (404, "Not Found"));
    assert!(r.header("content-type").unwrap().starts_with("application/json"));
    let r = srv.request("PATCH", "/api/projects", &[], None);
    assert_eq!((r.status, r.detail().as_str()), (405, "Method Not Allowed"));
    let r = srv.request("DELETE", "/healthz", &[], None);
    assert_eq!(r.status, 405);
    let r = srv.get("/api/projects/alpha/trust");
    assert_eq!(r.status, 405);
    let r = srv.request("POST", "/api/projects/a.b/trust", &[("Content-Type", "application/json")], Some(b"{nonsense"));
    assert_eq!(r.status, 422);
    assert!(r.detail().contains("invalid project name"));
    let r = srv.get("/static/../Cargo.toml");
    assert_eq!(r.status, 404);
    let r = srv.get("/api/projects/");
    assert_eq!(r.status, 200, "a trailing slash is tolerated");
    for path in ["/", "/healthz", "/api/projects", "/api/doctor", "/static/favicon.svg"] {
        assert!(srv.get(path).status < 500, "{path}");
    }
}

#[test]
fn page_and_static_files() {
    let fx = Fixture::new();
    fx.project("alpha");
    let srv = fx.start();
    let page = srv.get("/");
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    let html = page.text();
    // The cards render in the browser from /ws/events; the page holds their template.
    assert!(html.contains("class=\"card project-card\""), "{html}");

    // Every asset the page links is embedded, versioned, and cached for good at that
    // version; nothing is loaded from another host.
    let links: Vec<&str> = html.split("\"").filter(|s| s.starts_with("/static/")).collect();
    assert!(links.len() >= 6, "{links:?}");
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "{html}");
    for link in &links {
        let path = link.split('#').next().unwrap();
        assert!(path.contains("?v="), "{path} is not versioned");
        let r = srv.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("cache-control"), Some("public, max-age=31536000, immutable"), "{path}");
    }

    // Text assets go out gzipped (compressed once, the same bytes each time).
    use std::io::Read;
    let css = links.iter().find(|l| l.contains("tabler.min.css")).unwrap();
    let plain = srv.get(css);
    let gz = srv.request("GET", css, &[("Accept-Encoding", "gzip")], None);
    assert_eq!((gz.header("content-encoding"), gz.header("vary")), (Some("gzip"), Some("Accept-Encoding")));
    assert!(gz.body.len() < plain.body.len() / 4, "{} vs {}", gz.body.len(), plain.body.len());
    assert_eq!(srv.request("GET", css, &[("Accept-Encoding", "gzip")], None).body, gz.body);
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain.body);

    // Without (or with a stale) version: revalidate with the ETag.
    let icon = srv.get("/static/favicon.svg?v=stale");
    assert_eq!(icon.status, 200);
    assert_eq!(icon.header("content-type"), Some("image/svg+xml"));
    assert_eq!(icon.header("cache-control"), Some("no-cache"));
    let etag = icon.header("etag").unwrap().to_string();
    let again = srv.request("GET", "/static/favicon.svg", &[("If-None-Match", &etag)], None);
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    assert_eq!(again.header("vary"), Some("Accept-Encoding"), "the 304 varies as the 200 does");
}

#[test]
fn the_project_list_is_served_gzipped_to_clients_that_ask() {
    use std::io::Read;
    let fx = Fixture::new();
    for i in 0..50 {
        fx.project(&format!("p{i:02}"));
    }
    let srv = fx.start();
    let plain = srv.get("/api/projects");
    assert_eq!(plain.header("content-encoding"), None);
    let gz = srv.request("GET", "/api/projects", &[("Accept-Encoding", "br;q=1.0, gzip;q=0.8")], None);
    assert_eq!(gz.status, 200);
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    assert!(gz.body.len() < plain.body.len() / 4, "{} vs {}", gz.body.len(), plain.body.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz.body[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain.body);
    let refused = srv.request("GET", "/api/projects", &[("Accept-Encoding", "gzip;q=0")], None);
    assert_eq!(refused.header("content-encoding"), None);
}
