//! The configuration, as the desktop app reads it: the process environment
//! wins, then the file named by `--env-file` (development), then `.env` in
//! the app's config folder (installed app). A `./.env` is never read on its
//! own: a file that happens to sit in the working directory must not decide
//! where tokens are sent. The files are read, never written into the process
//! environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use clerk_auth::ClerkConfig;
use url::Url;

use crate::error::CliError;

/// The app's identifier: its config folder name and keychain service.
pub(crate) const APP_ID: &str = "dev.courier.desktop";

/// The merged configuration variables.
#[derive(Debug, Default)]
pub(crate) struct Env {
    vars: HashMap<String, String>,
    /// The files that were read, highest precedence first (for messages).
    files: Vec<PathBuf>,
}

impl Env {
    /// The process environment, `env_file` (`--env-file`, which must
    /// exist), then the app config folder's `.env`.
    pub(crate) fn load(env_file: Option<&Path>) -> Result<Self, CliError> {
        if let Some(file) = env_file {
            if !file.is_file() {
                return Err(CliError::Misconfigured(format!(
                    "--env-file {}: no such file",
                    file.display()
                )));
            }
        }
        let process = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::from_sources(process, &env_files(env_file))
    }

    /// `process` first, then each of `files` that exists, in order: the
    /// first source to define a variable wins.
    pub(crate) fn from_sources(
        process: impl IntoIterator<Item = (String, String)>,
        files: &[PathBuf],
    ) -> Result<Self, CliError> {
        let mut env = Env {
            vars: process.into_iter().collect(),
            files: Vec::new(),
        };
        for file in files {
            if !file.is_file() {
                continue;
            }
            let iter = dotenvy::from_path_iter(file).map_err(|e| bad_file(file, e))?;
            for item in iter {
                let (key, value) = item.map_err(|e| bad_file(file, e))?;
                env.vars.entry(key).or_insert(value);
            }
            env.files.push(file.clone());
        }
        Ok(env)
    }

    /// One variable; empty counts as unset.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.vars.get(key).filter(|v| !v.trim().is_empty()).cloned()
    }

    /// The Clerk part, as `clerk-auth` parses it.
    pub(crate) fn clerk(&self) -> Result<ClerkConfig, CliError> {
        ClerkConfig::from_env(|k| self.get(k))
            .map_err(|e| CliError::Misconfigured(format!("{e}. {}", self.where_to_set())))
    }

    /// `CONVEX_URL`, as `courier-messages` checks it.
    pub(crate) fn convex_url(&self) -> Result<Url, CliError> {
        courier_messages::url_from_env(|k| self.get(k))
            .map_err(|e| CliError::Misconfigured(format!("{e}. {}", self.where_to_set())))
    }

    fn where_to_set(&self) -> String {
        let read = if self.files.is_empty() {
            "no .env file was found".to_owned()
        } else {
            let names: Vec<_> = self.files.iter().map(|f| f.display().to_string()).collect();
            format!("read {}", names.join(", "))
        };
        let app = app_env_file()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| format!("<config dir>/{APP_ID}/.env"));
        format!(
            "Looked in the environment, the --env-file if given, and {app} \
             (./.env is read only with --env-file .env); {read}."
        )
    }
}

/// `env_file` (if given), then the app config folder's `.env`.
pub(crate) fn env_files(env_file: Option<&Path>) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = env_file.map(Path::to_path_buf).into_iter().collect();
    files.extend(app_env_file());
    files
}

/// `<config dir>/dev.courier.desktop/.env` (on Linux `~/.config/...`).
fn app_env_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join(APP_ID).join(".env"))
}

fn bad_file(file: &Path, e: dotenvy::Error) -> CliError {
    CliError::Misconfigured(format!("could not read {}: {e}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn process_env_wins_then_local_then_app_file() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("local.env");
        let app = dir.path().join("app.env");
        std::fs::write(
            &local,
            "CONVEX_URL=http://127.0.0.1:1111\nCLERK_OAUTH_CLIENT_ID=local-client\n",
        )
        .unwrap();
        std::fs::write(
            &app,
            "CONVEX_URL=http://127.0.0.1:2222\nCLERK_OAUTH_CLIENT_ID=app-client\nCLERK_FRONTEND_API_URL=http://127.0.0.1:4810\n",
        )
        .unwrap();
        let missing = dir.path().join("missing.env");
        let env = Env::from_sources(
            vars(&[("CLERK_OAUTH_CLIENT_ID", "process-client")]),
            &[local, missing, app],
        )
        .unwrap();
        assert_eq!(
            env.get("CLERK_OAUTH_CLIENT_ID").as_deref(),
            Some("process-client")
        );
        assert_eq!(env.convex_url().unwrap().as_str(), "http://127.0.0.1:1111/");
        let clerk = env.clerk().unwrap();
        assert_eq!(clerk.issuer_str(), "http://127.0.0.1:4810");
        assert_eq!(clerk.client_id, "process-client");
    }

    #[test]
    fn missing_settings_are_misconfigured_with_a_hint() {
        let env = Env::from_sources(vars(&[]), &[]).unwrap();
        let err = env.clerk().unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("CLERK_FRONTEND_API_URL"), "{err}");
        assert!(err.to_string().contains(APP_ID), "{err}");

        let env = Env::from_sources(
            vars(&[("CLERK_FRONTEND_API_URL", "http://127.0.0.1:4810")]),
            &[],
        )
        .unwrap();
        let err = env.clerk().unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("CLERK_OAUTH_CLIENT_ID"), "{err}");

        let err = env.convex_url().unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("CONVEX_URL is not set"), "{err}");
    }

    #[test]
    fn bad_values_are_misconfigured() {
        let env = Env::from_sources(
            vars(&[
                ("CLERK_FRONTEND_API_URL", "http://evil.example.com"),
                ("CLERK_OAUTH_CLIENT_ID", "c"),
                ("CONVEX_URL", "ftp://x"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(
            env.clerk().unwrap_err().exit_code(),
            5,
            "plain http only on loopback"
        );
        assert_eq!(env.convex_url().unwrap_err().exit_code(), 5);
    }

    #[test]
    fn publishable_key_alone_names_the_issuer() {
        // pk_test_ + base64("verb-noun-00.clerk.accounts.dev$")
        let env = Env::from_sources(
            vars(&[
                (
                    "CLERK_PUBLISHABLE_KEY",
                    "pk_test_dmVyYi1ub3VuLTAwLmNsZXJrLmFjY291bnRzLmRldiQ",
                ),
                ("CLERK_OAUTH_CLIENT_ID", "c"),
            ]),
            &[],
        )
        .unwrap();
        assert_eq!(
            env.clerk().unwrap().issuer_str(),
            "https://verb-noun-00.clerk.accounts.dev"
        );
    }

    #[test]
    fn no_dot_env_in_the_working_directory_unless_named() {
        assert!(env_files(None).iter().all(|f| f != Path::new(".env")));
        assert_eq!(
            env_files(Some(Path::new("dev.env")))[0],
            PathBuf::from("dev.env")
        );
        let err = Env::load(Some(Path::new("/nonexistent/courier/.env"))).unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains("--env-file"), "{err}");
    }

    #[test]
    fn unreadable_env_file_is_misconfigured() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join(".env");
        std::fs::write(&bad, "THIS IS NOT = \"closed\n").unwrap();
        let err = Env::from_sources(vars(&[]), &[bad]).unwrap_err();
        assert_eq!(err.exit_code(), 5);
        assert!(err.to_string().contains(".env"), "{err}");
    }
}
