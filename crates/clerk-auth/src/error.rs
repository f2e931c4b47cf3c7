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
    #[error("the issuer refused the sign-in: {}{}", callback_code(error), description.as_deref().map(|d| format!(" (it said: {:?})", issuer_text(d))).unwrap_or_default())]
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
            AuthError::Callback { error, .. } => callback_code(error).into(),
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
            AuthError::Callback { error, description } => {
                let own = match callback_code(error) {
                    "access_denied" => "Sign-in was declined. Sign in again when you are ready.",
                    _ => "The sign-in service refused the sign-in. Try again.",
                };
                // The issuer's words are quoted as its own, never as Courier's.
                match description.as_deref().map(issuer_text).filter(|d| !d.is_empty()) {
                    Some(said) => format!("{own} The sign-in service said: \"{said}\"."),
                    None => own.into(),
                }
            }
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

/// The longest piece of the issuer's own text Courier shows, in characters.
pub(crate) const MAX_ISSUER_TEXT: usize = 200;

/// An `error` code from the redirect ([RFC 6749 §4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)),
/// if it is one of the registered ones; anything else is `callback_error`,
/// so the issuer (or whoever forged the redirect) cannot choose our codes.
fn callback_code(error: &str) -> &'static str {
    const KNOWN: [&str; 11] = [
        "invalid_request",
        "unauthorized_client",
        "access_denied",
        "unsupported_response_type",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "login_required",
        "consent_required",
        "interaction_required",
        "account_selection_required",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == error)
        .unwrap_or("callback_error")
}

/// The issuer's text as shown: control characters and quotes dropped,
/// whitespace collapsed, at most [`MAX_ISSUER_TEXT`] characters.
fn issuer_text(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .filter(|c| *c != '"')
        .collect();
    let words = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if words.chars().count() <= MAX_ISSUER_TEXT {
        return words;
    }
    let mut cut: String = words.chars().take(MAX_ISSUER_TEXT - 1).collect();
    cut.push('…');
    cut
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
    }

    #[test]
    fn the_issuers_words_are_quoted_as_its_own_and_capped() {
        let e = AuthError::Callback {
            error: "server_error".into(),
            description: Some("Your account is locked. Call +1 555 0100 now".into()),
        };
        let m = e.user_message();
        assert!(
            m.contains(
                "The sign-in service said: \"Your account is locked. Call +1 555 0100 now\""
            ),
            "{m}"
        );
        assert!(
            m.starts_with("The sign-in service refused the sign-in."),
            "{m}"
        );

        let long = "x".repeat(5000) + "\n\"injected\"";
        let m = AuthError::Callback {
            error: "access_denied".into(),
            description: Some(long),
        }
        .user_message();
        assert!(m.starts_with("Sign-in was declined."), "{m}");
        let quoted = m.split("said: \"").nth(1).unwrap();
        assert!(quoted.chars().count() <= MAX_ISSUER_TEXT + 2, "{m}");
        assert!(quoted.ends_with("…\"."), "{m}");
        assert!(!m.contains('\n'));

        // A made-up error code is not passed on as ours.
        let forged = AuthError::Callback {
            error: "keychain".into(),
            description: None,
        };
        assert_eq!(forged.code(), "callback_error");
        assert_eq!(
            forged.user_message(),
            "The sign-in service refused the sign-in. Try again."
        );
        assert!(!AuthError::InvalidGrant("x".into()).is_transient());
    }
}
