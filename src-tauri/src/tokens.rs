//! `convex-http` asks for tokens through its own `TokenSource` trait; this
//! is the one place where it meets `clerk-auth`'s session manager.

use clerk_auth::{AuthError, SessionManager};
use convex_http::{TokenError, TokenErrorKind, TokenSource};

/// The session manager, seen by the Convex client as a token source.
pub(crate) struct SessionTokens(pub(crate) SessionManager);

fn token_error(error: AuthError) -> TokenError {
    let kind = match error {
        AuthError::Network(_) => TokenErrorKind::Offline,
        AuthError::NotSignedIn | AuthError::InvalidGrant(_) => TokenErrorKind::NotSignedIn,
        _ => TokenErrorKind::Other,
    };
    TokenError::new(kind, error)
}

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
