//! One session, several managers on one store and one lock file, as several
//! Courier processes share the keychain (the subprocess tests in
//! courier-cli do the same with real processes and the real keychain).
//! Against dev-clerk, which rotates refresh tokens and revokes the grant on
//! reuse; zero clock leeway.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clerk_auth::{AuthState, MemoryStore, SessionManager, SessionStore};
use test_support::{demo, TokenFault};

use crate::util::*;

fn usable_for_a_caller(token: &clerk_auth::IdToken) -> bool {
    token.time_left() > Duration::ZERO
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_managers_share_one_rotating_session_without_reuse() {
    let b = backends(Some(Duration::from_secs(3))).await;
    let store = Arc::new(MemoryStore::new());
    let first = manager(&b, store.clone());
    first.restore().await;
    sign_in(&first).await;
    let others: Vec<SessionManager> = (0..2).map(|_| manager(&b, store.clone())).collect();
    for m in &others {
        m.restore().await;
        assert!(is_online(&m.state()), "{:?}", m.state());
    }
    let before = b.clerk().grants();

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut tasks = Vec::new();
    for m in std::iter::once(first.clone()).chain(others.iter().cloned()) {
        tasks.push(tokio::spawn(async move {
            let mut calls = 0u32;
            while Instant::now() < deadline {
                let token = m.id_token().await.expect("a token on every call");
                assert!(usable_for_a_caller(&token));
                calls += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            calls
        }));
    }
    let mut calls = 0;
    for t in tasks {
        calls += t.await.unwrap();
    }
    let grants = b.clerk().grants();
    let refreshes = grants.refresh_token - before.refresh_token;
    eprintln!("{calls} calls, {refreshes} refresh grants");
    assert_eq!(grants.reused_refresh_tokens, 0);
    assert_eq!(b.clerk().active_grants(), 1, "the grant is alive");
    assert!(refreshes >= 3, "tokens of 3 s for 10 s: {refreshes}");
    assert!(
        refreshes * 5 < u64::from(calls),
        "{refreshes} refreshes for {calls} calls"
    );
    for m in std::iter::once(&first).chain(&others) {
        assert!(is_online(&m.state()), "{:?}", m.state());
    }
}

#[tokio::test]
async fn a_sign_out_elsewhere_reaches_the_other_manager() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    let app = manager(&b, store.clone());
    app.restore().await;
    sign_in(&app).await;
    let cli = manager(&b, store.clone());
    cli.set_auto_refresh(false);
    cli.restore().await;
    assert!(is_online(&cli.state()));

    let mut rx = app.subscribe();
    cli.sign_out().await.unwrap();
    let state = wait_for(
        &mut rx,
        "signed out elsewhere",
        clerk_auth::KEYCHAIN_WATCH_INTERVAL * 3,
        |s| matches!(s, AuthState::SignedOut { .. }),
    )
    .await;
    assert_eq!(
        signed_out_code(&state).as_deref(),
        Some("signed_out_elsewhere")
    );
    assert!(app.prompt_login(), "the next sign-in shows the form");
    assert!(store.raw().is_none(), "nothing written back");
}

#[tokio::test]
async fn a_manager_needing_a_token_finds_the_entry_gone() {
    let b = backends(Some(Duration::from_secs(2))).await;
    let store = Arc::new(MemoryStore::new());
    let app = manager(&b, store.clone());
    app.set_auto_refresh(false);
    sign_in(&app).await;
    store.delete().unwrap(); // `courier-cli logout` in another process
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let err = app.id_token().await.unwrap_err();
    assert_eq!(err.code(), "signed_out_elsewhere", "{err}");
    assert_eq!(
        signed_out_code(&app.state()).as_deref(),
        Some("signed_out_elsewhere")
    );
    assert!(store.raw().is_none());
    assert_eq!(b.clerk().grants().refresh_token, 0, "no refresh was made");
}

#[tokio::test]
async fn a_sign_in_as_someone_else_elsewhere_is_followed() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    let app = manager(&b, store.clone());
    app.restore().await;
    sign_in(&app).await;

    // Another process signs out and signs Grace in.
    let other = manager(&b, store.clone());
    other.set_auto_refresh(false);
    other.restore().await;
    other.sign_out().await.unwrap();
    sign_in_as(&other, demo::GRACE_EMAIL).await;

    let mut rx = app.subscribe();
    let state = wait_for(
        &mut rx,
        "Grace",
        clerk_auth::KEYCHAIN_WATCH_INTERVAL * 3,
        |s| matches!(s, AuthState::SignedIn { user, .. } if user.id == demo::GRACE_ID),
    )
    .await;
    assert!(is_online(&state));
    let stored = store.load().unwrap().unwrap();
    assert_eq!(stored.user.id, demo::GRACE_ID, "never overwritten with Ada");
    let token = app.id_token().await.unwrap();
    assert_eq!(jwt_sub(token.secret()), demo::GRACE_ID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_racing_a_slow_refresh_leaves_no_entry() {
    let b = backends(Some(Duration::from_secs(3))).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    m.set_auto_refresh(false);
    sign_in(&m).await;
    b.clerk()
        .set_token_fault(TokenFault::Stall(Duration::from_millis(1500)));
    let refreshing = {
        let m = m.clone();
        tokio::spawn(async move { m.force_refresh().await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await; // the request is at the issuer
    m.sign_out().await.unwrap();
    let _ = refreshing.await.unwrap();
    b.clerk().set_token_fault(TokenFault::None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        store.raw().is_none(),
        "the refresh wrote nothing after sign-out"
    );
    assert_eq!(m.state(), AuthState::SignedOut { reason: None });

    let next = manager(&b, store.clone());
    next.restore().await;
    assert_eq!(next.state(), AuthState::SignedOut { reason: None });
}

#[tokio::test]
async fn an_idle_session_refreshes_ahead_without_polling_the_keychain() {
    let b = backends(Some(Duration::from_secs(3))).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    m.restore().await;
    sign_in(&m).await;
    let (reads, refreshes) = (store.loads(), b.clerk().grants().refresh_token);
    tokio::time::sleep(Duration::from_secs(7)).await;
    let reads = store.loads() - reads;
    let refreshes = b.clerk().grants().refresh_token - refreshes;
    eprintln!("7 s idle with 3 s tokens: {refreshes} refreshes, {reads} keychain reads");
    assert!(refreshes >= 2, "refreshed ahead of expiry: {refreshes}");
    // One re-read per refresh plus the keychain watch; a busy loop would
    // read thousands of times.
    assert!(reads <= 4 * refreshes + 6, "{reads} reads");
    let token = m.id_token().await.unwrap();
    assert!(token.time_left() > Duration::from_millis(400));
}

#[tokio::test]
async fn each_new_id_token_is_published_and_none_after_sign_out() {
    let b = backends(Some(Duration::from_secs(3))).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    m.restore().await;
    let mut tokens = m.watch_id_token();
    assert!(tokens.borrow().is_none());
    sign_in(&m).await;
    let first = tokens
        .borrow_and_update()
        .clone()
        .expect("the sign-in's token");
    // The scheduled refresh (3 s tokens) publishes the next one before expiry.
    tokio::time::timeout(Duration::from_secs(5), tokens.changed())
        .await
        .expect("a new token in time")
        .unwrap();
    let second = tokens.borrow_and_update().clone().expect("a token");
    assert_ne!(first.secret(), second.secret());
    assert!(
        first.time_left() > Duration::ZERO,
        "handed over before expiry"
    );
    m.sign_out().await.unwrap();
    assert!(tokens.borrow().is_none());
}
