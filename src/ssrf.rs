//! The clone URL guard (spec §7.2): a clone must not become a way to make the host fetch
//! from itself, its LAN or a cloud metadata endpoint. The URL's scheme must be allowed, its
//! host is resolved once, and every address it resolves to is classified; one bad address
//! refuses the whole URL (a resolver may rotate answers).
//!
//! Known residual: git resolves the host again, so DNS rebinding between this check and
//! git's connect is not covered.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use ipnet::IpNet;

/// How long a DNS lookup may take before the URL is called unresolvable.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct Policy {
    /// Lowercase scheme names.
    pub allowed_schemes: Vec<String>,
    pub allow_private_hosts: bool,
    pub allowed_private_cidrs: Vec<IpNet>,
}

impl Policy {
    pub fn from_config(c: &crate::config::schema::CloneConfig) -> Policy {
        Policy {
            allowed_schemes: c.allowed_schemes.iter().map(|s| s.to_ascii_lowercase()).collect(),
            allow_private_hosts: c.allow_private_hosts,
            allowed_private_cidrs: c.allowed_private_cidrs.iter().map(|c| c.0).collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("malformed clone URL: {0}")]
    Malformed(String),
    #[error("scheme '{scheme}' not allowed; permitted: [{allowed}]")]
    Scheme { scheme: String, allowed: String },
    #[error("clone URL has no host")]
    NoHost,
    #[error("could not resolve host '{host}': {reason}")]
    Unresolvable { host: String, reason: String },
    #[error(
        "host '{host}' resolves to blocked address {ip} (private). Set clone.allow_private_hosts, or add the \
         address to clone.allowed_private_cidrs, to permit."
    )]
    Private { host: String, ip: IpAddr },
    #[error(
        "host '{host}' resolves to blocked address {ip} (loopback/link-local/multicast/reserved); clones from such \
         addresses are never allowed"
    )]
    Forbidden { host: String, ip: IpAddr },
}

impl UrlError {
    /// A refused destination (403) rather than a bad URL (422).
    pub fn is_blocked(&self) -> bool {
        matches!(self, UrlError::Private { .. } | UrlError::Forbidden { .. })
    }
}

/// What an address is, for the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Public,
    /// Refused unless `allow_private_hosts` or inside an allowed CIDR.
    Private,
    /// Refused whatever the config says.
    Forbidden,
}

/// A URL that passed the syntax checks: the lowercased host and the port to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
}

/// Scheme allow-list and host presence, without touching the network.
pub fn check_syntax(raw: &str, policy: &Policy) -> Result<Target, UrlError> {
    let allowed = || policy.allowed_schemes.join(", ");
    let url = match url::Url::parse(raw.trim()) {
        Ok(u) => u,
        // scp-style `git@host:repo` has no scheme at all.
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            return Err(UrlError::Scheme { scheme: "(none)".into(), allowed: allowed() });
        }
        Err(url::ParseError::EmptyHost) => return Err(UrlError::NoHost),
        Err(e) => return Err(UrlError::Malformed(e.to_string())),
    };
    let scheme = url.scheme().to_ascii_lowercase();
    if !policy.allowed_schemes.contains(&scheme) {
        return Err(UrlError::Scheme { scheme, allowed: allowed() });
    }
    // The url crate reads `https:///x` as host `x`; git would not. Look at the raw authority.
    let after = raw.trim().split_once("://").map_or("", |(_, rest)| rest);
    let authority = after.split(['/', '?', '#']).next().unwrap_or_default();
    let host_part = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
    if host_part.is_empty() || host.is_empty() {
        return Err(UrlError::NoHost);
    }
    let port = url.port_or_known_default().unwrap_or(if scheme == "ssh" { 22 } else { 443 });
    Ok(Target { host, port })
}

