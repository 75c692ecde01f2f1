//! Session cookies: a signed, self-describing token plus two server-side kill switches.
//!
//! The cookie value is `v1.<payload>.<tag>`: the payload is base64url JSON
//! `{"sid","u","e","iat","exp"}` and the tag an HMAC-SHA256 over `v1.<payload>` with a key
//! derived from the session secret. The signature makes the payload trustworthy, so expiry
//! is checked here from `iat`/`exp` rather than trusting the browser to drop the cookie.
//! Because a signed cookie alone cannot be taken back, two pieces of server state can
//! still kill one: the **epoch** (`e`; "log out everywhere" raises it, and every cookie
//! issued under an older epoch dies) and the **revocation list** (the ids of sessions
//! that logged out, kept until they would have expired anyway). Both are persisted in
//! `state_dir` by [`super::store::Store`], so a restart revives nothing.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::store::{Store, StoreError};

/// The cookie's name.
pub const COOKIE_NAME: &str = "clauster_session";

/// Longer values are not ours; refuse them before decoding anything.
const MAX_COOKIE_LEN: usize = 512;

/// How far in the future an `iat` may be (two clauster hosts sharing a secret, or a clock
/// stepped back by NTP) before the cookie is refused as forged-looking.
const CLOCK_SKEW_SECONDS: u64 = 60;

/// Why a cookie does not authenticate. None of these reach the client (it just counts as
/// "not signed in"); they are logged at debug level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    #[error("not a clauster session cookie")]
    Malformed,
    #[error("bad signature (tampered, or signed with another secret)")]
    BadSignature,
    #[error("expired")]
    Expired,
    #[error("issued in the future")]
    FromTheFuture,
    #[error("logged out")]
    Revoked,
    #[error("ended by log out everywhere")]
    OldEpoch,
}

/// What a session cookie asserts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// A random id (16 bytes, base64url), the handle for revoking this one session.
    pub sid: String,
    #[serde(rename = "u")]
    pub user: String,
    /// The session epoch it was issued under.
    #[serde(rename = "e")]
    pub epoch: u64,
    /// Issued at, UNIX seconds.
    pub iat: u64,
    /// Expires at, UNIX seconds (`iat` + the max age when issued).
    pub exp: u64,
}

/// The cookie-signing key, derived from the session secret so the raw secret is used for
/// nothing else.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl SessionKey {
    pub fn derive(secret: &[u8]) -> SessionKey {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(b"clauster session cookie v1");
        SessionKey(mac.finalize().into_bytes().into())
    }

    fn mac(&self, signed: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(signed);
        mac
    }

    /// Encodes and signs `claims` into a cookie value.
    pub fn seal(&self, claims: &Claims) -> String {
        let json = serde_json::to_vec(claims).expect("claims serialize");
        let signed = format!("v1.{}", B64.encode(json));
        let tag = self.mac(signed.as_bytes()).finalize().into_bytes();
        format!("{signed}.{}", B64.encode(tag))
    }

    /// Checks the signature (in constant time) and decodes the claims; says nothing yet
    /// about expiry or revocation.
    pub fn open(&self, value: &str) -> Result<Claims, SessionError> {
        if value.len() > MAX_COOKIE_LEN {
            return Err(SessionError::Malformed);
        }
        let (signed, tag) = value.rsplit_once('.').ok_or(SessionError::Malformed)?;
        let payload = signed.strip_prefix("v1.").ok_or(SessionError::Malformed)?;
        let tag = B64.decode(tag).ok().filter(|t| t.len() == 32).ok_or(SessionError::Malformed)?;
        self.mac(signed.as_bytes()).verify_slice(&tag).map_err(|_| SessionError::BadSignature)?;
        let json = B64.decode(payload).map_err(|_| SessionError::Malformed)?;
        serde_json::from_slice(&json).map_err(|_| SessionError::Malformed)
    }
}

