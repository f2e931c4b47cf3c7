//! The library's error type.

use std::path::PathBuf;

/// Everything that can go wrong starting or querying a [`crate::ConvexLocal`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is unusable (bad provider URL, bad publishable key, ...).
    #[error("configuration: {0}")]
    Config(String),
    /// Reading the auth config file failed.
    #[error("could not read auth config {path}: {message}")]
    ConfigFile {
        /// The file that was read.
        path: PathBuf,
        /// What was wrong with it.
        message: String,
    },
    /// The data folder could not be created.
    #[error("data folder {path}: {source}")]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    /// Binding or serving the listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// A blocking database task panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
    /// A stored document could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}
