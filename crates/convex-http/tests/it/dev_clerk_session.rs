//! A minimal OAuth client for tests and the bench: ID tokens from the real
//! dev-clerk through a real authorization-code + PKCE sign-in (the browser
//! played by test-support), as a `TokenSource`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use convex_http::{TokenError, TokenErrorKind, TokenSource};
use serde::Deserialize;
use sha2::Digest as _;
use test_support::{demo, TestBackends};
use url::Url;

/// A minimal OAuth client for the test: signs Ada in once (code + PKCE),
/// then hands out her ID token; `refresh` uses the refresh token. It never
/// refreshes on its own, so an expired token reaches Convex.
pub(crate) struct DevClerkSession {
    http: reqwest::Client,
    token_endpoint: Url,
    client_id: String,
    tokens: Mutex<(String, String)>,
    refreshes: AtomicUsize,
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: String,
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    authorization_endpoint: String,
    token_endpoint: String,
}

impl DevClerkSession {
    pub(crate) async fn sign_in(backends: &TestBackends, email: &str) -> Arc<Self> {
        let http = reqwest::Client::new();
        let issuer = backends.issuer_url();
        let discovery: Discovery = http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let verifier = format!(
            "verifier-{}-0123456789abcdefghijklmnopqrstuvwxyz",
            std::process::id()
        );
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(&verifier));
        let redirect_uri = "http://127.0.0.1:9/callback";
        let mut authorize = Url::parse(&discovery.authorization_endpoint).unwrap();
        authorize
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", backends.client_id())
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid profile email offline_access")
            .append_pair("state", "state-of-the-test")
            .append_pair("nonce", "nonce-of-the-test")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        let callback = test_support::play_browser(&authorize, email, demo::PASSWORD)
            .await
            .unwrap();
        let query: std::collections::HashMap<_, _> = callback.query_pairs().into_owned().collect();
        assert_eq!(
            query.get("state").map(String::as_str),
            Some("state-of-the-test")
        );
        let code = query.get("code").expect("a code in the callback").clone();

        let response: TokenResponse = http
            .post(&discovery.token_endpoint)
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", redirect_uri),
                ("client_id", backends.client_id()),
                ("code_verifier", &verifier),
            ])
            .send()
            .await
            .unwrap()
            .error_for_status()
            .unwrap()
            .json()
            .await
            .unwrap();
        Arc::new(Self {
            http,
            token_endpoint: Url::parse(&discovery.token_endpoint).unwrap(),
            client_id: backends.client_id().to_owned(),
            tokens: Mutex::new((
                response.id_token,
                response.refresh_token.expect("offline_access"),
            )),
            refreshes: AtomicUsize::new(0),
        })
    }

    pub(crate) fn refreshes(&self) -> usize {
        self.refreshes.load(Ordering::SeqCst)
    }
}

#[convex_http::async_trait]
impl TokenSource for DevClerkSession {
    async fn token(&self) -> Result<Option<String>, TokenError> {
        Ok(Some(self.tokens.lock().unwrap().0.clone()))
    }

    async fn refresh(&self) -> Result<Option<String>, TokenError> {
        self.refreshes.fetch_add(1, Ordering::SeqCst);
        let refresh_token = self.tokens.lock().unwrap().1.clone();
        let response = self
            .http
            .post(self.token_endpoint.clone())
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_token),
                ("client_id", &self.client_id),
            ])
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| TokenError::new(TokenErrorKind::Offline, e))?;
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|e| TokenError::new(TokenErrorKind::Other, e))?;
        let mut tokens = self.tokens.lock().unwrap();
        tokens.0 = body.id_token;
        if let Some(rotated) = body.refresh_token {
            tokens.1 = rotated;
        }
        Ok(Some(tokens.0.clone()))
    }
}