/// The full check: syntax, then one resolution, then every address.
pub async fn validate(raw: &str, policy: &Policy) -> Result<Target, UrlError> {
    let target = check_syntax(raw, policy)?;
    let unresolvable = |reason: String| UrlError::Unresolvable { host: target.host.clone(), reason };
    let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
    let addrs: Vec<IpAddr> = match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
        Err(_) => return Err(unresolvable(format!("no answer within {}s", RESOLVE_TIMEOUT.as_secs()))),
        Ok(Err(e)) => return Err(unresolvable(e.to_string())),
        Ok(Ok(a)) => a.map(|a| a.ip()).collect(),
    };
    if addrs.is_empty() {
        return Err(unresolvable("no addresses".into()));
    }
    check_addrs(&target.host, &addrs, policy)?;
    Ok(target)
}

/// Refuses the host if any of its addresses is refused by the policy.
pub fn check_addrs(host: &str, addrs: &[IpAddr], policy: &Policy) -> Result<(), UrlError> {
    for &ip in addrs {
        let ip = canonical(ip);
        match classify(ip) {
            Class::Public => {}
            Class::Forbidden => return Err(UrlError::Forbidden { host: host.to_owned(), ip }),
            Class::Private => {
                let opted_in =
                    policy.allow_private_hosts || policy.allowed_private_cidrs.iter().any(|n| n.contains(&ip));
                if !opted_in {
                    return Err(UrlError::Private { host: host.to_owned(), ip });
                }
            }
        }
    }
    Ok(())
}

/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

