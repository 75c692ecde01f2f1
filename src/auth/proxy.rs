//! Trusting an authenticating reverse proxy: a peer-address allow-list plus a per-request
//! HMAC, so neither a spoofed header from elsewhere nor a replayed request gets in.
//!
//! The proxy sends the user in `user_header` and `X-Proxy-Auth: t=<unix>,v1=<hex>` where
//! `v1` is the lowercase hex HMAC-SHA256, keyed with `shared_secret`, of
//! `"<user>:<t>:<METHOD>:<path>"` (the percent-decoded path without the query). Binding
//! method and path means a signature for `GET /api/projects` cannot be replayed against
//! `DELETE /api/instances/x`, and the window bounds replays of the same request.
//! `X-Forwarded-For` and `X-Forwarded-Proto` are believed only from the same trusted peers.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use ipnet::IpNet;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::config::schema::ReverseProxyConfig;

/// Why a request from a trusted proxy did not authenticate. Never shown to the client
/// (the request falls back to cookie auth); logged so a proxy setup can be debugged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("no user in the user header")]
    NoUser,
    #[error("no signature header")]
    NoSignature,
    #[error("the signature header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature timestamp is {age}s away from now, outside the {window}s window (check both clocks)")]
    OutsideWindow { age: i64, window: u64 },
    #[error("the signature does not match (wrong shared_secret, or the proxy signed another user, method or path)")]
    Mismatch,
}

/// The reverse-proxy settings in the shape the checks need.
#[derive(Clone)]
pub struct ProxyTrust {
    trusted: Vec<IpNet>,
    pub user_header: String,
    pub signature_header: String,
    secret: Vec<u8>,
    window: u64,
}

impl std::fmt::Debug for ProxyTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyTrust")
            .field("trusted", &self.trusted)
            .field("user_header", &self.user_header)
            .field("signature_header", &self.signature_header)
            .field("secret", &"<redacted>")
            .field("window", &self.window)
            .finish()
    }
}

impl ProxyTrust {
    /// `None` unless the proxy is enabled with a secret (the config loader refuses an
    /// enabled proxy without one, so in practice: `None` when disabled).
    pub fn from_config(cfg: &ReverseProxyConfig) -> Option<ProxyTrust> {
        let secret = cfg.shared_secret.as_deref().filter(|s| !s.is_empty())?;
        cfg.enabled.then(|| ProxyTrust {
            trusted: cfg.trusted_ips.iter().map(|c| c.0).collect(),
            user_header: cfg.user_header.clone(),
            signature_header: cfg.shared_secret_header.clone(),
            secret: secret.as_bytes().to_vec(),
            window: cfg.hmac_window_seconds.get(),
        })
    }

    /// Whether `peer` (the TCP peer, never a header) is one of the trusted proxies.
    /// IPv4-mapped IPv6 peers (`::ffff:127.0.0.1`) count as their IPv4 address.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.trusted.iter().any(|net| net.contains(&peer))
    }

    /// Checks the user and signature headers of a request from a trusted peer; returns the
    /// user. `path` is the request path as received (percent-encoded, no query).
    pub fn authenticate(
        &self,
        user: Option<&str>,
        signature: Option<&str>,
        method: &str,
        path: &str,
        now: i64,
    ) -> Result<String, ProxyError> {
        let user = user.filter(|u| !u.is_empty()).ok_or(ProxyError::NoUser)?;
        let (t, v1) = parse_signature(signature.ok_or(ProxyError::NoSignature)?)?;
        let age = now.saturating_sub(t);
        if age.unsigned_abs() > self.window {
            return Err(ProxyError::OutsideWindow { age, window: self.window });
        }
        let expected = sign(&self.secret, user, t, method, &percent_decode(path));
        if bool::from(expected.as_bytes().ct_eq(v1.as_bytes())) {
            Ok(user.to_owned())
        } else {
            Err(ProxyError::Mismatch)
        }
    }

    /// The client behind a trusted proxy: the right-most `X-Forwarded-For` entry that is not
    /// itself a trusted proxy (the left part of the list is whatever the client sent, so it
    /// cannot be believed). From an untrusted peer, or without a usable header: the peer.
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let Some(list) = forwarded_for else { return peer };
        let mut client = peer;
        for entry in list.rsplit(',') {
            match parse_forwarded_ip(entry) {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                None => return peer,
            }
        }
        client
    }

    /// Whether a trusted proxy says the browser's connection is https.
    pub fn says_https(&self, peer: IpAddr, forwarded_proto: Option<&str>) -> bool {
        self.trusts(peer) && forwarded_proto.is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
    }
}

