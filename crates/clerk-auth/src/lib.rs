//! Sign in with Clerk from a desktop app, and keep the session.
//!
//! This crate is the OAuth 2.0 / OpenID Connect client of Courier:
//! authorization code + PKCE to a loopback redirect, ID token validation,
//! one [`SessionManager`] that owns the tokens, refreshes them ahead of
//! expiry and publishes an [`AuthState`], and a [`SessionStore`] in the OS
//! keychain. It works against Clerk and against `dev-clerk` alike (every
//! endpoint comes from discovery).
//!
//! It is not a UI, knows nothing of Tauri or Convex, and never writes a
//! token to a file or a log.
//!
//! Map:
//! * [`ClerkConfig`] (`config`): issuer, client id, mode, from the environment.
//! * [`SessionManager`] (`session`): states, `id_token()`, refresh, sign-out,
//!   and the keychain shared with other processes.
//! * [`SessionLock`] (`lock`): the cross-process lock around a refresh.
//! * [`PendingSignIn`], [`SignInHandle`] (`sign_in`, `loopback`): one sign-in flow.
//! * [`IdTokenValidator`] (`id_token`): the ID token checks.
//! * [`SessionStore`], [`KeyringStore`], [`MemoryStore`] (`store`), with the
//!   ID token cache entry read back by `cached_token`.
//! * [`AuthError`] (`error`), with [`AuthError::user_message`].
//! * [`install_crypto_provider`] (`http`): one TLS crypto stack, AWS-LC.

mod cached_token;
mod callback;
mod config;
mod error;
mod http;
mod id_token;
mod lock;
mod loopback;
mod provider;
mod secret;
mod session;
mod sign_in;
mod state;
mod store;

pub use config::{
    issuer_from_publishable_key, parse_issuer, ClerkConfig, ConfigError, SignInMode, DEFAULT_LEEWAY,
};
pub use error::AuthError;
pub use http::install_crypto_provider;
pub use id_token::{
    IdTokenClaims, IdTokenError, IdTokenValidator, NonceCheck, SUPPORTED_ALGORITHMS,
};
pub use jsonwebtoken::jwk::JwkSet;
pub use lock::{LockError, SessionLock, SessionLockGuard, LOCK_TIMEOUT};
pub use provider::JWKS_REFETCH_INTERVAL;
pub use secret::{IdToken, RefreshToken};
pub use session::{
    SessionManager, FIRST_BACKOFF, KEYCHAIN_WATCH_INTERVAL, MAX_BACKOFF, MIN_TIME_LEFT,
    REFRESH_AHEAD,
};
pub use sign_in::{PendingSignIn, SignInHandle, SignInOptions, SCOPES};
pub use state::{AuthState, SignOutReason, User};
pub use store::{
    KeyringStore, MemoryStore, SessionStore, StoreError, StoredSession, ID_TOKEN_ACCOUNT_SUFFIX,
    KEYCHAIN_SERVICE, MAX_STORED_BYTES,
};
