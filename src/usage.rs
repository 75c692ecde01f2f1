//! Token usage and an approximate cost per project (spec §9), from Claude Code's session
//! transcripts: `~/.claude/projects/<sanitized cwd>/*.jsonl`, one JSON record per line.
//!
//! Token counts are exact; the cost is an estimate from a dated price table (prices move,
//! and the transcripts do not record what was billed). Parsed transcripts are cached by
//! (size, mtime), so a dashboard asking again re-reads only what changed.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use serde_json::{Value, json};

/// When [`PRICES`] was last checked against Anthropic's public price list.
pub const PRICES_AS_OF: &str = "2026-05";

/// USD per million tokens. A model is priced by the first family whose name is a
/// case-insensitive substring of its id, in this order; anything else is "unpriced".
/// Update the figures and [`PRICES_AS_OF`] together.
pub const PRICES: [Price; 3] = [
    Price { family: "opus", input: 15.00, output: 75.00, cache_write: 18.75, cache_read: 1.50 },
    Price { family: "sonnet", input: 3.00, output: 15.00, cache_write: 3.75, cache_read: 0.30 },
    Price { family: "haiku", input: 0.80, output: 4.00, cache_write: 1.00, cache_read: 0.08 },
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub family: &'static str,
    pub input: f64,
    pub output: f64,
    pub cache_write: f64,
    pub cache_read: f64,
}

pub fn price_of(model: &str) -> Option<&'static Price> {
    let m = model.to_ascii_lowercase();
    PRICES.iter().find(|p| m.contains(p.family))
}

/// One model's tokens (and how many records carried them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub messages: u64,
    pub input: u64,
    pub output: u64,
    pub cache_creation: u64,
    pub cache_read: u64,
}

impl Tokens {
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_creation + self.cache_read
    }

    fn add(&mut self, o: &Tokens) {
        self.messages += o.messages;
        self.input += o.input;
        self.output += o.output;
        self.cache_creation += o.cache_creation;
        self.cache_read += o.cache_read;
    }

    /// The estimated USD cost, or `None` for a model with no price.
    pub fn cost(&self, model: &str) -> Option<f64> {
        let p = price_of(model)?;
        let c = self.input as f64 * p.input
            + self.output as f64 * p.output
            + self.cache_creation as f64 * p.cache_write
            + self.cache_read as f64 * p.cache_read;
        Some(c / 1e6)
    }
}

/// Usage by model, in first-seen order (which orders `unpriced_models`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub models: Vec<(String, Tokens)>,
}

impl Usage {
    fn entry(&mut self, model: &str) -> &mut Tokens {
        let i = match self.models.iter().position(|(m, _)| m == model) {
            Some(i) => i,
            None => {
                self.models.push((model.to_owned(), Tokens::default()));
                self.models.len() - 1
            }
        };
        &mut self.models[i].1
    }

    pub fn merge(&mut self, o: &Usage) {
        for (m, t) in &o.models {
            self.entry(m).add(t);
        }
    }

    pub fn messages(&self) -> u64 {
        self.models.iter().map(|(_, t)| t.messages).sum()
    }

    pub fn total_tokens(&self) -> u64 {
        self.models.iter().map(|(_, t)| t.total()).sum()
    }

    pub fn cost(&self) -> f64 {
        self.models.iter().filter_map(|(m, t)| t.cost(m)).sum()
    }

    pub fn unpriced(&self) -> Vec<&str> {
        self.models.iter().filter(|(m, _)| price_of(m).is_none()).map(|(m, _)| m.as_str()).collect()
    }

    /// Models sorted by id (the CLI's and `by_model`'s order).
    pub fn sorted(&self) -> BTreeMap<&str, &Tokens> {
        self.models.iter().map(|(m, t)| (m.as_str(), t)).collect()
    }
}

