//! Origin normalisation and the allow-list for state-changing requests (CSRF defence).
//!
//! Browsers attach `Origin` to every cross-site POST/PUT/PATCH/DELETE and to WebSocket
//! handshakes, and a page cannot forge it. So a request whose Origin is not one of the
//! dashboard's own addresses was made by some other site, whatever cookies it carries.
//! Comparison happens on a normal form (`scheme://host[:port]`, lowercase, default port
//! dropped) so `HTTP://LOCALHOST:7621/` and `http://localhost:7621` are the same origin.

use std::collections::BTreeSet;
use std::net::IpAddr;

/// The opaque origin (sandboxed frames, `file:` pages, some redirects). It can be sent by
/// any page, so it is never allowed, even if configured.
const OPAQUE: &str = "null";

/// Brings an origin (or an origin-like URL from the config) to its comparable form.
///
/// Whitespace and trailing `/` are trimmed; with a scheme and a host the result is
/// `scheme://host[:port]` (lowercase, userinfo and path dropped, IP literals in canonical
/// form, the scheme's default port omitted); anything else is just lowercased, so it can
/// only ever match an identical string.
pub fn normalize(origin: &str) -> String {
    let s = origin.trim().trim_end_matches('/');
    let fallback = || s.to_ascii_lowercase();
    let Some((scheme, rest)) = s.split_once("://") else { return fallback() };
    let valid_scheme = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return fallback();
    }
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if let Some(bracketed) = hostport.strip_prefix('[') {
        let Some((inner, after)) = bracketed.split_once(']') else { return fallback() };
        let host = match inner.parse::<std::net::Ipv6Addr>() {
            Ok(ip) => format!("[{ip}]"),
            Err(_) => format!("[{}]", inner.to_ascii_lowercase()),
        };
        match after {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(p) => (host, Some(p)),
                None => return fallback(),
            },
        }
    } else {
        let (h, p) = match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        };
        let host = match h.parse::<IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => h.to_ascii_lowercase(),
        };
        (host, p)
    };
    if host.is_empty() {
        return fallback();
    }
    let port = match port.filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) => Some(n),
            Err(_) => return fallback(),
        },
    };
    let default = match scheme.as_str() {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    };
    match port {
        Some(p) if Some(p) != default => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    }
}

/// The origins whose pages may change state. Built once at startup from the bind address
/// and `auth.allowed_origins`.
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins {
    set: BTreeSet<String>,
}

impl AllowedOrigins {
    /// For a loopback bind, the dashboard's own loopback addresses on the bound `port`
    /// (127.0.0.1, localhost and [::1], http and https, plus the bound host itself); for
    /// any other bind nothing automatic, because a LAN name or address cannot be guessed
    /// safely. Then every configured origin. Returns the set and warnings about entries
    /// that can never match a browser's Origin.
    pub fn new(bind_host: &str, port: u16, configured: &[String]) -> (AllowedOrigins, Vec<String>) {
        let mut set = BTreeSet::new();
        let mut warnings = Vec::new();
        if crate::config::load::is_loopback(bind_host) {
            let bound = bind_host.trim_start_matches('[').trim_end_matches(']');
            let bound = match bound.parse::<IpAddr>() {
                Ok(IpAddr::V6(ip)) => format!("[{ip}]"),
                Ok(ip) => ip.to_string(),
                Err(_) => bound.to_ascii_lowercase(),
            };
            for host in ["127.0.0.1", "localhost", "[::1]", bound.as_str()] {
                for scheme in ["http", "https"] {
                    set.insert(normalize(&format!("{scheme}://{host}:{port}")));
                }
            }
        }
        for entry in configured {
            let n = normalize(entry);
            if n == OPAQUE || n.is_empty() {
                warnings.push(format!(
                    "auth.allowed_origins: {entry:?} is ignored: the opaque origin `null` can be sent by any page"
                ));
                continue;
            }
            if !n.contains("://") {
                warnings.push(format!(
                    "auth.allowed_origins: {entry:?} is not an origin like https://clauster.example.com; \
                     no browser will ever send it"
                ));
            }
            set.insert(n);
        }
        (AllowedOrigins { set }, warnings)
    }

    /// Whether a request's `Origin` header value is on the list.
    pub fn allows(&self, origin: &str) -> bool {
        let n = normalize(origin);
        n != OPAQUE && self.set.contains(&n)
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The normalised entries, for the startup log.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.set.iter().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        for (raw, want) in [
            ("HTTP://LOCALHOST:7698/", "http://localhost:7698"),
            ("  https://clauster.example.com/  ", "https://clauster.example.com"),
            ("https://clauster.example.com:443", "https://clauster.example.com"),
            ("http://example.com:80", "http://example.com"),
            ("http://example.com:8080/some/path?q#f", "http://example.com:8080"),
            ("https://user:pw@Example.COM", "https://example.com"),
            ("http://[::1]:7698", "http://[::1]:7698"),
            ("http://[0:0:0:0:0:0:0:1]:7698", "http://[::1]:7698"),
            ("http://127.000.0.1:1", "http://127.000.0.1:1"),
            ("null", "null"),
            ("NULL", "null"),
            ("clauster.example.com", "clauster.example.com"),
            ("http://", "http:"),
            ("http://h:notaport", "http://h:notaport"),
            ("http://h:", "http://h"),
            ("", ""),
        ] {
            assert_eq!(normalize(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn loopback_binds_allow_their_aliases_on_the_bound_port_only() {
        let (o, w) = AllowedOrigins::new("127.0.0.1", 7698, &[]);
        assert!(w.is_empty());
        for ok in ["http://localhost:7698", "http://[::1]:7698", "https://127.0.0.1:7698", "HTTP://LOCALHOST:7698/"] {
            assert!(o.allows(ok), "{ok}");
        }
        for bad in
            ["http://127.0.0.1:7621", "http://127.0.0.1", "null", "", "http://evil.com", "http://127.0.0.1:7698.evil"]
        {
            assert!(!o.allows(bad), "{bad}");
        }
        let (o, _) = AllowedOrigins::new("127.0.0.2", 9, &[]);
        assert!(o.allows("http://127.0.0.2:9") && o.allows("http://localhost:9"));
    }

    #[test]
    fn non_loopback_binds_allow_only_what_is_configured() {
        let (o, w) = AllowedOrigins::new("0.0.0.0", 7621, &[]);
        assert!(o.is_empty() && w.is_empty());
        assert!(!o.allows("http://0.0.0.0:7621") && !o.allows("http://127.0.0.1:7621"));
        let cfg = vec!["https://clauster.example.com/".to_string()];
        let (o, _) = AllowedOrigins::new("0.0.0.0", 7621, &cfg);
        assert!(o.allows("https://clauster.example.com:443"));
        assert!(o.allows("https://clauster.example.com"));
        assert!(!o.allows("http://clauster.example.com"));
    }

    #[test]
    fn null_is_never_allowed_and_odd_entries_are_warned_about() {
        let cfg = vec!["null".to_string(), "clauster.example.com".to_string()];
        let (o, w) = AllowedOrigins::new("127.0.0.1", 1, &cfg);
        assert!(!o.allows("null"));
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("null") && w[1].contains("no browser"), "{w:?}");
    }
}
