//! Secret strings: they print as `[redacted]` and are not `Serialize`.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// An OAuth refresh token ([RFC 6749 §1.5](https://www.rfc-editor.org/rfc/rfc6749#section-1.5)).
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken(String);

impl RefreshToken {
    /// Wraps a refresh token.
    pub fn new(secret: impl Into<String>) -> Self {
        RefreshToken(secret.into())
    }

    /// The token itself. Never log it.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RefreshToken([redacted])")
    }
}

/// A validated OpenID Connect ID token, with its expiry. This is what
/// Convex receives as `Authorization: Bearer`.
#[derive(Clone)]
pub struct IdToken {
    secret: Arc<str>,
    issued_at: SystemTime,
    expires_at: SystemTime,
}

impl IdToken {
    pub(crate) fn new(secret: &str, issued_at: SystemTime, expires_at: SystemTime) -> Self {
        IdToken {
            secret: Arc::from(secret),
            issued_at,
            expires_at,
        }
    }

    /// The compact JWT. Never log it.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The `exp` claim.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The `iat` claim.
    pub fn issued_at(&self) -> SystemTime {
        self.issued_at
    }

    /// Time left before `exp` (zero once expired).
    pub fn time_left(&self) -> std::time::Duration {
        self.expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default()
    }

    /// `exp - iat`: how long tokens of this issuer live.
    pub(crate) fn lifetime(&self) -> std::time::Duration {
        self.expires_at
            .duration_since(self.issued_at)
            .unwrap_or_default()
    }
}

impl fmt::Debug for IdToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdToken")
            .field("secret", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A string that must never be printed: PKCE verifier, `state`, `nonce`, codes.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(pub(crate) String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let rt = RefreshToken::new("rt_supersecret");
        assert!(!format!("{rt:?}").contains("supersecret"));
        let now = SystemTime::now();
        let t = IdToken::new("eyJ.supersecret.sig", now, now);
        assert!(!format!("{t:?}").contains("supersecret"));
        assert!(format!("{t:?}").contains("[redacted]"));
        assert!(!format!("{:?}", Secret("supersecret".into())).contains("supersecret"));
    }
}
