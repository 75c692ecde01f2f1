//! `GET /api/projects/{name}/usage` and `clauster usage TRANSCRIPT` against a hand-made
//! transcript with the figures of scenario 65.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::common::Fixture;

/// opus 1000/2000/300/4000, sonnet 10/20, a record without a model (6 tokens), `gpt-x`
/// (6 tokens, one count a non-numeric string), plus lines that must not count.
pub const TRANSCRIPT: &str = concat!(
    r#"{"type":"assistant","message":{"model":"claude-opus-4-1","usage":{"input_tokens":1000,"output_tokens":2000,"cache_creation_input_tokens":300,"cache_read_input_tokens":4000}}}"#,
    "\n",
    r#"{"type":"user","message":{"role":"user","content":"hello"}}"#,
    "\n\n{broken\n",
    r#"{"type":"assistant","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":20}}}"#,
    "\n",
    r#"{"type":"assistant","message":{"usage":{"input_tokens":5,"output_tokens":1}}}"#,
    "\n",
    r#"{"type":"assistant","message":{"model":"gpt-x","usage":{"input_tokens":3,"output_tokens":3,"cache_read_input_tokens":"n/a"}}}"#,
    "\n",
);

/// Claude Code's transcript folder for `dir`.
pub fn transcripts_dir(home: &Path, dir: &Path) -> PathBuf {
    let s: String = dir.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    home.join(".claude/projects").join(s)
}

#[test]
fn usage_route_reports_exact_tokens_and_approximate_cost() {
    let fx = Fixture::new();
    let alpha = fx.project("alpha");
    let dir = transcripts_dir(&fx.home, &alpha);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("s1.jsonl"), TRANSCRIPT).unwrap();
    std::fs::write(dir.join("ignored.json"), TRANSCRIPT).unwrap();
    let srv = fx.start();

    let u = srv.get_json("/api/projects/alpha/usage");
    assert_eq!(u["project"], "alpha");
    assert_eq!(u["transcripts"], 1);
    assert_eq!(u["messages"], 4);
    assert_eq!(u["total_tokens"], 7342);
    assert_eq!(u["cost_usd"], 0.177);
    assert_eq!(u["approximate"], true);
    assert_eq!(u["unpriced_models"], json!(["unknown", "gpt-x"]));
    assert_eq!(u["by_model"]["claude-opus-4-1"], json!({"total_tokens": 7300, "cost_usd": 0.1766}));
    assert_eq!(u["by_model"]["claude-sonnet-4-5"], json!({"total_tokens": 30, "cost_usd": 0.0003}));
    assert_eq!(srv.get_json("/api/projects/alpha/usage"), u, "a second (cached) read agrees");

    // A second session appears: counted at once.
    std::fs::write(dir.join("s2.jsonl"), TRANSCRIPT).unwrap();
    let u = srv.get_json("/api/projects/alpha/usage");
    assert_eq!((u["transcripts"].clone(), u["total_tokens"].clone()), (json!(2), json!(14684)));

    let r = srv.get("/api/projects/a.b/usage");
    assert_eq!(r.status, 422, "{}", r.text());
    let z = srv.get_json("/api/projects/unknown/usage");
    assert_eq!(
        (z["transcripts"].clone(), z["total_tokens"].clone(), z["cost_usd"].clone()),
        (json!(0), json!(0), json!(0.0))
    );
}

#[test]
fn show_cost_false_hides_the_cost_but_keeps_the_tokens() {
    let fx = Fixture::new();
    let alpha = fx.project("alpha");
    let dir = transcripts_dir(&fx.home, &alpha);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("s1.jsonl"), TRANSCRIPT).unwrap();
    let cfg = fx.config("usage:\n  show_cost: false\n");
    let srv = fx.start_with(|c| {
        c.arg("run").arg("-c").arg(&cfg);
    });
    let u = srv.get_json("/api/projects/alpha/usage");
    assert_eq!(u["total_tokens"], 7342);
    assert!(u.get("cost_usd").is_none() && u.get("unpriced_models").is_none(), "{u}");
    assert!(u["by_model"]["claude-opus-4-1"].get("cost_usd").is_none(), "{u}");
}

#[test]
fn cli_usage_prints_per_model_lines_and_a_total() {
    let fx = Fixture::new();
    let t = fx.home.join("t.jsonl");
    std::fs::write(&t, TRANSCRIPT).unwrap();
    let (status, stdout, stderr) = fx.run(|c| {
        c.arg("usage").arg(&t);
    });
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stdout.is_empty());
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 5, "{stderr}");
    assert_eq!(lines[0], "  claude-opus-4-1        in=1000 out=2000 cache_w=300 cache_r=4000  ≈$0.1766");
    assert!(lines[2].starts_with("  gpt-x ") && lines[2].ends_with("(unpriced)"), "{stderr}");
    assert!(lines[3].starts_with("  unknown ") && lines[3].ends_with("(unpriced)"), "{stderr}");
    assert_eq!(lines[4], "clauster: 4 assistant msg(s), 7342 tokens, ≈$0.1770 total (approx)");

    let (status, _, stderr) = fx.run(|c| {
        c.arg("usage").arg(fx.home.join("missing.jsonl"));
    });
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("clauster: transcript not found:"), "{stderr}");
    let (status, _, _) = fx.run(|c| {
        c.arg("usage").arg(&fx.home);
    });
    assert_eq!(status.code(), Some(2), "a directory is not a transcript");
}
