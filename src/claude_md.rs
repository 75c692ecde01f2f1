//! The CLAUDE.md editor's file logic (spec §8): read with newline normalisation, a
//! lost-update guard by content hash, a size cap, a path lock that refuses symlinks out of
//! the project, atomic writes, and an append-only audit log.
//!
//! Everything here blocks on the file system: call it from a blocking thread.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::fsutil::atomic_write;

/// The largest CLAUDE.md the editor saves, in UTF-8 bytes (exactly this many is fine).
pub const MAX_BYTES: usize = 65_536;
const FILE: &str = "CLAUDE.md";

#[derive(Debug, thiserror::Error)]
pub enum ClaudeMdError {
    #[error("no such project: {0:?}")]
    NoSuchProject(String),
    #[error("CLAUDE.md resolves outside the project directory; replace the symlink with a regular file")]
    Escapes,
    #[error("CLAUDE.md is not valid UTF-8; fix its encoding in an editor on the host")]
    NotUtf8,
    #[error("{0} is not a trusted directory; use the Trust action first")]
    NotTrusted(PathBuf),
    #[error("CLAUDE.md is {0} bytes, over the {MAX_BYTES} byte cap")]
    TooLarge(usize),
    #[error("CLAUDE.md changed on disk since it was loaded; reload it and reapply your edit")]
    Conflict { current: Option<String> },
    #[error("could not read CLAUDE.md: {0}")]
    Read(String),
    #[error("could not write CLAUDE.md: {0}")]
    Write(String),
}

/// The editor's view of the file (the ClaudeMdDoc wire shape without `bridge_running`,
/// which the web layer adds from the snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Doc {
    pub exists: bool,
    pub content: String,
    pub sha256: Option<String>,
    pub size: usize,
}

impl Doc {
    fn missing() -> Doc {
        Doc { exists: false, content: String::new(), sha256: None, size: 0 }
    }

    fn of(content: String) -> Doc {
        Doc { exists: true, sha256: Some(sha256_hex(content.as_bytes())), size: content.len(), content }
    }
}

/// Who saved what, one JSON object per line of `claude_md_audit.log`. Never the content.
#[derive(Debug, Serialize)]
struct AuditRecord<'a> {
    ts: String,
    user: &'a str,
    project: &'a str,
    action: &'static str,
    file: &'static str,
    size: usize,
    sha256_before: Option<&'a str>,
    sha256_after: &'a str,
}

/// A save request, after the web layer has checked the body's shape.
#[derive(Debug)]
pub struct Save<'a> {
    pub project: &'a str,
    pub dir: &'a Path,
    pub trusted: bool,
    pub content: &'a str,
    pub base_sha256: Option<&'a str>,
    pub user: &'a str,
    pub audit_log: &'a Path,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// CRLF and lone CR become LF, as the original's universal-newline read did.
pub fn normalize_newlines(s: &str) -> String {
    if !s.contains('\r') {
        return s.to_owned();
    }
    s.replace("\r\n", "\n").replace('\r', "\n")
}

/// The file to edit: `<resolved dir>/CLAUDE.md`. A CLAUDE.md that is a symlink resolving
/// anywhere else (or dangling) is refused, so the editor can never read or replace a file
/// outside the project.
pub fn locate(dir: &Path) -> Result<PathBuf, ClaudeMdError> {
    let real_dir = std::fs::canonicalize(dir).map_err(|e| ClaudeMdError::Read(format!("{}: {e}", dir.display())))?;
    let target = real_dir.join(FILE);
    match std::fs::symlink_metadata(&target) {
        Ok(m) if m.file_type().is_symlink() => {
            let resolved = std::fs::canonicalize(&target).map_err(|_| ClaudeMdError::Escapes)?;
            if resolved.parent() != Some(real_dir.as_path()) || resolved.file_name() != Some(FILE.as_ref()) {
                return Err(ClaudeMdError::Escapes);
            }
            Ok(resolved)
        }
        _ => Ok(target),
    }
}

/// Reads the document (a missing file is an empty, non-existent document).
pub fn read(dir: &Path) -> Result<Doc, ClaudeMdError> {
    read_at(&locate(dir)?)
}

fn read_at(path: &Path) -> Result<Doc, ClaudeMdError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|_| ClaudeMdError::NotUtf8)?;
            Ok(Doc::of(normalize_newlines(&text)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Doc::missing()),
        Err(e) => Err(ClaudeMdError::Read(e.to_string())),
    }
}

