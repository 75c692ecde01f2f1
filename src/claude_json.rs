//! `~/.claude.json`, the Claude CLI's own settings file, which clauster reads for workspace
//! trust and edits for the Trust action (and later the remote-control flags).
//!
//! It belongs to the user and to the CLI, so every write is a read-modify-write under the
//! sidecar lock, written atomically, keeping every key (and key order) we don't know. A file
//! we cannot parse is never overwritten: the write fails and says why. The first write
//! keeps a one-time `.bak` of the original text.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::fsutil::{LockGuard, atomic_write};

pub type Object = Map<String, Value>;

#[derive(Debug, thiserror::Error)]
pub enum ClaudeJsonError {
    #[error("{path} is not valid JSON ({reason}); clauster will not overwrite it: fix or move the file, then retry")]
    Unparseable { path: PathBuf, reason: String },
    #[error("{path} {what}; clauster will not overwrite it: fix the file by hand, then retry")]
    Unexpected { path: PathBuf, what: String },
    #[error("could not read {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("could not write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("could not lock {path}.lock: {source}")]
    Lock { path: PathBuf, source: io::Error },
}

/// Reads and parses the file; `Ok(None)` when it does not exist. Blocking I/O.
pub fn read(path: &Path) -> Result<Option<Object>, ClaudeJsonError> {
    Ok(read_raw(path)?.map(|(obj, _)| obj))
}

fn read_raw(path: &Path) -> Result<Option<(Object, String)>, ClaudeJsonError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ClaudeJsonError::Read { path: path.to_owned(), source }),
    };
    let text = String::from_utf8(bytes)
        .map_err(|e| ClaudeJsonError::Unparseable { path: path.to_owned(), reason: format!("not UTF-8: {e}") })?;
    if text.trim().is_empty() {
        return Ok(Some((Object::new(), text)));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(obj)) => Ok(Some((obj, text))),
        Ok(other) => Err(ClaudeJsonError::Unexpected {
            path: path.to_owned(),
            what: format!("holds a JSON {} at the top level instead of an object", json_type(&other)),
        }),
        Err(e) => Err(ClaudeJsonError::Unparseable { path: path.to_owned(), reason: e.to_string() }),
    }
}

/// Locked read-modify-write. `mutate` sees the current object (empty for a missing file)
/// and may refuse by returning an error message. Returns the object as written. The file is
/// left untouched when the mutation changes nothing. Blocking I/O: call off the runtime.
pub fn update(path: &Path, mutate: impl FnOnce(&mut Object) -> Result<(), String>) -> Result<Object, ClaudeJsonError> {
    let _lock = LockGuard::acquire(path).map_err(|source| ClaudeJsonError::Lock { path: path.to_owned(), source })?;
    let (mut obj, raw) = match read_raw(path)? {
        Some((obj, raw)) => (obj, Some(raw)),
        None => (Object::new(), None),
    };
    mutate(&mut obj).map_err(|what| ClaudeJsonError::Unexpected { path: path.to_owned(), what })?;
    let mut text = serde_json::to_string_pretty(&obj).expect("a JSON object always serializes");
    if raw.as_deref().is_some_and(|r| r.ends_with('\n')) {
        text.push('\n');
    }
    if raw.as_deref() == Some(text.as_str()) {
        return Ok(obj);
    }
    if let Some(raw) = &raw {
        keep_backup_once(path, raw);
    }
    atomic_write(path, text.as_bytes(), None)
        .map_err(|source| ClaudeJsonError::Write { path: path.to_owned(), source })?;
    Ok(obj)
}

/// Saves the original text as `<file>.bak` the first time clauster changes the file.
fn keep_backup_once(path: &Path, raw: &str) {
    let mut bak = path.as_os_str().to_owned();
    bak.push(".bak");
    let bak = PathBuf::from(bak);
    if bak.exists() {
        return;
    }
    if let Err(e) = atomic_write(&bak, raw.as_bytes(), Some(0o600)) {
        tracing::warn!(path = %bak.display(), error = %e, "could not keep a backup of ~/.claude.json");
    }
}

/// Marks `real_path` as trusted: `projects[<real_path>].hasTrustDialogAccepted = true`,
/// keeping every other key of the entry.
pub fn set_trusted(obj: &mut Object, real_path: &Path) -> Result<(), String> {
    let projects = obj.entry("projects").or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(projects) = projects else {
        return Err(format!("has a `projects` value that is a JSON {}, not an object", json_type(projects)));
    };
    let key = real_path.to_string_lossy().into_owned();
    let entry = projects.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(entry) = entry else {
        return Err(format!("has `projects[{key:?}]` that is a JSON {}, not an object", json_type(entry)));
    };
    entry.insert("hasTrustDialogAccepted".into(), Value::Bool(true));
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn trust_keeps_unknown_keys_order_and_takes_one_backup() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".claude.json");
        let original = "{\n  \"zeta\": 1,\n  \"projects\": {\n    \"/a\": {\n      \"allowedTools\": [\"x\"]\n    }\n  },\n  \"alpha\": {\"n\": 1.5}\n}\n";
        fs::write(&p, original).unwrap();
        update(&p, |o| set_trusted(o, Path::new("/a"))).unwrap();
        let text = fs::read_to_string(&p).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["projects"]["/a"]["allowedTools"][0], "x");
        assert_eq!(v["projects"]["/a"]["hasTrustDialogAccepted"], true);
        assert_eq!(v["alpha"]["n"], 1.5);
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["zeta", "projects", "alpha"]);
        assert!(text.ends_with("}\n"));
        assert_eq!(fs::read_to_string(d.path().join(".claude.json.bak")).unwrap(), original);
        update(&p, |o| set_trusted(o, Path::new("/b"))).unwrap();
        assert_eq!(fs::read_to_string(d.path().join(".claude.json.bak")).unwrap(), original, "backup is one-time");
    }

    #[test]
    fn unparseable_or_odd_files_are_never_overwritten() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".claude.json");
        for body in ["{not json", "[1,2]", "{\"projects\": 5}", "{\"projects\": {\"/a\": true}}"] {
            fs::write(&p, body).unwrap();
            let e = update(&p, |o| set_trusted(o, Path::new("/a"))).unwrap_err();
            assert!(e.to_string().contains("will not overwrite"), "{e}");
            assert_eq!(fs::read_to_string(&p).unwrap(), body);
        }
        assert!(!d.path().join(".claude.json.bak").exists());
    }

    #[test]
    fn missing_file_is_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".claude.json");
        update(&p, |o| set_trusted(o, Path::new("/a"))).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(read(&p).unwrap().unwrap()["projects"]["/a"]["hasTrustDialogAccepted"].as_bool().unwrap());
    }

    #[test]
    fn unchanged_content_is_not_rewritten() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join(".claude.json");
        update(&p, |o| set_trusted(o, Path::new("/a"))).unwrap();
        let before = fs::metadata(&p).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        update(&p, |o| set_trusted(o, Path::new("/a"))).unwrap();
        assert_eq!(fs::metadata(&p).unwrap().modified().unwrap(), before);
    }
}
