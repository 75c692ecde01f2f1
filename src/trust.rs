//! Workspace trust, as the Claude CLI decides it: a folder is trusted when it, or any
//! ancestor, has `hasTrustDialogAccepted: true` under `projects` in `~/.claude.json`.
//!
//! The original re-resolved every trust key for every project (O(projects × entries):
//! 27 s at 1000 entries). Here each key is resolved once into a set, and a project is
//! checked by walking its own ancestors: O(entries + projects × depth).

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use crate::claude_json::Object;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustIndex {
    trusted: HashSet<PathBuf>,
}

impl TrustIndex {
    /// Builds the index from the parsed file (`None` = missing or unreadable: trusts
    /// nothing). Relative keys resolve against `cwd`, like the original; `~` is literal.
    /// Blocking I/O (symlink resolution): call off the runtime.
    pub fn build(claude_json: Option<&Object>, cwd: &Path) -> TrustIndex {
        let Some(Value::Object(projects)) = claude_json.and_then(|o| o.get("projects")) else {
            return TrustIndex::default();
        };
        let trusted = projects
            .iter()
            .filter(|(_, v)| v.get("hasTrustDialogAccepted") == Some(&Value::Bool(true)))
            .map(|(k, _)| resolve_lenient(&cwd.join(k)))
            .collect();
        TrustIndex { trusted }
    }

    /// Whether `real_path` (already symlink-resolved) or one of its ancestors is trusted.
    pub fn is_trusted(&self, real_path: &Path) -> bool {
        !self.trusted.is_empty() && real_path.ancestors().any(|a| self.trusted.contains(a))
    }

    pub fn len(&self) -> usize {
        self.trusted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trusted.is_empty()
    }
}

/// Resolves symlinks in the longest existing prefix of `p` and normalises the rest
/// lexically, like Python's `Path.resolve(strict=False)`: trust keys may name folders
/// that do not exist (yet).
pub fn resolve_lenient(p: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(p) {
        return real;
    }
    let mut existing = p.to_path_buf();
    let mut rest = Vec::new();
    while let Some(name) = existing.file_name().map(|n| n.to_owned()) {
        rest.push(name);
        existing.pop();
        if let Ok(real) = std::fs::canonicalize(&existing) {
            return normalise(rest.iter().rev().fold(real, |acc, c| acc.join(c)));
        }
    }
    normalise(p.to_path_buf())
}

fn normalise(p: PathBuf) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn ancestors_inherit_and_only_true_counts() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        let j = obj(json!({"projects": {
            root.join("a").to_str().unwrap(): {"hasTrustDialogAccepted": true},
            root.join("x").to_str().unwrap(): {"hasTrustDialogAccepted": "true"},
            root.join("y").to_str().unwrap(): {"hasTrustDialogAccepted": false},
        }}));
        let t = TrustIndex::build(Some(&j), &root);
        assert_eq!(t.len(), 1);
        assert!(t.is_trusted(&root.join("a")));
        assert!(t.is_trusted(&root.join("a/b")));
        assert!(!t.is_trusted(&root.join("x")));
        assert!(!t.is_trusted(&root));
    }

    #[test]
    fn keys_are_resolved_through_symlinks_and_dotdots() {
        let d = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(d.path()).unwrap();
        std::fs::create_dir(root.join("real")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
        let j = obj(json!({"projects": {
            root.join("link").to_str().unwrap(): {"hasTrustDialogAccepted": true},
            format!("{}/real/../ghost/sub", root.display()): {"hasTrustDialogAccepted": true},
        }}));
        let t = TrustIndex::build(Some(&j), &root);
        assert!(t.is_trusted(&root.join("real")));
        assert!(t.is_trusted(&root.join("ghost/sub/deeper")));
    }

    #[test]
    fn odd_shapes_trust_nothing() {
        for v in [json!({}), json!({"projects": []}), json!({"projects": {"/": true}})] {
            assert!(TrustIndex::build(Some(&obj(v)), Path::new("/")).is_empty());
        }
        assert!(TrustIndex::build(None, Path::new("/")).is_empty());
    }
}
