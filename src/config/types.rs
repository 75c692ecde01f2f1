//! Small validated value types used by the config schema.
//!
//! Validation lives in `TryFrom` impls that serde calls while it deserializes, so a bad
//! value is reported by the YAML parser with the line and column it came from, and the
//! same check runs unchanged on `CLAUSTER_*` environment overrides.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A TCP port. `0` asks the OS for any free port (handy for tests and side-by-side runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Port(pub u16);

impl TryFrom<i64> for Port {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        u16::try_from(v)
            .map(Port)
            .map_err(|_| format!("must be a port number from 1 to 65535 (or 0 for any free port), got {v}"))
    }
}

impl From<Port> for i64 {
    fn from(p: Port) -> i64 {
        p.0.into()
    }
}

/// An integer with an inclusive lower bound (e.g. a poll interval that must be ≥ 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct AtLeast<const MIN: i64>(pub i64);

impl<const MIN: i64> TryFrom<i64> for AtLeast<MIN> {
    type Error = String;
    fn try_from(v: i64) -> Result<Self, String> {
        if v >= MIN { Ok(AtLeast(v)) } else { Err(format!("must be at least {MIN}, got {v}")) }
    }
}

impl<const MIN: i64> From<AtLeast<MIN>> for i64 {
    fn from(v: AtLeast<MIN>) -> i64 {
        v.0
    }
}

impl<const MIN: i64> AtLeast<MIN> {
    /// The value as an unsigned count; the bound keeps it non-negative for `MIN >= 0`.
    pub fn get(self) -> u64 {
        self.0.max(0) as u64
    }
}

/// A strictly positive, finite number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Seconds(pub f64);

impl TryFrom<f64> for Seconds {
    type Error = String;
    fn try_from(v: f64) -> Result<Self, String> {
        if v.is_finite() && v > 0.0 {
            Ok(Seconds(v))
        } else {
            Err(format!("must be a number of seconds greater than 0, got {v}"))
        }
    }
}

impl From<Seconds> for f64 {
    fn from(s: Seconds) -> f64 {
        s.0
    }
}

impl Seconds {
    pub fn duration(self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.0)
    }
}

/// `instance_name`: at most 32 characters of `[A-Za-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceName(pub String);

impl TryFrom<String> for InstanceName {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        let ok = !v.is_empty()
            && v.len() <= 32
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if ok {
            Ok(InstanceName(v))
        } else {
            Err(format!("must be 1-32 characters of letters, digits, '_', '.' or '-', got {v:?}"))
        }
    }
}

impl From<InstanceName> for String {
    fn from(n: InstanceName) -> String {
        n.0
    }
}

/// An IP network for allow-lists; host bits are accepted (`10.1.2.3/8` means `10.0.0.0/8`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr(pub ipnet::IpNet);

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(v: String) -> Result<Self, String> {
        let s = v.trim();
        let net = s
            .parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map_err(|_| format!("{v:?} is not an IP network; write it like 10.0.0.0/8 or fd00::/8"))?;
        Ok(Cidr(net.trunc()))
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.0.to_string()
    }
}

/// How log lines are written. `auto` is human-readable on a terminal and JSON otherwise
/// (journald, files, pipes), which is what a systemd service wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Auto,
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpawnMode {
    #[default]
    SameDir,
    Worktree,
    Session,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum PermissionMode {
    #[default]
    #[serde(rename = "default")]
    Default,
    #[serde(rename = "plan")]
    Plan,
    #[serde(rename = "acceptEdits")]
    AcceptEdits,
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "dontAsk")]
    DontAsk,
    #[serde(rename = "bypassPermissions")]
    BypassPermissions,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResumeMode {
    #[default]
    Standard,
    Pty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CookieSecure {
    #[default]
    Auto,
    Always,
    Never,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Auto => "auto",
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_bounds() {
        assert!(Port::try_from(0).is_ok());
        assert!(Port::try_from(65535).is_ok());
        assert!(Port::try_from(65536).unwrap_err().contains("1 to 65535"));
        assert!(Port::try_from(-1).is_err());
    }

    #[test]
    fn at_least_and_seconds() {
        assert!(AtLeast::<1>::try_from(0).unwrap_err().contains("at least 1"));
        assert_eq!(AtLeast::<500>::try_from(500).unwrap().get(), 500);
        assert!(Seconds::try_from(0.0).is_err());
        assert!(Seconds::try_from(f64::NAN).is_err());
        assert!(Seconds::try_from(0.5).is_ok());
    }

    #[test]
    fn instance_name_rules() {
        assert!(InstanceName::try_from("lab-1.home".to_string()).is_ok());
        assert!(InstanceName::try_from("a b".to_string()).is_err());
        assert!(InstanceName::try_from("x".repeat(33)).is_err());
    }

    #[test]
    fn cidr_accepts_host_bits_and_bare_addresses() {
        assert_eq!(Cidr::try_from("10.1.2.3/8".to_string()).unwrap().0.to_string(), "10.0.0.0/8");
        assert_eq!(Cidr::try_from("192.168.1.5".to_string()).unwrap().0.to_string(), "192.168.1.5/32");
        assert!(Cidr::try_from("nope".to_string()).is_err());
    }
}
