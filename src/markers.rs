//! What a bridge's output tells us: readiness markers in its `--debug-file`, parsed line
//! by line as the lines arrive, and the class of an exit, from its stderr and status.
//!
//! Plain substring scanning, no regex engine: the markers are fixed prefixes followed by
//! an id token.

use serde::Serialize;

/// Markers seen so far in one bridge's debug log. Single-valued fields keep the first
/// value found; nothing found later clears them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markers {
    pub bridge_id: Option<String>,
    pub environment_id: Option<String>,
    pub starter_session_id: Option<String>,
    pub poll_loop_started: bool,
    pub trust_error: bool,
}

impl Markers {
    /// Takes one complete line of the debug log.
    pub fn feed(&mut self, line: &str) {
        if self.bridge_id.is_none()
            && line.contains("[bridge:init]")
            && let Some(id) = token_after(line, "bridgeId=", |c| c.is_ascii_hexdigit() || c == '-')
            && id.len() >= 8
        {
            self.bridge_id = Some(id.to_owned());
        }
        if self.environment_id.is_none() {
            for key in ["environment_id=env_", "environmentId=env_"] {
                if let Some(rest) = token_after(line, key, is_id_char).filter(|t| !t.is_empty()) {
                    self.environment_id = Some(format!("env_{rest}"));
                    break;
                }
            }
        }
        if self.starter_session_id.is_none() {
            let created = token_after(line, "Created initial session session_", is_id_char);
            let unarchived =
                line.contains("[remote-bridge]").then(|| token_after(line, "Unarchive session_", is_id_char)).flatten();
            if let Some(id) = created.or(unarchived).filter(|t| !t.is_empty()) {
                self.starter_session_id = Some(format!("session_{id}"));
            }
        }
        if line.contains("[bridge:work]") && line.contains("Starting poll loop") {
            self.poll_loop_started = true;
        }
        if line.to_ascii_lowercase().contains("workspace not trusted") {
            self.trust_error = true;
        }
    }

    /// Ready means registered (an environment id) and polling for work.
    pub fn is_ready(&self) -> bool {
        self.poll_loop_started && self.environment_id.is_some()
    }
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// The run of `accept` characters right after the first `key` in `line`.
fn token_after<'a>(line: &'a str, key: &str, accept: impl Fn(char) -> bool) -> Option<&'a str> {
    let start = line.find(key)? + key.len();
    let rest = &line[start..];
    let end = rest.find(|c: char| !accept(c)).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// Why a bridge process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitClass {
    /// We stopped it (Stop, or clauster gave up on a stuck start).
    Stopped,
    /// A session-mode bridge finished its one session, or a bridge exited 0 on its own.
    Completed,
    /// claude is not logged in on this host.
    LoggedOut,
    /// The workspace trust dialog was never accepted for this folder.
    Untrusted,
    /// The CLI gave up without a network.
    Offline,
    /// Anything else.
    Crash,
}

impl ExitClass {
    /// Classes that no restart can fix: they wait for the user.
    pub fn is_permanent(self) -> bool {
        matches!(self, ExitClass::LoggedOut | ExitClass::Untrusted)
    }

    /// What the user should do, for `error_detail` and the API's `detail`.
    pub fn advice(self) -> Option<&'static str> {
        match self {
            ExitClass::LoggedOut => {
                Some("claude is not logged in on this host: run `claude` as the user clauster runs as, and /login")
            }
            ExitClass::Untrusted => {
                Some("the workspace is not trusted by claude: use Trust on the project, then start it again")
            }
            ExitClass::Offline => Some("claude could not reach Anthropic's servers: check this host's network"),
            _ => None,
        }
    }
}

/// Classifies an exit from what the bridge wrote (stderr tail, debug markers) and how it
/// ended. `by_us` wins over everything: an exit we caused is never a crash.
pub fn classify(by_us: bool, stderr: &str, markers: &Markers, exit_code: Option<i32>) -> ExitClass {
    if by_us {
        return ExitClass::Stopped;
    }
    let err = stderr.to_ascii_lowercase();
    if err.contains("must be logged in") || err.contains("not logged in") || err.contains("please use `/login`") {
        return ExitClass::LoggedOut;
    }
    if markers.trust_error || err.contains("workspace not trusted") {
        return ExitClass::Untrusted;
    }
    const NETWORK: [&str; 8] = [
        "enotfound",
        "econnrefused",
        "econnreset",
        "etimedout",
        "eai_again",
        "getaddrinfo",
        "fetch failed",
        "network is unreachable",
    ];
    if NETWORK.iter().any(|n| err.contains(n)) {
        return ExitClass::Offline;
    }
    if exit_code == Some(0) {
        return ExitClass::Completed;
    }
    ExitClass::Crash
}

