//! The Project model served by `/api/projects` and pushed on the bus.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustState {
    Trusted,
    Untrusted,
}

/// One project card's data (the wire shape of the original, field for field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Project {
    pub name: String,
    /// `projects_root/name`, absolute and unresolved.
    pub path: PathBuf,
    pub is_git_repo: bool,
    pub has_claude_md: bool,
    pub has_claude_dir: bool,
    pub trust_state: TrustState,
    pub allow_bypass_permissions: bool,
    /// The symlink-resolved path: the key trust is recorded under. Not on the wire.
    #[serde(skip)]
    pub real_path: Option<PathBuf>,
}

/// The discovered projects, sorted, with an O(1) name index and the JSON body of
/// `GET /api/projects` rendered once per change rather than once per request.
#[derive(Debug, Clone)]
pub struct ProjectList {
    items: Vec<Project>,
    index: HashMap<String, usize>,
    json: bytes::Bytes,
    json_gzip: bytes::Bytes,
}

impl ProjectList {
    pub fn new(items: Vec<Project>) -> ProjectList {
        let index = items.iter().enumerate().map(|(i, p)| (p.name.clone(), i)).collect();
        let json: bytes::Bytes = serde_json::to_vec(&items).expect("projects serialize").into();
        let json_gzip = crate::web::gzip::compress(&json).into();
        ProjectList { items, index, json, json_gzip }
    }

    pub fn items(&self) -> &[Project] {
        &self.items
    }

    pub fn get(&self, name: &str) -> Option<&Project> {
        self.index.get(name).map(|&i| &self.items[i])
    }

    /// The pre-rendered JSON array of every project.
    pub fn json(&self) -> bytes::Bytes {
        self.json.clone()
    }

    /// The same JSON, gzip-compressed once per change: browsers always ask for gzip, and
    /// 1000 projects are ~200 KB of JSON but ~8 KB compressed.
    pub fn json_gzip(&self) -> bytes::Bytes {
        self.json_gzip.clone()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl Default for ProjectList {
    fn default() -> Self {
        ProjectList::new(Vec::new())
    }
}

impl PartialEq for ProjectList {
    fn eq(&self, other: &Self) -> bool {
        self.items == other.items
    }
}
