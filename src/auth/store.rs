//! The session files in `state_dir`: `session.secret` (the signing secret, 0600),
//! `session.epoch` (decimal) and `session.revoked` (ids of logged-out sessions).
//!
//! Every write is atomic (temp file, fsync, rename; `fsutil::atomic_write`), so a crash
//! never leaves a torn secret that would silently log everyone out, or a half-written
//! revocation list that would revive sessions. All functions block: call them at startup
//! or from a blocking thread.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use crate::fsutil::atomic_write;

pub const SECRET_FILE: &str = "session.secret";
pub const EPOCH_FILE: &str = "session.epoch";
pub const REVOKED_FILE: &str = "session.revoked";

/// The environment variable that overrides `session.secret`.
pub const SECRET_ENV: &str = "CLAUSTER_SESSION_SECRET";

/// Shorter secrets are refused: 32 bytes is the HMAC-SHA256 key size.
pub const MIN_SECRET_LEN: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "{SECRET_ENV} is {len} bytes long; it must be at least {MIN_SECRET_LEN}. \
         Generate one with `openssl rand -hex 32`, or unset it to use state_dir/{SECRET_FILE}"
    )]
    EnvSecretTooShort { len: usize },
    #[error(
        "{path} holds {len} bytes; a session secret needs at least {MIN_SECRET_LEN}. \
         Delete the file and clauster creates a new one (everyone signs in again)"
    )]
    SecretTooShort { path: PathBuf, len: usize },
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: io::Error },
}

/// The session secret. Its bytes never reach a log (`Debug` is redacted).
pub struct Secret {
    bytes: Vec<u8>,
    pub source: SecretSource,
    /// Set when the file's permissions were looser than 0600 and have been tightened.
    pub warning: Option<String>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret").field("bytes", &"<redacted>").field("source", &self.source).finish()
    }
}

impl Secret {
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Where the secret came from, for the startup log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env,
    File(PathBuf),
    Created(PathBuf),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::Env => write!(f, "{SECRET_ENV}"),
            SecretSource::File(p) => write!(f, "{}", p.display()),
            SecretSource::Created(p) => write!(f, "{} (new)", p.display()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: PathBuf) -> Store {
        Store { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The secret from `from_env` (`CLAUSTER_SESSION_SECRET`) if given, else from
    /// `session.secret`, creating it (32 random bytes, 0600) when missing, so restarts
    /// keep everyone signed in.
    pub fn secret(&self, from_env: Option<&[u8]>) -> Result<Secret, StoreError> {
        if let Some(bytes) = from_env {
            if bytes.len() < MIN_SECRET_LEN {
                return Err(StoreError::EnvSecretTooShort { len: bytes.len() });
            }
            return Ok(Secret { bytes: bytes.to_vec(), source: SecretSource::Env, warning: None });
        }
        let path = self.path(SECRET_FILE);
        let io_err = |what, source| StoreError::Io { what, path: path.clone(), source };
        match std::fs::read(&path) {
            Ok(bytes) => {
                if bytes.len() < MIN_SECRET_LEN {
                    return Err(StoreError::SecretTooShort { len: bytes.len(), path });
                }
                let mode = std::fs::metadata(&path).map_err(|e| io_err("cannot inspect", e))?.permissions().mode();
                let warning = (mode & 0o077 != 0).then(|| {
                    let fixed = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
                    format!(
                        "{} was readable by other users (mode {:o}){}; consider replacing the secret",
                        path.display(),
                        mode & 0o777,
                        if fixed.is_ok() { ", now 0600" } else { ", and could not be changed to 0600" }
                    )
                });
                Ok(Secret { bytes, source: SecretSource::File(path), warning })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let fresh: [u8; 32] = rand::random();
                atomic_write(&path, &fresh, Some(0o600)).map_err(|e| io_err("cannot create", e))?;
                // Read back: if another clauster sharing state_dir raced us, both end up
                // with whichever file won the rename.
                let bytes = std::fs::read(&path).map_err(|e| io_err("cannot read", e))?;
                Ok(Secret { bytes, source: SecretSource::Created(path), warning: None })
            }
            Err(e) => Err(io_err("cannot read", e)),
        }
    }

    /// The session epoch; a missing or unreadable file is epoch 0.
    pub fn read_epoch(&self) -> u64 {
        std::fs::read_to_string(self.path(EPOCH_FILE)).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
    }

    pub fn write_epoch(&self, epoch: u64) -> Result<(), StoreError> {
        let path = self.path(EPOCH_FILE);
        atomic_write(&path, format!("{epoch}\n").as_bytes(), Some(0o600)).map_err(|source| StoreError::Io {
            what: "cannot write",
            path,
            source,
        })
    }

    /// Revoked session ids with their expiry, minus those already expired at `now`.
    /// Lines that do not parse are skipped.
    pub fn read_revoked(&self, now: u64) -> HashMap<String, u64> {
        let text = std::fs::read_to_string(self.path(REVOKED_FILE)).unwrap_or_default();
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (id, exp) = l.split_once(' ')?;
                let exp: u64 = exp.trim().parse().ok()?;
                let valid_id =
                    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
                (valid_id && exp >= now).then(|| (id.to_owned(), exp))
            })
            .collect()
    }

