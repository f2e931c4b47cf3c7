use std::sync::Arc;
use std::time::Duration;

use clerk_auth::{AuthError, AuthState, MemoryStore, SessionStore, SignInOptions, StoreError};
use test_support::{deliver, demo, play_browser, TestBrowser, TokenFault};

use crate::util::*;

#[tokio::test]
async fn sign_in_through_the_loopback_listener() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    m.restore().await;
    assert_eq!(m.state(), AuthState::SignedOut { reason: None });

    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    assert_eq!(m.state(), AuthState::SigningIn);
    let auth = pending.authorize_url().clone();
    let redirect = pending.redirect_uri().clone();
    assert_eq!(redirect.host_str(), Some("127.0.0.1"));
    assert_eq!(redirect.path(), "/callback");
    assert!(auth
        .as_str()
        .starts_with(&format!("{}/oauth/authorize?", b.issuer_url())));
    assert_eq!(query(&auth, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&auth, "code_challenge_method").as_deref(),
        Some("S256")
    );
    assert_eq!(query(&auth, "code_challenge").map(|c| c.len()), Some(43));
    assert_eq!(
        query(&auth, "scope").as_deref(),
        Some("openid profile email offline_access")
    );
    assert!(query(&auth, "state").unwrap().len() >= 43);
    assert!(query(&auth, "nonce").unwrap().len() >= 43);
    assert_eq!(
        query(&auth, "redirect_uri").as_deref(),
        Some(redirect.as_str())
    );
    assert_eq!(query(&auth, "prompt"), None);

    let location = play_browser(&auth, demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    assert!(location.as_str().starts_with(redirect.as_str()));
    assert_eq!(
        query(&location, "iss").as_deref(),
        Some(b.issuer_url().as_str())
    );
    let (user, page) = tokio::join!(pending.finish(Duration::from_secs(20)), deliver(&location));
    let user = user.unwrap();
    let page = page.unwrap();
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("You&#39;re signed in") || page.body.contains("You're signed in"),
        "{}",
        page.body
    );

    assert_eq!(user.id, demo::ADA_ID);
    assert_eq!(user.email.as_deref(), Some(demo::ADA_EMAIL));
    assert_eq!(user.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(
        user.picture.as_deref(),
        Some(format!("{}/avatars/{}.svg", b.issuer_url(), demo::ADA_ID).as_str())
    );
    assert_eq!(
        m.state(),
        AuthState::SignedIn {
            user: user.clone(),
            offline: false
        }
    );
    assert_eq!(b.clerk().grants().authorization_code, 1);
    assert!(
        listener_closed(&redirect).await,
        "the loopback listener is closed after the flow"
    );

    let stored = store.load().unwrap().expect("session stored");
    assert_eq!(stored.user, user);
    let token = m.id_token().await.unwrap();
    assert!(jwt_exp(token.secret()) > now_secs());
    assert!(!format!("{token:?}").contains(token.secret()));
}

