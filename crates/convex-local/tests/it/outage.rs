//! An issuer outage: known keys keep verifying past their age while
//! refetches fail or hang, nothing waits on a fetch it does not need, and
//! tokens with unknown `kid`s neither evict verified tokens nor slow others.

use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, Header};
use serde_json::json;

use crate::util::{sign, sign_with_header, Backend, TestIssuer};

/// A token no call has presented yet (so its signature is checked anew).
fn fresh_token(issuer: &TestIssuer, n: usize) -> String {
    sign(
        "rsa_a",
        &issuer.claims(&format!("user_{n}"), "Someone", "someone@example.com"),
    )
}

/// A token naming a key the issuer never published (unsigned garbage signature).
fn unknown_kid_token(issuer: &TestIssuer) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("no-such-key".into());
    sign_with_header(
        "rsa_a",
        header,
        &issuer.claims("user_mallory", "Mallory", "m@example.com"),
    )
}

/// Calls `users:me` and returns (status, seconds it took).
async fn me(b: &Backend, token: &str) -> (u16, f64) {
    let started = Instant::now();
    let (status, body) = b.call("query", "users:me", json!({}), Some(token)).await;
    if status == 200 {
        assert_eq!(body["status"], "success", "{body}");
    }
    (status, started.elapsed().as_secs_f64())
}

async fn backend_with_old_keys(issuer: &TestIssuer) -> Backend {
    let b = Backend::start_with(issuer, |c| c.keys_max_age = Duration::from_millis(300)).await;
    assert_eq!(me(&b, &fresh_token(issuer, 0)).await.0, 200);
    assert_eq!(issuer.jwks_hits(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    b
}

#[tokio::test]
async fn known_keys_keep_verifying_when_the_issuer_is_gone() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = backend_with_old_keys(&issuer).await;
    issuer.stop().await;
    for n in 1..=5 {
        let (status, secs) = me(&b, &fresh_token(&issuer, n)).await;
        assert_eq!(
            status, 200,
            "call {n}: a valid token refused during an outage"
        );
        assert!(secs < 2.0, "call {n} took {secs:.1} s");
        // Past the refetch interval, another background refetch fails: still fine.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_hanging_issuer_slows_no_call_whose_key_is_known() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = backend_with_old_keys(&issuer).await;
    issuer.set_stalled(true);
    // This call starts the (hanging) background refetch, and is not held by it.
    let (status, secs) = me(&b, &fresh_token(&issuer, 1)).await;
    assert_eq!(status, 200);
    assert!(secs < 2.0, "took {secs:.1} s");
    // An unknown kid waits for the fetch under way; valid calls meanwhile do not.
    let unknown = unknown_kid_token(&issuer);
    let b = std::sync::Arc::new(b);
    let waiting = {
        let b = b.clone();
        tokio::spawn(async move { me(&b, &unknown).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let calls: Vec<_> = (2..6)
        .map(|n| {
            let (b, token) = (b.clone(), fresh_token(&issuer, n));
            tokio::spawn(async move { me(&b, &token).await })
        })
        .collect();
    for call in calls {
        let (status, _) = call.await.unwrap();
        assert_eq!(status, 200);
    }
    let secs = started.elapsed().as_secs_f64();
    assert!(
        secs < 2.0,
        "valid calls waited {secs:.1} s behind a hung fetch"
    );
    assert!(
        !waiting.is_finished(),
        "the unknown kid waits for the fetch"
    );
    waiting.abort();
}

#[tokio::test]
async fn an_unknown_kid_does_not_evict_verified_tokens() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let valid = fresh_token(&issuer, 1);
    assert_eq!(me(&b, &valid).await.0, 200);
    assert_eq!(b.server.cached_tokens(), 1);

    let unknown = unknown_kid_token(&issuer);
    assert_eq!(me(&b, &unknown).await.0, 401);
    assert_eq!(issuer.jwks_hits(), 2, "an unknown kid refetches once");
    assert_eq!(
        b.server.cached_tokens(),
        1,
        "a refetch that keeps the key keeps its tokens"
    );
    // A burst of unknown kids does not refetch, evict or slow anything.
    for _ in 0..20 {
        let (status, secs) = me(&b, &unknown).await;
        assert_eq!(status, 401);
        assert!(secs < 1.0, "{secs:.1} s");
    }
    assert_eq!(issuer.jwks_hits(), 2);
    assert_eq!(b.server.cached_tokens(), 1);
    issuer.stop().await;
    assert_eq!(me(&b, &valid).await.0, 200);
}

#[tokio::test]
async fn a_failed_first_fetch_is_retried_and_explained() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let token = fresh_token(&issuer, 1);
    let b = Backend::start(&issuer).await;
    issuer.stop().await;
    let (status, body) = b.call("query", "users:me", json!({}), Some(&token)).await;
    assert_eq!(status, 401);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("fetching the issuer's OpenID configuration failed"),
        "{body}"
    );
}
