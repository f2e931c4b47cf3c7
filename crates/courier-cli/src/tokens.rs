//! The glue between the two core crates: `convex_http::TokenSource` for
//! `clerk_auth::SessionManager` (a newtype, since both are foreign here).
//! The desktop app uses the same pattern.

use clerk_auth::{AuthError, SessionManager};
use convex_http::{TokenError, TokenErrorKind, TokenSource};

/// Hands Convex the session's ID token; a 401 forces a refresh.
#[derive(Clone, Debug)]
pub(crate) struct SessionTokens(pub(crate) SessionManager);

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
pub(crate) fn token_error(e: AuthError) -> TokenError {
    let kind = match &e {
        AuthError::NotSignedIn | AuthError::InvalidGrant(_) => TokenErrorKind::NotSignedIn,
        AuthError::Network(_) => TokenErrorKind::Offline,
        _ => TokenErrorKind::Other,
    };
    TokenError::new(kind, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_auth_error() {
        assert_eq!(
            token_error(AuthError::NotSignedIn).kind(),
            TokenErrorKind::NotSignedIn
        );
        assert_eq!(
            token_error(AuthError::InvalidGrant("gone".into())).kind(),
            TokenErrorKind::NotSignedIn
        );
        assert_eq!(
            token_error(AuthError::Network("down".into())).kind(),
            TokenErrorKind::Offline
        );
        assert_eq!(
            token_error(AuthError::Protocol("?".into())).kind(),
            TokenErrorKind::Other
        );
        let e = token_error(AuthError::Network("down".into()));
        assert!(matches!(
            e.source_as::<AuthError>(),
            Some(AuthError::Network(_))
        ));
    }
}
