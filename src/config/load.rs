//! Finding, reading and validating the config: file search, YAML with locations,
//! environment overrides, `~` expansion and the cross-key rules.

use std::fmt;
use std::path::{Path, PathBuf};

use super::env::{self, EnvError};
use super::schema::Config;
use super::types::CookieSecure;

/// Where the effective configuration came from, for the startup log and `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    /// No file was found; built-in defaults (plus any `CLAUSTER_*` overrides) apply.
    BuiltIn {
        searched: Vec<PathBuf>,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::BuiltIn { searched } => {
                let list: Vec<_> = searched.iter().map(|p| p.display().to_string()).collect();
                write!(f, "built-in defaults (no config file found; searched: {})", list.join(", "))
            }
        }
    }
}

/// A loaded, validated configuration with `~` expanded in every path.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub source: Source,
    /// Non-fatal findings (unknown keys, ignored settings) to log at startup.
    pub warnings: Vec<String>,
    /// The `CLAUSTER_*` variables that overrode a value.
    pub overrides: Vec<String>,
}

impl Loaded {
    /// The projects folder; the loader guarantees it is set.
    pub fn projects_root(&self) -> &Path {
        self.config.projects_root.as_deref().expect("loader sets projects_root")
    }
}

/// Everything that can be wrong with a configuration. Each message says where and how to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path} does not exist ({why}); create it or point {why} at an existing file")]
    NotFound { path: PathBuf, why: &'static str },
    #[error("could not read config file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Parse(Box<Located>),
    #[error("environment variable {var} (overrides `{key}`): {message}. Fix or unset {var}", var = .0.var, key = .0.key, message = .0.message)]
    Env(EnvError),
    #[error("{origin}: `{key}`: {message}")]
    Invalid { origin: String, key: &'static str, message: String },
    #[error("cannot find the home directory: HOME is not set; set HOME or give absolute paths")]
    NoHome,
}

/// A parse or validation error at a place in the file.
#[derive(Debug)]
pub struct Located {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The dotted key path (`claude.binary`), empty when the error is not inside a key.
    pub key: String,
    pub message: String,
    /// The offending line of the file, shown with a caret under the column.
    pub snippet: Option<String>,
    pub hint: Option<String>,
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.path.display(), self.line, self.column)?;
        if !self.key.is_empty() && self.key != "." {
            write!(f, "`{}`: ", self.key)?;
        }
        f.write_str(&self.message)?;
        if let Some(snip) = &self.snippet {
            write!(f, "\n    {snip}\n    {}^", " ".repeat(self.column.saturating_sub(1)))?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  fix: {h}")?;
        }
        Ok(())
    }
}

/// The inputs of a load, so tests and `doctor` can inject them.
pub struct Inputs<'a> {
    /// `-c/--config`, if given.
    pub explicit: Option<&'a Path>,
    pub cwd: PathBuf,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

impl Inputs<'_> {
    fn home(&self) -> Result<PathBuf, ConfigError> {
        (self.env)("HOME").filter(|h| !h.is_empty()).map(PathBuf::from).ok_or(ConfigError::NoHome)
    }
}

/// Loads the configuration: search, parse, overrides, expansion, validation.
pub fn load(inputs: &Inputs<'_>) -> Result<Loaded, ConfigError> {
    let home = inputs.home()?;
    let (found, searched) = search(inputs, &home)?;
    let mut warnings = Vec::new();
    let (mut config, source) = match found {
        Some(path) => {
            let text =
                std::fs::read_to_string(&path).map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            let config = parse(&path, &text, &mut warnings)?;
            (config, Source::File(path))
        }
        None => (Config::default(), Source::BuiltIn { searched }),
    };
    let applied = env::apply(&mut config, |k| (inputs.env)(k)).map_err(ConfigError::Env)?;
    let origin = match &source {
        Source::File(p) => p.display().to_string(),
        Source::BuiltIn { .. } => "built-in defaults".to_string(),
    };
    let builtin_root = config.projects_root.is_none() && matches!(source, Source::BuiltIn { .. });
    if config.projects_root.is_none() {
        if matches!(source, Source::File(_)) {
            return Err(ConfigError::Invalid {
                origin,
                key: "projects_root",
                message: "is required: add a line like `projects_root: ~/projects` naming the folder that holds your projects".into(),
            });
        }
        config.projects_root = Some(PathBuf::from("~/projects"));
    }
    config.projects_root = config.projects_root.map(|p| expand_tilde(&p, &home));
    config.state_dir = expand_tilde(&config.state_dir, &home);
    validate(&config, &origin, &mut warnings)?;
    check_projects_root(&config, &origin, builtin_root)?;
    Ok(Loaded { config, source, warnings, overrides: applied })
}

