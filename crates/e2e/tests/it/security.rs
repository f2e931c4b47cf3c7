use crate::util::{backends, launch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and the app build (run by scripts/test)"]
async fn a_script_in_the_sign_in_window_cannot_invoke_app_commands() {
    let backends = backends().await;
    let mut app = launch("no-ipc-in-sign-in-window", &backends, None).await;
    app.visible("#sign-in").await.click().await.unwrap();
    let main = app.switch_to_new_window().await;
    app.visible("input[name=email]").await;
    let outcome = app
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
               const internals = window.__TAURI_INTERNALS__;
               if (!internals) { done("no ipc"); return; }
               internals.invoke("auth_state").then(
                 (value) => done("invoked: " + JSON.stringify(value)),
                 (error) => done("refused: " + String(error)));"#,
            vec![],
        )
        .await
        .unwrap();
    let outcome = outcome.as_str().unwrap_or_default().to_owned();
    assert!(
        !outcome.starts_with("invoked"),
        "the sign-in window reached a command: {outcome}"
    );
    app.screenshot("sign-in-window").await;
    app.client.close_window().await.unwrap();
    app.client.switch_to_window(main).await.unwrap();
    app.visible("#screen-signed-out").await;
    app.quit().await;
}
