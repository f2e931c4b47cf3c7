//! What the shell keeps: the core (session manager + messages client) built
//! from the settings, or the reason it could not be built.

use std::path::PathBuf;
use std::sync::Arc;

use clerk_auth::{AuthState, ClerkConfig, KeyringStore, SessionManager, SignInMode};
use courier_messages::MessagesClient;
use serde::Serialize;

use crate::config::Settings;
use crate::draft::{DraftOwner, DraftStore};
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

impl Courier {
    /// Builds the core from the settings; a problem is kept to be shown.
    pub(crate) fn new(settings: Result<Settings, String>, data_dir: PathBuf) -> Self {
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
        let endpoints = settings
            .as_ref()
            .map(Endpoints::from_settings)
            .unwrap_or_default();
        let core = settings
            .map_err(problem)
            .and_then(|settings| Core::new(&settings, problem));
        if let Err(problem) = &core {
            tracing::warn!(problem = %problem.message, "Courier is not configured");
        }
        Self {
            core,
            endpoints,
            drafts: DraftStore::new(&data_dir),
        }
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

    /// Whose draft the composer shows: the signed-in account, if any.
    pub(crate) fn draft_owner(&self) -> Option<DraftOwner> {
        let core = self.core.as_ref().ok()?;
        match core.session.state() {
            AuthState::SignedIn { user, .. } => Some(DraftOwner {
                issuer: core.session.config().issuer_str(),
                user_id: user.id,
            }),
            _ => None,
        }
    }
}

impl Core {
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
