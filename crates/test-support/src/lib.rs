//! Shared test helpers for Courier's crates.
//!
//! * [`TestBackends`]: dev-clerk and convex-local in-process on 127.0.0.1
//!   port 0, in temporary folders, convex-local trusting that dev-clerk.
//! * [`play_browser`] / [`TestBrowser`]: the person at the sign-in page,
//!   played with plain HTTP (a cookie jar, redirects off).
//! * [`deliver`]: the browser following the redirect to a loopback listener.
//! * [`wait_for_value`]: wait on a watch channel for an expected value.
//! * [`secret_service_available`] and [`KEYCHAIN_ENV_NOTE`]: the real keychain.
//!
//! This is not a mock of anything: the servers are the real ones. It is a
//! dev-dependency only; nothing here belongs in a shipped binary.

mod backends;
mod browser;
mod keychain;
mod watch;

pub use backends::{TestBackends, TestBackendsBuilder};
pub use browser::{deliver, is_consent_page, play_browser, Delivered, TestBrowser};
pub use keychain::{secret_service_available, KEYCHAIN_ENV_NOTE};
pub use watch::wait_for_value;

pub use convex_local::ConvexLocal;
pub use dev_clerk::{demo, DevClerk, GrantCounts, TokenFault};

/// What can go wrong in a helper.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// dev-clerk failed to start.
    #[error("dev-clerk: {0}")]
    DevClerk(#[from] dev_clerk::Error),
    /// convex-local failed to start.
    #[error("convex-local: {0}")]
    ConvexLocal(#[from] convex_local::Error),
    /// A temporary folder could not be made.
    #[error("temporary folder: {0}")]
    Io(#[from] std::io::Error),
    /// An HTTP request failed.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// The page was not what a person would have seen.
    #[error("unexpected page: {0}")]
    Page(String),
}

/// Result of a helper.
pub type Result<T, E = Error> = std::result::Result<T, E>;
