//! Round trips against the real convex-local, signed in at the real
//! dev-clerk (both in-process on port 0 via test-support).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use convex_http::{
    ConvexClient, ConvexError, NoToken, StaticToken, TokenError, TokenErrorKind, TokenSource,
};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest as _;
use test_support::{demo, TestBackends, TestBackendsBuilder};
use url::Url;

use crate::util::logs;

/// A minimal OAuth client for the test: signs Ada in once (code + PKCE),
/// then hands out her ID token; `refresh` uses the refresh token. It never
/// refreshes on its own, so an expired token reaches Convex.
struct DevClerkSession {
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
    async fn sign_in(backends: &TestBackends, email: &str) -> Arc<Self> {
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

    fn refreshes(&self) -> usize {
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

#[derive(Debug, Deserialize)]
struct Page {
    page: Vec<Value>,
}

fn list_args(n: u32) -> Value {
    json!({"paginationOpts": {"numItems": n, "cursor": null}})
}

/// Starts the backends one test at a time: dev-clerk's first RSA key takes
/// seconds in a debug build and test-support reuses it afterwards, so
/// starting them all at once would make every test generate one.
async fn start(builder: TestBackendsBuilder) -> TestBackends {
    static STARTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = STARTING.lock().await;
    builder.start().await.unwrap()
}

fn convex_url(backends: &TestBackends) -> Url {
    Url::parse(&backends.convex().url()).unwrap()
}

#[tokio::test]
async fn send_then_list_round_trip_against_convex_local() {
    logs();
    let backends = start(TestBackends::builder()).await;
    let ada = DevClerkSession::sign_in(&backends, demo::ADA_EMAIL).await;
    let convex = ConvexClient::new(convex_url(&backends), ada.clone()).unwrap();

    let me: Value = convex.query("users:me", &()).await.unwrap();
    let token_identifier = format!("{}|{}", backends.issuer_url(), demo::ADA_ID);
    assert_eq!(me["tokenIdentifier"], token_identifier.as_str());

    let body = "Hello from convex-http";
    let id: String = convex
        .mutation(
            "messages:send",
            &json!({"body": body, "clientMessageId": "it-round-trip-1"}),
        )
        .await
        .unwrap();
    let again: String = convex
        .mutation(
            "messages:send",
            &json!({"body": body, "clientMessageId": "it-round-trip-1"}),
        )
        .await
        .unwrap();
    assert_eq!(again, id, "a repeated clientMessageId is written once");

    let page: Page = convex.query("messages:list", &list_args(5)).await.unwrap();
    let newest = &page.page[0];
    assert_eq!(newest["_id"], id.as_str());
    assert_eq!(newest["body"], body);
    assert_eq!(newest["authorName"], "Ada Lovelace");
    assert!(
        page.page.iter().skip(1).all(|m| m["body"] != body),
        "stored once"
    );

    // What the server stored, read past the HTTP API.
    let stored = backends
        .convex()
        .messages_by_author(&token_identifier)
        .unwrap();
    assert_eq!(stored[0]["body"], body);
    assert_eq!(ada.refreshes(), 0, "a fresh token needs no refresh");
}

#[tokio::test]
async fn expired_token_401_refreshes_once_and_retries_against_convex_local() {
    logs();
    let backends = start(TestBackends::builder().id_token_ttl(Duration::from_secs(2))).await;
    let ada = DevClerkSession::sign_in(&backends, demo::ADA_EMAIL).await;
    let convex = ConvexClient::new(convex_url(&backends), ada.clone()).unwrap();
    let _: Page = convex.query("messages:list", &list_args(1)).await.unwrap();
    assert_eq!(backends.clerk().grants().refresh_token, 0);

    // `exp` has second granularity and convex-local's leeway is zero.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let page: Page = convex.query("messages:list", &list_args(3)).await.unwrap();
    assert!(!page.page.is_empty(), "Ada's seeded messages");
    assert_eq!(ada.refreshes(), 1, "exactly one forced refresh");
    assert_eq!(
        backends.clerk().grants().refresh_token,
        1,
        "dev-clerk saw one refresh grant"
    );

    // The refreshed token keeps working without another refresh.
    let _: Page = convex.query("messages:list", &list_args(1)).await.unwrap();
    assert_eq!(ada.refreshes(), 1);
}

#[tokio::test]
async fn rejected_token_surfaces_unauthenticated_after_one_retry_against_convex_local() {
    logs();
    let backends = start(TestBackends::builder()).await;
    let convex = ConvexClient::new(
        convex_url(&backends),
        Arc::new(StaticToken::new("not.a.jwt")),
    )
    .unwrap();
    let err = convex
        .query::<_, Value>("messages:list", &list_args(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConvexError::Unauthenticated { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn no_token_runs_unauthenticated_against_convex_local() {
    logs();
    let backends = start(TestBackends::builder()).await;
    let convex = ConvexClient::new(convex_url(&backends), Arc::new(NoToken)).unwrap();
    let me: Value = convex.query("users:me", &()).await.unwrap();
    assert_eq!(me, Value::Null);
    let err = convex
        .query::<_, Value>("messages:list", &list_args(1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConvexError::Function { message, .. } if message.contains("Not authenticated")),
        "{err:?}"
    );
}
