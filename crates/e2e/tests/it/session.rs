use std::time::{Duration, Instant};

use e2e::AppDirs;

use crate::util::{
    backends, backends_with_ttl, demo, keychain_has_entry, launch, signed_in_as_ada,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn restart_restores_the_session_without_a_sign_in_window() {
    let backends = backends().await;
    let dirs = AppDirs::new();
    let app = signed_in_as_ada("restart", &backends, Some(&dirs)).await;
    app.visible("#messages li.message").await;
    app.quit().await;

    let mut app = launch("restart", &backends, Some(&dirs)).await;
    app.visible("#screen-signed-in").await;
    app.text_contains("#user-name", "Ada Lovelace").await;
    app.visible("#messages li.message").await;
    assert_eq!(app.window_count().await, 1, "no sign-in window on restart");
    assert_eq!(
        backends.clerk().grants().authorization_code,
        1,
        "no second sign-in"
    );
    app.screenshot("restored").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn five_second_tokens_refresh_for_thirty_seconds_without_an_error() {
    let backends = backends_with_ttl(Duration::from_secs(5)).await;
    let mut app = signed_in_as_ada("refresh", &backends, None).await;
    let before = backends.clerk().grants().refresh_token;
    let start = Instant::now();
    let mut sent = 0;
    while start.elapsed() < Duration::from_secs(30) {
        // Active: a message every ~3 s, each a backend call with a fresh token.
        let text = format!("tick {sent}");
        app.send(&text).await;
        app.message_shown(&text).await;
        sent += 1;
        assert!(
            !app.is_visible("#offline-banner").await,
            "offline banner during refresh"
        );
        assert!(!app.is_visible("#messages-error").await, "a fetch failed");
        assert!(
            !app.is_visible("#messages li.message[data-status=failed]")
                .await,
            "a send failed"
        );
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    app.hidden(
        "#messages li.message[data-status=pending], #messages li.message[data-status=failed]",
        Duration::from_secs(10),
    )
    .await;
    let refreshes = backends.clerk().grants().refresh_token - before;
    assert!(
        refreshes >= 4,
        "only {refreshes} refresh grants in 30 s of 5 s tokens"
    );
    let author = format!("{}|{}", backends.issuer_url(), demo::ADA_ID);
    let stored = backends.convex().messages_by_author(&author).unwrap();
    let ticks = stored
        .iter()
        .filter(|m| m["body"].as_str().is_some_and(|b| b.starts_with("tick ")))
        .count();
    assert_eq!(ticks, sent, "every send reached the backend once");
    app.screenshot("after-30s").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn ended_grant_signs_out_with_a_notice_within_fifteen_seconds() {
    let backends = backends_with_ttl(Duration::from_secs(5)).await;
    let mut app = signed_in_as_ada("grant-ended", &backends, None).await;
    let ended = backends.clerk().end_user_grants(demo::ADA_ID);
    assert!(ended >= 1);
    let start = Instant::now();
    app.visible("#screen-signed-out").await;
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );
    let notice = app.text_contains("#sign-out-reason", "").await;
    assert!(!notice.trim().is_empty(), "no notice shown");
    app.screenshot("signed-out-with-notice").await;
    assert!(!keychain_has_entry(&backends), "keychain entry left");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn issuer_down_shows_offline_then_recovers_without_signing_out() {
    let mut backends = backends_with_ttl(Duration::from_secs(5)).await;
    let mut app = signed_in_as_ada("issuer-down", &backends, None).await;
    backends.stop_clerk().await;
    app.visible("#offline-banner").await;
    // It says what is away: the sign-in service, not the messages.
    app.text_contains("#offline-banner", "sign-in service")
        .await;
    assert!(
        app.is_visible("#screen-signed-in").await,
        "signed out while offline"
    );
    app.screenshot("offline").await;
    backends.start_clerk().await.unwrap();
    app.hidden("#offline-banner", Duration::from_secs(40)).await;
    assert!(app.is_visible("#screen-signed-in").await);
    app.text_contains("#user-name", "Ada Lovelace").await;
    app.screenshot("back-online").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn sign_out_returns_to_signed_out_and_leaves_no_keychain_entry() {
    let backends = backends().await;
    let mut app = signed_in_as_ada("sign-out", &backends, None).await;
    assert!(
        keychain_has_entry(&backends),
        "no keychain entry after sign-in"
    );
    app.visible("#sign-out").await.click().await.unwrap();
    app.visible("#screen-signed-out").await;
    assert!(!keychain_has_entry(&backends), "keychain entry left");
    app.screenshot("signed-out").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn an_unsent_draft_stays_with_its_account_and_goes_at_its_sign_out() {
    let backends = backends().await;
    let mut app = signed_in_as_ada("draft-per-account", &backends, None).await;
    app.text_contains("#about-issuer", &backends.issuer_url())
        .await;
    let input = app.visible("#composer-input").await;
    input
        .send_keys("Ada's unsent thought")
        .await
        .expect("type a draft");
    // Past the composer's save debounce; a reload shows Ada her draft.
    tokio::time::sleep(Duration::from_secs(1)).await;
    app.client.refresh().await.expect("reload");
    app.text_contains("#user-name", "Ada Lovelace").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let draft = app
            .visible("#composer-input")
            .await
            .prop("value")
            .await
            .unwrap();
        if draft.as_deref() == Some("Ada's unsent thought") {
            break;
        }
        assert!(Instant::now() < deadline, "draft not restored: {draft:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.visible("#sign-out").await.click().await.unwrap();
    app.visible("#screen-signed-out").await;

    // Grace, at the same computer, sees nothing of it.
    app.sign_in(demo::GRACE_EMAIL, demo::PASSWORD).await;
    app.text_contains("#user-name", "Grace").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let draft = app
        .visible("#composer-input")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(draft.as_deref(), Some(""), "Grace sees Ada's draft");
    app.screenshot("grace-empty-composer").await;
    app.visible("#sign-out").await.click().await.unwrap();
    app.visible("#screen-signed-out").await;

    // Ada's sign-out removed it: back as Ada, the composer is empty too.
    app.sign_in(demo::ADA_EMAIL, demo::PASSWORD).await;
    app.text_contains("#user-name", "Ada Lovelace").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let draft = app
        .visible("#composer-input")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        draft.as_deref(),
        Some(""),
        "the draft outlived the sign-out"
    );
    app.quit().await;
}
