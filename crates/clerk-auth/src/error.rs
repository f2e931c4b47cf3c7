//! [`AuthError`]: typed so that refresh can decide (sign out, keep, retry)
//! and the app can tell a person what happened and what to do.

use crate::config::ConfigError;
use crate::id_token::IdTokenError;
use crate::state::SignOutReason;
use crate::store::StoreError;

/// Everything that can go wrong signing in, refreshing or signing out.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The configuration is missing or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The issuer's discovery document is unusable (not a network failure).
    #[error("the issuer's OpenID configuration is unusable: {0}")]
    Discovery(String),
    /// The issuer could not be reached or answered 5xx/429: transient.
    #[error("network error talking to the issuer: {0}")]
    Network(String),
    /// The grant (refresh token or code) is no longer valid: sign out.
    #[error("the issuer ended the session (invalid_grant): {0}")]
    InvalidGrant(String),
    /// The issuer answered something we cannot use.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The callback's `state` is missing or not the one sent.
    #[error("the sign-in callback's state does not match this sign-in")]
    StateMismatch,
    /// The issuer redirected back with `error=` ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)).
    #[error("the issuer refused the sign-in: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Callback {
        /// The OAuth error code, e.g. `access_denied`.
        error: String,
        /// `error_description`, if given.
        description: Option<String>,
    },
    /// The sign-in was cancelled.
    #[error("the sign-in was cancelled")]
    Cancelled,
    /// Nobody came back from the sign-in page in time.
    #[error("the sign-in timed out")]
    TimedOut,
    /// The ID token failed validation.
    #[error(transparent)]
    InvalidIdToken(#[from] IdTokenError),
    /// The keychain failed.
    #[error(transparent)]
    Keychain(#[from] StoreError),
    /// There is no session.
    #[error("not signed in")]
    NotSignedIn,
    /// The keychain entry is gone: another Courier process (the app or
    /// `courier-cli logout`) signed out.
    #[error("signed out in another Courier process")]
    SignedOutElsewhere,
    /// A sign-in was started while signed in.
    #[error("already signed in")]
    AlreadySignedIn,
    /// The loopback listener could not be opened.
    #[error("could not listen for the sign-in redirect on 127.0.0.1: {0}")]
    Listener(String),
}

impl AuthError {
    /// Transient: keep the session and retry later.
    pub fn is_transient(&self) -> bool {
        matches!(self, AuthError::Network(_))
    }

    /// The short code used in [`SignOutReason::code`].
    pub fn code(&self) -> String {
        match self {
            AuthError::Config(_) => "config".into(),
            AuthError::Discovery(_) => "discovery".into(),
            AuthError::Network(_) => "network".into(),
            AuthError::InvalidGrant(_) => "session_ended".into(),
            AuthError::Protocol(_) => "protocol".into(),
            AuthError::StateMismatch => "state_mismatch".into(),
            AuthError::Callback { error, .. } => error.clone(),
            AuthError::Cancelled => "cancelled".into(),
            AuthError::TimedOut => "timeout".into(),
            AuthError::InvalidIdToken(_) => "invalid_id_token".into(),
            AuthError::Keychain(_) => "keychain".into(),
            AuthError::NotSignedIn => "not_signed_in".into(),
            AuthError::SignedOutElsewhere => "signed_out_elsewhere".into(),
            AuthError::AlreadySignedIn => "already_signed_in".into(),
            AuthError::Listener(_) => "listener".into(),
        }
    }

    /// What happened and what to do, for a person.
    pub fn user_message(&self) -> String {
        match self {
            AuthError::Config(e) => format!("Courier is not configured for sign-in: {e}. Fix the setting and restart Courier."),
            AuthError::Discovery(_) => "The sign-in service answered with a configuration Courier cannot use. Check CLERK_FRONTEND_API_URL, or try again later.".into(),
            AuthError::Network(_) => "Courier could not reach the sign-in service. Check your connection; Courier will keep trying.".into(),
            AuthError::InvalidGrant(_) => "Your session has ended (it expired or was signed out elsewhere). Sign in again.".into(),
            AuthError::Protocol(_) => "The sign-in service gave an answer Courier could not use. Try again; if it keeps happening, report it.".into(),
            AuthError::StateMismatch => "The sign-in reply did not belong to this sign-in, so it was refused for your safety. Start the sign-in again.".into(),
            AuthError::Callback { error, description } => match error.as_str() {
                "access_denied" => "Sign-in was declined. Sign in again when you are ready.".into(),
                _ => format!(
                    "The sign-in service refused the sign-in ({}). Try again.",
                    description.as_deref().unwrap_or(error)
                ),
            },
            AuthError::Cancelled => "Sign-in was cancelled. Sign in again when you are ready.".into(),
            AuthError::TimedOut => "Sign-in took too long and was stopped. Start it again.".into(),
            AuthError::InvalidIdToken(_) => "The sign-in service sent an identity Courier could not verify, so it was refused. Try again; if it keeps happening, report it.".into(),
            AuthError::Keychain(e) => e.user_message(),
            AuthError::NotSignedIn => "You are not signed in. Sign in to continue.".into(),
            AuthError::SignedOutElsewhere => "You were signed out elsewhere (in another Courier window or with courier-cli). Sign in again to continue.".into(),
            AuthError::AlreadySignedIn => "You are already signed in. Sign out first to use another account.".into(),
            AuthError::Listener(_) => "Courier could not open a local port to receive the sign-in reply. Free the port set in COURIER_REDIRECT_PORT (or unset it) and try again.".into(),
        }
    }

    /// This error as the reason of a [`crate::AuthState::SignedOut`].
    pub fn reason(&self) -> SignOutReason {
        SignOutReason {
            code: self.code(),
            message: self.user_message(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_has_a_code_and_a_message_with_an_action() {
        let all = [
            AuthError::Config(ConfigError::MissingClientId),
            AuthError::Discovery("x".into()),
            AuthError::Network("x".into()),
            AuthError::InvalidGrant("x".into()),
            AuthError::Protocol("x".into()),
            AuthError::StateMismatch,
            AuthError::Callback {
                error: "access_denied".into(),
                description: None,
            },
            AuthError::Callback {
                error: "server_error".into(),
                description: Some("boom".into()),
            },
            AuthError::Cancelled,
            AuthError::TimedOut,
            AuthError::InvalidIdToken(IdTokenError::Expired),
            AuthError::Keychain(StoreError::Locked("x".into())),
            AuthError::NotSignedIn,
            AuthError::AlreadySignedIn,
            AuthError::Listener("x".into()),
        ];
        for e in all {
            let r = e.reason();
            assert!(!r.code.is_empty());
            assert!(r.message.ends_with('.'), "{}", r.message);
            assert!(r.message.split_whitespace().count() > 5, "{}", r.message);
        }
        assert_eq!(AuthError::InvalidGrant("x".into()).code(), "session_ended");
        assert_eq!(AuthError::TimedOut.code(), "timeout");
        assert_eq!(
            AuthError::Callback {
                error: "access_denied".into(),
                description: None
            }
            .code(),
            "access_denied"
        );
        assert!(AuthError::Network("x".into()).is_transient());
        assert!(!AuthError::InvalidGrant("x".into()).is_transient());
    }
}
