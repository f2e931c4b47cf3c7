//! The one adapter between Courier's two core crates: [`SessionTokens`]
//! hands the Convex client the session's current ID token, and a forced
//! refresh when Convex refused it.
//!
//! `clerk-auth` knows nothing of Convex and `convex-http` nothing of Clerk;
//! this crate is the only place they meet, so the desktop app and
//! `courier-cli` share it instead of each writing the same glue. It holds
//! no tokens of its own and never logs one.

use clerk_auth::{AuthError, SessionManager};
use convex_http::{TokenError, TokenErrorKind, TokenSource};

/// The session manager, seen by the Convex client as a token source.
#[derive(Clone, Debug)]
pub struct SessionTokens(pub SessionManager);

#[convex_http::async_trait]
impl TokenSource for SessionTokens {
    async fn token(&self) -> Result<Option<String>, TokenError> {
        let token = self.0.id_token().await.map_err(token_error)?;
        Ok(Some(token.secret().to_owned()))
    }

    async fn refresh(&self) -> Result<Option<String>, TokenError> {
        let token = self.0.force_refresh().await.map_err(token_error)?;
        Ok(Some(token.secret().to_owned()))
    }
}

/// Keeps the `AuthError` as the source (callers downcast it for its
/// `user_message`) and says what kind of failure it is.
pub fn token_error(error: AuthError) -> TokenError {
    let kind = match &error {
        AuthError::NotSignedIn | AuthError::InvalidGrant(_) | AuthError::SignedOutElsewhere => {
            TokenErrorKind::NotSignedIn
        }
        AuthError::Network(_) => TokenErrorKind::Offline,
        _ => TokenErrorKind::Other,
    };
    TokenError::new(kind, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_auth_error() {
        for (error, kind) in [
            (AuthError::NotSignedIn, TokenErrorKind::NotSignedIn),
            (
                AuthError::InvalidGrant("gone".into()),
                TokenErrorKind::NotSignedIn,
            ),
            (AuthError::SignedOutElsewhere, TokenErrorKind::NotSignedIn),
            (AuthError::Network("down".into()), TokenErrorKind::Offline),
            (AuthError::Protocol("?".into()), TokenErrorKind::Other),
        ] {
            assert_eq!(token_error(error).kind(), kind);
        }
        let e = token_error(AuthError::Network("down".into()));
        assert!(matches!(
            e.source_as::<AuthError>(),
            Some(AuthError::Network(_))
        ));
    }
}
