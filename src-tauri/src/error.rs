//! The one error type commands return. It serializes to `{kind, message}`:
//! a message written for a person, never a token or a raw server body.

use clerk_auth::AuthError;
use courier_messages::MessagesError;
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

impl From<MessagesError> for CommandError {
    fn from(error: MessagesError) -> Self {
        if error.is_offline() {
            return Self::Offline(
                "Courier could not reach the server. Check your connection; it will retry.".into(),
            );
        }
        match error {
            MessagesError::Body(e) => Self::Invalid(e.to_string()),
            MessagesError::NotSignedIn | MessagesError::NotAuthenticated => {
                Self::NotSignedIn(error.to_string())
            }
            MessagesError::Function { message } => Self::Backend(message),
            MessagesError::Url(e) => Self::Config(e.to_string()),
            MessagesError::Session(auth) => Self::from(auth),
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
    fn refused_bodies_and_lost_connections_say_what_to_do() {
        let error = CommandError::from(MessagesError::Body(courier_messages::BodyError::Empty));
        assert!(matches!(error, CommandError::Invalid(ref m) if m == "Write something first."));
        let error = CommandError::from(MessagesError::Unreachable {
            url: "http://127.0.0.1:1".into(),
        });
        assert!(matches!(error, CommandError::Offline(_)), "{error:?}");
        let error = CommandError::from(MessagesError::NotAuthenticated);
        assert!(matches!(error, CommandError::NotSignedIn(_)), "{error:?}");
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
