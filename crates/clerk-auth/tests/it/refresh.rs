use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use clerk_auth::{AuthError, AuthState, MemoryStore, SessionStore};
use test_support::{demo, TokenFault};

use crate::util::*;

const TTL: Duration = Duration::from_secs(3);

#[tokio::test]
async fn three_second_tokens_are_refreshed_ahead_for_fifteen_seconds() {
    let b = backends(Some(TTL)).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    sign_in(&m).await;
    let start = b.clerk().grants().refresh_token;

    // Nobody asks for a token: only the schedule can refresh.
    tokio::time::sleep(Duration::from_millis(7_500)).await;
    let scheduled = b.clerk().grants().refresh_token - start;
    assert!(
        scheduled >= 3,
        "{scheduled} scheduled refreshes in 7.5 s with 3 s tokens"
    );

    // Callers always get a token with time left.
    let until = Instant::now() + Duration::from_millis(7_500);
    let mut calls = 0;
    while Instant::now() < until {
        let t = m.id_token().await.expect("token");
        assert!(
            t.expires_at() > SystemTime::now(),
            "returned an expired token"
        );
        assert!(
            jwt_exp(t.secret()) >= now_secs(),
            "exp {} < now {}",
            jwt_exp(t.secret()),
            now_secs()
        );
        calls += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(calls > 30);
    let total = b.clerk().grants().refresh_token - start;
    assert!(total >= 5, "{total} refreshes in 15 s");
    assert!(
        total <= 10,
        "{total} refreshes in 15 s: refreshing far too often"
    );
    assert!(matches!(
        m.state(),
        AuthState::SignedIn { offline: false, .. }
    ));
    // The rotated refresh token was stored each time.
    let stored = store.load().unwrap().unwrap();
    assert_eq!(stored.user.id, demo::ADA_ID);
}

#[tokio::test]
async fn fifty_concurrent_callers_share_one_refresh() {
    let b = backends(Some(TTL)).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    m.set_auto_refresh(false);
    sign_in(&m).await;
    let first = m.id_token().await.unwrap();
    // Let it expire (no schedule to save it).
    let left = first
        .expires_at()
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(100)).await;
    let before = b.clerk().grants();

    let calls = (0..50).map(|_| {
        let m = m.clone();
        tokio::spawn(async move { m.id_token().await })
    });
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap().expect("token"));
    }
    let after = b.clerk().grants();
    assert_eq!(
        after.refresh_token - before.refresh_token,
        1,
        "exactly one refresh request"
    );
    assert!(tokens.iter().all(|t| t.secret() == tokens[0].secret()));
    assert_ne!(tokens[0].secret(), first.secret());
    assert!(tokens[0].expires_at() > SystemTime::now());
}

#[tokio::test]
async fn force_refresh_callers_queued_behind_one_refresh_share_it() {
    let b = backends(None).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    sign_in(&m).await;
    let before = b.clerk().grants().refresh_token;
    b.clerk()
        .set_token_fault(TokenFault::Stall(Duration::from_millis(300)));
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move { m.force_refresh().await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    b.clerk().set_token_fault(TokenFault::None);
    let n = b.clerk().grants().refresh_token - before;
    assert!(
        (1..=2).contains(&n),
        "{n} refreshes for 10 concurrent forced refreshes"
    );
}

#[tokio::test]
async fn a_revoked_grant_ends_the_session_and_clears_the_store() {
    let b = backends(Some(TTL)).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    let mut rx = m.subscribe();
    sign_in(&m).await;
    assert!(store.raw().is_some());
    assert_eq!(b.clerk().end_user_grants(demo::ADA_ID), 1);

    let s = wait_for(&mut rx, "SignedOut", Duration::from_secs(10), |s| {
        matches!(s, AuthState::SignedOut { .. })
    })
    .await;
    let AuthState::SignedOut {
        reason: Some(reason),
    } = s
    else {
        panic!("{s:?}")
    };
    assert_eq!(reason.code, "session_ended");
    assert!(reason.message.contains("Sign in again"));
    assert!(store.raw().is_none(), "the store entry is gone");
    assert!(matches!(m.id_token().await, Err(AuthError::NotSignedIn)));
}

#[tokio::test]
async fn issuer_unavailable_keeps_the_session_offline_then_recovers() {
    let b = backends(Some(TTL)).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    let mut rx = m.subscribe();
    let user = sign_in(&m).await;
    let stored_before = store.load().unwrap().unwrap();

    b.clerk().set_token_fault(TokenFault::Unavailable);
    wait_for(&mut rx, "offline", Duration::from_secs(6), is_offline).await;
    let refreshed = b.clerk().grants().refresh_token;
    // Stays signed in while the issuer is away, token expired or not.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        m.state(),
        AuthState::SignedIn {
            user: user.clone(),
            offline: true
        }
    );
    assert!(matches!(
        m.id_token().await,
        Err(AuthError::Network(_)) | Ok(_)
    ));
    assert_eq!(
        store.load().unwrap().unwrap(),
        stored_before,
        "nothing lost while offline"
    );

    b.clerk().set_token_fault(TokenFault::None);
    wait_for(&mut rx, "online again", Duration::from_secs(20), is_online).await;
    assert!(b.clerk().grants().refresh_token > refreshed);
    let t = m.id_token().await.unwrap();
    assert!(t.expires_at() > SystemTime::now());
    assert_eq!(store.load().unwrap().unwrap().user, user);
}

#[tokio::test]
async fn issuer_stopped_and_restarted_on_the_same_port_recovers() {
    let mut b = backends(Some(TTL)).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    let mut rx = m.subscribe();
    let user = sign_in(&m).await;

    b.stop_clerk().await;
    wait_for(&mut rx, "offline", Duration::from_secs(6), is_offline).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(is_offline(&m.state()));
    assert!(store.raw().is_some());

    b.start_clerk().await.unwrap();
    wait_for(&mut rx, "online again", Duration::from_secs(20), is_online).await;
    let t = m.id_token().await.unwrap();
    assert!(t.expires_at() > SystemTime::now());
    assert_eq!(
        m.state(),
        AuthState::SignedIn {
            user,
            offline: false
        }
    );
    assert!(b.clerk().grants().refresh_token >= 1);
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_on_the_next_refresh() {
    let b = backends(None).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    sign_in(&m).await;
    let kid = b.clerk().rotate_key().await.unwrap();
    let t = m
        .force_refresh()
        .await
        .expect("refresh validates with the new key");
    assert_eq!(
        clerk_auth::IdTokenValidator::kid_of(t.secret()).as_deref(),
        Some(kid.as_str())
    );
    assert!(matches!(
        m.state(),
        AuthState::SignedIn { offline: false, .. }
    ));
}
