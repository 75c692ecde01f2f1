//! `<state_dir>/state.json`: what clauster remembers about each bridge across restarts.
//!
//! Version 1 of the original kept label, intent and modes. This adds what re-adoption
//! needs (the process identity and the log paths) and the ids, so a bridge that outlived a
//! restart keeps its log tail and links. Reading is forgiving (bad modes fall back to the
//! defaults, a non-string label to the name, unknown keys are kept); a file that does not
//! parse at all is moved aside, never silently overwritten.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::types::{PermissionMode, ResumeMode, SpawnMode};
use crate::procs::Identity;

pub const SCHEMA_VERSION: u64 = 1;

/// One project's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub label: String,
    pub intentional_stop: bool,
    pub spawn_mode: SpawnMode,
    pub permission_mode: PermissionMode,
    pub resume_mode: ResumeMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<Identity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_log: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starter_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Keys written by a newer clauster, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Defaults used when a record's modes are missing or invalid.
#[derive(Debug, Clone, Copy)]
pub struct ModeDefaults {
    pub spawn_mode: SpawnMode,
    pub permission_mode: PermissionMode,
    pub resume_mode: ResumeMode,
}

impl Record {
    /// Reads one record leniently: each field falls back on its own.
    fn from_value(name: &str, v: &Map<String, Value>, d: ModeDefaults) -> Record {
        fn get<T: serde::de::DeserializeOwned>(v: &Map<String, Value>, k: &str) -> Option<T> {
            v.get(k).and_then(|x| serde_json::from_value(x.clone()).ok())
        }
        const KNOWN: [&str; 11] = [
            "label",
            "intentional_stop",
            "spawn_mode",
            "permission_mode",
            "resume_mode",
            "process",
            "debug_log",
            "bridge_id",
            "environment_id",
            "starter_session_id",
            "started_at",
        ];
        Record {
            label: get::<String>(v, "label").filter(|l| !l.is_empty()).unwrap_or_else(|| name.to_owned()),
            intentional_stop: v.get("intentional_stop").is_some_and(truthy),
            spawn_mode: get(v, "spawn_mode").unwrap_or(d.spawn_mode),
            permission_mode: get(v, "permission_mode").unwrap_or(d.permission_mode),
            resume_mode: get(v, "resume_mode").unwrap_or(d.resume_mode),
            process: get(v, "process"),
            debug_log: get(v, "debug_log"),
            bridge_id: get(v, "bridge_id"),
            environment_id: get(v, "environment_id"),
            starter_session_id: get(v, "starter_session_id"),
            started_at: get(v, "started_at"),
            extra: v
                .iter()
                .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
                .map(|(k, x)| (k.clone(), x.clone()))
                .collect(),
        }
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Null => false,
    }
}

/// The loaded file, plus anything worth logging about how it was read.
#[derive(Debug, Default)]
pub struct Loaded {
    pub records: BTreeMap<String, Record>,
    pub warnings: Vec<String>,
}

/// Loads `path`. A missing file is empty; an unreadable one is moved aside to
/// `state.json.corrupt-<ms>` (so the next save loses nothing) and read as empty. Blocking.
pub fn load(path: &Path, d: ModeDefaults) -> Loaded {
    let mut out = Loaded::default();
    let text = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
        Err(e) => {
            out.warnings.push(format!("cannot read {}: {e}; starting with no saved bridges", path.display()));
            return out;
        }
    };
    let root = match serde_json::from_slice::<Value>(&text) {
        Ok(Value::Object(o)) => o,
        other => {
            let why = match other {
                Ok(_) => "its top level is not an object".to_string(),
                Err(e) => e.to_string(),
            };
            let aside = path.with_extension(format!("json.corrupt-{}", crate::time::now_ms()));
            let moved = std::fs::rename(path, &aside).map(|()| format!("; moved it to {}", aside.display()));
            out.warnings.push(format!("{} is unreadable ({why}){}", path.display(), moved.unwrap_or_default()));
            return out;
        }
    };
    if root.get("schema_version").and_then(Value::as_u64) != Some(SCHEMA_VERSION) {
        out.warnings.push(format!("{} has an unknown schema_version; reading what it can", path.display()));
    }
    if let Some(Value::Object(instances)) = root.get("instances") {
        for (name, v) in instances {
            if let Value::Object(v) = v {
                out.records.insert(name.clone(), Record::from_value(name, v, d));
            }
        }
    }
    out
}

/// Writes every record atomically (temp file, fsync, rename), mode 0600. Blocking.
pub fn save(path: &Path, records: &BTreeMap<String, Record>) -> std::io::Result<()> {
    let doc = serde_json::json!({ "schema_version": SCHEMA_VERSION, "instances": records });
    let text = serde_json::to_string_pretty(&doc).expect("records serialize");
    crate::fsutil::atomic_write(path, text.as_bytes(), Some(0o600))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: ModeDefaults = ModeDefaults {
        spawn_mode: SpawnMode::SameDir,
        permission_mode: PermissionMode::Default,
        resume_mode: ResumeMode::Standard,
    };

    #[test]
    fn round_trip_and_leniency() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        std::fs::write(
            &p,
            r#"{"schema_version":1,"instances":{
                "alpha":{"label":"Alpha!","permission_mode":"plan","spawn_mode":"bogus","intentional_stop":1,"future_key":[1]},
                "beta":{"label":5},
                "gamma":"not an object"}}"#,
        )
        .unwrap();
        let l = load(&p, D);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
        let a = &l.records["alpha"];
        assert_eq!(
            (a.label.as_str(), a.permission_mode, a.spawn_mode, a.intentional_stop),
            ("Alpha!", PermissionMode::Plan, SpawnMode::SameDir, true)
        );
        assert_eq!(a.extra["future_key"], serde_json::json!([1]));
        assert_eq!(l.records["beta"].label, "beta");
        assert!(!l.records.contains_key("gamma"));
        save(&p, &l.records).unwrap();
        let again = load(&p, D);
        assert_eq!(again.records, l.records);
        assert!(std::fs::read_to_string(&p).unwrap().contains("future_key"), "unknown keys survive a save");
    }

    #[test]
    fn a_corrupt_file_is_moved_aside_not_lost() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.json");
        std::fs::write(&p, "{").unwrap();
        let l = load(&p, D);
        assert!(l.records.is_empty());
        assert!(l.warnings[0].contains("moved it to"), "{:?}", l.warnings);
        let kept: Vec<_> =
            std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert!(kept.iter().any(|n| n.starts_with("state.json.corrupt-")), "{kept:?}");
        assert!(!p.exists());
    }
}
