//! How the socket gets its tokens from the session.
//!
//! The official client asks its fetcher for a token when auth is set
//! (`force_refresh` false) and again on every reconnect and after an
//! `AuthError` (`force_refresh` true, which here means a forced refresh).
//! It never asks on its own before a token expires, so [`follow_session`]
//! sets auth again each time the session has a new ID token (a scheduled
//! refresh here or in another process): the socket never carries an
//! expired token.

use std::future::Future;
use std::pin::Pin;

use clerk_auth::{AuthError, SessionManager};
use convex::{AuthTokenFetcher, AuthenticationToken, ConvexClient};

/// A fetcher reading the session's ID token.
pub(crate) fn fetcher(session: SessionManager) -> AuthTokenFetcher {
    Box::new(move |force_refresh: bool| {
        let session = session.clone();
        Box::pin(async move { Ok(token(&session, force_refresh).await) })
            as Pin<Box<dyn Future<Output = anyhow::Result<AuthenticationToken>> + Send>>
    })
}

async fn token(session: &SessionManager, force_refresh: bool) -> AuthenticationToken {
    let result = if force_refresh {
        match session.force_refresh().await {
            // The issuer away during a reconnect: the cached token, if still
            // valid, is better than none (the socket stays authenticated).
            Err(e) if e.is_transient() => session.id_token().await,
            other => other,
        }
    } else {
        session.id_token().await
    };
    match result {
        Ok(token) => AuthenticationToken::User(token.secret().to_owned()),
        Err(AuthError::NotSignedIn) => AuthenticationToken::None,
        Err(error) => {
            // Never the token: only what kind of failure it was.
            tracing::warn!(code = %error.code(), "no token for the Convex socket");
            AuthenticationToken::None
        }
    }
}

/// Sets auth now, then again on each new ID token (and clears it at
/// sign-out), for as long as the session lives.
pub(crate) async fn follow_session(mut client: ConvexClient, session: SessionManager) {
    let mut tokens = session.watch_id_token();
    tokens.borrow_and_update();
    while tokens.changed().await.is_ok() {
        let signed_in = tokens.borrow_and_update().is_some();
        let auth = signed_in.then(|| fetcher(session.clone()));
        client.set_auth_callback(auth).await;
    }
}