#[tokio::test]
async fn sign_in_through_the_handle_as_the_webview_does() {
    let b = backends(None).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    m.restore().await;
    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let handle = pending.handle();
    let location = play_browser(pending.authorize_url(), demo::GRACE_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    assert!(handle.is_callback(&location));
    assert!(!handle.is_callback(&url::Url::parse("http://127.0.0.1:1/elsewhere").unwrap()));
    let redirect = pending.redirect_uri().clone();
    let task = tokio::spawn(pending.finish(Duration::from_secs(20)));
    assert!(!handle.deliver(url::Url::parse("https://example.com/callback?code=x").unwrap()));
    assert!(handle.deliver(location.clone()));
    assert!(
        !handle.deliver(location.clone()),
        "a flow completes exactly once"
    );
    let user = task.await.unwrap().unwrap();
    assert_eq!(user.id, demo::GRACE_ID);
    assert!(matches!(
        m.state(),
        AuthState::SignedIn { offline: false, .. }
    ));
    assert!(listener_closed(&redirect).await);
    // The browser arriving late at the closed listener finds nothing.
    assert!(deliver(&location).await.is_err());
}

#[tokio::test]
async fn complete_with_an_intercepted_url_and_prompt_login_after_sign_out() {
    let b = backends(None).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    m.restore().await;
    let browser = TestBrowser::new();
    let mut pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let location = browser
        .sign_in(pending.authorize_url(), demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    let user = pending.complete(&location).await.unwrap();
    assert_eq!(user.id, demo::ADA_ID);
    assert!(matches!(
        m.begin_sign_in(SignInOptions::default()).await,
        Err(AuthError::AlreadySignedIn)
    ));

    // Another manager (process) on the same browser (issuer cookie), no
    // sign-out in it yet: without prompt=login the issuer skips its form
    // and only asks "Continue as Ada?".
    let fresh = manager(&b, Arc::new(MemoryStore::new()));
    fresh.restore().await;
    assert!(!fresh.prompt_login());
    let pending = fresh.begin_sign_in(SignInOptions::default()).await.unwrap();
    assert_eq!(query(pending.authorize_url(), "prompt"), None);
    let page = browser
        .open(pending.authorize_url())
        .await
        .unwrap()
        .unwrap();
    assert!(test_support::is_consent_page(&page), "{page}");
    drop(pending);

    // After a sign-out the manager itself asks for prompt=login, so the
    // issuer shows the form again and Grace can sign in.
    m.sign_out().await.unwrap();
    assert!(m.prompt_login());
    let mut pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    assert_eq!(
        query(pending.authorize_url(), "prompt").as_deref(),
        Some("login")
    );
    assert!(browser.open(pending.authorize_url()).await.unwrap().is_ok());
    let location = browser
        .sign_in(pending.authorize_url(), demo::GRACE_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    assert_eq!(
        pending.complete(&location).await.unwrap().id,
        demo::GRACE_ID
    );
}

/// `location` with its `state` replaced (or removed, for `None`).
fn with_state(location: &url::Url, state: Option<&str>) -> url::Url {
    let mut forged = location.clone();
    let pairs: Vec<(String, String)> = location
        .query_pairs()
        .filter(|(k, _)| k != "state")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .chain(state.map(|s| ("state".to_owned(), s.to_owned())))
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    forged
}

#[tokio::test]
async fn a_wrong_state_gets_400_and_the_flow_keeps_waiting() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    m.restore().await;
    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let redirect = pending.redirect_uri().clone();
    let handle = pending.handle();
    let location = play_browser(pending.authorize_url(), demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    let task = tokio::spawn(pending.finish(Duration::from_secs(20)));

    for forged in [
        with_state(&location, Some("forged-state-value")),
        with_state(&location, None),
        with_state(&location, Some("")),
    ] {
        let page = deliver(&forged).await.unwrap();
        assert_eq!(page.status, 400, "{forged}: {}", page.body);
        assert!(page.body.contains("not for your sign-in"), "{}", page.body);
        assert!(!handle.deliver(forged.clone()), "the handle refuses it too");
    }
    // A repeated state is no state at all.
    let state = query(&location, "state").unwrap();
    let mut doubled = location.clone();
    doubled.query_pairs_mut().append_pair("state", &state);
    assert_eq!(deliver(&doubled).await.unwrap().status, 400);

    assert_eq!(m.state(), AuthState::SigningIn, "the flow goes on");
    assert!(!listener_closed(&redirect).await, "still listening");
    assert_eq!(b.clerk().grants().authorization_code, 0);
    assert!(store.raw().is_none());

    // The real callback still signs in.
    let page = deliver(&location).await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(task.await.unwrap().unwrap().id, demo::ADA_ID);
    assert!(listener_closed(&redirect).await);
}

#[tokio::test]
async fn complete_with_a_wrong_state_keeps_the_flow_open() {
    let b = backends(None).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    m.restore().await;
    let mut pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let redirect = pending.redirect_uri().clone();
    let location = play_browser(pending.authorize_url(), demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    let mut no_state = redirect.clone();
    no_state.set_query(Some("code=abc"));
    for wrong in [
        with_state(&location, Some("forged-state-value")),
        with_state(&location, None),
        no_state,
    ] {
        assert!(matches!(
            pending.complete(&wrong).await,
            Err(AuthError::StateMismatch)
        ));
        assert_eq!(m.state(), AuthState::SigningIn);
        assert!(!listener_closed(&redirect).await);
    }
    assert_eq!(b.clerk().grants().authorization_code, 0);
    assert_eq!(pending.complete(&location).await.unwrap().id, demo::ADA_ID);
    assert!(matches!(
        pending.complete(&location).await,
        Err(AuthError::Protocol(_))
    ));
}

#[tokio::test]
async fn an_error_without_the_state_is_refused_and_the_real_one_is_quoted() {
    let b = backends(None).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    m.restore().await;
    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let redirect = pending.redirect_uri().clone();
    let state = query(pending.authorize_url(), "state").unwrap();
    let task = tokio::spawn(pending.finish(Duration::from_secs(20)));

    // Anyone on this machine can send this: it must not end the flow, nor
    // put its words in Courier's mouth.
    let mut forged = redirect.clone();
    forged
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair(
            "error_description",
            "Courier: your password expired, visit evil.example",
        );
    let page = deliver(&forged).await.unwrap();
    assert_eq!(page.status, 400);
    assert!(!page.body.contains("evil.example"), "{}", page.body);
    assert_eq!(m.state(), AuthState::SigningIn);

    let mut cb = redirect.clone();
    cb.query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "The user said <no>")
        .append_pair("state", &state);
    let page = deliver(&cb).await.unwrap();
    match task.await.unwrap() {
        Err(AuthError::Callback { error, description }) => {
            assert_eq!(error, "access_denied");
            assert_eq!(description.as_deref(), Some("The user said <no>"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(page.status, 400);
    assert!(!page.body.contains("<no>"), "server text is escaped");
    assert!(
        page.body.contains("The sign-in service said:"),
        "{}",
        page.body
    );
    match m.state() {
        AuthState::SignedOut {
            reason: Some(reason),
        } => {
            assert_eq!(reason.code, "access_denied");
            assert!(
                reason
                    .message
                    .contains("The sign-in service said: \"The user said <no>\""),
                "{}",
                reason.message
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(listener_closed(&redirect).await);
}

#[tokio::test]
async fn cancel_during_the_code_exchange_wins() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    m.restore().await;
    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let handle = pending.handle();
    let location = play_browser(pending.authorize_url(), demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    b.clerk()
        .set_token_fault(TokenFault::Stall(Duration::from_secs(2)));
    let task = tokio::spawn(pending.finish(Duration::from_secs(20)));
    assert!(handle.deliver(location.clone()));
    // The token request is now stalled at the issuer.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cancelled_at = std::time::Instant::now();
    handle.cancel();
    let r = task.await.unwrap();
    assert!(matches!(r, Err(AuthError::Cancelled)), "{r:?}");
    assert!(
        cancelled_at.elapsed() < Duration::from_secs(1),
        "cancel does not wait for the exchange"
    );
    assert_eq!(signed_out_code(&m.state()).as_deref(), Some("cancelled"));
    assert!(store.raw().is_none(), "nothing stored");

    // The exchange finishes at the issuer; its tokens are revoked, and
    // nothing is installed afterwards.
    b.clerk().set_token_fault(TokenFault::None);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(b.clerk().grants().authorization_code, 1);
    assert_eq!(b.clerk().active_grants(), 0, "the grant was revoked");
    assert_eq!(signed_out_code(&m.state()).as_deref(), Some("cancelled"));
    assert!(store.raw().is_none());
    assert!(matches!(m.id_token().await, Err(AuthError::NotSignedIn)));
}

#[tokio::test]
async fn timeout_cancel_and_drop_end_the_flow() {
    let b = backends(None).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    m.restore().await;

    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let redirect = pending.redirect_uri().clone();
    assert!(!listener_closed(&redirect).await, "open during the flow");
    let r = pending.finish(Duration::from_millis(300)).await;
    assert!(matches!(r, Err(AuthError::TimedOut)), "{r:?}");
    assert_eq!(signed_out_code(&m.state()).as_deref(), Some("timeout"));
    assert!(listener_closed(&redirect).await);

    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let redirect = pending.redirect_uri().clone();
    let handle = pending.handle();
    let task = tokio::spawn(pending.finish(Duration::from_secs(30)));
    tokio::time::sleep(Duration::from_millis(50)).await;
    handle.cancel();
    let r = task.await.unwrap();
    assert!(matches!(r, Err(AuthError::Cancelled)), "{r:?}");
    assert_eq!(signed_out_code(&m.state()).as_deref(), Some("cancelled"));
    assert!(listener_closed(&redirect).await);
    assert!(
        !handle.deliver(redirect.clone()),
        "nothing is taken after the end"
    );

    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let redirect = pending.redirect_uri().clone();
    drop(pending);
    assert_eq!(signed_out_code(&m.state()).as_deref(), Some("cancelled"));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(listener_closed(&redirect).await);

    // A new flow supersedes an open one.
    let first = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let mut second = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    assert!(matches!(
        first.finish(Duration::from_secs(5)).await,
        Err(AuthError::Cancelled)
    ));
    assert_eq!(
        m.state(),
        AuthState::SigningIn,
        "the old flow does not end the new one"
    );
    let location = play_browser(second.authorize_url(), demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    assert_eq!(second.complete(&location).await.unwrap().id, demo::ADA_ID);
}

#[tokio::test]
async fn wrong_password_issues_nothing() {
    let b = backends(None).await;
    let m = manager(&b, Arc::new(MemoryStore::new()));
    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let err = play_browser(pending.authorize_url(), demo::ADA_EMAIL, "wrong")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Incorrect email or password"),
        "{err}"
    );
    assert_eq!(m.state(), AuthState::SigningIn);
    assert_eq!(b.clerk().grants().authorization_code, 0);
}

#[tokio::test]
async fn a_locked_keychain_fails_the_sign_in_with_a_keychain_reason() {
    let b = backends(None).await;
    let store = Arc::new(MemoryStore::new());
    let m = manager(&b, store.clone());
    let mut pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    let location = play_browser(pending.authorize_url(), demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    store.set_failure(Some(StoreError::Locked("test: locked".into())));
    let r = pending.complete(&location).await;
    assert!(
        matches!(r, Err(AuthError::Keychain(StoreError::Locked(_)))),
        "{r:?}"
    );
    match m.state() {
        AuthState::SignedOut {
            reason: Some(reason),
        } => {
            assert_eq!(reason.code, "keychain");
            assert!(reason.message.contains("locked"), "{}", reason.message);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(m.id_token().await, Err(AuthError::NotSignedIn)));
}

#[tokio::test]
async fn an_unreachable_issuer_is_a_network_error() {
    let b = backends(None).await;
    let mut config = config(&b);
    // A port nothing listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    config.issuer = url::Url::parse(&format!("http://127.0.0.1:{free}")).unwrap();
    let m = clerk_auth::SessionManager::new(config, Arc::new(MemoryStore::new())).unwrap();
    let r = m.begin_sign_in(SignInOptions::default()).await;
    assert!(matches!(r, Err(AuthError::Network(_))), "{r:?}");
    assert_eq!(signed_out_code(&m.state()).as_deref(), Some("network"));
}

#[tokio::test]
async fn a_fixed_redirect_port_is_used_and_a_busy_one_is_a_listener_error() {
    let b = backends(None).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = config(&b);
    c.redirect_port = Some(port);
    let m = clerk_auth::SessionManager::new(c.clone(), Arc::new(MemoryStore::new())).unwrap();
    let pending = m.begin_sign_in(SignInOptions::default()).await.unwrap();
    assert_eq!(
        pending.redirect_uri().as_str(),
        format!("http://127.0.0.1:{port}/callback")
    );

    // While that flow holds the port, a second manager cannot listen on it.
    let other = clerk_auth::SessionManager::new(c, Arc::new(MemoryStore::new())).unwrap();
    let r = other.begin_sign_in(SignInOptions::default()).await;
    assert!(matches!(r, Err(AuthError::Listener(_))), "{r:?}");
    assert_eq!(signed_out_code(&other.state()).as_deref(), Some("listener"));

    let location = play_browser(pending.authorize_url(), demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap();
    let (user, _) = tokio::join!(pending.finish(Duration::from_secs(20)), deliver(&location));
    assert_eq!(user.unwrap().id, demo::ADA_ID);
}
