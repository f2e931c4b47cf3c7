//! What can go wrong with messages, in words a person can act on.

use clerk_auth::AuthError;

use crate::{BodyError, UrlError};

/// A failed messages operation.
#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    /// The body was refused before anything was sent.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The deployment URL cannot be used.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// There is no session to call with (or it ended): sign in.
    #[error("You are not signed in. Sign in to continue.")]
    NotSignedIn,
    /// The session could not give a token (issuer down, keychain locked...).
    #[error("{}", .0.user_message())]
    Session(#[source] AuthError),
    /// The backend ran the function without an identity: it did not accept
    /// the session's token.
    #[error("The server did not accept your session. Sign out and sign in again.")]
    NotAuthenticated,
    /// The function ran and refused, in its own words (Convex's prefixes
    /// such as `Uncaught ConvexError: ` removed).
    #[error("{message}")]
    Function {
        /// What the function said.
        message: String,
    },
    /// No connection to the backend within the time allowed.
    #[error("could not connect to Convex at {url}")]
    Unreachable {
        /// The deployment.
        url: String,
    },
    /// Connected, but no answer within the time allowed.
    #[error("Convex at {url} did not answer in time")]
    Timeout {
        /// The deployment.
        url: String,
    },
    /// The answer did not have the shape of the messages API.
    #[error("could not read Convex's answer to {function}: {detail}")]
    Decode {
        /// The function.
        function: &'static str,
        /// What did not fit.
        detail: String,
    },
    /// The Convex client itself failed (its background task stopped).
    #[error("the Convex client failed: {0}")]
    Client(String),
}

impl MessagesError {
    /// True when the backend or the issuer could not be reached: keep the
    /// session, say "offline", try again later.
    pub fn is_offline(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Session(e) => e.is_transient(),
            _ => false,
        }
    }

    /// True when the person must sign in (again).
    pub fn is_not_signed_in(&self) -> bool {
        matches!(self, Self::NotSignedIn)
    }

    /// A function's failure, as the official client reports it.
    pub(crate) fn from_function(result: convex::FunctionResult) -> Self {
        let message = match result {
            convex::FunctionResult::ConvexError(e) => match e.data {
                // A `ConvexError("...")`'s data is the function's own words.
                convex::Value::String(text) => text,
                _ => strip_prefix(&e.message),
            },
            convex::FunctionResult::ErrorMessage(message) => strip_prefix(&message),
            convex::FunctionResult::Value(_) => String::new(),
        };
        if message == "Not authenticated" {
            return Self::NotAuthenticated;
        }
        Self::Function { message }
    }
}

/// Drops what Convex puts before a thrown error's text.
fn strip_prefix(message: &str) -> String {
    ["Uncaught ConvexError: ", "Uncaught Error: "]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .unwrap_or(message)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_errors_keep_the_functions_words() {
        let e = MessagesError::from_function(convex::FunctionResult::ErrorMessage(
            "Uncaught Error: Message body must not be empty".into(),
        ));
        assert_eq!(e.to_string(), "Message body must not be empty");
        let e = MessagesError::from_function(convex::FunctionResult::ConvexError(
            convex::ConvexError {
                message: "Uncaught ConvexError: Not authenticated".into(),
                data: convex::Value::String("Not authenticated".into()),
            },
        ));
        assert!(matches!(e, MessagesError::NotAuthenticated), "{e:?}");
    }

    #[test]
    fn session_errors_are_classified() {
        assert!(MessagesError::NotSignedIn.is_not_signed_in());
        assert!(MessagesError::Session(AuthError::Network("down".into())).is_offline());
        assert!(MessagesError::Unreachable { url: "u".into() }.is_offline());
        assert!(!MessagesError::NotAuthenticated.is_offline());
    }
}