/// Parses one transcript. Lines that are blank, not JSON, or carry no `message.usage`
/// object are skipped; so is a token count that is not a number (the original answered
/// 500 for the whole project), while a numeric string counts.
pub fn parse(reader: impl BufRead) -> Usage {
    let mut usage = Usage::default();
    for line in reader.split(b'\n') {
        let Ok(line) = line else { break };
        let line = String::from_utf8_lossy(&line);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Ok(rec) = serde_json::from_str::<Value>(line) else { continue };
        let Some(msg) = rec.get("message").and_then(Value::as_object) else { continue };
        let Some(u) = msg.get("usage").and_then(Value::as_object) else { continue };
        let model = msg.get("model").and_then(Value::as_str).filter(|m| !m.is_empty()).unwrap_or("unknown");
        let n = |k: &str| u.get(k).map_or(0, count);
        let t = Tokens {
            messages: 1,
            input: n("input_tokens"),
            output: n("output_tokens"),
            cache_creation: n("cache_creation_input_tokens"),
            cache_read: n("cache_read_input_tokens"),
        };
        usage.entry(model).add(&t);
    }
    usage
}

/// A token count: integers as they are, floats truncated, numeric strings parsed;
/// anything else (and negatives) is 0.
fn count(v: &Value) -> u64 {
    match v {
        Value::Number(n) => n.as_u64().unwrap_or_else(|| n.as_f64().filter(|f| *f > 0.0).map_or(0, |f| f as u64)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<u64>().ok().or_else(|| s.parse::<f64>().ok().filter(|f| *f > 0.0).map(|f| f as u64)).unwrap_or(0)
        }
        _ => 0,
    }
}

/// Claude Code's folder name for a working directory: every character outside
/// `[A-Za-z0-9]` becomes `-`.
pub fn sanitize(path: &Path) -> String {
    path.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

/// Rounds to 4 decimal places, as the API reports costs.
pub fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// A project's totals over all its transcripts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub transcripts: u64,
    pub usage: Usage,
}

impl Summary {
    /// The `GET /api/projects/{name}/usage` body. Without `show_cost` every cost field
    /// and the unpriced list are left out; tokens are still reported.
    pub fn to_json(&self, project: &str, show_cost: bool) -> Value {
        let by_model: serde_json::Map<String, Value> = self
            .usage
            .sorted()
            .into_iter()
            .map(|(m, t)| {
                let mut v = json!({ "total_tokens": t.total() });
                if show_cost {
                    v["cost_usd"] = json!(round4(t.cost(m).unwrap_or(0.0)));
                }
                (m.to_owned(), v)
            })
            .collect();
        let mut body = json!({
            "project": project,
            "transcripts": self.transcripts,
            "messages": self.usage.messages(),
            "total_tokens": self.usage.total_tokens(),
            "approximate": true,
            "prices_as_of": PRICES_AS_OF,
            "by_model": by_model,
        });
        if show_cost {
            body["cost_usd"] = json!(round4(self.usage.cost()));
            body["unpriced_models"] = json!(self.usage.unpriced());
        }
        body
    }
}

/// Parsed transcripts by path, reused while a file's size and mtime are unchanged.
#[derive(Debug)]
pub struct Cache {
    /// `~/.claude/projects`.
    root: PathBuf,
    entries: Mutex<HashMap<PathBuf, Cached>>,
}

/// A parsed transcript and the (size, mtime) it was parsed at.
type Cached = (u64, Option<SystemTime>, Arc<Usage>);

/// Entries kept before the cache starts over (a bound, not a tuning knob).
const MAX_ENTRIES: usize = 10_000;

impl Cache {
    pub fn new(root: PathBuf) -> Cache {
        Cache { root, entries: Mutex::default() }
    }

    /// Totals for a project whose folder is any of `dirs` (e.g. the configured path and
    /// the symlink-resolved one Claude Code records). Blocking: call from a blocking thread.
    pub fn summary(&self, dirs: &[PathBuf]) -> Summary {
        let mut folders: Vec<PathBuf> = dirs.iter().map(|d| self.root.join(sanitize(d))).collect();
        folders.dedup();
        let mut files: Vec<PathBuf> = folders.iter().flat_map(|f| transcripts_in(f)).collect();
        files.sort();
        let mut out = Summary::default();
        for f in files {
            if let Some(u) = self.transcript(&f) {
                out.transcripts += 1;
                out.usage.merge(&u);
            }
        }
        out
    }

    fn transcript(&self, path: &Path) -> Option<Arc<Usage>> {
        let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
        let key = (meta.len(), meta.modified().ok());
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((len, mtime, u)) = entries.get(path)
                && (*len, *mtime) == key
            {
                return Some(u.clone());
            }
        }
        // Gone since the listing: skipped, like the original.
        let file = std::fs::File::open(path).ok()?;
        let usage = Arc::new(parse(std::io::BufReader::new(file)));
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(path.to_owned(), (key.0, key.1, usage.clone()));
        Some(usage)
    }
}

