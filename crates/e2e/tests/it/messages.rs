use crate::util::{backends, demo, signed_in_as_ada};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn sent_message_appears_and_the_backend_has_it() {
    let backends = backends().await;
    let mut app = signed_in_as_ada("send", &backends, None).await;
    let text = "Hello from the end-to-end test";
    app.send(text).await;
    app.message_shown(text).await;
    // Marked sent (no pending or failed status left on it).
    app.hidden(
        "#messages li.message[data-status=pending], #messages li.message[data-status=failed]",
        std::time::Duration::from_secs(10),
    )
    .await;
    let author = format!("{}|{}", backends.issuer_url(), demo::ADA_ID);
    let stored = backends.convex().messages_by_author(&author).unwrap();
    let copies = stored.iter().filter(|m| m["body"] == text).count();
    assert_eq!(copies, 1, "convex-local has it exactly once");
    assert_eq!(
        app.message_bodies().await.first().map(String::as_str),
        Some(text),
        "newest first"
    );
    app.screenshot("sent").await;
    app.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver, the app build and Secret Service (run by scripts/test)"]
async fn a_message_with_markup_renders_as_text_and_runs_nothing() {
    let backends = backends().await;
    let mut app = signed_in_as_ada("xss", &backends, None).await;
    let text = "<img src=x onerror=alert(1)>";
    app.send(text).await;
    app.message_shown(text).await;
    let images_in_messages = app
        .client
        .execute(
            "return document.querySelectorAll('#messages img').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(images_in_messages, serde_json::json!(0));
    assert!(
        app.client.get_alert_text().await.is_err(),
        "an alert opened"
    );
    app.screenshot("xss-as-text").await;
    app.quit().await;
}
