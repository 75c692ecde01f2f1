//! The line sanitizer for log lines sent over the wire (never the files on disk): strips
//! ANSI escapes, then redacts claude's ids (`env_…`, `session_…`, `cse_…`, keeping the
//! prefix), bare UUIDs, and secret-shaped tokens (GitHub, GitLab, AWS, `sk-…`, Slack,
//! bearer headers).
//!
//! One left-to-right pass over the bytes with hand-written matchers, no regex engine: a
//! fast bridge can log hundreds of thousands of lines a second. Every pattern is ASCII and
//! anchored at word boundaries, where a word character is `[A-Za-z0-9_]` (any non-ASCII
//! byte counts as a boundary, which errs towards redacting).

const REDACTED: &str = "<redacted>";

/// Sanitizes one line.
pub fn sanitize(line: &str, strip_ansi: bool) -> String {
    let stripped;
    let line = if strip_ansi && line.contains('\x1b') {
        stripped = strip_ansi_codes(line);
        stripped.as_str()
    } else {
        line
    };
    redact(line)
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A word boundary between `s[i-1]` and `s[i]`.
fn boundary(s: &[u8], i: usize) -> bool {
    let before = i > 0 && is_word(s[i - 1]);
    let after = i < s.len() && is_word(s[i]);
    before != after
}

/// Longest `end` such that `s[from..end]` is all `class`, at least `min` long, and `end`
/// is a word boundary; like `class{min,}\b` with backtracking.
fn run(s: &[u8], from: usize, class: impl Fn(u8) -> bool, min: usize) -> Option<usize> {
    let mut end = from;
    while end < s.len() && class(s[end]) {
        end += 1;
    }
    while end >= from + min {
        if boundary(s, end) {
            return Some(end);
        }
        end -= 1;
    }
    None
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn starts_with_ci(s: &[u8], i: usize, p: &[u8]) -> bool {
    s.len() >= i + p.len() && s[i..i + p.len()].eq_ignore_ascii_case(p)
}

/// What matches at `i` (a word start): the end of the match and its replacement.
fn match_at(s: &[u8], i: usize) -> Option<(usize, String)> {
    for prefix in ["env_", "session_", "cse_"] {
        if s[i..].starts_with(prefix.as_bytes())
            && let Some(end) = run(s, i + prefix.len(), alnum, 6)
        {
            return Some((end, format!("{prefix}{REDACTED}")));
        }
    }
    if let Some(end) = uuid(s, i) {
        return Some((end, REDACTED.into()));
    }
    let secret = |p: &[u8], class: &dyn Fn(u8) -> bool, min| {
        if s[i..].starts_with(p) { run(s, i + p.len(), class, min) } else { None }
    };
    let gh = s[i..].starts_with(b"gh") && s.len() > i + 3 && b"pousr".contains(&s[i + 2]) && s[i + 3] == b'_';
    let slack = s[i..].starts_with(b"xox") && s.len() > i + 4 && b"baprs".contains(&s[i + 3]) && s[i + 4] == b'-';
    let dash_alnum = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    let end = gh
        .then(|| run(s, i + 4, alnum, 16))
        .flatten()
        .or_else(|| secret(b"github_pat_", &is_word, 20))
        .or_else(|| secret(b"glpat-", &|b| is_word(b) || b == b'-', 16))
        .or_else(|| {
            let end = secret(b"AKIA", &|b| b.is_ascii_digit() || b.is_ascii_uppercase(), 16)?;
            (end - i == 20).then_some(end)
        })
        .or_else(|| secret(b"sk-", &dash_alnum, 16))
        .or_else(|| slack.then(|| run(s, i + 5, dash_alnum, 10)).flatten())
        .or_else(|| bearer(s, i));
    end.map(|e| (e, REDACTED.into()))
}

/// `bearer<spaces>[A-Za-z0-9._-]{12,}\b`, case-insensitive; the word itself goes too.
fn bearer(s: &[u8], i: usize) -> Option<usize> {
    if !starts_with_ci(s, i, b"bearer") {
        return None;
    }
    let mut j = i + 6;
    let spaces = j;
    while j < s.len() && s[j].is_ascii_whitespace() {
        j += 1;
    }
    if j == spaces {
        return None;
    }
    run(s, j, |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'), 12)
}

/// `[0-9a-f]{8}-{4}-{4}-{4}-{12}` with a word boundary after it.
fn uuid(s: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    for (n, len) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if n > 0 {
            if s.get(j) != Some(&b'-') {
                return None;
            }
            j += 1;
        }
        if s.len() < j + len || !s[j..j + len].iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        j += len;
    }
    boundary(s, j).then_some(j)
}

fn redact(line: &str) -> String {
    let s = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let (mut i, mut copied) = (0, 0);
    while i < s.len() {
        if is_word(s[i])
            && boundary(s, i)
            && let Some((end, replacement)) = match_at(s, i)
        {
            out.push_str(&line[copied..i]);
            out.push_str(&replacement);
            i = end;
            copied = end;
            continue;
        }
        i += 1;
    }
    out.push_str(&line[copied..]);
    out
}

/// Removes ANSI escape sequences: CSI (`ESC [ params final`), OSC (`ESC ] … BEL` or
/// `ESC ] … ESC \`, payload included, unlike 0.6.0) and two-byte escapes.
pub fn strip_ansi_codes(line: &str) -> String {
    let s = line.as_bytes();
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] != 0x1b {
            out.push(s[i]);
            i += 1;
            continue;
        }
        match s.get(i + 1) {
            Some(b'[') => {
                let mut j = i + 2;
                while j < s.len() && (0x20..=0x3f).contains(&s[j]) {
                    j += 1;
                }
                i = if j < s.len() && (0x40..=0x7e).contains(&s[j]) { j + 1 } else { j };
            }
            Some(b']') => {
                let mut j = i + 2;
                loop {
                    match s.get(j) {
                        None => break,
                        Some(0x07) => {
                            j += 1;
                            break;
                        }
                        Some(0x1b) if s.get(j + 1) == Some(&b'\\') => {
                            j += 2;
                            break;
                        }
                        _ => j += 1,
                    }
                }
                i = j;
            }
            Some(b) if (0x40..=0x5f).contains(b) => i += 2,
            _ => i += 1,
        }
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> String {
        sanitize(x, true)
    }

    #[test]
    fn ids_keep_their_prefix() {
        assert_eq!(s("GET /v1/environments/env_01ABCDEFGH/work end"), "GET /v1/environments/env_<redacted>/work end");
        assert_eq!(s("session_01XYZabc cse_123456"), "session_<redacted> cse_<redacted>");
        assert_eq!(s("x-env_ABCDEF12"), "x-env_<redacted>");
        for kept in ["my_env_ABCDEF12", "session_abc12", "env_01ABC_backup", "myenv_0123456"] {
            assert_eq!(s(kept), kept);
        }
    }

    #[test]
    fn uuids_and_secrets() {
        assert_eq!(s("bridgeId=123e4567-e89b-12d3-a456-426614174000 dir"), "bridgeId=<redacted> dir");
        for secret in [
            "ghp_abcdefghijklmnop1234",
            "github_pat_11ABCDEFG0123456789_abcdef",
            "glpat-abcdefghij_klmnop",
            "AKIAABCDEFGHIJKLMNOP",
            "sk-ant-api03-abcdefghijklmnop",
            "xoxb-1234567890-abc",
        ] {
            assert_eq!(s(&format!("token {secret} end")), "token <redacted> end", "{secret}");
        }
        assert_eq!(s("Authorization: Bearer abc.def-ghi_jklm"), "Authorization: <redacted>");
        assert_eq!(s("bearer short"), "bearer short");
        assert_eq!(s("AKIAABCDEFGHIJKLMNOPQ"), "AKIAABCDEFGHIJKLMNOPQ", "17 chars is not a key id");
    }

    #[test]
    fn ansi_is_stripped_only_when_asked() {
        assert_eq!(s("\x1b[1;31mred\x1b[0m"), "red");
        assert_eq!(s("\x1b]0;window title\x07after"), "after", "OSC payload goes too");
        assert_eq!(s("\x1b]8;;http://x\x1b\\link"), "link");
        assert_eq!(sanitize("\x1b[31m env_ABCDEFG\x1b[0m", false), "\x1b[31m env_<redacted>\x1b[0m");
    }

    #[test]
    fn the_spec_example_and_unicode() {
        assert_eq!(s("\x1b[31mred\x1b[0m ghp_abcdefghijklmnop1234 Bearer abcdefghijklmn"), "red <redacted> <redacted>");
        assert_eq!(s("é env_ABCDEFG ü"), "é env_<redacted> ü");
        assert_eq!(s(""), "");
    }
}
