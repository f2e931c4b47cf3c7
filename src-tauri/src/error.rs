//! The one error type commands return. It serializes to `{kind, message}`:
//! a message written for a person, never a token or a raw server body.

use clerk_auth::AuthError;
use convex_http::ConvexError;
use serde::Serialize;

/// What went wrong in a command, in words the UI can show as they are.
#[derive(Debug, thiserror::Error, Serialize)]
#[serde(tag = "kind", content = "message", rename_all = "camelCase")]
pub(crate) enum CommandError {
    /// Courier is not configured (missing or malformed settings).
    #[error("{0}")]
    Config(String),
    /// The call needs a signed-in person.
    #[error("{0}")]
    NotSignedIn(String),
    /// The issuer or the backend could not be reached.
    #[error("{0}")]
    Offline(String),
    /// The backend answered with an error.
    #[error("{0}")]
    Backend(String),
    /// The input was refused (the message says why).
    #[error("{0}")]
    Invalid(String),
    /// Anything else; details are in the log.
    #[error("{0}")]
    Internal(String),
}

impl From<AuthError> for CommandError {
    fn from(error: AuthError) -> Self {
        let message = error.user_message();
        match error {
            AuthError::Config(_) => Self::Config(message),
            AuthError::NotSignedIn | AuthError::InvalidGrant(_) => Self::NotSignedIn(message),
            e if e.is_transient() => Self::Offline(message),
            e => {
                tracing::warn!(code = %e.code(), "session error");
                Self::Internal(message)
            }
        }
    }
}

impl From<ConvexError> for CommandError {
    fn from(error: ConvexError) -> Self {
        if error.is_offline() {
            return Self::Offline(
                "Courier could not reach the server. Check your connection; it will retry.".into(),
            );
        }
        if error.is_not_signed_in() {
            return Self::NotSignedIn("You are not signed in. Sign in to continue.".into());
        }
        match error {
            ConvexError::Token(token) => match token.source_as::<AuthError>() {
                Some(auth) => Self::Internal(auth.user_message()),
                None => Self::Internal("Courier could not get a sign-in token.".into()),
            },
            ConvexError::Function { message, data } => {
                // A `ConvexError`'s data is the function's own words; else
                // drop the prefix Convex puts on thrown errors.
                let message = match data {
                    Some(serde_json::Value::String(text)) => text,
                    _ => ["Uncaught ConvexError: ", "Uncaught Error: "]
                        .iter()
                        .find_map(|prefix| message.strip_prefix(prefix))
                        .unwrap_or(&message)
                        .to_owned(),
                };
                Self::Backend(message)
            }
            ConvexError::Unauthenticated { code, .. } => {
                tracing::warn!(%code, "the backend refused a fresh token");
                Self::NotSignedIn(
                    "The server did not accept your session. Sign out and sign in again.".into(),
                )
            }
            other => {
                tracing::warn!(error = %other, "backend call failed");
                Self::Backend("The server could not answer. Try again in a moment.".into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_kind_and_message_for_the_ui() {
        let json = serde_json::to_value(CommandError::Offline("no network".into())).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "offline", "message": "no network"})
        );
    }

    #[test]
    fn function_errors_lose_convex_prefix() {
        let error = CommandError::from(ConvexError::Function {
            message: "Uncaught Error: Message is empty".into(),
            data: None,
        });
        assert_eq!(error.to_string(), "Message is empty");
    }

    #[test]
    fn ended_sessions_ask_to_sign_in_again() {
        let error = CommandError::from(AuthError::InvalidGrant("revoked".into()));
        assert!(
            matches!(error, CommandError::NotSignedIn(ref m) if m.contains("Sign in again")),
            "{error:?}"
        );
    }
}