/// The `*.jsonl` regular files (links followed) directly in `dir`; none if it is missing.
fn transcripts_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && std::fs::metadata(p).is_ok_and(|m| m.is_file()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scenario 65's transcript.
    const SCENARIO_65: &str = concat!(
        r#"{"type":"assistant","message":{"model":"claude-opus-4","usage":{"input_tokens":1000,"output_tokens":2000,"cache_creation_input_tokens":300,"cache_read_input_tokens":4000}}}"#,
        "\n\nnot json\n",
        r#"{"type":"assistant","message":{"model":"claude-sonnet-4","usage":{"input_tokens":10,"output_tokens":20}}}"#,
        "\n",
        r#"{"message":{"usage":{"input_tokens":5,"output_tokens":1,"cache_read_input_tokens":null}}}"#,
        "\n",
        r#"{"message":{"model":"gpt-x","usage":{"input_tokens":"3","output_tokens":3.9,"cache_creation_input_tokens":"lots"}}}"#,
        "\n",
        r#"{"type":"user","message":{"role":"user","content":"hi"}}"#,
        "\n",
    );

    #[test]
    fn scenario_65_figures() {
        let u = parse(SCENARIO_65.as_bytes());
        assert_eq!(u.messages(), 4);
        assert_eq!(u.total_tokens(), 7342);
        assert_eq!(u.unpriced(), ["unknown", "gpt-x"]);
        let opus = u.models[0].1;
        assert!((opus.cost("claude-opus-4").unwrap() - 0.176625).abs() < 1e-12);
        assert_eq!(round4(u.cost()), 0.177);
        let body = Summary { transcripts: 1, usage: u.clone() }.to_json("alpha", true);
        assert_eq!(body["by_model"]["claude-opus-4"]["cost_usd"], 0.1766);
        assert_eq!(body["by_model"]["claude-sonnet-4"]["cost_usd"], 0.0003);
        assert_eq!(body["by_model"]["gpt-x"], json!({"total_tokens": 6, "cost_usd": 0.0}));
        let keys: Vec<_> = body["by_model"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["claude-opus-4", "claude-sonnet-4", "gpt-x", "unknown"]);
        let hidden = Summary { transcripts: 1, usage: u }.to_json("alpha", false);
        assert!(hidden.get("cost_usd").is_none() && hidden["by_model"]["gpt-x"].get("cost_usd").is_none());
        assert_eq!(hidden["total_tokens"], 7342);
    }

    #[test]
    fn pricing_sanitizing_and_counts() {
        assert_eq!(price_of("Claude-HAIKU-3").map(|p| p.family), Some("haiku"));
        assert!(price_of("gpt-x").is_none());
        assert_eq!(sanitize(Path::new("/srv/my projects/a_b.c")), "-srv-my-projects-a-b-c");
        assert_eq!(count(&json!(-5)), 0);
        assert_eq!(count(&json!("12")), 12);
        assert_eq!(count(&json!({"a": 1})), 0);
    }

    #[test]
    fn cache_rereads_only_changed_files() {
        let d = tempfile::tempdir().unwrap();
        let cache = Cache::new(d.path().to_owned());
        let proj = Path::new("/p/alpha");
        let dir = d.path().join(sanitize(proj));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(cache.summary(&[proj.to_owned()]).transcripts, 0);
        let f = dir.join("s.jsonl");
        std::fs::write(&f, SCENARIO_65).unwrap();
        std::fs::write(dir.join("notes.txt"), SCENARIO_65).unwrap();
        let first = cache.summary(&[proj.to_owned(), proj.to_owned()]);
        assert_eq!((first.transcripts, first.usage.total_tokens()), (1, 7342));
        let cached = cache.transcript(&f).unwrap();
        assert!(Arc::ptr_eq(&cached, &cache.transcript(&f).unwrap()), "served from the cache");
        let mut more = SCENARIO_65.to_owned();
        more.push_str(r#"{"message":{"model":"x","usage":{"output_tokens":8}}}"#);
        std::fs::write(&f, more).unwrap();
        assert_eq!(cache.summary(&[proj.to_owned()]).usage.total_tokens(), 7350, "a grown file is re-read");
    }
}