/// The one owner of session state that changes at runtime: the epoch and the revocation
/// list, in memory for the per-request check and mirrored to `state_dir`.
///
/// Lookups take a short in-memory lock; the file writes (`revoke`, `end_all`) block on
/// I/O and must run on a blocking thread. They hold a separate writer lock, so a slow disk
/// never stalls request checks.
#[derive(Debug)]
pub struct Sessions {
    key: SessionKey,
    max_age: u64,
    epoch: AtomicU64,
    revoked: Mutex<HashMap<String, u64>>,
    store: Store,
    writer: Mutex<()>,
}

impl Sessions {
    /// Loads the epoch and the revocation list from `store` (blocking; call at startup).
    pub fn load(key: SessionKey, max_age: u64, store: Store, now: u64) -> Sessions {
        let epoch = store.read_epoch();
        let revoked = store.read_revoked(now);
        Sessions {
            key,
            max_age,
            epoch: AtomicU64::new(epoch),
            revoked: Mutex::new(revoked),
            store,
            writer: Mutex::new(()),
        }
    }

    pub fn max_age(&self) -> u64 {
        self.max_age
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// A new session for `user`, as a cookie value and its claims.
    pub fn issue(&self, user: &str, now: u64) -> (String, Claims) {
        let claims = Claims {
            sid: B64.encode(rand::random::<[u8; 16]>()),
            user: user.to_owned(),
            epoch: self.epoch(),
            iat: now,
            exp: now.saturating_add(self.max_age),
        };
        (self.key.seal(&claims), claims)
    }

    /// The claims of a cookie that is genuine, current and not logged out.
    pub fn verify(&self, value: &str, now: u64) -> Result<Claims, SessionError> {
        let claims = self.key.open(value)?;
        if claims.iat > now.saturating_add(CLOCK_SKEW_SECONDS) {
            return Err(SessionError::FromTheFuture);
        }
        // Both bounds: `exp` as issued, and the max age configured now, so lowering
        // `session_max_age_seconds` shortens sessions that already exist.
        if now > claims.exp || now.saturating_sub(claims.iat) > self.max_age {
            return Err(SessionError::Expired);
        }
        if claims.epoch < self.epoch() {
            return Err(SessionError::OldEpoch);
        }
        if lock(&self.revoked).contains_key(&claims.sid) {
            return Err(SessionError::Revoked);
        }
        Ok(claims)
    }

    /// Ends one session for good (logout). Blocking: writes `session.revoked`. The session
    /// is dead in memory before the write, so a failed write still logs it out until the
    /// next restart, and the error says so.
    pub fn revoke(&self, claims: &Claims, now: u64) -> Result<(), StoreError> {
        let _writer = lock(&self.writer);
        let snapshot = {
            let mut revoked = lock(&self.revoked);
            revoked.insert(claims.sid.clone(), claims.exp);
            revoked.retain(|_, exp| *exp >= now);
            revoked.clone()
        };
        self.store.write_revoked(&snapshot)
    }

    /// Ends every session issued so far ("log out everywhere") by raising the epoch past
    /// both the in-memory and the on-disk value (another clauster may share `state_dir`).
    /// Blocking: writes `session.epoch`. Returns the new epoch.
    pub fn end_all(&self) -> Result<u64, StoreError> {
        let _writer = lock(&self.writer);
        let next = self.store.read_epoch().max(self.epoch()).saturating_add(1);
        self.epoch.fetch_max(next, Ordering::AcqRel);
        self.store.write_epoch(next)?;
        // Every revoked id belongs to an older epoch now, so the list can go.
        lock(&self.revoked).clear();
        self.store.write_revoked(&HashMap::new())?;
        Ok(next)
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (each critical
/// section is a single map operation), so a poisoned lock is used rather than panicking.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(dir: &std::path::Path, max_age: u64) -> Sessions {
        Sessions::load(SessionKey::derive(&[7; 32]), max_age, Store::new(dir.to_owned()), 1000)
    }

    #[test]
    fn a_sealed_cookie_opens_with_the_same_key_only() {
        let key = SessionKey::derive(&[1; 32]);
        let claims = Claims { sid: "abc".into(), user: "admin".into(), epoch: 3, iat: 10, exp: 20 };
        let v = key.seal(&claims);
        assert!(v.starts_with("v1.") && !v.contains(['=', '+', '/', ';', ' ']), "{v}");
        assert_eq!(key.open(&v), Ok(claims));
        assert_eq!(SessionKey::derive(&[2; 32]).open(&v), Err(SessionError::BadSignature));
        assert!(!format!("{key:?}").contains('1'));
    }

    #[test]
    fn tampering_is_detected() {
        let key = SessionKey::derive(&[1; 32]);
        let claims = Claims { sid: "abc".into(), user: "admin".into(), epoch: 0, iat: 10, exp: 20 };
        let v = key.seal(&claims);
        let (signed, tag) = v.rsplit_once('.').unwrap();
        let forged_payload = B64.encode(br#"{"sid":"abc","u":"admin","e":0,"iat":10,"exp":99999999999}"#);
        assert_eq!(key.open(&format!("v1.{forged_payload}.{tag}")), Err(SessionError::BadSignature));
        let mut bad_tag = B64.decode(tag).unwrap();
        bad_tag[0] ^= 1;
        assert_eq!(key.open(&format!("{signed}.{}", B64.encode(bad_tag))), Err(SessionError::BadSignature));
        for junk in ["", "v1", "v1..", "v2.x.y", "v1.x.!!!", &"a".repeat(600)] {
            assert_eq!(key.open(junk), Err(SessionError::Malformed), "{junk:?}");
        }
    }

    #[test]
    fn expiry_is_checked_server_side() {
        let d = tempfile::tempdir().unwrap();
        let s = sessions(d.path(), 100);
        let (v, c) = s.issue("admin", 1000);
        assert_eq!((c.iat, c.exp, c.epoch), (1000, 1100, 0));
        assert!(s.verify(&v, 1000).is_ok());
        assert!(s.verify(&v, 1100).is_ok());
        assert_eq!(s.verify(&v, 1101), Err(SessionError::Expired));
        assert!(s.verify(&v, 1000 - 1).is_ok(), "a clock a little behind is tolerated");
        assert_eq!(s.verify(&v, 1000 - CLOCK_SKEW_SECONDS - 1), Err(SessionError::FromTheFuture));
        // A lower max age applies to cookies already issued.
        let shorter = Sessions::load(SessionKey::derive(&[7; 32]), 10, Store::new(d.path().to_owned()), 1000);
        assert_eq!(shorter.verify(&v, 1011), Err(SessionError::Expired));
    }

    #[test]
    fn logout_revokes_one_session_and_survives_a_reload() {
        let d = tempfile::tempdir().unwrap();
        let s = sessions(d.path(), 100);
        let (a, ca) = s.issue("admin", 1000);
        let (b, _) = s.issue("admin", 1000);
        s.revoke(&ca, 1001).unwrap();
        assert_eq!(s.verify(&a, 1002), Err(SessionError::Revoked));
        assert!(s.verify(&b, 1002).is_ok(), "other sessions live on");
        let reloaded = sessions(d.path(), 100);
        assert_eq!(reloaded.verify(&a, 1002), Err(SessionError::Revoked));
        assert!(reloaded.verify(&b, 1002).is_ok());
    }

    #[test]
    fn log_out_everywhere_ends_every_older_session_and_survives_a_reload() {
        let d = tempfile::tempdir().unwrap();
        let s = sessions(d.path(), 100);
        let (a, _) = s.issue("admin", 1000);
        assert_eq!(s.end_all().unwrap(), 1);
        assert_eq!(s.verify(&a, 1001), Err(SessionError::OldEpoch));
        let (fresh, c) = s.issue("admin", 1001);
        assert_eq!(c.epoch, 1);
        assert!(s.verify(&fresh, 1001).is_ok());
        assert_eq!(std::fs::read_to_string(d.path().join("session.epoch")).unwrap().trim(), "1");
        let reloaded = sessions(d.path(), 100);
        assert_eq!(reloaded.epoch(), 1);
        assert_eq!(reloaded.verify(&a, 1001), Err(SessionError::OldEpoch));
        // The on-disk value counts too: another process may have bumped it.
        std::fs::write(d.path().join("session.epoch"), "7\n").unwrap();
        assert_eq!(s.end_all().unwrap(), 8);
    }
}
