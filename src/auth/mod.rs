//! Authentication and network safety, free of the web framework: who a request is
//! (session cookie or signed reverse-proxy headers), whether it may do what it asks (the
//! Origin rule against CSRF, sign-in required for everything but a few public paths), and
//! the state behind it (sessions, login throttle).
//!
//! [`Auth`] is the one owner of that runtime state; `web::guard` turns its decisions into
//! HTTP. The parts: [`origin`] (allow-list), [`proxy`] (peer trust + HMAC),
//! [`session`] (cookies, epoch, revocations), [`store`] (their files in `state_dir`),
//! [`throttle`] (failed logins) and [`headers`] (CSP nonce and security headers).

pub mod headers;
pub mod origin;
pub mod proxy;
pub mod session;
pub mod store;
pub mod throttle;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::Config;
use crate::config::types::CookieSecure;
use origin::AllowedOrigins;
use proxy::ProxyTrust;
use session::{Claims, SessionKey, Sessions};
use store::{Store, StoreError};
use throttle::{ClientKey, Throttle};

/// The single dashboard user a password login signs in as.
pub const SESSION_USER: &str = "admin";

/// Concurrent password checks. Each argon2 verify takes 64 MiB and a core for ~0.1 s, so
/// a burst of logins must queue rather than exhaust memory.
const VERIFY_SLOTS: usize = 2;

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// `auth.enabled` is false: everyone who can connect is let in.
    Open,
    /// A valid session cookie from a password login.
    Session(Claims),
    /// A trusted reverse proxy vouched for this user with a valid signature.
    Proxy { user: String },
}

impl Principal {
    pub fn user(&self) -> &str {
        match self {
            Principal::Open => "anonymous",
            Principal::Session(c) => &c.user,
            Principal::Proxy { user } => user,
        }
    }
}

/// Read access to a request's headers (case-insensitive names). A header that is present
/// but not valid text must come back as `Some("")`, never `None`: absent and present are
/// judged differently (an empty Origin is refused; a missing one may be fine).
pub trait Headers {
    fn get(&self, name: &str) -> Option<&str>;
}

/// What the checks need to know about a request.
pub struct Request<'a> {
    /// Uppercase method.
    pub method: &'a str,
    /// The path as received: percent-encoded, without the query.
    pub path: &'a str,
    /// The TCP peer (never a header).
    pub peer: Option<IpAddr>,
    /// Whether clauster itself terminated TLS for this connection.
    pub tls: bool,
    pub headers: &'a dyn Headers,
    /// The session cookie's value, if sent.
    pub cookie: Option<&'a str>,
}

/// Why a request is turned away, for the web layer to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// 403 `origin check failed`: a foreign (or, where required, missing) Origin.
    Origin,
    /// 401 `authentication required` (API paths).
    Unauthorized,
    /// 303 to the login page (page paths).
    LoginFirst,
    /// 403 `authentication required` (WebSocket handshakes, which cannot follow a redirect).
    Forbidden,
}

/// How the guard treats a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathClass {
    /// `/healthz`, `/login`, `/static/*`: reachable signed out.
    Public,
    /// `/api/*`: 401 when signed out.
    Api,
    /// `/ws/*`: the WebSocket rule (Origin required when auth is on, 403 when signed out).
    WebSocket,
    /// Everything else: 303 to the login page when signed out.
    Page,
}

/// Classifies `path` the way the router will see it after `NormalizePath` (repeated
/// slashes merged, a trailing slash dropped), so `//healthz` and `/healthz/` are public
/// exactly when `/healthz` is.
pub fn classify(path: &str) -> PathClass {
    let mut p = String::with_capacity(path.len());
    for c in path.chars() {
        if !(c == '/' && p.ends_with('/')) {
            p.push(c);
        }
    }
    while p.len() > 1 && p.ends_with('/') {
        p.pop();
    }
    match p.as_str() {
        "/healthz" | "/login" => PathClass::Public,
        _ if p.starts_with("/static/") => PathClass::Public,
        _ if p.starts_with("/api/") => PathClass::Api,
        _ if p.starts_with("/ws/") => PathClass::WebSocket,
        _ => PathClass::Page,
    }
}

/// Whether `method` can change state (and so needs the Origin check). Anything not known
/// to be safe counts as unsafe.
pub fn changes_state(method: &str) -> bool {
    !matches!(method, "GET" | "HEAD" | "OPTIONS")
}

/// The outcome of a failed login.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    #[error("Too many attempts — wait a few minutes.")]
    Throttled { retry_after: Duration },
    #[error("Incorrect password.")]
    Incorrect,
    #[error("the password check could not run; try again")]
    Unavailable,
}

