//! The session's Rust-to-UI update, `auth://state-changed`, carrying the
//! session state of `clerk-auth` unchanged (plus the sign-in mode while
//! signing in), sent down the window's channel (`updates`). The UI's
//! `start` opens that channel and reads the current state in one request,
//! so nothing is missed at start.

use serde_json::Value;
use tauri::{AppHandle, Manager};

use crate::state::Courier;

/// The session state event.
pub(crate) const STATE_CHANGED: &str = "auth://state-changed";

/// The current state as the UI receives it.
pub(crate) fn current(app: &AppHandle) -> Value {
    let courier = app.state::<Courier>();
    let Ok(core) = courier.core() else {
        return serde_json::json!({ "status": "signedOut", "reason": null });
    };
    let mut value = serde_json::to_value(core.session.state()).unwrap_or(Value::Null);
    if value["status"] == "signingIn" {
        let mode = core
            .session
            .open_sign_in()
            .map(|(_, mode)| mode)
            .unwrap_or(core.default_mode);
        value["mode"] = serde_json::to_value(mode).unwrap_or(Value::Null);
    }
    value
}

/// Sends the current state to the main window.
pub(crate) fn emit_state(app: &AppHandle) {
    crate::updates::publish(app, STATE_CHANGED, current(app));
}

/// Forwards every state change for the life of the app.
pub(crate) fn forward_state_changes(app: &AppHandle) {
    let courier = app.state::<Courier>();
    let Ok(core) = courier.core() else {
        return;
    };
    let mut changes = core.session.subscribe();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while changes.changed().await.is_ok() {
            changes.borrow_and_update();
            emit_state(&app);
        }
    });
}
