use e2e::Locator;

use crate::util::{backends, demo, launch, signed_in_as_ada};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn sign_in_window_signs_ada_in_with_name_avatar_and_demo_messages() {
    let backends = backends().await;
    let mut app = signed_in_as_ada("sign-in", &backends, None).await;
    app.text_contains("#user-email", demo::ADA_EMAIL).await;
    // The sign-in window closed itself after the redirect was caught.
    assert_eq!(app.window_count().await, 1);
    // The avatar is dev-clerk's picture, and it loaded (the CSP allows the
    // issuer's origin for images).
    let avatar = app.visible("#user-avatar").await;
    let src = avatar.attr("src").await.unwrap().unwrap_or_default();
    assert!(
        src.starts_with(&backends.issuer_url()),
        "avatar src {src:?}"
    );
    let loaded = app
        .client
        .execute(
            "const img = document.querySelector('#user-avatar'); return img.complete && img.naturalWidth > 0;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(loaded, serde_json::Value::Bool(true), "avatar did not load");
    // Demo messages, newest first.
    app.visible("#messages li.message").await;
    let bodies = app.message_bodies().await;
    assert!(bodies.len() >= 3, "demo messages: {bodies:?}");
    assert_eq!(backends.clerk().grants().authorization_code, 1);
    // The text is in the desktop's font, named (GTK's setting) rather than
    // left to WebKitGTK's slower `system-ui`.
    let font = app
        .client
        .execute(
            "return getComputedStyle(document.querySelector('#messages li.message')).fontFamily;",
            vec![],
        )
        .await
        .unwrap();
    let font = font.as_str().unwrap_or_default();
    assert!(
        !font.is_empty() && !font.starts_with("system-ui"),
        "message font: {font:?}"
    );
    app.screenshot("signed-in").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn wrong_password_shows_the_error_and_closing_leaves_the_app_usable() {
    let backends = backends().await;
    let mut app = launch("wrong-password", &backends, None).await;
    app.visible("#sign-in").await.click().await.unwrap();
    let main = app.switch_to_new_window().await;
    app.visible("input[name=email]")
        .await
        .send_keys(demo::ADA_EMAIL)
        .await
        .unwrap();
    app.visible("input[name=password]")
        .await
        .send_keys("not-the-password")
        .await
        .unwrap();
    app.client
        .find(Locator::Css("#sign-in-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    app.text_contains("#error", "Incorrect").await;
    app.screenshot("wrong-password").await;
    assert_eq!(
        backends.clerk().grants().authorization_code,
        0,
        "nothing issued"
    );
    // Closing the window cancels the flow; the app is signed out and usable.
    app.client.close_window().await.unwrap();
    app.client.switch_to_window(main).await.unwrap();
    app.visible("#screen-signed-out").await;
    app.visible("#sign-in").await;
    app.screenshot("after-closing-sign-in").await;
    // And a second attempt works.
    app.sign_in(demo::ADA_EMAIL, demo::PASSWORD).await;
    app.text_contains("#user-name", "Ada Lovelace").await;
    app.quit().await;
}
