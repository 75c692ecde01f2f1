//! `CLAUSTER_<PATH>` environment overrides, one per scalar key of the schema.
//!
//! The table below is the single list of scalar keys: it drives the overrides, the hint
//! shown when a key has a bad value, and the test that `clauster.yml.example` documents
//! every key. Lists take comma-separated values (0.6.0 could not set them from the
//! environment at all); an empty value clears an optional string.

use serde::de::{DeserializeOwned, IntoDeserializer, value};

use super::schema::Config;

/// What a key holds, for parsing overrides and for telling the user what to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    OptStr,
    Path,
    OptPath,
    Bool,
    Int,
    Float,
    Enum(&'static str),
    List,
}

impl Kind {
    /// A short description of the accepted values, used in error messages.
    pub fn expects(self) -> String {
        match self {
            Kind::Str | Kind::OptStr => "a string (quote it if it looks like a number)".into(),
            Kind::Path | Kind::OptPath => "a path (~ is expanded)".into(),
            Kind::Bool => "true or false".into(),
            Kind::Int => "a whole number".into(),
            Kind::Float => "a number".into(),
            Kind::Enum(values) => format!("one of: {values}"),
            Kind::List => "a list, e.g. [a, b] (comma-separated in an environment variable)".into(),
        }
    }
}

macro_rules! leaves {
    ($( $path:literal => $($field:ident).+ : $kind:expr ),* $(,)?) => {
        /// Every scalar (and list) key of the schema with what it holds.
        pub const LEAVES: &[(&str, Kind)] = &[ $( ($path, $kind) ),* ];

        fn assign(cfg: &mut Config, path: &str, raw: &str) -> Result<(), String> {
            match path {
                $( $path => cfg.$($field).+ = parse(raw, $kind)?, )*
                _ => unreachable!("{path} is in LEAVES"),
            }
            Ok(())
        }
    };
}

leaves! {
    "schema_version" => schema_version: Kind::Int,
    "projects_root" => projects_root: Kind::OptPath,
    "host" => host: Kind::Str,
    "port" => port: Kind::Int,
    "state_dir" => state_dir: Kind::Path,
    "root_path" => root_path: Kind::Str,
    "log_format" => log_format: Kind::Enum("auto, text, json"),
    "instance_name" => instance_name: Kind::OptStr,
    "claude.binary" => claude.binary: Kind::Str,
    "claude.min_version" => claude.min_version: Kind::Str,
    "claude.agents_json_poll_interval_seconds" => claude.agents_json_poll_interval_seconds: Kind::Int,
    "claude.startup_grace_seconds" => claude.startup_grace_seconds: Kind::Float,
    "claude.stop_grace_seconds" => claude.stop_grace_seconds: Kind::Float,
    "claude.auto_enable_remote_control" => claude.auto_enable_remote_control: Kind::Bool,
    "claude.resume_recap" => claude.resume_recap: Kind::Bool,
    "claude.resume_recap_max_chars" => claude.resume_recap_max_chars: Kind::Int,
    "claude.resume_mode" => claude.resume_mode: Kind::Enum("standard, pty"),
    "instance_defaults.spawn_mode" => instance_defaults.spawn_mode: Kind::Enum("same-dir, worktree, session"),
    "instance_defaults.permission_mode" => instance_defaults.permission_mode:
        Kind::Enum("default, plan, acceptEdits, auto, dontAsk, bypassPermissions"),
    "instance_defaults.capacity" => instance_defaults.capacity: Kind::Int,
    "instance_defaults.restart" => instance_defaults.restart: Kind::Enum("never, on-failure, always"),
    "instance_defaults.restart_min_uptime_seconds" => instance_defaults.restart_min_uptime_seconds: Kind::Float,
    "instance_defaults.restart_backoff_initial_seconds" => instance_defaults.restart_backoff_initial_seconds: Kind::Float,
    "instance_defaults.restart_backoff_max_seconds" => instance_defaults.restart_backoff_max_seconds: Kind::Float,
    "instance_defaults.restart_max_attempts" => instance_defaults.restart_max_attempts: Kind::Int,
    "auth.enabled" => auth.enabled: Kind::Bool,
    "auth.password_required" => auth.password_required: Kind::Bool,
    "auth.password_hash" => auth.password_hash: Kind::OptStr,
    "auth.allow_unauthenticated_network" => auth.allow_unauthenticated_network: Kind::Bool,
    "auth.cookie_secure" => auth.cookie_secure: Kind::Enum("auto, always, never"),
    "auth.session_max_age_seconds" => auth.session_max_age_seconds: Kind::Int,
    "auth.allowed_origins" => auth.allowed_origins: Kind::List,
    "auth.reverse_proxy.enabled" => auth.reverse_proxy.enabled: Kind::Bool,
    "auth.reverse_proxy.user_header" => auth.reverse_proxy.user_header: Kind::Str,
    "auth.reverse_proxy.shared_secret_header" => auth.reverse_proxy.shared_secret_header: Kind::Str,
    "auth.reverse_proxy.trusted_ips" => auth.reverse_proxy.trusted_ips: Kind::List,
    "auth.reverse_proxy.shared_secret" => auth.reverse_proxy.shared_secret: Kind::OptStr,
    "auth.reverse_proxy.hmac_window_seconds" => auth.reverse_proxy.hmac_window_seconds: Kind::Int,
    "logs.bridge_log_max_size_mb" => logs.bridge_log_max_size_mb: Kind::Int,
    "logs.keep_rotated" => logs.keep_rotated: Kind::Int,
    "logs.redact_session_url" => logs.redact_session_url: Kind::Bool,
    "logs.strip_ansi_in_stream" => logs.strip_ansi_in_stream: Kind::Bool,
    "clone.enabled" => clone.enabled: Kind::Bool,
    "clone.allowed_schemes" => clone.allowed_schemes: Kind::List,
    "clone.allow_private_hosts" => clone.allow_private_hosts: Kind::Bool,
    "clone.allowed_private_cidrs" => clone.allowed_private_cidrs: Kind::List,
    "clone.timeout_seconds" => clone.timeout_seconds: Kind::Int,
    "clone.max_mb" => clone.max_mb: Kind::Int,
    "reaper.ui_enabled" => reaper.ui_enabled: Kind::Bool,
    "usage.show_cost" => usage.show_cost: Kind::Bool,
}