/// The last `max` characters of `text`, trimmed, on a char boundary.
pub fn tail(text: &str, max: usize) -> String {
    let t = text.trim();
    let skip = t.chars().count().saturating_sub(max);
    t.chars().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
2026-11-26T10:00:00.000Z [DEBUG] [bridge:init] bridgeId=11111111-2222-3333-4444-555555555555 dir=/p branch=main
2026-11-26T10:00:00.001Z [DEBUG] [bridge:api] POST /v1/environments/bridge -> 200 environment_id=env_01TESTENV
2026-11-26T10:00:00.002Z [DEBUG] [bridge:init] Registered, server environmentId=env_OTHER
2026-11-26T10:00:00.003Z [DEBUG] [bridge:init] Created initial session session_01STARTER
2026-11-26T10:00:00.004Z [DEBUG] [bridge:work] Starting poll loop spawnMode=same-dir maxSessions=32 environmentId=env_01TESTENV";

    #[test]
    fn parses_the_real_marker_lines_incrementally() {
        let mut m = Markers::default();
        let lines: Vec<_> = LOG.lines().collect();
        for l in &lines[..4] {
            m.feed(l);
        }
        assert!(!m.is_ready(), "no poll loop yet");
        m.feed(lines[4]);
        assert!(m.is_ready());
        assert_eq!(m.bridge_id.as_deref(), Some("11111111-2222-3333-4444-555555555555"));
        assert_eq!(m.environment_id.as_deref(), Some("env_01TESTENV"), "first match wins");
        assert_eq!(m.starter_session_id.as_deref(), Some("session_01STARTER"));
    }

    #[test]
    fn resume_takes_the_unarchive_line_and_trust_errors_are_seen() {
        let mut m = Markers::default();
        m.feed("[remote-bridge] Unarchive session_01PRIOR");
        assert_eq!(m.starter_session_id.as_deref(), Some("session_01PRIOR"));
        m.feed("Unarchive session_NOT_FROM_BRIDGE");
        assert_eq!(m.starter_session_id.as_deref(), Some("session_01PRIOR"));
        m.feed("[bridge:init] WORKSPACE NOT TRUSTED: /p");
        assert!(m.trust_error);
        m.feed("[bridge:work] Starting poll loop");
        assert!(!m.is_ready(), "ready needs an environment id too");
    }

    #[test]
    fn classification() {
        let m = Markers::default();
        let logged_out = "Error: You must be logged in to use Remote Control.\n\nPlease use `/login` to sign in";
        assert_eq!(classify(false, logged_out, &m, Some(1)), ExitClass::LoggedOut);
        assert_eq!(classify(true, logged_out, &m, Some(1)), ExitClass::Stopped);
        assert_eq!(classify(false, "Error: Workspace not trusted. Please run", &m, Some(1)), ExitClass::Untrusted);
        assert_eq!(
            classify(false, "TypeError: fetch failed (getaddrinfo ENOTFOUND api.anthropic.com)", &m, Some(1)),
            ExitClass::Offline
        );
        assert_eq!(classify(false, "Error: simulated crash", &m, Some(1)), ExitClass::Crash);
        assert_eq!(classify(false, "", &m, None), ExitClass::Crash, "killed by a signal");
        assert_eq!(classify(false, "", &m, Some(0)), ExitClass::Completed);
        assert!(ExitClass::LoggedOut.is_permanent() && !ExitClass::Offline.is_permanent());
    }

    #[test]
    fn tail_keeps_the_end_on_char_boundaries() {
        assert_eq!(tail("  abcdef \n", 3), "def");
        assert_eq!(tail("ééé", 2), "éé");
        assert_eq!(tail("ab", 10), "ab");
    }
}
