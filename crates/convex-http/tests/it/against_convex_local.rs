//! Round trips against the real convex-local, signed in at the real
//! dev-clerk (both in-process on port 0 via test-support).

use std::sync::Arc;
use std::time::Duration;

use convex_http::{ConvexClient, ConvexError, NoToken, StaticToken};
use serde::Deserialize;
use serde_json::{json, Value};
use test_support::{demo, TestBackends, TestBackendsBuilder};
use url::Url;

use crate::dev_clerk_session::DevClerkSession;
use crate::util::logs;

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