/// The environment variable that overrides `path` (`auth.enabled` → `CLAUSTER_AUTH_ENABLED`).
pub fn var_name(path: &str) -> String {
    format!("CLAUSTER_{}", path.replace('.', "_").to_ascii_uppercase())
}

/// What a key expects, for error messages; `None` for keys outside the table (maps).
pub fn kind_of(path: &str) -> Option<Kind> {
    LEAVES.iter().find(|(p, _)| *p == path).map(|(_, k)| *k)
}

/// An override that could not be applied.
#[derive(Debug)]
pub struct EnvError {
    pub var: String,
    pub key: &'static str,
    pub message: String,
}

/// Applies every `CLAUSTER_*` override found through `lookup`; returns the names applied.
pub fn apply(cfg: &mut Config, lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, EnvError> {
    let mut applied = Vec::new();
    for (path, _) in LEAVES {
        let var = var_name(path);
        if let Some(raw) = lookup(&var) {
            assign(cfg, path, &raw).map_err(|message| EnvError { var: var.clone(), key: path, message })?;
            applied.push(var);
        }
    }
    Ok(applied)
}

/// Parses one raw override into the field's type, running the same validation serde runs
/// on the file (the validated types check themselves in `TryFrom`).
fn parse<T: DeserializeOwned>(raw: &str, kind: Kind) -> Result<T, String> {
    let err = |e: value::Error| e.to_string();
    match kind {
        Kind::Str | Kind::Path | Kind::Enum(_) => {
            T::deserialize(IntoDeserializer::<value::Error>::into_deserializer(raw)).map_err(err)
        }
        Kind::OptStr | Kind::OptPath => T::deserialize(OptStr((!raw.is_empty()).then_some(raw))).map_err(err),
        Kind::Bool => {
            let b =
                parse_bool(raw).ok_or_else(|| format!("expected true or false (yes/no, on/off, 1/0), got {raw:?}"))?;
            T::deserialize(IntoDeserializer::<value::Error>::into_deserializer(b)).map_err(err)
        }
        Kind::Int => {
            let i = parse_int(raw).ok_or_else(|| format!("expected a whole number, got {raw:?}"))?;
            T::deserialize(IntoDeserializer::<value::Error>::into_deserializer(i)).map_err(err)
        }
        Kind::Float => {
            let f: f64 = raw.trim().parse().map_err(|_| format!("expected a number, got {raw:?}"))?;
            T::deserialize(IntoDeserializer::<value::Error>::into_deserializer(f)).map_err(err)
        }
        Kind::List => {
            let items: Vec<String> =
                raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
            T::deserialize(IntoDeserializer::<value::Error>::into_deserializer(items)).map_err(err)
        }
    }
}

/// Deserializes an optional string: `None` for an empty override, else `Some(raw)`.
struct OptStr<'a>(Option<&'a str>);

