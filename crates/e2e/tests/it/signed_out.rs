use e2e::{App, Launch, Locator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and the app build (run by scripts/test)"]
async fn signed_out_screen_shows_version_from_rust_and_sign_in_reaches_rust() {
    let backends = crate::util::backends().await;
    let mut app = crate::util::launch("signed-out", &backends, None).await;
    assert_eq!(app.client.title().await.unwrap(), "Courier");
    app.visible("#screen-signed-out").await;
    let version = app
        .text_contains("#app-version", env!("CARGO_PKG_VERSION"))
        .await;
    assert!(version.contains("0.1.0"), "{version}");
    // Which issuer and backend this app sends its tokens to, from `start`.
    let env = backends.env();
    app.text_contains("#about-issuer-out", &backends.issuer_url())
        .await;
    app.text_contains(
        "#about-backend-out",
        env["CONVEX_URL"].trim_end_matches('/'),
    )
    .await;
    app.screenshot("signed-out").await;
    // "Sign in" reaches Rust: it opens the sign-in window on the issuer.
    app.visible("#sign-in").await.click().await.unwrap();
    let main = app.switch_to_new_window().await;
    let url = app.client.current_url().await.unwrap();
    assert!(url.as_str().starts_with(&backends.issuer_url()), "{url}");
    app.screenshot("sign-in-window-opened").await;
    app.client.close_window().await.unwrap();
    app.client.switch_to_window(main).await.unwrap();
    app.visible("#screen-signed-out").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and the app build (run by scripts/test)"]
async fn unconfigured_app_says_what_to_set_and_where() {
    let mut app = App::launch(Launch {
        name: "unconfigured",
        env: vec![
            ("CLERK_FRONTEND_API_URL".into(), String::new()),
            ("CLERK_OAUTH_CLIENT_ID".into(), String::new()),
        ],
        ..Default::default()
    })
    .await;
    app.visible("#screen-config").await;
    let hint = app
        .text_contains("#config-hint", "CLERK_FRONTEND_API_URL")
        .await;
    assert!(hint.contains(".env"), "{hint}");
    let message = app
        .client
        .find(Locator::Css("#config-message"))
        .await
        .unwrap();
    assert!(!message.text().await.unwrap().is_empty());
    app.screenshot("config-problem").await;
    app.quit().await;
}
