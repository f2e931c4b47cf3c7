use std::time::{Duration, Instant};

use e2e::{run_cli, AppDirs};

use crate::util::{
    backends, backends_with_ttl, cached_message_files, cli_env, demo, launch, signed_in_as_ada,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn the_app_and_courier_cli_share_one_session_for_thirty_seconds() {
    let backends = backends_with_ttl(Duration::from_secs(5)).await;
    let dirs = AppDirs::new();
    let mut app = signed_in_as_ada("shared-with-cli", &backends, Some(&dirs)).await;
    app.visible("#messages li.message").await;
    let env = cli_env(&backends);
    let before = backends.clerk().grants();

    let start = Instant::now();
    let mut round = 0;
    let mut last_sent = String::new();
    while start.elapsed() < Duration::from_secs(30) {
        let token = run_cli(&dirs, &env, &["token"]).await;
        assert_eq!(token.code, Some(0), "round {round}: {token:?}");
        last_sent = format!("from the cli {round}");
        let sent = run_cli(&dirs, &env, &["send", &last_sent]).await;
        assert_eq!(sent.code, Some(0), "round {round}: {sent:?}");
        let listed = run_cli(&dirs, &env, &["messages", "-n", "3"]).await;
        assert_eq!(listed.code, Some(0), "round {round}: {listed:?}");
        assert!(listed.stdout.contains(&last_sent), "{listed:?}");

        assert!(
            app.is_visible("#screen-signed-in").await,
            "the app left the signed-in screen in round {round}"
        );
        assert!(
            !app.is_visible("#offline-banner").await,
            "a banner in round {round}"
        );
        round += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    app.message_shown(&last_sent).await;
    let grants = backends.clerk().grants();
    eprintln!(
        "{round} rounds of 3 CLI calls; {} refresh grants",
        grants.refresh_token - before.refresh_token
    );
    assert_eq!(
        grants.reused_refresh_tokens, 0,
        "a refresh token was reused"
    );
    assert_eq!(backends.clerk().active_grants(), 1, "the grant is alive");
    app.text_contains("#user-name", "Ada Lovelace").await;
    app.screenshot("after-30s-with-cli").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn courier_cli_logout_signs_the_open_app_out_with_a_notice() {
    let backends = backends().await;
    let dirs = AppDirs::new();
    let mut app = signed_in_as_ada("cli-logout", &backends, Some(&dirs)).await;
    app.visible("#messages li.message").await;
    let out = run_cli(&dirs, &cli_env(&backends), &["logout"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let start = Instant::now();
    app.visible("#screen-signed-out").await;
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "took {:?}",
        start.elapsed()
    );
    app.text_contains("#sign-out-reason", "signed out elsewhere")
        .await;
    assert_eq!(
        cached_message_files(&dirs),
        0,
        "the app kept Ada's messages on disk after she signed out elsewhere"
    );
    app.screenshot("signed-out-elsewhere").await;
    assert_eq!(backends.clerk().active_grants(), 0, "the CLI revoked it");
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn with_the_issuer_stopped_a_start_uses_the_cached_token() {
    let mut backends = backends().await;
    let dirs = AppDirs::new();
    let app = signed_in_as_ada("start-issuer-down", &backends, Some(&dirs)).await;
    app.visible("#messages li.message").await;
    app.quit().await;

    backends.stop_clerk().await;
    let mut app = launch("start-issuer-down", &backends, Some(&dirs)).await;
    app.visible("#screen-signed-in").await;
    app.text_contains("#user-name", "Ada Lovelace").await;
    app.visible("#messages li.message").await;
    assert!(
        !app.is_visible("#offline-banner").await,
        "nothing the person needs is unreachable"
    );
    app.send("sent while the issuer is down").await;
    app.message_shown("sent while the issuer is down").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(app.is_visible("#screen-signed-in").await, "no sign-out");
    let author = format!("{}|{}", backends.issuer_url(), demo::ADA_ID);
    let stored = backends.convex().messages_by_author(&author).unwrap();
    assert!(stored
        .iter()
        .any(|m| m["body"] == "sent while the issuer is down"));
    app.screenshot("started-with-issuer-down").await;
    app.quit().await;
}