/// `-c PATH` alone if given; else the first regular file among `$CLAUSTER_CONFIG`,
/// `./clauster.yml`, `$CLAUSTER_HOME/clauster.yml` and `~/.config/clauster/clauster.yml`.
fn search(inputs: &Inputs<'_>, home: &Path) -> Result<(Option<PathBuf>, Vec<PathBuf>), ConfigError> {
    if let Some(p) = inputs.explicit {
        let p = expand_tilde(p, home);
        return if p.is_file() {
            Ok((Some(p), vec![]))
        } else {
            Err(ConfigError::NotFound { path: p, why: "-c/--config" })
        };
    }
    if let Some(p) = (inputs.env)("CLAUSTER_CONFIG").filter(|s| !s.is_empty()) {
        let p = expand_tilde(Path::new(&p), home);
        return if p.is_file() {
            Ok((Some(p), vec![]))
        } else {
            Err(ConfigError::NotFound { path: p, why: "CLAUSTER_CONFIG" })
        };
    }
    let mut candidates = vec![inputs.cwd.join("clauster.yml")];
    if let Some(h) = (inputs.env)("CLAUSTER_HOME").filter(|s| !s.is_empty()) {
        candidates.push(expand_tilde(Path::new(&h), home).join("clauster.yml"));
    }
    let xdg = (inputs.env)("XDG_CONFIG_HOME")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".config"));
    candidates.push(xdg.join("clauster").join("clauster.yml"));
    let found = candidates.iter().find(|p| p.is_file()).cloned();
    Ok((found, candidates))
}

/// Parses YAML text into the schema, collecting unknown keys as warnings.
pub fn parse(path: &Path, text: &str, warnings: &mut Vec<String>) -> Result<Config, ConfigError> {
    let mut unknown = Vec::new();
    let mut track = serde_path_to_error::Track::new();
    let result: Result<Config, serde_saphyr::Error> = serde_saphyr::with_deserializer_from_str(text, |de| {
        let de = serde_path_to_error::Deserializer::new(de, &mut track);
        serde_ignored::deserialize(de, |p| unknown.push(p.to_string()))
    });
    match result {
        Ok(cfg) => {
            for key in unknown {
                warnings.push(format!(
                    "{}: unknown key `{key}` ignored (check its spelling against clauster.yml.example)",
                    path.display()
                ));
            }
            for name in cfg.projects.keys() {
                if !crate::names::is_valid_project_name(name) {
                    warnings.push(format!(
                        "{}: `projects.{name}` can never match a project: names are 1-64 letters, digits, '_' or '-'",
                        path.display()
                    ));
                }
            }
            Ok(cfg)
        }
        Err(e) => {
            let key = track.path().to_string();
            let (line, column) = e.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((1, 1));
            let mut message = e.without_snippet().to_string();
            // The parser appends "at line L, column C"; we print the location up front.
            if let Some(i) = message.rfind(" at line ") {
                message.truncate(i);
            }
            if matches!(message.as_str(), "invalid i64" | "invalid u64" | "invalid i32" | "invalid u32" | "invalid u16")
            {
                message = "not a whole number".into();
            }
            if message.contains("expected mapping start") && (key.is_empty() || key == ".") {
                message = "the top level of the config must be a mapping of `key: value` lines".into();
            }
            let hint = hint_for(&key, &message);
            let snippet = text.lines().nth(line.saturating_sub(1)).map(str::to_owned);
            Err(ConfigError::Parse(Box::new(Located {
                path: path.to_owned(),
                line,
                column,
                key,
                message,
                snippet,
                hint,
            })))
        }
    }
}

fn hint_for(key: &str, message: &str) -> Option<String> {
    if let Some(kind) = env::kind_of(key) {
        return Some(format!("`{key}` takes {}; see clauster.yml.example", kind.expects()));
    }
    if message.contains("duplicate mapping key") {
        return Some("remove one of the two entries".into());
    }
    if key.is_empty() || key == "." {
        return Some("check the YAML syntax near the marked position (indentation, quotes, colons)".into());
    }
    None
}

