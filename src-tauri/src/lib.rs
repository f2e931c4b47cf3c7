//! Courier's desktop shell: windows, commands and events on top of the core
//! crates. It holds no protocol logic of its own: signing in, tokens and the
//! keychain live in `clerk-auth`, the messages and their socket in
//! `courier-messages`.
//!
//! * [`commands`]: what the main window may invoke.
//! * `events`: the session event, `auth://state-changed`.
//! * `live`: the live messages, `messages://updated` and
//!   `messages://connection`.
//! * `signin`: the sign-in window or system browser for one flow.
//! * `state`: the core built from the settings (or why it could not be).
//! * `config`: where the settings come from.
//! * `first_paint`: when the first message was painted (the window benchmark).

mod commands;
mod config;
mod draft;
mod error;
mod events;
mod first_paint;
mod fsutil;
mod live;
mod logging;
mod signin;
mod state;

use tauri::{Manager, WindowEvent};

/// Builds and runs the app until the main window closes.
pub fn run() {
    start_clock::mark();
    let mut context = tauri::generate_context!();
    let settings = config::Settings::load(config_dir(context.config()).as_deref());
    // Avatars may come from the configured issuer's origin (dev-clerk serves
    // them); the CSP names it rather than allowing every http origin.
    if let Some(origin) = settings.as_ref().ok().and_then(issuer_origin) {
        allow_images_from(context.config_mut(), &origin);
    }

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
            let paths = app.path();
            if let Ok(dir) = paths.app_log_dir() {
                logging::init(&dir);
            }
            let data_dir = paths.app_data_dir()?;
            tracing::info!(version = env!("CARGO_PKG_VERSION"), "Courier starting");
            app.manage(state::Courier::new(settings, data_dir));
            app.manage(live::Live::default());
            events::forward_state_changes(app.handle());
            live::follow(app.handle());
            if let Ok(core) = app.state::<state::Courier>().core() {
                let session = core.session.clone();
                tauri::async_runtime::spawn(async move { session.restore().await });
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing the main window quits, also mid sign-in.
            if window.label() == "main" && matches!(event, WindowEvent::Destroyed) {
                window.app_handle().exit(0);
            }
        })
        .invoke_handler(tauri::generate_handler![
            commands::app_info,
            commands::auth_state,
            commands::sign_in,
            commands::cancel_sign_in,
            commands::sign_out,
            commands::messages_snapshot,
            commands::messages_load_more,
            commands::connection_state,
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
