//! The loopback listener for the redirect: 127.0.0.1 only, open for one
//! flow, answering the browser with a small page once the flow has ended.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::sign_in::{Delivery, SignInHandle};

/// How long the browser's request waits for the flow's outcome.
const OUTCOME_WAIT: Duration = Duration::from_secs(60);

pub(crate) struct Loopback {
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Loopback {
    pub(crate) fn start(listener: tokio::net::TcpListener, handle: SignInHandle) -> Self {
        let (tx, rx) = oneshot::channel::<()>();
        let app = Router::new()
            .route("/callback", get(callback_get))
            .fallback(|| async { (StatusCode::NOT_FOUND, "Not found") })
            .with_state(handle);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Loopback {
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops accepting at once, lets an answer in flight finish (briefly).
    pub(crate) async fn close(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(3), &mut task)
                .await
                .is_err()
            {
                task.abort();
                let _ = task.await;
            }
        }
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn callback_get(State(handle): State<SignInHandle>, uri: Uri) -> Response {
    let mut url = handle.redirect_uri().clone();
    url.set_query(uri.query());
    let (tx, rx) = oneshot::channel();
    match handle.deliver_with_reply(url, Some(tx)) {
        Delivery::Taken => {}
        // Not this flow's answer (RFC 6749 §4.1.2.1): refuse it, keep waiting.
        Delivery::NotThisFlow => {
            return page(
                StatusCode::BAD_REQUEST,
                "This reply is not for your sign-in",
                "Courier is still waiting for the sign-in it started. Finish it in the \
                 sign-in page Courier opened, or start again from Courier.",
                false,
            )
        }
        Delivery::Ended => {
            return page(
                StatusCode::CONFLICT,
                "This sign-in has already finished",
                "You can close this window and return to Courier.",
                false,
            )
        }
    }
    match tokio::time::timeout(OUTCOME_WAIT, rx).await {
        Ok(Ok(Ok(()))) => page(
            StatusCode::OK,
            "You're signed in",
            "You can close this window and return to Courier.",
            true,
        ),
        Ok(Ok(Err(message))) => page(StatusCode::BAD_REQUEST, "Sign-in failed", &message, false),
        _ => page(
            StatusCode::OK,
            "Sign-in received",
            "Return to Courier to see how it went. You can close this window.",
            true,
        ),
    }
}

fn page(status: StatusCode, title: &str, message: &str, ok: bool) -> Response {
    let accent = if ok { "#1f7a4d" } else { "#b3261e" };
    let mark = if ok { "&#10003;" } else { "!" };
    let title = escape(title);
    let message = escape(message);
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Courier: {title}</title>
<style>
body{{margin:0;min-height:100vh;display:grid;place-items:center;background:#f6f7f9;color:#1d2433;font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif}}
main{{background:#fff;border-radius:14px;box-shadow:0 6px 30px rgba(0,0,0,.08);padding:40px 48px;max-width:420px;text-align:center}}
.mark{{width:56px;height:56px;border-radius:50%;margin:0 auto 16px;display:grid;place-items:center;background:{accent};color:#fff;font-size:28px;font-weight:700}}
h1{{font-size:22px;margin:0 0 8px}} p{{margin:0;color:#4a5568}}
</style></head>
<body><main><div class="mark" aria-hidden="true">{mark}</div><h1 id="title">{title}</h1><p id="message">{message}</p></main></body></html>
"#
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CONNECTION, "close"),
        ],
        body,
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}
