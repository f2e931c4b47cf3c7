//! Running one sign-in flow: the "Sign in" window (webview mode) or the
//! system browser (browser mode). Both end in `clerk-auth`'s loopback
//! callback handling; the window's navigation hook only hands over the
//! redirect before it loads.

use std::time::Duration;

use clerk_auth::{SignInMode, SignInOptions};
use tauri::{AppHandle, Manager, WebviewUrl, WebviewWindowBuilder, WindowEvent};
use tauri_plugin_opener::OpenerExt;

use crate::error::CommandError;
use crate::state::Courier;

/// Label of the sign-in window. No capability names it: it has no IPC.
pub(crate) const SIGN_IN_WINDOW: &str = "signin";

/// How long a flow may wait for the person before it ends by itself.
const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(10 * 60);

/// Starts a flow; its end (success or not) arrives as a state change.
pub(crate) async fn start(app: &AppHandle, mode: SignInMode) -> Result<(), CommandError> {
    let state = app.state::<Courier>();
    let core = state.core()?;
    if core.session.open_sign_in().is_some() {
        // One flow at a time: bring its window forward instead.
        if let Some(window) = app.get_webview_window(SIGN_IN_WINDOW) {
            let _ = window.set_focus();
        }
        return Ok(());
    }
    // clerk-auth remembers the mode while the flow is open, and sends
    // `prompt=login` once a session ended.
    let pending = core
        .session
        .begin_sign_in(SignInOptions {
            mode: Some(mode),
            ..SignInOptions::default()
        })
        .await?;
    let handle = pending.handle();
    crate::events::emit_state(app);

    let opened = match mode {
        SignInMode::Webview => open_window(app, pending.authorize_url().clone(), handle.clone()),
        SignInMode::Browser => app
            .opener()
            .open_url(pending.authorize_url().as_str(), None::<&str>)
            .map_err(|e| e.to_string()),
    };
    if let Err(error) = opened {
        tracing::warn!(%error, ?mode, "could not show the sign-in page");
        handle.cancel();
    }

    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let result = pending.finish(SIGN_IN_TIMEOUT).await;
        end_flow(&app);
        match result {
            Ok(_) => {
                tracing::info!("signed in");
                if let Some(main) = app.get_webview_window("main") {
                    let _ = main.unminimize();
                    let _ = main.set_focus();
                }
            }
            Err(error) => tracing::info!(%error, "sign-in ended without a session"),
        }
    });
    Ok(())
}

/// Cancels the flow in progress, if any.
pub(crate) fn cancel(app: &AppHandle) {
    if let Ok(core) = app.state::<Courier>().core() {
        core.session.cancel_sign_in();
    }
}

fn open_window(
    app: &AppHandle,
    url: url::Url,
    handle: clerk_auth::SignInHandle,
) -> Result<(), String> {
    let on_nav = handle.clone();
    let window = WebviewWindowBuilder::new(app, SIGN_IN_WINDOW, WebviewUrl::External(url))
        .title("Sign in")
        .inner_size(480.0, 680.0)
        .center()
        .focused(true)
        // The redirect to the loopback callback is caught here, before it
        // loads; the loopback listener stays open as the backstop.
        .on_navigation(move |url| {
            if on_nav.is_callback(url) {
                on_nav.deliver(url.clone());
                false
            } else {
                true
            }
        })
        .build()
        .map_err(|e| e.to_string())?;
    // Closing the window cancels the flow (a finished flow ignores it).
    let on_close = handle.clone();
    window.on_window_event(move |event| {
        if matches!(event, WindowEvent::Destroyed) {
            on_close.cancel();
        }
    });
    // A page that closes itself destroys only the webview on Linux: treat it
    // as closing the window.
    #[cfg(target_os = "linux")]
    {
        let closing = window.clone();
        let _ = window.with_webview(move |webview| {
            use gtk::prelude::WidgetExt;
            use webkit2gtk::WebViewExt;
            let (on_close, on_destroy) = (handle.clone(), handle);
            let closing_too = closing.clone();
            webview.inner().connect_close(move |_| {
                tracing::debug!("the sign-in page closed itself");
                on_close.cancel();
                let _ = closing.destroy();
            });
            webview.inner().connect_destroy(move |_| {
                tracing::debug!("the sign-in webview was destroyed");
                on_destroy.cancel();
                let _ = closing_too.destroy();
            });
        });
    }
    #[cfg(not(target_os = "linux"))]
    drop(handle);
    Ok(())
}

/// After every flow: close the window and clear the shared browsing data,
/// so no issuer cookie stays on disk.
fn end_flow(app: &AppHandle) {
    if let Some(window) = app.get_webview_window(SIGN_IN_WINDOW) {
        let _ = window.destroy();
    }
    if let Some(main) = app.get_webview_window("main") {
        if let Err(error) = main.clear_all_browsing_data() {
            tracing::warn!(%error, "could not clear the sign-in browsing data");
        }
    }
    crate::events::emit_state(app);
}
