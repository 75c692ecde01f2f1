//! Project discovery: the direct subfolders of `projects_root` that can be projects.
//!
//! Rules (bridge-core §1): one level deep; symlinks to directories count, symlinks to
//! files, broken links and plain files do not; hidden names and names outside
//! `[A-Za-z0-9_-]{1,64}` are skipped; sorted case-insensitively (ties broken by the exact
//! name, so the order never depends on the directory listing).

use std::io;
use std::path::{Path, PathBuf};

use crate::names::is_valid_project_name;

/// One discovered folder with its badges, before trust and config are applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub name: String,
    /// `projects_root/name`, unresolved: a symlinked project keeps its link path.
    pub path: PathBuf,
    /// The path with every symlink resolved, used for trust; `None` if it vanished mid-scan.
    pub real_path: Option<PathBuf>,
    pub is_git_repo: bool,
    pub has_claude_md: bool,
    pub has_claude_dir: bool,
}

/// Scans `root` one level deep. Blocking I/O: call from a blocking thread.
pub fn scan(root: &Path) -> io::Result<Vec<Found>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root)? {
        let Ok(entry) = entry else { continue };
        let Ok(name) = entry.file_name().into_string() else { continue };
        if name.starts_with('.') || !is_valid_project_name(&name) {
            continue;
        }
        let path = root.join(&name);
        // `metadata` follows symlinks: a link to a directory is a project.
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        found.push(Found {
            real_path: std::fs::canonicalize(&path).ok(),
            is_git_repo: std::fs::symlink_metadata(path.join(".git")).is_ok(),
            has_claude_md: std::fs::metadata(path.join("CLAUDE.md")).is_ok_and(|m| m.is_file()),
            has_claude_dir: std::fs::metadata(path.join(".claude")).is_ok_and(|m| m.is_dir()),
            path,
            name,
        });
    }
    found.sort_by(|a, b| a.name.to_lowercase().cmp(&b.name.to_lowercase()).then_with(|| a.name.cmp(&b.name)));
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    #[test]
    fn applies_every_rule() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        for n in ["beta", "Alpha", "alpha", "gamma_1", ".hidden", "bad name", "a.b", "é"] {
            fs::create_dir(r.join(n)).unwrap();
        }
        fs::create_dir(r.join("x".repeat(65))).unwrap();
        fs::write(r.join("file"), "").unwrap();
        symlink(r.join("beta"), r.join("link")).unwrap();
        symlink(r.join("file"), r.join("filelink")).unwrap();
        symlink(r.join("missing"), r.join("broken")).unwrap();
        fs::create_dir(r.join("alpha/.git")).unwrap();
        fs::write(r.join("alpha/CLAUDE.md"), "# alpha\n").unwrap();
        fs::create_dir(r.join("alpha/.claude")).unwrap();
        fs::write(r.join("beta/.git"), "gitdir: elsewhere\n").unwrap();
        fs::create_dir(r.join("beta/CLAUDE.md")).unwrap();

        let found = scan(r).unwrap();
        let names: Vec<_> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Alpha", "alpha", "beta", "gamma_1", "link"]);
        let alpha = &found[1];
        assert!(alpha.is_git_repo && alpha.has_claude_md && alpha.has_claude_dir);
        let beta = &found[2];
        assert!(beta.is_git_repo, "a .git file counts");
        assert!(!beta.has_claude_md, "CLAUDE.md must be a file");
        let link = &found[4];
        assert_eq!(link.path, r.join("link"));
        assert_eq!(link.real_path.as_deref(), Some(fs::canonicalize(r.join("beta")).unwrap().as_path()));
    }

    #[test]
    fn missing_root_is_an_error() {
        assert!(scan(Path::new("/definitely/not/here")).is_err());
    }
}