impl<'de> serde::Deserializer<'de> for OptStr<'_> {
    type Error = value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, value::Error> {
        match self.0 {
            Some(s) => v.visit_str(s),
            None => v.visit_none(),
        }
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(self, v: V) -> Result<V::Value, value::Error> {
        match self.0 {
            Some(s) => v.visit_some(IntoDeserializer::<value::Error>::into_deserializer(s)),
            None => v.visit_none(),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" | "t" | "y" => Some(true),
        "false" | "no" | "off" | "0" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// Whole numbers with optional `_` separators and surrounding blanks; `8080.0` is fine,
/// `8080.5` and `0x10` are not.
fn parse_int(raw: &str) -> Option<i64> {
    let s: String = raw.trim().chars().filter(|c| *c != '_').collect();
    if let Ok(i) = s.parse::<i64>() {
        return Some(i);
    }
    let f: f64 = s.parse().ok()?;
    (f.fract() == 0.0 && f.is_finite() && f.abs() < 9.0e15).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::{LogFormat, PermissionMode};

    fn with(vars: &[(&str, &str)]) -> Result<Config, EnvError> {
        let mut cfg = Config::default();
        apply(&mut cfg, |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))?;
        Ok(cfg)
    }

    #[test]
    fn names_follow_paths() {
        assert_eq!(var_name("auth.reverse_proxy.enabled"), "CLAUSTER_AUTH_REVERSE_PROXY_ENABLED");
        assert_eq!(var_name("log_format"), "CLAUSTER_LOG_FORMAT");
    }

    #[test]
    fn scalars_parse_like_the_file() {
        let c = with(&[
            ("CLAUSTER_PORT", " 8080 "),
            ("CLAUSTER_AUTH_ENABLED", "on"),
            ("CLAUSTER_LOG_FORMAT", "json"),
            ("CLAUSTER_INSTANCE_DEFAULTS_PERMISSION_MODE", "acceptEdits"),
            ("CLAUSTER_CLAUDE_STARTUP_GRACE_SECONDS", "2.5"),
            ("CLAUSTER_CLONE_ALLOWED_SCHEMES", "https, ssh"),
            ("CLAUSTER_CLONE_ALLOWED_PRIVATE_CIDRS", "10.0.0.0/8"),
            ("CLAUSTER_CLONE_MAX_MB", "1_000"),
        ])
        .unwrap();
        assert_eq!(c.port.0, 8080);
        assert!(c.auth.enabled);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.instance_defaults.permission_mode, PermissionMode::AcceptEdits);
        assert_eq!(c.claude.startup_grace_seconds.0, 2.5);
        assert_eq!(c.clone.allowed_schemes, ["https", "ssh"]);
        assert_eq!(c.clone.allowed_private_cidrs.len(), 1);
        assert_eq!(c.clone.max_mb.get(), 1000);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (var, val) in [
            ("CLAUSTER_PORT", "abc"),
            ("CLAUSTER_PORT", "8080.5"),
            ("CLAUSTER_PORT", "0x10"),
            ("CLAUSTER_PORT", "70000"),
            ("CLAUSTER_AUTH_ENABLED", "maybe"),
            ("CLAUSTER_AUTH_ENABLED", ""),
            ("CLAUSTER_LOG_FORMAT", "xml"),
            ("CLAUSTER_CLAUDE_RESUME_RECAP_MAX_CHARS", "10"),
            ("CLAUSTER_CLONE_ALLOWED_PRIVATE_CIDRS", "nope"),
        ] {
            let e = with(&[(var, val)]).unwrap_err();
            assert_eq!(e.var, var, "{val}");
        }
    }

    #[test]
    fn empty_clears_optional_strings() {
        let c = with(&[("CLAUSTER_AUTH_PASSWORD_HASH", "")]).unwrap();
        assert_eq!(c.auth.password_hash, None);
        let c = with(&[("CLAUSTER_INSTANCE_NAME", "lab")]).unwrap();
        assert_eq!(c.instance_name.unwrap().0, "lab");
    }
}
