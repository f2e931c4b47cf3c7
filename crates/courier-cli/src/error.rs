//! What the CLI tells a person when something fails, and its exit codes.

use clerk_auth::AuthError;
use courier_messages::MessagesError;

/// Something failed (a bug, the keychain, the backend refused).
pub(crate) const EXIT_ERROR: u8 = 1;
/// The command line was wrong (clap uses 2 as well).
pub(crate) const EXIT_USAGE: u8 = 2;
/// No session: run `courier-cli login`.
pub(crate) const EXIT_NOT_SIGNED_IN: u8 = 3;
/// The issuer or the backend could not be reached.
pub(crate) const EXIT_OFFLINE: u8 = 4;
/// The configuration is missing or wrong.
pub(crate) const EXIT_MISCONFIGURED: u8 = 5;

/// A failed command: the message for a person, and which exit code.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// Bad arguments that clap could not catch (exit 2).
    #[error("{0}")]
    Usage(String),
    /// There is no session (exit 3).
    #[error("{0}")]
    NotSignedIn(String),
    /// Could not reach the issuer or Convex (exit 4).
    #[error("{0}")]
    Offline(String),
    /// Missing or wrong settings (exit 5).
    #[error("{0}")]
    Misconfigured(String),
    /// Anything else (exit 1).
    #[error("{0}")]
    Failed(String),
}

const LOGIN_HINT: &str = "Run `courier-cli login` to sign in.";

impl CliError {
    /// The process exit code for this error.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::NotSignedIn(_) => EXIT_NOT_SIGNED_IN,
            Self::Offline(_) => EXIT_OFFLINE,
            Self::Misconfigured(_) => EXIT_MISCONFIGURED,
            Self::Failed(_) => EXIT_ERROR,
        }
    }

    /// "Not signed in", with why the session ended when known.
    pub(crate) fn not_signed_in(why: Option<&str>) -> Self {
        match why {
            Some(why) => Self::NotSignedIn(format!("{why} {LOGIN_HINT}")),
            None => Self::NotSignedIn(format!("Not signed in. {LOGIN_HINT}")),
        }
    }

    /// Classifies a `clerk-auth` error; the message is its `user_message`
    /// plus the technical cause.
    pub(crate) fn from_auth(e: &AuthError) -> Self {
        match e {
            AuthError::NotSignedIn | AuthError::InvalidGrant(_) => {
                Self::not_signed_in(Some(&e.user_message()))
            }
            AuthError::Network(_) => Self::Offline(format!(
                "Could not reach the sign-in service ({e}). Check your connection (and \
                 CLERK_FRONTEND_API_URL), then try again; your session is kept."
            )),
            AuthError::Config(_) | AuthError::Discovery(_) => Self::Misconfigured(format!(
                "{} ({e}). Check CLERK_FRONTEND_API_URL / CLERK_PUBLISHABLE_KEY and CLERK_OAUTH_CLIENT_ID.",
                e.user_message()
            )),
            _ => Self::Failed(format!("{} ({e})", e.user_message())),
        }
    }

    /// Classifies a `courier-messages` error.
    pub(crate) fn from_messages(e: MessagesError) -> Self {
        match &e {
            MessagesError::Session(auth) => Self::from_auth(auth),
            MessagesError::NotSignedIn => Self::not_signed_in(None),
            MessagesError::Unreachable { .. } | MessagesError::Timeout { .. } => Self::Offline(
                format!("{e}. Check that it is running (CONVEX_URL) and your connection, then try again."),
            ),
            MessagesError::NotAuthenticated => Self::NotSignedIn(format!(
                "Convex did not accept your session: check that its auth configuration names \
                 CLERK_FRONTEND_API_URL as domain and CLERK_OAUTH_CLIENT_ID as applicationID. {LOGIN_HINT}"
            )),
            MessagesError::Url(_) => Self::Misconfigured(e.to_string()),
            MessagesError::Body(_) => Self::Usage(e.to_string()),
            MessagesError::Function { .. } => Self::Failed(format!("Convex refused: {e}")),
            _ => Self::Failed(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_errors_map_to_exit_codes() {
        assert_eq!(CliError::from_auth(&AuthError::NotSignedIn).exit_code(), 3);
        assert_eq!(
            CliError::from_auth(&AuthError::InvalidGrant("x".into())).exit_code(),
            3
        );
        assert_eq!(
            CliError::from_auth(&AuthError::Network("down".into())).exit_code(),
            4
        );
        assert_eq!(
            CliError::from_auth(&AuthError::Discovery("x".into())).exit_code(),
            5
        );
        assert_eq!(CliError::from_auth(&AuthError::TimedOut).exit_code(), 1);
        let msg = CliError::from_auth(&AuthError::NotSignedIn).to_string();
        assert!(msg.contains("courier-cli login"), "{msg}");
    }

    #[test]
    fn messages_errors_map_to_exit_codes() {
        let code = |e| CliError::from_messages(e).exit_code();
        assert_eq!(code(MessagesError::NotSignedIn), 3);
        assert_eq!(code(MessagesError::NotAuthenticated), 3);
        assert_eq!(
            code(MessagesError::Session(AuthError::Network("x".into()))),
            4
        );
        assert_eq!(
            code(MessagesError::Unreachable {
                url: "http://127.0.0.1:1".into()
            }),
            4
        );
        assert_eq!(
            code(MessagesError::Url(courier_messages::UrlError::NotSet)),
            5
        );
        let err = CliError::from_messages(MessagesError::Function {
            message: "too long".into(),
        });
        assert_eq!(
            (err.exit_code(), err.to_string()),
            (1, "Convex refused: too long".to_owned())
        );
    }
}
