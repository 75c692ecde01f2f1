//! Password hashing for the dashboard login: argon2id in PHC string form.
//!
//! Hashing costs tens of milliseconds of CPU and 64 MiB of memory on purpose; callers on
//! the async runtime must run it on a blocking thread (`web::block`/`spawn_blocking`).

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};

/// RFC 9106's second recommended option (what argon2-cffi, the original's library, uses),
/// so hashes from either implementation look alike and verify in both.
const M_COST_KIB: u32 = 64 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is empty")]
    Empty,
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// Hashes `password` with a fresh random salt into an `$argon2id$v=19$...` string.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let hasher = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let phc: PasswordHash =
        hasher.hash_password(password.as_bytes()).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(phc.to_string())
}

/// Checks `password` against a stored PHC string, using the parameters inside the string
/// (so hashes made with other costs, or by argon2-cffi, verify as they are).
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash, with the same costs as [`hash`], of a random password that was thrown away.
/// Checking against it when no hash is configured makes "no password set" cost as much as
/// "wrong password", so timing does not tell an attacker whether logins can work at all.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=65536,t=3,p=4$MBTXn0+Ny6RGdQqwWjLfgQ$lluIoR05o8Tp9dZHqV42N6vesZt3e039qHMO6KWPXJA";

/// The login check: `password` against the configured hash, or, with none (or an empty
/// one), against the dummy, and then refused whatever the outcome. Blocking and costly:
/// run it on a blocking thread.
pub fn verify_configured(password: &str, configured: Option<&str>) -> bool {
    match configured.filter(|h| !h.is_empty()) {
        Some(phc) => verify(password, phc),
        None => {
            let _ = verify(password, DUMMY_PHC);
            false
        }
    }
}

/// Validates that `phc` is an argon2 PHC string, for config loading.
pub fn check_phc(phc: &str) -> Result<(), String> {
    let h = PasswordHash::new(phc).map_err(|e| format!("is not a valid PHC hash string ({e})"))?;
    if !h.algorithm.as_str().starts_with("argon2") {
        return Err(format!("uses {}, but only argon2 hashes are supported", h.algorithm));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_format() {
        let h = hash("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"), "{h}");
        assert!(verify("s3cret", &h));
        assert!(!verify("wrong", &h));
        assert!(check_phc(&h).is_ok());
        assert!(matches!(hash(""), Err(PasswordError::Empty)));
    }

    #[test]
    fn verifies_argon2_cffi_hashes() {
        // Made by Python argon2-cffi 25.1 `PasswordHasher().hash("s3cret")`.
        let cffi = "$argon2id$v=19$m=65536,t=3,p=4$PGjDptyuRCwRifL/jRLDKA$WHloOEbDW0ca/iPTzrVbOc9YlJWfwg/Y4yVskRmoG88";
        assert!(check_phc(cffi).is_ok());
        assert!(verify("s3cret", cffi));
        assert!(!verify("other", cffi));
    }

    #[test]
    fn without_a_configured_hash_nothing_verifies() {
        assert!(check_phc(DUMMY_PHC).is_ok(), "the dummy is a real hash, so it costs a real verify");
        for pw in ["", "s3cret", "clauster-dummy-do-not-use"] {
            assert!(!verify_configured(pw, None));
            assert!(!verify_configured(pw, Some("")));
        }
        let h = hash("s3cret").unwrap();
        assert!(verify_configured("s3cret", Some(&h)));
        assert!(!verify_configured("s3creT", Some(&h)));
    }

    #[test]
    fn rejects_garbage() {
        assert!(check_phc("not-a-hash").is_err());
        assert!(!verify("x", "not-a-hash"));
    }
}
