//! Courier's desktop shell: windows, commands and events on top of the core
//! crates. It holds no protocol logic of its own: signing in, tokens and the
//! keychain live in `clerk-auth`, the messages and their socket in
//! `courier-messages`.
//!
//! * [`commands`]: what the main window may invoke.
//! * `events`: the session's update, `auth://state-changed`.
//! * `live`: the live messages, `messages://updated` and
//!   `messages://connection`.
//! * `updates`: the channel that carries those updates to the main window.
//! * `signin`: the sign-in window or system browser for one flow.
//! * `state`: the core built from the settings (or why it could not be).
//! * `config`: where the settings come from.
//! * `account`: whose per-account files (drafts, cached messages) are whose.
//! * `message_cache`: the first page kept to paint at once on the next start.
//! * `first_paint`: when the first message was painted (the window benchmark).
//! * `painting`: the webview paints on the CPU when there is no GPU (Linux).
//! * `ui_font`: the desktop's font family, named for the page (Linux).

mod account;
mod commands;
mod config;
mod draft;
mod error;
mod events;
mod first_paint;
mod fsutil;
mod live;
mod logging;
mod message_cache;
#[cfg(target_os = "linux")]
mod painting;
mod signin;
mod state;
mod ui_font;
mod updates;

use tauri::{Manager, WindowEvent};

/// Builds and runs the app until the main window closes.
pub fn run() {
    start_clock::mark();
    // Before any thread starts: it may set an environment variable.
    #[cfg(target_os = "linux")]
    let cpu_painting = painting::choose();
    let mut context = tauri::generate_context!();
    if let Some(dir) = log_dir(context.config()) {
        logging::init(&dir);
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "Courier starting");
    #[cfg(target_os = "linux")]
    if cpu_painting {
        tracing::info!("no GPU to paint with: the window paints on the CPU");
    }
    let settings = config::Settings::load(config_dir(context.config()).as_deref());
    // Avatars may come from the configured issuer's origin (dev-clerk serves
    // them); the CSP names it rather than allowing every http origin.
    if let Some(origin) = settings.as_ref().ok().and_then(issuer_origin) {
        allow_images_from(context.config_mut(), &origin);
    }
    // The keychain, the backend's socket and the session's restore start
    // now, beside the window's creation (`setup` only collects them).
    let starting = state::Courier::start(settings);

    tauri::Builder::default()
        // First, so a second launch only focuses the running window.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            if let Some(main) = app.get_webview_window("main") {
                let _ = main.unminimize();
                let _ = main.set_focus();
            }
        }))
        .plugin(
            tauri_plugin_window_state::Builder::default()
                .with_denylist(&[signin::SIGN_IN_WINDOW])
                .build(),
        )
        .plugin(tauri_plugin_opener::init())
        .setup(move |app| {
            let data_dir = app.path().app_data_dir()?;
            app.manage(updates::Updates::default());
            app.manage(live::Live::new(&data_dir));
            app.manage(starting.finish(data_dir));
            events::forward_state_changes(app.handle());
            live::follow(app.handle());
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the main window quits, also mid sign-in.
            if window.label() == "main" && matches!(event, WindowEvent::Destroyed) {
                window.app_handle().exit(0);
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::start,
            commands::auth_state,
            commands::sign_in,
            commands::cancel_sign_in,
            commands::sign_out,
            commands::messages_snapshot,
            commands::messages_load_more,
            commands::send_message,
            commands::draft_get,
            commands::draft_set,
            commands::report_first_paint,
        ])
        .run(context)
        .expect("error while running Courier");
}

/// The installed app's config folder (`<config dir>/<identifier>`).
fn config_dir(config: &tauri::Config) -> Option<std::path::PathBuf> {
    dirs::config_dir().map(|dir| dir.join(&config.identifier))
}

/// Tauri's `app_log_dir`, known before the app is built, so that the core's
/// thread logs from the start.
fn log_dir(config: &tauri::Config) -> Option<std::path::PathBuf> {
    #[cfg(target_os = "macos")]
    let dir = dirs::home_dir().map(|home| home.join("Library/Logs").join(&config.identifier));
    #[cfg(not(target_os = "macos"))]
    let dir = dirs::data_local_dir().map(|data| data.join(&config.identifier).join("logs"));
    dir
}

fn issuer_origin(settings: &config::Settings) -> Option<String> {
    clerk_auth::ClerkConfig::from_env(|key| settings.get(key))
        .ok()
        .map(|clerk| clerk.issuer.origin().ascii_serialization())
}

fn allow_images_from(config: &mut tauri::Config, origin: &str) {
    use tauri::utils::config::{Csp, CspDirectiveSources};
    if let Some(Csp::DirectiveMap(map)) = config.app.security.csp.as_mut() {
        let sources = map
            .entry("img-src".into())
            .or_insert_with(|| CspDirectiveSources::List(vec!["'self'".into()]));
        sources.push(origin);
    }
}
