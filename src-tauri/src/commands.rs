//! The commands the main window may invoke (and nothing else may: see
//! `src-tauri/capabilities/main.json`). Each delegates to managed state.

use clerk_auth::SignInMode;
use serde::Serialize;
use serde_json::{json, Value};
use tauri::{AppHandle, State};

use crate::error::CommandError;
use crate::state::{ConfigProblem, Courier};

/// Longest message the backend accepts, in characters.
const MAX_BODY_CHARS: usize = 10_000;

/// What the UI shows about the app itself.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppInfo {
    name: &'static str,
    version: &'static str,
    config: ConfigStatus,
}

/// Whether Courier is configured, and if not what to set where.
#[derive(Debug, Serialize)]
pub(crate) struct ConfigStatus {
    ok: bool,
    #[serde(flatten)]
    problem: Option<ConfigProblem>,
}

/// The app's name, version and configuration status.
#[tauri::command]
pub(crate) fn app_info(courier: State<'_, Courier>) -> AppInfo {
    let problem = courier.config_problem().cloned();
    AppInfo {
        name: "Courier",
        version: env!("CARGO_PKG_VERSION"),
        config: ConfigStatus {
            ok: problem.is_none(),
            problem,
        },
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

/// Signs out: revokes the session at the issuer and clears the keychain.
#[tauri::command]
pub(crate) async fn sign_out(courier: State<'_, Courier>) -> Result<(), CommandError> {
    courier.core()?.session.sign_out().await?;
    Ok(())
}

/// One page of the person's messages, newest first.
#[tauri::command]
pub(crate) async fn messages_page(
    courier: State<'_, Courier>,
    cursor: Option<String>,
    num_items: Option<u32>,
) -> Result<Value, CommandError> {
    let args = json!({
        "paginationOpts": { "numItems": num_items.unwrap_or(20).clamp(1, 200), "cursor": cursor }
    });
    Ok(courier.core()?.convex.query("messages:list", &args).await?)
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
    let chars = body.trim().chars().count();
    if chars == 0 {
        return Err(CommandError::Invalid("Write something first.".into()));
    }
    if chars > MAX_BODY_CHARS {
        return Err(CommandError::Invalid(format!(
            "This message is {chars} characters long; the limit is {MAX_BODY_CHARS}."
        )));
    }
    let args = json!({ "body": body, "clientMessageId": client_message_id });
    let id: String = courier
        .core()?
        .convex
        .mutation("messages:send", &args)
        .await?;
    Ok(Sent { id })
}

/// The unsent draft, or an empty string.
#[tauri::command]
pub(crate) fn draft_get(courier: State<'_, Courier>) -> String {
    std::fs::read_to_string(&courier.draft_path).unwrap_or_default()
}

/// Keeps the unsent draft (written atomically; an empty draft removes it).
#[tauri::command]
pub(crate) fn draft_set(courier: State<'_, Courier>, text: String) -> Result<(), CommandError> {
    let path = &courier.draft_path;
    let result = if text.is_empty() {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    } else {
        let tmp = path.with_extension("tmp");
        std::fs::create_dir_all(path.parent().unwrap_or(path))
            .and_then(|()| std::fs::write(&tmp, text))
            .and_then(|()| std::fs::rename(&tmp, path))
    };
    result.map_err(|e| {
        tracing::warn!(error = %e, "could not save the draft");
        CommandError::Internal("Your draft could not be saved on this computer.".into())
    })
}
