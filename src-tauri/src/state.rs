//! What the shell keeps: the core (session manager + messages client) built
//! from the settings, or the reason it could not be built.

use std::path::PathBuf;
use std::sync::Arc;

use clerk_auth::{AuthState, ClerkConfig, KeyringStore, SessionManager, SignInMode};
use courier_messages::MessagesClient;
use serde::Serialize;

use crate::account::Account;
use crate::config::Settings;
use crate::draft::DraftStore;
use crate::error::CommandError;

/// Why Courier cannot start its core, and what to do about it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ConfigProblem {
    pub(crate) message: String,
    pub(crate) hint: String,
}

/// Where tokens go: the issuer and the Convex deployment this app uses, as
/// configured (each `None` when its setting is missing or refused).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Endpoints {
    pub(crate) issuer: Option<String>,
    pub(crate) convex_url: Option<String>,
}

impl Endpoints {
    fn from_settings(settings: &Settings) -> Self {
        let lookup = |key: &str| settings.get(key);
        Endpoints {
            issuer: ClerkConfig::from_env(lookup).ok().map(|c| c.issuer_str()),
            convex_url: courier_messages::url_from_env(lookup)
                .ok()
                .map(|u| u.as_str().trim_end_matches('/').to_owned()),
        }
    }
}

/// The signed-in machinery.
pub(crate) struct Core {
    pub(crate) session: SessionManager,
    /// One socket to Convex, on the session's tokens.
    pub(crate) messages: MessagesClient,
    pub(crate) default_mode: SignInMode,
}

/// Managed state of the app.
pub(crate) struct Courier {
    core: Result<Core, ConfigProblem>,
    /// The issuer and backend, for the UI's account area.
    pub(crate) endpoints: Endpoints,
    /// The composer's unsent drafts, one per account (not secrets).
    pub(crate) drafts: DraftStore,
}

/// Courier's core being built on a thread of its own, so that the keychain's
/// D-Bus connection, the backend's socket and the session's restore run
/// while Tauri creates the window rather than before it.
pub(crate) struct Starting {
    endpoints: Endpoints,
    core: std::thread::JoinHandle<Result<Core, ConfigProblem>>,
}

impl Starting {
    /// Waits for the core (long done by the time the window exists).
    pub(crate) fn finish(self, data_dir: PathBuf) -> Courier {
        let core = self.core.join().unwrap_or_else(|_| {
            Err(ConfigProblem {
                message: "Courier could not start its session.".into(),
                hint: "Restart Courier. If this keeps happening, check the app's log.".into(),
            })
        });
        if let Err(problem) = &core {
            tracing::warn!(problem = %problem.message, "Courier is not configured");
        }
        Courier {
            core,
            endpoints: self.endpoints,
            drafts: DraftStore::new(&data_dir),
        }
    }
}

impl Courier {
    /// Starts building the core from the settings and restoring the stored
    /// session; a problem is kept to be shown.
    pub(crate) fn start(settings: Result<Settings, String>) -> Starting {
        let endpoints = settings
            .as_ref()
            .map(Endpoints::from_settings)
            .unwrap_or_default();
        let core = std::thread::spawn(move || {
            let core = Core::from_settings(settings)?;
            let session = core.session.clone();
            tauri::async_runtime::spawn(async move { session.restore().await });
            Ok(core)
        });
        Starting { endpoints, core }
    }

    /// The core, or the configuration error the UI explains.
    pub(crate) fn core(&self) -> Result<&Core, CommandError> {
        self.core
            .as_ref()
            .map_err(|problem| CommandError::Config(problem.message.clone()))
    }

    /// The configuration problem, if any.
    pub(crate) fn config_problem(&self) -> Option<&ConfigProblem> {
        self.core.as_ref().err()
    }

    /// The signed-in account, if any: whose draft the composer shows.
    pub(crate) fn account(&self) -> Option<Account> {
        let core = self.core.as_ref().ok()?;
        match core.session.state() {
            AuthState::SignedIn { user, .. } => Some(Account {
                issuer: core.session.config().issuer_str(),
                user_id: user.id,
            }),
            _ => None,
        }
    }
}

impl Core {
    /// The core, or what is wrong with the settings and what to do.
    fn from_settings(settings: Result<Settings, String>) -> Result<Self, ConfigProblem> {
        let config_file = settings
            .as_ref()
            .ok()
            .and_then(|s| s.config_file.clone())
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the app's config folder".into());
        let settings_hint = format!(
            "Set CLERK_FRONTEND_API_URL (or CLERK_PUBLISHABLE_KEY), CLERK_OAUTH_CLIENT_ID and \
             CONVEX_URL in the environment or in {config_file}; then restart Courier."
        );
        let problem = |message| ConfigProblem {
            message,
            hint: settings_hint.clone(),
        };
        settings
            .map_err(problem)
            .and_then(|settings| Core::new(&settings, problem))
    }

    fn new(
        settings: &Settings,
        problem: impl Fn(String) -> ConfigProblem,
    ) -> Result<Self, ConfigProblem> {
        let lookup = |key: &str| settings.get(key);
        let clerk = ClerkConfig::from_env(lookup).map_err(|e| problem(e.to_string()))?;
        let convex_url =
            courier_messages::url_from_env(lookup).map_err(|e| problem(e.to_string()))?;
        let default_mode = clerk.sign_in_mode;
        // Service `dev.courier.desktop`, account `<issuer>|<client id>`:
        // the same entry as courier-cli's.
        let store = KeyringStore::for_config(&clerk).map_err(|e| ConfigProblem {
            message: e.user_message(),
            hint: "Courier keeps your session only in the system keychain, never in a file. \
                   Unlock or start it (on Linux: GNOME Keyring, KWallet or KeePassXC with \
                   Secret Service), then restart Courier."
                .into(),
        })?;
        let session =
            SessionManager::new(clerk, Arc::new(store)).map_err(|e| problem(e.to_string()))?;
        // Opening only spawns the socket's tasks; it connects in the
        // background, in parallel with the window and the session's restore.
        let messages =
            tauri::async_runtime::block_on(MessagesClient::connect(&convex_url, session.clone()))
                .map_err(|e| problem(e.to_string()))?;
        Ok(Self {
            session,
            messages,
            default_mode,
        })
    }
}