/// Cross-key rules and checks that need the whole picture.
fn validate(cfg: &Config, origin: &str, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
    let invalid = |key, message: String| ConfigError::Invalid { origin: origin.to_owned(), key, message };
    if cfg.auth.password_required && cfg.auth.password_hash.as_deref().is_none_or(str::is_empty) {
        return Err(invalid(
            "auth.password_hash",
            "is empty but auth.password_required is true; run `clauster hash-password` and put the result in auth.password_hash".into(),
        ));
    }
    if let Some(hash) = cfg.auth.password_hash.as_deref().filter(|h| !h.is_empty())
        && let Err(e) = crate::password::check_phc(hash)
    {
        return Err(invalid("auth.password_hash", format!("{e}; generate one with `clauster hash-password`")));
    }
    if !cfg.root_path.is_empty() && (!cfg.root_path.starts_with('/') || cfg.root_path.ends_with('/')) {
        return Err(invalid(
            "root_path",
            format!("must start with '/' and not end with one (e.g. /clauster), got {:?}", cfg.root_path),
        ));
    }
    let auth = &cfg.auth;
    let proxy = &auth.reverse_proxy;
    if proxy.enabled {
        let secret = proxy.shared_secret.as_deref().unwrap_or_default();
        if secret.is_empty() {
            return Err(invalid(
                "auth.reverse_proxy.shared_secret",
                "is empty but auth.reverse_proxy.enabled is true, so no proxy request could ever be verified; \
                 generate one (e.g. `openssl rand -hex 32`), set it here and in the proxy, or set \
                 auth.reverse_proxy.enabled: false"
                    .into(),
            ));
        }
        if proxy.trusted_ips.is_empty() {
            return Err(invalid(
                "auth.reverse_proxy.trusted_ips",
                "is empty but auth.reverse_proxy.enabled is true, so no proxy would ever be believed; list the \
                 proxy's address, e.g. [127.0.0.1/32], or set auth.reverse_proxy.enabled: false"
                    .into(),
            ));
        }
        if secret.len() < 16 {
            warnings.push(
                "auth.reverse_proxy.shared_secret is shorter than 16 characters; use a long random one (`openssl rand -hex 32`)"
                    .into(),
            );
        }
    }
    let enforced = auth.enabled && (auth.password_required || proxy.enabled);
    if !is_loopback(&cfg.host) {
        if !enforced && !auth.allow_unauthenticated_network {
            return Err(invalid(
                "host",
                format!(
                    "refusing the non-loopback address {:?} without enforced auth: anyone who can reach it could run \
                     bridges as you. Set auth.enabled: true and either auth.password_required: true (with \
                     auth.password_hash from `clauster hash-password`) or auth.reverse_proxy.enabled: true; or bind \
                     127.0.0.1 and use an SSH tunnel; or set auth.allow_unauthenticated_network: true to accept the risk",
                    cfg.host
                ),
            ));
        }
        if !enforced {
            warnings.push(format!(
                "listening on {} with NO enforced authentication (auth.allow_unauthenticated_network is true): anyone \
                 who can reach it controls your bridges",
                cfg.host
            ));
        } else if auth.password_required && !proxy.enabled && auth.cookie_secure != CookieSecure::Always {
            warnings.push(
                "the session cookie may travel without the Secure flag over plain http on this network address; serve \
                 clauster through an https reverse proxy, or set auth.cookie_secure: always if clients use https"
                    .into(),
            );
        }
    }
    if auth.enabled && !proxy.enabled && auth.password_hash.as_deref().is_none_or(str::is_empty) {
        warnings.push(
            "auth.enabled is true but nobody can sign in: set auth.password_hash (from `clauster hash-password`) or \
             enable auth.reverse_proxy"
                .into(),
        );
    }
    Ok(())
}