/// The auth settings, fixed at startup. `Debug` shows whether a password hash is set,
/// never the hash.
struct Settings {
    enabled: bool,
    cookie_secure: CookieSecure,
    root_path: String,
    origins: AllowedOrigins,
    proxy: Option<ProxyTrust>,
    /// `None` when unset or empty (an empty string is not a hash; 0.6.0 quirk 4).
    password_hash: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("enabled", &self.enabled)
            .field("cookie_secure", &self.cookie_secure)
            .field("root_path", &self.root_path)
            .field("origins", &self.origins)
            .field("proxy", &self.proxy)
            .field("password_hash", &self.password_hash.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// The owner of all auth state; shared as `Arc<Auth>` from `AppState`.
#[derive(Debug)]
pub struct Auth {
    settings: Settings,
    sessions: Sessions,
    throttle: Throttle,
    verify_slots: tokio::sync::Semaphore,
}

/// What [`Auth::open`] found worth logging.
#[derive(Debug, Default)]
pub struct Notes {
    pub info: Vec<String>,
    pub warnings: Vec<String>,
}

impl Auth {
    /// Builds the auth state for a server bound to `bound_port`: loads (or creates) the
    /// session secret, the epoch and the revocation list from `state_dir`. Blocking; call
    /// before the server starts. `env_secret` is `CLAUSTER_SESSION_SECRET`'s bytes.
    pub fn open(cfg: &Config, bound_port: u16, env_secret: Option<&[u8]>) -> Result<(Auth, Notes), StoreError> {
        let mut notes = Notes::default();
        let store = Store::new(cfg.state_dir.clone());
        let secret = store.secret(env_secret)?;
        notes.info.push(format!("session secret: {}", secret.source));
        notes.warnings.extend(secret.warning.clone());
        let (origins, warnings) = AllowedOrigins::new(&cfg.host, bound_port, &cfg.auth.allowed_origins);
        notes.warnings.extend(warnings);
        if !crate::config::load::is_loopback(&cfg.host) && origins.is_empty() {
            notes.warnings.push(format!(
                "no browser can sign in or change anything yet: list the address you open clauster at in \
                 auth.allowed_origins (e.g. http://{}:{bound_port} or https://clauster.example.com)",
                if cfg.host.contains(':') { "[<this host's address>]" } else { "<this host's address>" }
            ));
        }
        let list: Vec<&str> = origins.iter().collect();
        notes.info.push(format!(
            "origins allowed to change state: {}",
            if list.is_empty() { "none".into() } else { list.join(", ") }
        ));
        let sessions = Sessions::load(
            SessionKey::derive(secret.bytes()),
            cfg.auth.session_max_age_seconds.get(),
            store,
            now_unix(),
        );
        let settings = Settings {
            enabled: cfg.auth.enabled,
            cookie_secure: cfg.auth.cookie_secure,
            root_path: cfg.root_path.clone(),
            origins,
            proxy: ProxyTrust::from_config(&cfg.auth.reverse_proxy),
            password_hash: cfg.auth.password_hash.clone().filter(|h| !h.is_empty()),
        };
        let auth = Auth {
            settings,
            sessions,
            throttle: Throttle::default(),
            verify_slots: tokio::sync::Semaphore::new(VERIFY_SLOTS),
        };
        Ok((auth, notes))
    }

    /// Whether sign-in is required (`auth.enabled`).
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// The session lifetime, for the cookie's Max-Age.
    pub fn max_age(&self) -> u64 {
        self.sessions.max_age()
    }

    /// `root_path` + `path`, for redirects and links.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.root_path)
    }

    /// The cookie's Path: `root_path`, or `/`.
    pub fn cookie_path(&self) -> &str {
        if self.settings.root_path.is_empty() { "/" } else { &self.settings.root_path }
    }

    /// Who the request is: signed reverse-proxy headers from a trusted peer first, then
    /// the session cookie. `None` if neither holds.
    pub fn authenticate(&self, req: &Request<'_>, now: u64) -> Option<Principal> {
        if let (Some(proxy), Some(peer)) = (&self.settings.proxy, req.peer)
            && proxy.trusts(peer)
        {
            let user = req.headers.get(&proxy.user_header);
            let signature = req.headers.get(&proxy.signature_header);
            if user.is_some() || signature.is_some() {
                let now = i64::try_from(now).unwrap_or(i64::MAX);
                match proxy.authenticate(user, signature, req.method, req.path, now) {
                    Ok(user) => return Some(Principal::Proxy { user }),
                    Err(e) => tracing::warn!(%peer, reason = %e, "reverse-proxy sign-in refused; trying the cookie"),
                }
            }
        }
        match self.sessions.verify(req.cookie?, now) {
            Ok(claims) => Some(Principal::Session(claims)),
            Err(e) => {
                tracing::debug!(reason = %e, "session cookie not accepted");
                None
            }
        }
    }

    /// The guard for plain HTTP: `Ok(Some(principal))` to serve a signed-in (or open)
    /// request, `Ok(None)` to serve a public path to a stranger, or the denial.
    ///
    /// The Origin rule comes first and covers public paths too (`POST /login`): a present
    /// Origin must be on the allow-list even with auth disabled, so no web page can drive
    /// a loopback dashboard from the browser; a missing one is refused only when auth is
    /// on and the request is not proxy-signed (scripts and curl carry no Origin).
    pub fn check_http(&self, req: &Request<'_>, now: u64) -> Result<Option<Principal>, Denial> {
        let class = classify(req.path);
        if class == PathClass::WebSocket {
            return self.check_ws(req, now).map(Some);
        }
        let principal = self.authenticate(req, now);
        if changes_state(req.method) {
            let via_proxy = matches!(principal, Some(Principal::Proxy { .. }));
            self.check_origin(req, self.settings.enabled && !via_proxy)?;
        }
        match (principal, class) {
            (Some(p), _) => Ok(Some(p)),
            (None, _) if !self.settings.enabled => Ok(Some(Principal::Open)),
            (None, PathClass::Public) => Ok(None),
            (None, PathClass::Api) => Err(Denial::Unauthorized),
            (None, _) => Err(Denial::LoginFirst),
        }
    }

    /// The guard for a WebSocket handshake: with auth on, an allowed Origin is required
    /// (even for proxy-signed handshakes: browsers always send one, and the proxy would
    /// sign a cross-site handshake just the same) and the request must authenticate; with
    /// auth off, a present Origin must still be allowed.
    pub fn check_ws(&self, req: &Request<'_>, now: u64) -> Result<Principal, Denial> {
        self.check_origin(req, self.settings.enabled)?;
        match self.authenticate(req, now) {
            Some(p) => Ok(p),
            None if !self.settings.enabled => Ok(Principal::Open),
            None => Err(Denial::Forbidden),
        }
    }

    fn check_origin(&self, req: &Request<'_>, required: bool) -> Result<(), Denial> {
        match req.headers.get("origin") {
            Some(o) if self.settings.origins.allows(o) => Ok(()),
            Some(o) => {
                tracing::info!(
                    origin = ?o,
                    method = req.method,
                    path = req.path,
                    "refused a request from another origin (if that is clauster's own address, add it to auth.allowed_origins)"
                );
                Err(Denial::Origin)
            }
            None if required => Err(Denial::Origin),
            None => Ok(()),
        }
    }

    /// Whether the session cookie gets `Secure`: `always`/`never` as configured; `auto`
    /// when clauster terminated TLS itself or a trusted proxy says `X-Forwarded-Proto: https`.
    pub fn cookie_secure(&self, req: &Request<'_>) -> bool {
        match self.settings.cookie_secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => {
                req.tls
                    || matches!((&self.settings.proxy, req.peer), (Some(p), Some(peer))
                        if p.says_https(peer, req.headers.get("x-forwarded-proto")))
            }
        }
    }

