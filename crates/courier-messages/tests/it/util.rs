use std::time::Duration;

use clerk_auth::{ClerkConfig, KeyringStore, SessionManager, SignInOptions};
use courier_messages::{MessagesClient, Snapshot};
use test_support::{deliver, demo, play_browser, TestBackends};
use tokio::sync::watch;

/// Long enough for any push on a loaded machine; a missing one fails.
pub(crate) const PUSH: Duration = Duration::from_secs(10);

/// dev-clerk and convex-local, with `ttl` ID tokens when given.
pub(crate) async fn backends(ttl: Option<Duration>) -> TestBackends {
    let mut b = TestBackends::builder();
    if let Some(ttl) = ttl {
        b = b.token_ttl(ttl);
    }
    b.start().await.expect("backends start")
}

/// A session of the demo user `email`, signed in through the loopback
/// listener as a browser would, kept in its own keychain entry.
pub(crate) async fn signed_in(b: &TestBackends, email: &str) -> SessionManager {
    assert!(
        test_support::secret_service_available(),
        "{}",
        test_support::KEYCHAIN_ENV_NOTE
    );
    let mut config = ClerkConfig::from_env(b.lookup()).expect("config");
    config.leeway = Duration::ZERO;
    let service = format!("dev.courier.test.messages.{email}");
    let store = KeyringStore::new(&service, &config.issuer_str(), &config.client_id)
        .expect("a Secret Service");
    let session = SessionManager::new(config, std::sync::Arc::new(store)).expect("manager");
    let pending = session
        .begin_sign_in(SignInOptions::default())
        .await
        .expect("begin");
    let location = play_browser(pending.authorize_url(), email, demo::PASSWORD)
        .await
        .expect("browser");
    let (user, page) = tokio::join!(pending.finish(Duration::from_secs(20)), deliver(&location));
    assert_eq!(page.expect("loopback answered").status, 200);
    user.expect("signed in");
    session
}

pub(crate) async fn client(b: &TestBackends, session: &SessionManager) -> MessagesClient {
    let url = url::Url::parse(&b.convex().url()).unwrap();
    MessagesClient::connect(&url, session.clone())
        .await
        .expect("client")
}

/// Waits for a snapshot that satisfies `pred`.
pub(crate) async fn wait_for(
    rx: &mut watch::Receiver<Snapshot>,
    what: &str,
    pred: impl Fn(&Snapshot) -> bool,
) -> Snapshot {
    test_support::wait_for_value(rx, what, PUSH, pred).await
}

pub(crate) fn bodies(s: &Snapshot) -> Vec<&str> {
    s.messages.iter().map(|m| m.body.as_str()).collect()
}

/// Ada's token identifier at these backends.
pub(crate) fn ada(b: &TestBackends) -> String {
    format!("{}|{}", b.issuer_url(), demo::ADA_ID)
}
