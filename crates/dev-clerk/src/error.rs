//! The library's error type.

use std::path::PathBuf;

/// What can go wrong starting or running a [`crate::DevClerk`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is unusable (the message says what and where).
    #[error("configuration: {0}")]
    Config(String),
    /// Reading or writing a file in the data folder failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The listener could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A stored file is not what dev-clerk wrote.
    #[error("{path}: corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Generating or loading a signing key failed.
    #[error("signing key: {0}")]
    Key(String),
}