    /// The client a login attempt is counted against (see [`throttle`]).
    pub fn client_key(&self, req: &Request<'_>) -> Option<ClientKey> {
        let peer = req.peer?;
        let ip = match &self.settings.proxy {
            Some(p) => p.client(peer, req.headers.get("x-forwarded-for")),
            None => peer,
        };
        Some(ClientKey::new(ip))
    }

    /// Checks a password and, if right, returns a new session cookie value.
    ///
    /// Order: wait for a verify slot, then the throttle (so queued attempts cannot all
    /// slip past it), then argon2 on a blocking thread. With no hash configured the
    /// password is checked against a dummy and refused, in the same time.
    pub async fn login(self: &Arc<Self>, client: Option<ClientKey>, password: String) -> Result<String, LoginError> {
        let _slot = self.verify_slots.acquire().await.map_err(|_| LoginError::Unavailable)?;
        if let Some(c) = client {
            self.throttle.check(c, Instant::now()).map_err(|retry_after| LoginError::Throttled { retry_after })?;
        }
        let hash = self.settings.password_hash.clone();
        let ok = tokio::task::spawn_blocking(move || crate::password::verify_configured(&password, hash.as_deref()))
            .await
            .map_err(|_| LoginError::Unavailable)?;
        match (ok, client) {
            (true, c) => {
                if let Some(c) = c {
                    self.throttle.succeed(c);
                }
                Ok(self.sessions.issue(SESSION_USER, now_unix()).0)
            }
            (false, Some(c)) => {
                self.throttle.fail(c, Instant::now());
                Err(LoginError::Incorrect)
            }
            (false, None) => Err(LoginError::Incorrect),
        }
    }

    /// Ends the caller's session, or with `everywhere` every session issued so far.
    /// Blocking (writes `state_dir`); returns the new epoch when it changed.
    pub fn logout(&self, principal: Option<&Principal>, everywhere: bool, now: u64) -> Result<Option<u64>, StoreError> {
        if everywhere {
            return self.sessions.end_all().map(Some);
        }
        if let Some(Principal::Session(claims)) = principal {
            self.sessions.revoke(claims, now)?;
        }
        Ok(None)
    }
}

#[cfg(test)]
impl Auth {
    /// A valid session cookie without the password round trip, for tests of the web glue.
    pub(crate) fn issue_for_tests(&self, user: &str) -> (String, Claims) {
        self.sessions.issue(user, now_unix())
    }
}

/// Seconds since the UNIX epoch (0 if the clock is before it).
pub fn now_unix() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
