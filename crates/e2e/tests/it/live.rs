use std::collections::HashSet;
use std::time::{Duration, Instant};

use e2e::{run_cli, AppDirs};

use crate::util::{backends, cached_message_files, cli_env, demo, launch, signed_in_as_ada};

fn ada(backends: &test_support::TestBackends) -> String {
    format!("{}|{}", backends.issuer_url(), demo::ADA_ID)
}

/// Waits until the first message shown is `text`; returns how long it took.
async fn newest_is(app: &e2e::App, text: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if app.message_bodies().await.first().map(String::as_str) == Some(text) {
            return start.elapsed();
        }
        if start.elapsed() > within {
            app.fail(&format!("{text:?} not shown first within {within:?}"))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn a_message_sent_with_courier_cli_appears_in_the_idle_app_within_two_seconds() {
    let backends = backends().await;
    let dirs = AppDirs::new();
    let mut app = signed_in_as_ada("live-from-cli", &backends, Some(&dirs)).await;
    app.visible("#messages li.message").await;
    // Idle: no click, no focus change, no key press from here on.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let env = cli_env(&backends);
    for round in 0..3 {
        let text = format!("live from the terminal {round}");
        let sent = run_cli(&dirs, &env, &["send", &text]).await;
        assert_eq!(sent.code, Some(0), "{sent:?}");
        // Measured from the CLI's exit, when the message is committed.
        let took = newest_is(&app, &text, Duration::from_secs(2)).await;
        eprintln!("round {round}: shown {took:?} after the send returned");
    }
    app.screenshot("live-from-cli").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn a_page_of_fifty_and_load_more_stay_correct_while_messages_arrive() {
    let backends = backends().await;
    let author = ada(&backends);
    let seeded = backends.convex().messages_by_author(&author).unwrap().len();
    for i in 0..110 {
        backends
            .convex()
            .insert_message(&author, "Ada Lovelace", &format!("older {i:03}"))
            .unwrap();
    }
    let dirs = AppDirs::new();
    let mut app = signed_in_as_ada("live-pages", &backends, Some(&dirs)).await;
    app.visible("#load-more").await;
    assert_eq!(app.message_bodies().await.len(), 50, "the first page");
    let env = cli_env(&backends);

    let send = async |text: &str| {
        let out = run_cli(&dirs, &env, &["send", text]).await;
        assert_eq!(out.code, Some(0), "{out:?}");
    };
    send("arrived 1").await;
    newest_is(&app, "arrived 1", Duration::from_secs(5)).await;
    click_load_more(&app).await;
    send("arrived 2").await;
    newest_is(&app, "arrived 2", Duration::from_secs(5)).await;
    wait_for_count(&app, 102).await;
    click_load_more(&app).await;
    send("arrived 3").await;
    // The send has returned: the store holds every message, "arrived 3" too.
    let total = backends.convex().messages_by_author(&author).unwrap().len();
    assert_eq!(total, seeded + 110 + 3);
    wait_for_count(&app, total).await;
    newest_is(&app, "arrived 3", Duration::from_secs(5)).await;
    app.hidden("#load-more", Duration::from_secs(10)).await;

    let shown = app.message_bodies().await;
    let unique: HashSet<&String> = shown.iter().collect();
    assert_eq!(unique.len(), shown.len(), "a message shown twice");
    let stored: Vec<String> = backends
        .convex()
        .messages_by_author(&author)
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(shown, stored, "every message, once, newest first");
    app.screenshot("live-pages").await;
    app.quit().await;
}

/// Clicks "Load more" as a person does, after scrolling it into view.
async fn click_load_more(app: &e2e::App) {
    app.visible("#load-more").await;
    app.client
        .execute(
            "const b = document.querySelector('#load-more'); b.scrollIntoView(); b.click();",
            vec![],
        )
        .await
        .expect("clicked Load more");
}

async fn wait_for_count(app: &e2e::App, n: usize) {
    let start = Instant::now();
    loop {
        let shown = app.message_bodies().await.len();
        if shown == n {
            return;
        }
        if start.elapsed() > Duration::from_secs(10) {
            app.fail(&format!("{shown} messages shown, expected {n}"))
                .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn convex_local_restarted_the_app_reconnects_and_shows_what_was_sent_meanwhile() {
    let mut backends = backends().await;
    let author = ada(&backends);
    let dirs = AppDirs::new();
    let mut app = signed_in_as_ada("live-restart", &backends, Some(&dirs)).await;
    app.visible("#messages li.message").await;
    assert!(
        !app.is_visible("#reconnecting").await,
        "reconnecting at start"
    );

    backends.stop_convex().await;
    app.text_contains("#reconnecting", "Reconnecting").await;
    app.screenshot("reconnecting").await;
    // Still signed in, the messages still shown (not wiped, not an error).
    assert!(app.is_visible("#screen-signed-in").await);
    assert!(!app.message_bodies().await.is_empty());

    // Written while the app's socket was down (the backend restarted, then
    // the message committed before the app reconnects or right after).
    backends.start_convex().await.unwrap();
    backends
        .convex()
        .insert_message(&author, "Ada Lovelace", "sent while you were away")
        .unwrap();
    newest_is(&app, "sent while you were away", Duration::from_secs(20)).await;
    app.hidden("#reconnecting", Duration::from_secs(20)).await;
    app.text_contains("#user-name", "Ada Lovelace").await;
    assert!(app.is_visible("#screen-signed-in").await, "no sign-out");
    assert_eq!(backends.clerk().grants().reused_refresh_tokens, 0);
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn with_convex_stopped_a_restart_shows_the_last_messages_until_it_is_back() {
    let mut backends = backends().await;
    let author = ada(&backends);
    let dirs = AppDirs::new();
    let app = signed_in_as_ada("cached-start", &backends, Some(&dirs)).await;
    app.send("kept for the next start").await;
    app.message_shown("kept for the next start").await;
    app.quit().await;
    assert_eq!(
        cached_message_files(&dirs),
        1,
        "one account, one cache file"
    );

    backends.stop_convex().await;
    let mut app = launch("cached-start", &backends, Some(&dirs)).await;
    app.text_contains("#user-name", "Ada Lovelace").await;
    newest_is(&app, "kept for the next start", Duration::from_secs(10)).await;
    // Marked as possibly stale (after a quiet second), and no "Load more"
    // from a cache.
    app.visible("#reconnecting").await;
    app.text_contains("#reconnecting", "Reconnecting").await;
    assert!(
        !app.is_visible("#load-more").await,
        "load more under cached messages"
    );
    app.screenshot("cached-while-convex-down").await;

    backends.start_convex().await.unwrap();
    backends
        .convex()
        .insert_message(&author, "Ada Lovelace", "live again")
        .unwrap();
    newest_is(&app, "live again", Duration::from_secs(20)).await;
    app.hidden("#reconnecting", Duration::from_secs(20)).await;

    // Signing out leaves none of her messages on disk.
    app.visible("#sign-out").await.click().await.unwrap();
    app.visible("#screen-signed-out").await;
    assert_eq!(
        cached_message_files(&dirs),
        0,
        "messages left after sign-out"
    );
    app.quit().await;
}
