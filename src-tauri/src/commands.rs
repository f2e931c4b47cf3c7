//! The commands the main window may invoke (and nothing else may: see
//! `src-tauri/capabilities/main.json`). Each delegates to managed state.

use clerk_auth::SignInMode;
use courier_messages::Connection;
use serde::Serialize;
use serde_json::Value;
use tauri::ipc::Channel;
use tauri::{AppHandle, State};

use crate::error::CommandError;
use crate::live::{Live, MessagesEvent};
use crate::state::{ConfigProblem, Courier, Endpoints};
use crate::updates::{Update, Updates};

/// What the UI shows about the app itself: its name, version,
/// configuration status, issuer and backend.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppInfo {
    name: &'static str,
    version: &'static str,
    config: ConfigStatus,
    /// The issuer it signs in with and the backend it sends tokens to.
    #[serde(flatten)]
    endpoints: Endpoints,
}

/// Whether Courier is configured, and if not what to set where.
#[derive(Debug, Serialize)]
pub(crate) struct ConfigStatus {
    ok: bool,
    #[serde(flatten)]
    problem: Option<ConfigProblem>,
}

impl AppInfo {
    fn of(courier: &Courier) -> Self {
        let problem = courier.config_problem().cloned();
        AppInfo {
            name: "Courier",
            version: env!("CARGO_PKG_VERSION"),
            config: ConfigStatus {
                ok: problem.is_none(),
                problem,
            },
            endpoints: courier.endpoints.clone(),
        }
    }
}

/// What the window needs at start: the app's info, the desktop's font
/// family where the page should name it (`ui_font`), the session, the live
/// messages and the socket's state, read after `updates` is open, so every
/// later change comes down it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Start {
    info: AppInfo,
    ui_font: Option<String>,
    auth: Value,
    messages: MessagesEvent,
    connection: Connection,
}

/// Opens the window's channel of updates and answers the state now, in
/// one request (see `updates`).
#[tauri::command]
pub(crate) fn start(
    app: AppHandle,
    courier: State<'_, Courier>,
    live: State<'_, Live>,
    updates: State<'_, Updates>,
    channel: Channel<Update>,
) -> Start {
    updates.open(channel);
    Start {
        info: AppInfo::of(&courier),
        // A sync command runs on the main thread, where GTK's settings are.
        ui_font: crate::ui_font::family(),
        auth: crate::events::current(&app),
        messages: live.snapshot(),
        connection: crate::live::connection(&app),
    }
}

/// The current session state (the same payload as `auth://state-changed`).
#[tauri::command]
pub(crate) fn auth_state(app: AppHandle) -> Value {
    crate::events::current(&app)
}

/// Starts signing in, in the sign-in window or the system browser.
#[tauri::command]
pub(crate) async fn sign_in(
    app: AppHandle,
    courier: State<'_, Courier>,
    mode: Option<String>,
) -> Result<(), CommandError> {
    let mode = match mode.as_deref() {
        None => courier.core()?.default_mode,
        Some("webview") => SignInMode::Webview,
        Some("browser") => SignInMode::Browser,
        Some(other) => {
            return Err(CommandError::Invalid(format!(
                "unknown sign-in mode {other:?}"
            )))
        }
    };
    crate::signin::start(&app, mode).await
}

/// Cancels the sign-in in progress.
#[tauri::command]
pub(crate) fn cancel_sign_in(app: AppHandle) {
    crate::signin::cancel(&app)
}

/// Signs out: revokes the session at the issuer, clears the keychain, and
/// removes this account's unsent draft (after the session ended, so a late
/// `draft_set` finds nobody to write for).
#[tauri::command]
pub(crate) async fn sign_out(courier: State<'_, Courier>) -> Result<(), CommandError> {
    let owner = courier.account();
    let result = courier.core()?.session.sign_out().await;
    if let Some(owner) = owner.filter(|o| courier.account().as_ref() != Some(o)) {
        if let Err(error) = courier.drafts.remove(&owner) {
            tracing::warn!(%error, "could not remove the signed-out account's draft");
        }
    }
    result?;
    Ok(())
}

/// The person's live messages now (the same payload as `messages://updated`).
#[tauri::command]
pub(crate) fn messages_snapshot(live: State<'_, Live>) -> MessagesEvent {
    live.snapshot()
}

/// Adds the next page of older messages to the live pages.
#[tauri::command]
pub(crate) fn messages_load_more(live: State<'_, Live>) {
    live.load_more()
}

/// What `send_message` answers.
#[derive(Debug, Serialize)]
pub(crate) struct Sent {
    id: String,
}

/// Sends a message; a repeated `clientMessageId` never duplicates.
#[tauri::command]
pub(crate) async fn send_message(
    courier: State<'_, Courier>,
    body: String,
    client_message_id: String,
) -> Result<Sent, CommandError> {
    let id = courier
        .core()?
        .messages
        .send(&body, &client_message_id)
        .await?;
    Ok(Sent { id })
}

/// The signed-in account's unsent draft, or an empty string.
#[tauri::command]
pub(crate) fn draft_get(courier: State<'_, Courier>) -> String {
    courier
        .account()
        .map(|owner| courier.drafts.get(&owner))
        .unwrap_or_default()
}

/// Keeps the signed-in account's unsent draft (an empty draft removes it).
/// Signed out, there is nobody to keep it for: nothing is written.
#[tauri::command]
pub(crate) fn draft_set(courier: State<'_, Courier>, text: String) -> Result<(), CommandError> {
    let Some(owner) = courier.account() else {
        return Ok(());
    };
    courier.drafts.set(&owner, &text).map_err(|e| {
        tracing::warn!(error = %e, "could not save the draft");
        CommandError::Internal("Your draft could not be saved on this computer.".into())
    })
}

/// The UI painted its first message: reported once per process, with the
/// page's `performance.now()` (see `first_paint`).
#[tauri::command]
pub(crate) fn report_first_paint(page_ms: Option<f64>) {
    crate::first_paint::report(page_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn app_info_names_the_issuer_and_the_backend() {
        let data = tempfile::tempdir().unwrap();
        let settings = Settings::from_pairs(&[
            (
                "CLERK_FRONTEND_API_URL",
                "https://verb-noun-00.clerk.accounts.dev/",
            ),
            ("CLERK_OAUTH_CLIENT_ID", "courier-desktop"),
            ("CONVEX_URL", "https://happy-otter-123.convex.cloud"),
        ]);
        let courier = Courier::start(Ok(settings)).finish(data.path().to_path_buf());
        let json = serde_json::to_value(AppInfo::of(&courier)).unwrap();
        assert_eq!(json["name"], "Courier");
        assert_eq!(json["issuer"], "https://verb-noun-00.clerk.accounts.dev");
        assert_eq!(json["convexUrl"], "https://happy-otter-123.convex.cloud");
    }

    #[test]
    fn app_info_without_settings_has_no_endpoints() {
        let data = tempfile::tempdir().unwrap();
        let settings = Settings::from_pairs(&[("CONVEX_URL", "http://evil.example.com")]);
        let courier = Courier::start(Ok(settings)).finish(data.path().to_path_buf());
        let json = serde_json::to_value(AppInfo::of(&courier)).unwrap();
        assert_eq!(json["config"]["ok"], false);
        assert!(json["issuer"].is_null(), "{json}");
        assert!(
            json["convexUrl"].is_null(),
            "plain http off loopback: {json}"
        );
    }
}