/// The configured projects folder must exist and be listable; the built-in `~/projects`
/// is created on first run so a fresh machine starts with no setup.
fn check_projects_root(cfg: &Config, origin: &str, create: bool) -> Result<(), ConfigError> {
    let root = cfg.projects_root.as_deref().expect("set above");
    let invalid = |message: String| ConfigError::Invalid { origin: origin.to_owned(), key: "projects_root", message };
    if create && !root.exists() {
        std::fs::create_dir_all(root).map_err(|e| invalid(format!("could not create {}: {e}", root.display())))?;
    }
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(invalid(format!(
                "{} is not a directory; point projects_root at the folder that holds your projects",
                root.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(invalid(format!(
                "{} does not exist; create it (mkdir -p {}) or fix the path",
                root.display(),
                root.display()
            )));
        }
        Err(e) => return Err(invalid(format!("{}: {e}", root.display()))),
    }
    std::fs::read_dir(root)
        .map_err(|e| invalid(format!("{} cannot be listed: {e}; check its permissions", root.display())))?;
    Ok(())
}

/// Loopback means any 127.0.0.0/8 or ::1 address, or the name `localhost`.
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Expands a leading `~` or `~/` to `home`; other paths are returned unchanged (not resolved).
pub fn expand_tilde(p: &Path, home: &Path) -> PathBuf {
    match p.strip_prefix("~") {
        Ok(rest) => home.join(rest),
        Err(_) => p.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<(Config, Vec<String>), ConfigError> {
        let mut w = Vec::new();
        parse(Path::new("/etc/c.yml"), text, &mut w).map(|c| (c, w))
    }

    #[test]
    fn empty_file_is_all_defaults() {
        let (c, w) = parse_str("").unwrap();
        assert_eq!(c.port.0, 7621);
        assert!(w.is_empty());
    }

    #[test]
    fn unknown_keys_warn_but_load() {
        let (_, w) = parse_str("foo: bar\nauth:\n  zzz: 1\n").unwrap();
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(w[0].contains("`foo`"));
        assert!(w[1].contains("`auth.zzz`"));
    }

    #[test]
    fn errors_name_file_line_key_and_fix() {
        let e = parse_str("host: 127.0.0.1\nport: 99999\n").unwrap_err().to_string();
        assert!(e.starts_with("/etc/c.yml:2:7: `port`: "), "{e}");
        assert!(e.contains("1 to 65535"), "{e}");
        let e = parse_str("claude:\n  startup_grace_seconds: soon\n").unwrap_err().to_string();
        assert!(e.contains(":2:") && e.contains("`claude.startup_grace_seconds`") && e.contains("fix:"), "{e}");
        let e = parse_str("instance_defaults:\n  spawn_mode: bogus\n").unwrap_err().to_string();
        assert!(e.contains("same-dir"), "{e}");
    }

    #[test]
    fn syntax_error_is_located() {
        let e = parse_str("host: 'unterminated\n").unwrap_err();
        let ConfigError::Parse(located) = &e else { panic!("{e}") };
        assert_eq!(located.line, 1);
        let e = parse_str("- a\n- b\n").unwrap_err().to_string();
        assert!(e.contains("mapping"), "{e}");
    }

    #[test]
    fn loopback_rule() {
        for h in ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["0.0.0.0", "192.168.1.2", "::", "example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    fn validated(edit: impl FnOnce(&mut Config)) -> Result<Vec<String>, String> {
        let mut cfg = Config::default();
        edit(&mut cfg);
        let mut warnings = Vec::new();
        validate(&cfg, "c.yml", &mut warnings).map(|()| warnings).map_err(|e| e.to_string())
    }

    #[test]
    fn non_loopback_binds_need_enforced_auth_or_an_explicit_opt_out() {
        const HASH: &str =
            "$argon2id$v=19$m=65536,t=3,p=4$PGjDptyuRCwRifL/jRLDKA$WHloOEbDW0ca/iPTzrVbOc9YlJWfwg/Y4yVskRmoG88";
        let lan = |c: &mut Config| c.host = "0.0.0.0".into();
        let e = validated(lan).unwrap_err();
        for key in [
            "`host`",
            "auth.enabled",
            "auth.password_required",
            "auth.reverse_proxy.enabled",
            "allow_unauthenticated_network",
        ] {
            assert!(e.contains(key), "{key}: {e}");
        }
        // auth.enabled alone enforces nothing; neither does password_required alone.
        assert!(
            validated(|c| {
                lan(c);
                c.auth.enabled = true
            })
            .is_err()
        );
        assert!(
            validated(|c| {
                lan(c);
                c.auth.password_required = true;
                c.auth.password_hash = Some(HASH.into());
            })
            .is_err()
        );
        let w = validated(|c| {
            lan(c);
            c.auth.enabled = true;
            c.auth.password_required = true;
            c.auth.password_hash = Some(HASH.into());
        })
        .unwrap();
        assert!(w.iter().any(|w| w.contains("Secure")), "{w:?}");
        let w = validated(|c| {
            lan(c);
            c.auth.enabled = true;
            c.auth.reverse_proxy.enabled = true;
            c.auth.reverse_proxy.shared_secret = Some("0123456789abcdef0123".into());
            c.auth.reverse_proxy.trusted_ips = vec![crate::config::types::Cidr("10.0.0.1/32".parse().unwrap())];
        })
        .unwrap();
        assert!(w.is_empty(), "{w:?}");
        let w = validated(|c| {
            lan(c);
            c.auth.allow_unauthenticated_network = true;
        })
        .unwrap();
        assert!(w.iter().any(|w| w.contains("NO enforced authentication")), "{w:?}");
        assert!(validated(|c| c.host = "127.0.0.2".into()).unwrap().is_empty());
    }

    #[test]
    fn an_enabled_reverse_proxy_needs_a_secret_and_trusted_ips() {
        let proxy = |c: &mut Config| {
            c.auth.reverse_proxy.enabled = true;
            c.auth.reverse_proxy.trusted_ips = vec![crate::config::types::Cidr("127.0.0.1/32".parse().unwrap())];
            c.auth.reverse_proxy.shared_secret = Some("0123456789abcdef".into());
        };
        assert!(validated(proxy).is_ok());
        let e = validated(|c| {
            proxy(c);
            c.auth.reverse_proxy.shared_secret = None;
        })
        .unwrap_err();
        assert!(e.contains("`auth.reverse_proxy.shared_secret`") && e.contains("openssl rand"), "{e}");
        let e = validated(|c| {
            proxy(c);
            c.auth.reverse_proxy.shared_secret = Some(String::new());
        })
        .unwrap_err();
        assert!(e.contains("`auth.reverse_proxy.shared_secret`"), "{e}");
        let e = validated(|c| {
            proxy(c);
            c.auth.reverse_proxy.trusted_ips.clear();
        })
        .unwrap_err();
        assert!(e.contains("`auth.reverse_proxy.trusted_ips`") && e.contains("127.0.0.1/32"), "{e}");
        let w = validated(|c| {
            proxy(c);
            c.auth.reverse_proxy.shared_secret = Some("short".into());
        })
        .unwrap();
        assert!(w.iter().any(|w| w.contains("shorter than 16")), "{w:?}");
    }

    #[test]
    fn auth_without_any_way_in_is_warned_about() {
        let w = validated(|c| c.auth.enabled = true).unwrap();
        assert!(w.iter().any(|w| w.contains("nobody can sign in")), "{w:?}");
    }

    #[test]
    fn tilde_expansion() {
        let home = Path::new("/home/u");
        assert_eq!(expand_tilde(Path::new("~/p"), home), PathBuf::from("/home/u/p"));
        assert_eq!(expand_tilde(Path::new("~"), home), PathBuf::from("/home/u"));
        assert_eq!(expand_tilde(Path::new("/x/~"), home), PathBuf::from("/x/~"));
        assert_eq!(expand_tilde(Path::new("~other/x"), home), PathBuf::from("~other/x"));
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../clauster.yml.example");

    /// The shipped example loads cleanly, documents every key, and states the defaults.
    #[test]
    fn the_example_documents_every_key_with_its_default() {
        let mut warnings = Vec::new();
        let parsed = parse(Path::new("clauster.yml.example"), EXAMPLE, &mut warnings).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        for (path, _) in env::LEAVES {
            let leaf = path.rsplit('.').next().unwrap();
            let documented = EXAMPLE.lines().any(|l| l.trim_start().starts_with(&format!("{leaf}:")));
            assert!(documented, "clauster.yml.example does not document `{path}`");
        }
        let mut defaults = serde_json::to_value(Config::default()).unwrap();
        let mut example = serde_json::to_value(parsed).unwrap();
        defaults["projects_root"] = serde_json::Value::Null;
        example["projects_root"] = serde_json::Value::Null;
        assert_eq!(example, defaults, "the example's values are the defaults");
    }
}
