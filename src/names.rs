//! Project names: the one validator used by discovery and by every API entry point, which
//! also makes it the path-traversal guard (no `/`, `.`, or anything outside `[A-Za-z0-9_-]`).

/// True when `name` is 1–64 ASCII letters, digits, `_` or `-` (the whole string).
pub fn is_valid_project_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::is_valid_project_name as ok;

    #[test]
    fn rules() {
        assert!(ok("alpha") && ok("a_b-C9") && ok(&"x".repeat(64)));
        for bad in ["", ".hidden", "a.b", "a b", "a/b", "..", "é", "alpha\n", &"x".repeat(65)] {
            assert!(!ok(bad), "{bad:?}");
        }
    }
}