/// Parses `t=<int>,v1=<hex>`: pieces split on `,`, each on its first `=`; keys must be
/// exactly `t` and `v1` (no blanks); unknown pieces are ignored.
fn parse_signature(header: &str) -> Result<(i64, &str), ProxyError> {
    let (mut t, mut v1) = (None, None);
    for piece in header.split(',') {
        match piece.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let t = t.ok_or(ProxyError::Malformed)?;
    let valid_int = !t.is_empty() && t.strip_prefix('-').unwrap_or(t).bytes().all(|b| b.is_ascii_digit());
    let t = valid_int.then(|| t.parse::<i64>().ok()).flatten().ok_or(ProxyError::Malformed)?;
    Ok((t, v1.ok_or(ProxyError::Malformed)?))
}

/// The signature a proxy sends: lowercase hex HMAC-SHA256 of `"<user>:<t>:<METHOD>:<path>"`.
pub fn sign(secret: &[u8], user: &str, t: i64, method: &str, path: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(format!("{user}:{t}:{}:{path}", method.to_ascii_uppercase()).as_bytes());
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

/// Decodes `%XX` escapes (a proxy signs the path it means, not its encoding); invalid
/// escapes stay as they are and invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hexval = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hexval(b[i + 1]), hexval(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    if let Ok(ip) = e.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    e.parse::<std::net::SocketAddr>().ok().map(|s| s.ip().to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::{AtLeast, Cidr};

    fn trust() -> ProxyTrust {
        let cfg = ReverseProxyConfig {
            enabled: true,
            trusted_ips: vec![Cidr::try_from("127.0.0.1/32".to_string()).unwrap(), Cidr("10.0.0.0/8".parse().unwrap())],
            shared_secret: Some("proxysecret".into()),
            hmac_window_seconds: AtLeast(60),
            ..ReverseProxyConfig::default()
        };
        ProxyTrust::from_config(&cfg).unwrap()
    }

    fn header(t: i64, user: &str, method: &str, path: &str) -> String {
        format!("t={t},v1={}", sign(b"proxysecret", user, t, method, path))
    }

    #[test]
    fn only_enabled_proxies_with_a_secret_are_trusted() {
        let mut cfg = ReverseProxyConfig { shared_secret: Some("s".into()), ..Default::default() };
        assert!(ProxyTrust::from_config(&cfg).is_none());
        cfg.enabled = true;
        cfg.shared_secret = None;
        assert!(ProxyTrust::from_config(&cfg).is_none());
        cfg.shared_secret = Some(String::new());
        assert!(ProxyTrust::from_config(&cfg).is_none());
        assert!(!format!("{:?}", trust()).contains("proxysecret"), "the secret never reaches a log");
    }

    #[test]
    fn peers_are_matched_by_cidr_with_mapped_v6() {
        let p = trust();
        assert!(p.trusts("127.0.0.1".parse().unwrap()));
        assert!(p.trusts("::ffff:127.0.0.1".parse().unwrap()));
        assert!(p.trusts("10.9.8.7".parse().unwrap()));
        assert!(!p.trusts("127.0.0.2".parse().unwrap()));
        assert!(!p.trusts("::1".parse().unwrap()), "families must match");
    }

    #[test]
    fn a_good_signature_names_the_user() {
        let p = trust();
        let now = 1_700_000_000;
        let h = header(now, "bob", "GET", "/api/instances");
        assert_eq!(p.authenticate(Some("bob"), Some(&h), "GET", "/api/instances", now), Ok("bob".into()));
        // The method is compared uppercase, like the proxy signs it.
        assert_eq!(p.authenticate(Some("bob"), Some(&h), "get", "/api/instances", now), Ok("bob".into()));
    }

    #[test]
    fn signatures_bind_user_method_path_and_time() {
        let p = trust();
        let now = 1_700_000_000;
        let h = header(now, "bob", "GET", "/api/projects");
        let auth = |user, sig: &str, method, path, at| p.authenticate(Some(user), Some(sig), method, path, at);
        assert_eq!(auth("bob", &h, "GET", "/api/instances", now), Err(ProxyError::Mismatch));
        assert_eq!(auth("eve", &h, "GET", "/api/projects", now), Err(ProxyError::Mismatch));
        assert_eq!(auth("bob", &h, "POST", "/api/projects", now), Err(ProxyError::Mismatch));
        // The window is inclusive on both sides.
        assert!(auth("bob", &h, "GET", "/api/projects", now + 60).is_ok());
        assert!(auth("bob", &h, "GET", "/api/projects", now - 60).is_ok());
        assert!(matches!(auth("bob", &h, "GET", "/api/projects", now + 61), Err(ProxyError::OutsideWindow { .. })));
        assert!(matches!(auth("bob", &h, "GET", "/api/projects", now - 61), Err(ProxyError::OutsideWindow { .. })));
        // Wrong key.
        let forged = format!("t={now},v1={}", sign(b"guess", "bob", now, "GET", "/api/projects"));
        assert_eq!(auth("bob", &forged, "GET", "/api/projects", now), Err(ProxyError::Mismatch));
    }

    #[test]
    fn the_header_format_is_strict() {
        let p = trust();
        let now = 1_700_000_000;
        let sig = sign(b"proxysecret", "bob", now, "GET", "/x");
        let auth = |h: &str| p.authenticate(Some("bob"), Some(h), "GET", "/x", now);
        assert!(auth(&format!("t={now},v1={sig}")).is_ok());
        assert!(auth(&format!("v1={sig},t={now},extra=1")).is_ok(), "order is free, extras ignored");
        assert_eq!(auth(&format!("t={now}, v1={sig}")), Err(ProxyError::Malformed), "no blanks");
        assert_eq!(auth(&format!("t={now},v1={}", sig.to_uppercase())), Err(ProxyError::Mismatch));
        assert_eq!(auth(&format!("t=+{now},v1={sig}")), Err(ProxyError::Malformed));
        assert_eq!(auth(&format!("t={now}.0,v1={sig}")), Err(ProxyError::Malformed));
        assert_eq!(auth(&format!("v1={sig}")), Err(ProxyError::Malformed));
        assert_eq!(auth(&format!("t={now}")), Err(ProxyError::Malformed));
        assert_eq!(auth(&format!("t={now},v1={}", &sig[..63])), Err(ProxyError::Mismatch));
        assert_eq!(p.authenticate(None, Some("t=1,v1=a"), "GET", "/x", now), Err(ProxyError::NoUser));
        assert_eq!(p.authenticate(Some(""), Some("t=1,v1=a"), "GET", "/x", now), Err(ProxyError::NoUser));
        assert_eq!(p.authenticate(Some("bob"), None, "GET", "/x", now), Err(ProxyError::NoSignature));
    }

    #[test]
    fn the_signed_path_is_decoded_and_has_no_query() {
        let p = trust();
        let now = 5;
        let h = header(now, "bob", "GET", "/api/projects/a b");
        assert!(p.authenticate(Some("bob"), Some(&h), "GET", "/api/projects/a%20b", now).is_ok());
        assert_eq!(percent_decode("/a%2Fb%zz%4"), "/a/b%zz%4");
        assert_eq!(percent_decode("/%C3%A9"), "/é");
        assert_eq!(percent_decode("/%FF"), "/\u{FFFD}");
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_peers() {
        let p = trust();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let proxy = ip("127.0.0.1");
        let stranger = ip("192.0.2.9");
        assert_eq!(p.client(stranger, Some("198.51.100.1")), stranger);
        assert_eq!(p.client(proxy, Some("198.51.100.1")), ip("198.51.100.1"));
        // The client can prepend anything; the entry the proxy appended wins.
        assert_eq!(p.client(proxy, Some("6.6.6.6, 198.51.100.1")), ip("198.51.100.1"));
        // Chained trusted proxies are skipped.
        assert_eq!(p.client(proxy, Some("198.51.100.1, 10.0.0.5")), ip("198.51.100.1"));
        assert_eq!(p.client(proxy, Some("[2001:db8::1]:443")), ip("2001:db8::1"));
        assert_eq!(p.client(proxy, Some("garbage")), proxy);
        assert_eq!(p.client(proxy, None), proxy);
        assert!(p.says_https(proxy, Some("HTTPS")));
        assert!(!p.says_https(stranger, Some("https")));
        assert!(!p.says_https(proxy, Some("http")));
    }
}
