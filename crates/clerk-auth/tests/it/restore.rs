use std::sync::Arc;
use std::time::Duration;

use clerk_auth::{AuthState, MemoryStore, SessionStore, StoreError};
use test_support::demo;

use crate::util::*;

#[tokio::test]
async fn restore_from_the_store_refreshes_into_signed_in() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    {
        let first = manager(&b, store.clone());
        sign_in(&first).await;
    }
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
    assert_eq!(b.clerk().grants().refresh_token - before, 1);
    assert!(second.id_token().await.is_ok());
}

#[tokio::test]
async fn restore_while_the_issuer_is_down_is_offline_then_online() {
    let mut b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    {
        let first = manager(&b, store.clone());
        sign_in(&first).await;
        // Discover before the issuer goes away only in the first manager.
    }
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
    let copy = Arc::new(MemoryStore::new());
    copy.save(&store.load().unwrap().unwrap()).unwrap();

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