pub fn classify(ip: IpAddr) -> Class {
    match canonical(ip) {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u8) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> Class {
    const FORBIDDEN: [([u8; 4], u8); 5] = [
        ([0, 0, 0, 0], 8),      // "this network": 0.0.0.0 reaches the host itself
        ([127, 0, 0, 0], 8),    // loopback
        ([169, 254, 0, 0], 16), // link-local, cloud metadata
        ([224, 0, 0, 0], 4),    // multicast
        ([240, 0, 0, 0], 4),    // reserved, broadcast
    ];
    const PRIVATE: [([u8; 4], u8); 9] = [
        ([10, 0, 0, 0], 8),
        ([172, 16, 0, 0], 12),
        ([192, 168, 0, 0], 16),
        ([100, 64, 0, 0], 10), // CGNAT (and Tailscale)
        ([192, 0, 0, 0], 24),  // IETF protocol assignments
        ([192, 0, 2, 0], 24),  // documentation
        ([198, 18, 0, 0], 15), // benchmarking
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
    ];
    if FORBIDDEN.iter().any(|&(n, p)| in_v4(ip, n, p)) {
        Class::Forbidden
    } else if PRIVATE.iter().any(|&(n, p)| in_v4(ip, n, p)) {
        Class::Private
    } else {
        Class::Public
    }
}

fn in_v6(ip: Ipv6Addr, net: u128, prefix: u8) -> bool {
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
    (u128::from(ip) & mask) == (net & mask)
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let bits = u128::from(ip);
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) embed an IPv4 address: judge that one, so
    // an IPv6-only network's NAT64 works for public hosts but cannot reach private ones.
    if in_v6(ip, 0x0064_ff9b << 96, 96) {
        return classify_v4(Ipv4Addr::from(bits as u32));
    }
    if in_v6(ip, 0x2002 << 112, 16) {
        return classify_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() || in_v6(ip, 0xfe80 << 112, 10) {
        return Class::Forbidden;
    }
    let private = [
        (0x2001_0db8u128 << 96, 32), // documentation
        (0x3fff << 112, 20),         // documentation (RFC 9637)
        (0x2001 << 112, 23),         // IETF protocol assignments (Teredo, ORCHID, ...)
        (0xfc00 << 112, 7),          // unique local
        (0xfec0 << 112, 10),         // deprecated site-local
        (0x0100 << 112, 64),         // discard-only
    ];
    if private.iter().any(|&(n, p)| in_v6(ip, n, p)) {
        return Class::Private;
    }
    // Global unicast is 2000::/3; everything else is reserved.
    if in_v6(ip, 0x2000 << 112, 3) { Class::Public } else { Class::Forbidden }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            allowed_schemes: vec!["https".into(), "ssh".into()],
            allow_private_hosts: false,
            allowed_private_cidrs: vec![],
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn syntax() {
        let p = policy();
        let scheme = |u: &str| match check_syntax(u, &p) {
            Err(UrlError::Scheme { scheme, .. }) => scheme,
            other => panic!("{u}: {other:?}"),
        };
        assert_eq!(scheme("http://github.com/x/y"), "http");
        assert_eq!(scheme("file:///etc"), "file");
        assert_eq!(scheme("git@github.com:o/r.git"), "(none)");
        assert_eq!(check_syntax("https:///x", &p), Err(UrlError::NoHost));
        assert!(matches!(check_syntax("https://[::1/x", &p), Err(UrlError::Malformed(_))));
        assert!(matches!(check_syntax("https://h:99999/x", &p), Err(UrlError::Malformed(_))));
        assert_eq!(
            check_syntax("HTTPS://user:pw@GitHub.com/x", &p),
            Ok(Target { host: "github.com".into(), port: 443 })
        );
        assert_eq!(check_syntax("ssh://git@192.168.1.1/x", &p), Ok(Target { host: "192.168.1.1".into(), port: 22 }));
        assert_eq!(check_syntax("https://[::1]:8443/x", &p), Ok(Target { host: "::1".into(), port: 8443 }));
        let msg = check_syntax("ftp://h/x", &p).unwrap_err().to_string();
        assert_eq!(msg, "scheme 'ftp' not allowed; permitted: [https, ssh]");
    }

    #[test]
    fn classification() {
        for f in [
            "127.0.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "169.254.169.254",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "::ffff:127.0.0.1",
            "fe80::1",
            "ff02::1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            "100::1:0:0:0:1",
            "4000::1",
        ] {
            assert_eq!(classify(ip(f)), Class::Forbidden, "{f}");
        }
        for p in [
            "10.0.0.1",
            "100.64.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "192.0.2.1",
            "198.18.0.1",
            "203.0.113.9",
            "::ffff:10.0.0.1",
            "fd00::1",
            "2001:db8::1",
            "64:ff9b::a00:1",
            "2002:c0a8:101::",
            "100::1",
            "3fff::1",
        ] {
            assert_eq!(classify(ip(p)), Class::Private, "{p}");
        }
        for ok in ["140.82.112.3", "1.1.1.1", "2606:4700::1111", "64:ff9b::8c52:7003", "2002:8c52:7003::"] {
            assert_eq!(classify(ip(ok)), Class::Public, "{ok}");
        }
    }

    #[test]
    fn opt_ins() {
        let mut p = policy();
        assert!(check_addrs("h", &[ip("10.1.2.3")], &p).unwrap_err().is_blocked());
        assert!(check_addrs("h", &[ip("1.1.1.1"), ip("192.168.1.1")], &p).is_err(), "one bad address refuses");
        p.allowed_private_cidrs = vec!["10.0.0.0/8".parse().unwrap()];
        assert!(check_addrs("h", &[ip("10.1.2.3")], &p).is_ok());
        assert!(check_addrs("h", &[ip("::ffff:10.1.2.3")], &p).is_ok());
        assert!(check_addrs("h", &[ip("192.168.1.1")], &p).is_err());
        p.allowed_private_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
        assert!(matches!(check_addrs("h", &[ip("127.0.0.1")], &p), Err(UrlError::Forbidden { .. })));
        p.allow_private_hosts = true;
        assert!(check_addrs("h", &[ip("192.168.1.1")], &p).is_ok());
        assert!(matches!(check_addrs("h", &[ip("169.254.169.254")], &p), Err(UrlError::Forbidden { .. })));
    }

    #[tokio::test]
    async fn validate_resolves_literals_and_localhost() {
        let p = policy();
        let e = validate("https://127.0.0.1/x", &p).await.unwrap_err();
        assert!(e.to_string().contains("resolves to blocked address 127.0.0.1"), "{e}");
        assert!(validate("https://localhost/x", &p).await.unwrap_err().is_blocked());
        assert!(validate("https://[::ffff:127.0.0.1]/x", &p).await.unwrap_err().is_blocked());
    }
}