    pub fn write_revoked(&self, revoked: &HashMap<String, u64>) -> Result<(), StoreError> {
        let mut text = String::from("# clauster: logged-out sessions (<id> <expires, unix seconds>)\n");
        let mut entries: Vec<_> = revoked.iter().collect();
        entries.sort();
        for (id, exp) in entries {
            let _ = writeln!(text, "{id} {exp}");
        }
        let path = self.path(REVOKED_FILE);
        atomic_write(&path, text.as_bytes(), Some(0o600)).map_err(|source| StoreError::Io {
            what: "cannot write",
            path,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_created_once_private_and_reused() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path().to_owned());
        let first = store.secret(None).unwrap();
        assert!(matches!(first.source, SecretSource::Created(_)));
        assert_eq!(first.bytes().len(), 32);
        let meta = std::fs::metadata(d.path().join(SECRET_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let again = store.secret(None).unwrap();
        assert!(matches!(again.source, SecretSource::File(_)));
        assert_eq!(again.bytes(), first.bytes());
        assert!(!format!("{again:?}").contains(&format!("{:?}", &again.bytes()[..4])));
    }

    #[test]
    fn the_environment_wins_if_long_enough() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path().to_owned());
        let s = store.secret(Some(&[b'x'; 32])).unwrap();
        assert_eq!(s.source, SecretSource::Env);
        assert!(!d.path().join(SECRET_FILE).exists(), "no file when the environment provides it");
        let e = store.secret(Some(&[b'x'; 31])).unwrap_err().to_string();
        assert!(e.contains("CLAUSTER_SESSION_SECRET is 31 bytes") && e.contains("openssl rand"), "{e}");
    }

    #[test]
    fn a_short_or_exposed_secret_file_is_handled() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path().to_owned());
        let path = d.path().join(SECRET_FILE);
        std::fs::write(&path, b"short").unwrap();
        let e = store.secret(None).unwrap_err().to_string();
        assert!(e.contains("5 bytes") && e.contains("Delete the file"), "{e}");
        std::fs::write(&path, [9u8; 40]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let s = store.secret(None).unwrap();
        assert!(s.warning.unwrap().contains("now 0600"));
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn epoch_and_revocations_round_trip_and_tolerate_junk() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::new(d.path().to_owned());
        assert_eq!(store.read_epoch(), 0);
        store.write_epoch(41).unwrap();
        assert_eq!(store.read_epoch(), 41);
        std::fs::write(d.path().join(EPOCH_FILE), "garbage").unwrap();
        assert_eq!(store.read_epoch(), 0);

        let map = HashMap::from([("aaa".to_string(), 100), ("bbb".to_string(), 50)]);
        store.write_revoked(&map).unwrap();
        assert_eq!(store.read_revoked(0), map);
        assert_eq!(store.read_revoked(60), HashMap::from([("aaa".to_string(), 100)]), "expired ids are dropped");
        std::fs::write(d.path().join(REVOKED_FILE), "# c\nok 5\nbad\nx y\nn/o 5\n").unwrap();
        assert_eq!(store.read_revoked(0), HashMap::from([("ok".to_string(), 5)]));
    }
}
