//! Where the client gets its bearer token from.

use std::error::Error as StdError;
use std::fmt;

use async_trait::async_trait;

/// Hands the client the token to send as `Authorization: Bearer <token>`.
///
/// Implemented by the binaries with `clerk-auth`'s session manager (current
/// ID token; forced refresh). `Ok(None)` means "call without a token": the
/// Convex function then runs with no identity.
///
/// Implementations must never log the token.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The token to send now (refreshed ahead of expiry by the source if it
    /// can), or `None` to call unauthenticated.
    async fn token(&self) -> Result<Option<String>, TokenError>;

    /// Called after Convex rejected the last token with HTTP 401: get a new
    /// one even if the current one looks valid. The client retries once with
    /// it.
    async fn refresh(&self) -> Result<Option<String>, TokenError>;
}

/// A source that never has a token: every call runs unauthenticated.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoToken;

#[async_trait]
impl TokenSource for NoToken {
    async fn token(&self) -> Result<Option<String>, TokenError> {
        Ok(None)
    }
    async fn refresh(&self) -> Result<Option<String>, TokenError> {
        Ok(None)
    }
}

/// A source holding one fixed token (scripts, tests). `refresh` hands back
/// the same token, so a 401 surfaces after the single retry.
#[derive(Clone)]
pub struct StaticToken(String);

impl StaticToken {
    /// Wraps `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken([redacted])")
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<Option<String>, TokenError> {
        Ok(Some(self.0.clone()))
    }
    async fn refresh(&self) -> Result<Option<String>, TokenError> {
        Ok(Some(self.0.clone()))
    }
}

/// What kind of failure a [`TokenSource`] had; callers decide on it (sign
/// the person in again, show "offline", or report a bug).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenErrorKind {
    /// There is no session (never signed in, signed out, or the issuer ended
    /// the session): the person must sign in.
    NotSignedIn,
    /// The issuer could not be reached to refresh: keep the session, retry
    /// later.
    Offline,
    /// Anything else (keychain, protocol, bad token from the issuer).
    Other,
}

impl fmt::Display for TokenErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotSignedIn => "not signed in",
            Self::Offline => "could not reach the sign-in service to refresh the session",
            Self::Other => "could not get a sign-in token",
        })
    }
}

/// A [`TokenSource`] failure: a [`TokenErrorKind`] plus the source's own
/// error (e.g. `clerk_auth::AuthError`), reachable with
/// [`std::error::Error::source`] and downcasting.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct TokenError {
    kind: TokenErrorKind,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl TokenError {
    /// A failure of `kind` caused by `source`.
    pub fn new(kind: TokenErrorKind, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// "There is no session", without a further cause.
    pub fn not_signed_in() -> Self {
        Self {
            kind: TokenErrorKind::NotSignedIn,
            source: None,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TokenErrorKind {
        self.kind
    }

    /// The source's own error, if it is a `E` (e.g. `clerk_auth::AuthError`,
    /// whose `user_message()` says what to do).
    pub fn source_as<E: StdError + 'static>(&self) -> Option<&E> {
        self.source.as_deref().and_then(|e| e.downcast_ref::<E>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_token_debug_is_redacted() {
        let debug = format!("{:?}", StaticToken::new("eyJsecret"));
        assert!(!debug.contains("eyJsecret"), "{debug}");
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn token_error_keeps_its_cause_for_downcasting() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "issuer down");
        let err = TokenError::new(TokenErrorKind::Offline, io);
        assert_eq!(err.kind(), TokenErrorKind::Offline);
        assert_eq!(
            err.source_as::<std::io::Error>().map(|e| e.kind()),
            Some(std::io::ErrorKind::TimedOut)
        );
        assert_eq!(
            err.to_string(),
            "could not reach the sign-in service to refresh the session"
        );
        assert!(TokenError::not_signed_in()
            .source_as::<std::io::Error>()
            .is_none());
    }
}
