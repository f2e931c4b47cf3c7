use std::sync::Arc;
use std::time::Duration;

use clerk_auth::{AuthState, MemoryStore, SessionStore, StoreError};
use test_support::demo;

use crate::util::*;

/// The keychain's copy without its cached ID token, as an older build (or
/// a token too large to cache) leaves it.
fn without_cached_token(store: &MemoryStore) -> Arc<MemoryStore> {
    let mut stored = store.load().unwrap().expect("a stored session");
    stored.id_token = None;
    let copy = Arc::new(MemoryStore::new());
    copy.save(&stored).unwrap();
    copy
}

#[tokio::test]
async fn restore_uses_the_cached_id_token_without_a_refresh_grant() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    let first_token = {
        let first = manager(&b, store.clone());
        sign_in(&first).await;
        first.id_token().await.unwrap()
    };
    let before = b.clerk().grants().refresh_token;
    let second = manager(&b, store.clone());
    assert_eq!(second.state(), AuthState::Loading);
    second.restore().await;
    match second.state() {
        AuthState::SignedIn {
            user,
            offline: false,
        } => assert_eq!(user.id, demo::ADA_ID),
        other => panic!("{other:?}"),
    }
    let token = second.id_token().await.unwrap();
    assert_eq!(token.secret(), first_token.secret(), "the cached token");
    assert_eq!(b.clerk().grants().refresh_token - before, 0);
}

#[tokio::test]
async fn restore_without_a_cached_token_refreshes_once() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    {
        let first = manager(&b, store.clone());
        sign_in(&first).await;
    }
    let copy = without_cached_token(&store);
    let before = b.clerk().grants().refresh_token;
    let second = manager(&b, copy.clone());
    second.restore().await;
    assert!(is_online(&second.state()), "{:?}", second.state());
    assert_eq!(b.clerk().grants().refresh_token - before, 1);
    assert!(second.id_token().await.is_ok());
    assert!(
        copy.load().unwrap().unwrap().id_token.is_some(),
        "the refreshed token is cached"
    );
}

#[tokio::test]
async fn restore_while_the_issuer_is_down_uses_the_cached_token() {
    let mut b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    {
        let first = manager(&b, store.clone());
        sign_in(&first).await;
    }
    b.stop_clerk().await;
    let m = manager(&b, store.clone());
    m.restore().await;
    assert!(is_online(&m.state()), "no sign-out: {:?}", m.state());
    assert!(
        m.id_token().await.is_ok(),
        "the cached token serves callers"
    );
}

#[tokio::test]
async fn restore_while_the_issuer_is_down_is_offline_then_online() {
    let mut b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    {
        let first = manager(&b, store.clone());
        sign_in(&first).await;
    }
    let store = without_cached_token(&store);
    b.stop_clerk().await;
    let m = manager(&b, store.clone());
    let mut rx = m.subscribe();
    m.restore().await;
    match m.state() {
        AuthState::SignedIn {
            user,
            offline: true,
        } => {
            assert_eq!(user.id, demo::ADA_ID);
            assert_eq!(
                user.name.as_deref(),
                Some("Ada Lovelace"),
                "stored user metadata shown offline"
            );
        }
        other => panic!("{other:?}"),
    }
    b.start_clerk().await.unwrap();
    wait_for(&mut rx, "online", Duration::from_secs(20), is_online).await;
    assert!(m.id_token().await.is_ok());
}

#[tokio::test]
async fn restore_with_nothing_or_a_locked_keychain() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    m.restore().await;
    assert_eq!(m.state(), AuthState::SignedOut { reason: None });

    store.set_failure(Some(StoreError::Locked("locked".into())));
    m.restore().await;
    assert_eq!(signed_out_code(&m.state()).as_deref(), Some("keychain"));
}

#[tokio::test]
async fn sign_out_revokes_clears_the_store_and_memory() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    sign_in(&m).await;
    let copy = without_cached_token(&store);

    assert_eq!(b.clerk().active_grants(), 1);
    m.sign_out().await.unwrap();
    assert_eq!(
        b.clerk().active_grants(),
        0,
        "the grant ended at the issuer"
    );
    assert_eq!(m.state(), AuthState::SignedOut { reason: None });
    assert!(store.raw().is_none());
    assert!(m.id_token().await.is_err());

    // The refresh token is dead at the issuer too.
    let other = manager(&b, copy.clone());
    other.restore().await;
    assert_eq!(
        signed_out_code(&other.state()).as_deref(),
        Some("session_ended"),
        "{:?}",
        other.state()
    );
    assert!(copy.raw().is_none());
}
