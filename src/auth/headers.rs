//! Security headers for every response, and the per-request CSP nonce.
//!
//! The Content-Security-Policy allows scripts only by nonce (`'strict-dynamic'` lets a
//! nonced script load what it needs) and never `eval`, so an injected `<script>` or
//! `onclick=` does nothing even if some output escaped wrongly. Styles come from our own
//! origin or carry the nonce. The nonce is fresh per response (16 random bytes) and handed
//! to templates through the request extensions, as `csp_nonce`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The nonce of one response; templates put it on inline `<script>` and `<style>` tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CspNonce(pub String);

impl CspNonce {
    pub fn generate() -> CspNonce {
        CspNonce(STANDARD.encode(rand::random::<[u8; 16]>()))
    }
}

/// The Content-Security-Policy for a response with `nonce`.
pub fn content_security_policy(nonce: &CspNonce) -> String {
    let n = &nonce.0;
    format!(
        "default-src 'self'; script-src 'nonce-{n}' 'strict-dynamic'; style-src 'self' 'nonce-{n}'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         frame-ancestors 'none'; form-action 'self'"
    )
}

/// The headers that do not change per response.
///
/// `same-origin`, not `no-referrer`: under `no-referrer` a browser sends `Origin: null`
/// with a form POST, and the Origin check then refuses clauster's own login form. Links to
/// other sites (claude.ai) still get no referrer.
pub const FIXED: [(&str, &str); 3] =
    [("x-content-type-options", "nosniff"), ("referrer-policy", "same-origin"), ("x-frame-options", "DENY")];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_fresh_base64_of_16_bytes() {
        let a = CspNonce::generate();
        let b = CspNonce::generate();
        assert_ne!(a, b);
        assert_eq!(STANDARD.decode(&a.0).unwrap().len(), 16);
    }

    #[test]
    fn the_policy_uses_the_nonce_and_never_eval() {
        let n = CspNonce("abc+/=".into());
        let csp = content_security_policy(&n);
        assert!(csp.contains("script-src 'nonce-abc+/=' 'strict-dynamic'"), "{csp}");
        assert!(csp.contains("style-src 'self' 'nonce-abc+/='"), "{csp}");
        for must in ["object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'"] {
            assert!(csp.contains(must), "{must}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
    }
}