/// Checks, in the original's order (path lock, trust, size, lost update), then replaces
/// the file atomically and appends an audit line. The caller serialises saves.
pub fn save(req: &Save<'_>) -> Result<Doc, ClaudeMdError> {
    let path = locate(req.dir)?;
    if !req.trusted {
        return Err(ClaudeMdError::NotTrusted(req.dir.to_owned()));
    }
    if req.content.len() > MAX_BYTES {
        return Err(ClaudeMdError::TooLarge(req.content.len()));
    }
    let before = read_at(&path)?;
    if let Some(base) = req.base_sha256
        && before.sha256.as_deref() != Some(base)
    {
        return Err(ClaudeMdError::Conflict { current: before.sha256 });
    }
    // A new CLAUDE.md is usually committed and shared: world-readable like any source file.
    let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o644);
    atomic_write(&path, req.content.as_bytes(), Some(mode)).map_err(|e| ClaudeMdError::Write(e.to_string()))?;
    let after = Doc {
        exists: true,
        content: req.content.to_owned(),
        sha256: Some(sha256_hex(req.content.as_bytes())),
        size: req.content.len(),
    };
    let record = AuditRecord {
        ts: crate::time::now_rfc3339(),
        user: req.user,
        project: req.project,
        action: if before.exists { "update" } else { "create" },
        file: FILE,
        size: after.size,
        sha256_before: before.sha256.as_deref(),
        sha256_after: after.sha256.as_deref().unwrap_or_default(),
    };
    if let Err(e) = append_audit(req.audit_log, &record) {
        // The save itself worked; losing an audit line must not lose the user's edit.
        tracing::error!(log = %req.audit_log.display(), error = %e, "could not write the CLAUDE.md audit line");
    }
    Ok(after)
}

fn append_audit(log: &Path, record: &AuditRecord<'_>) -> std::io::Result<()> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(record).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    // One write of the whole line: O_APPEND keeps concurrent lines whole.
    f.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn save_req<'a>(dir: &'a Path, log: &'a Path, content: &'a str, base: Option<&'a str>) -> Save<'a> {
        Save { project: "p", dir, trusted: true, content, base_sha256: base, user: "local", audit_log: log }
    }

    #[test]
    fn newlines_are_normalised() {
        assert_eq!(normalize_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
        assert_eq!(normalize_newlines("plain\n"), "plain\n");
    }

    #[test]
    fn create_update_conflict_and_audit() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("state/audit.log");
        let dir = d.path().join("p");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(read(&dir).unwrap(), Doc::missing());
        assert!(matches!(
            save(&save_req(&dir, &log, "x", Some("abc"))),
            Err(ClaudeMdError::Conflict { current: None })
        ));
        let one = save(&save_req(&dir, &log, "# one\n", None)).unwrap();
        assert_eq!(read(&dir).unwrap(), one);
        let stale = Some("0000");
        match save(&save_req(&dir, &log, "two", stale)) {
            Err(ClaudeMdError::Conflict { current }) => assert_eq!(current, one.sha256),
            other => panic!("{other:?}"),
        }
        let two = save(&save_req(&dir, &log, "two", one.sha256.as_deref())).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("CLAUDE.md")).unwrap(), "two");
        let lines: Vec<serde_json::Value> =
            std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["action"], "create");
        assert_eq!(lines[0]["sha256_before"], serde_json::Value::Null);
        assert_eq!(lines[1]["action"], "update");
        assert_eq!(lines[1]["sha256_before"], one.sha256.unwrap());
        assert_eq!(lines[1]["sha256_after"], two.sha256.unwrap());
        assert_eq!(lines[1]["size"], 3);
    }

    #[test]
    fn cap_trust_and_symlinks() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("audit.log");
        let dir = d.path().join("p");
        std::fs::create_dir(&dir).unwrap();
        let max = "é".repeat(MAX_BYTES / 2);
        assert!(save(&save_req(&dir, &log, &max, None)).is_ok());
        let over = "a".repeat(MAX_BYTES + 1);
        assert!(matches!(save(&save_req(&dir, &log, &over, None)), Err(ClaudeMdError::TooLarge(65_537))));
        let mut untrusted = save_req(&dir, &log, "x", None);
        untrusted.trusted = false;
        assert!(matches!(save(&untrusted), Err(ClaudeMdError::NotTrusted(_))));

        let outside = d.path().join("outside.md");
        std::fs::write(&outside, "secret").unwrap();
        std::fs::remove_file(dir.join("CLAUDE.md")).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("CLAUDE.md")).unwrap();
        assert!(matches!(read(&dir), Err(ClaudeMdError::Escapes)));
        assert!(matches!(save(&save_req(&dir, &log, "x", None)), Err(ClaudeMdError::Escapes)));
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret");
        std::fs::write(dir.join("bad.md"), [0xff, 0xfe]).unwrap();
        std::fs::remove_file(dir.join("CLAUDE.md")).unwrap();
        std::os::unix::fs::symlink("bad.md", dir.join("CLAUDE.md")).unwrap();
        assert!(matches!(read(&dir), Err(ClaudeMdError::Escapes)), "a link to another name in the project");
        std::fs::remove_file(dir.join("CLAUDE.md")).unwrap();
        std::fs::write(dir.join("CLAUDE.md"), [0xff, 0xfe]).unwrap();
        assert!(matches!(read(&dir), Err(ClaudeMdError::NotUtf8)));
    }
}
