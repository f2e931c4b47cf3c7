//! Where Courier's settings come from: the process environment, then `./.env`
//! (debug builds only, i.e. `cargo tauri dev`), then `.env` in the app's
//! config folder (installed app). A release build never reads `./.env`: a
//! file that happens to sit where a person starts the app must not decide
//! where tokens are sent. Each core crate parses its own part from the lookup
//! this builds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Settings as `name -> value`, the layers already merged by precedence.
#[derive(Debug, Clone, Default)]
pub(crate) struct Settings {
    values: HashMap<String, String>,
    /// The installed app's `.env` location (read when present).
    pub(crate) config_file: Option<PathBuf>,
}

impl Settings {
    /// Reads the layers. A malformed `.env` file is an error that names it.
    pub(crate) fn load(config_dir: Option<&Path>) -> Result<Self, String> {
        Self::load_layers(config_dir, dev_env_file().as_deref())
    }

    /// The config folder's `.env`, then `dev_env` (if any), then the process
    /// environment; later layers win.
    fn load_layers(config_dir: Option<&Path>, dev_env: Option<&Path>) -> Result<Self, String> {
        let mut settings = Settings::default();
        let config_file = config_dir.map(|dir| dir.join(".env"));
        settings.config_file = config_file.clone();
        // Lowest precedence first; later layers overwrite.
        let files = [config_file, dev_env.map(Path::to_path_buf)];
        for path in files.into_iter().flatten() {
            if !path.is_file() {
                continue;
            }
            let iter = dotenvy::from_path_iter(&path)
                .map_err(|e| format!("{} could not be read: {e}", path.display()))?;
            for item in iter {
                let (key, value) =
                    item.map_err(|e| format!("{} is not a valid .env file: {e}", path.display()))?;
                settings.values.insert(key, value);
            }
        }
        for (key, value) in std::env::vars() {
            settings.values.insert(key, value);
        }
        Ok(settings)
    }

    /// Settings from these pairs only (tests).
    #[cfg(test)]
    pub(crate) fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Settings {
            values: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            config_file: None,
        }
    }

    /// The value of one setting, if set and not empty.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.values
            .get(key)
            .filter(|v| !v.trim().is_empty())
            .cloned()
    }
}

/// `./.env` in debug builds (`cargo tauri dev`), nothing in release builds.
fn dev_env_file() -> Option<PathBuf> {
    cfg!(debug_assertions).then(|| PathBuf::from(".env"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_directory_env_only_in_debug_builds() {
        assert_eq!(
            dev_env_file(),
            cfg!(debug_assertions).then(|| PathBuf::from(".env"))
        );
        // What a release build does: no dev layer, so a stray file is ignored.
        let dir = tempfile::tempdir().unwrap();
        let stray = dir.path().join("stray.env");
        std::fs::write(&stray, "COURIER_TEST_ONLY_STRAY=from-stray\n").unwrap();
        let release = Settings::load_layers(None, None).unwrap();
        assert_eq!(release.get("COURIER_TEST_ONLY_STRAY"), None);
        let debug = Settings::load_layers(None, Some(&stray)).unwrap();
        assert_eq!(
            debug.get("COURIER_TEST_ONLY_STRAY").as_deref(),
            Some("from-stray")
        );
    }

    #[test]
    fn config_folder_env_is_read_and_process_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "COURIER_TEST_ONLY_A=from-file\nCOURIER_TEST_ONLY_PATH=file\n",
        )
        .unwrap();
        // SAFETY: this test is the only one touching these names.
        unsafe { std::env::set_var("COURIER_TEST_ONLY_PATH", "process") };
        let settings = Settings::load(Some(dir.path())).unwrap();
        assert_eq!(
            settings.get("COURIER_TEST_ONLY_A").as_deref(),
            Some("from-file")
        );
        assert_eq!(
            settings.get("COURIER_TEST_ONLY_PATH").as_deref(),
            Some("process")
        );
        assert_eq!(settings.get("COURIER_TEST_ONLY_MISSING"), None);
    }

    #[test]
    fn malformed_env_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "THIS IS NOT=valid 'quote\n").unwrap();
        let error = Settings::load(Some(dir.path())).unwrap_err();
        assert!(error.contains(".env"), "{error}");
    }
}
