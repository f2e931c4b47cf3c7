use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use clerk_auth::{AuthState, ClerkConfig, SessionManager, SessionStore, SignInOptions, User};
use test_support::{deliver, demo, play_browser, TestBackends};
use tokio::sync::watch;
use url::Url;

pub(crate) async fn backends(id_token_ttl: Option<Duration>) -> TestBackends {
    let mut b = TestBackends::builder().with_convex(false);
    if let Some(ttl) = id_token_ttl {
        b = b.token_ttl(ttl);
    }
    b.start().await.expect("backends start")
}

pub(crate) fn config(b: &TestBackends) -> ClerkConfig {
    let mut c = ClerkConfig::from_env(b.lookup()).expect("config");
    c.leeway = Duration::ZERO;
    c
}

pub(crate) fn manager(b: &TestBackends, store: Arc<dyn SessionStore>) -> SessionManager {
    SessionManager::new(config(b), store).expect("manager")
}

/// Signs in as Ada through the loopback listener, as a browser would.
pub(crate) async fn sign_in(m: &SessionManager) -> User {
    sign_in_as(m, demo::ADA_EMAIL).await
}

/// Signs in as the demo user `email`, as [`sign_in`] does.
pub(crate) async fn sign_in_as(m: &SessionManager, email: &str) -> User {
    let pending = m
        .begin_sign_in(SignInOptions::default())
        .await
        .expect("begin");
    let location = play_browser(pending.authorize_url(), email, demo::PASSWORD)
        .await
        .expect("browser");
    let (user, page) = tokio::join!(pending.finish(Duration::from_secs(20)), deliver(&location));
    let page = page.expect("loopback answered");
    assert_eq!(page.status, 200, "{}", page.body);
    user.expect("signed in")
}

pub(crate) async fn wait_for(
    rx: &mut watch::Receiver<AuthState>,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&AuthState) -> bool,
) -> AuthState {
    test_support::wait_for_value(rx, what, timeout, pred).await
}

pub(crate) fn is_offline(s: &AuthState) -> bool {
    matches!(s, AuthState::SignedIn { offline: true, .. })
}

pub(crate) fn is_online(s: &AuthState) -> bool {
    matches!(s, AuthState::SignedIn { offline: false, .. })
}

pub(crate) fn signed_out_code(s: &AuthState) -> Option<String> {
    match s {
        AuthState::SignedOut { reason } => {
            Some(reason.as_ref().map(|r| r.code.clone()).unwrap_or_default())
        }
        _ => None,
    }
}

/// The claims of a JWT, read without validation (the client validated it).
pub(crate) fn jwt_claims(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("b64");
    serde_json::from_slice(&bytes).expect("json")
}

/// The `exp` claim.
pub(crate) fn jwt_exp(token: &str) -> u64 {
    jwt_claims(token)["exp"].as_u64().expect("exp")
}

/// The `sub` claim.
pub(crate) fn jwt_sub(token: &str) -> String {
    jwt_claims(token)["sub"].as_str().expect("sub").to_owned()
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Whether anything still listens where the redirect pointed.
pub(crate) async fn listener_closed(redirect: &Url) -> bool {
    let port = redirect.port().expect("port");
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
}

pub(crate) fn query(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}
