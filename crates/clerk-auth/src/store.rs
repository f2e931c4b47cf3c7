//! Where the session lives between runs: the OS keychain ([`KeyringStore`])
//! or memory ([`MemoryStore`], for tests). Nothing is ever written to a file.
//!
//! Two keychain entries per session: `<issuer>|<client_id>` holds the
//! refresh token and the user (small JSON), `<issuer>|<client_id>|id_token`
//! caches the current ID token, so that a start or a CLI command needs no
//! refresh while that token has time left. The cache entry is optional: a
//! token larger than [`MAX_STORED_BYTES`] is not cached (the entry is
//! removed), and an unreadable cache entry is ignored.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::secret::RefreshToken;
use crate::state::User;

/// The keychain service name shared by the app and `courier-cli`.
pub const KEYCHAIN_SERVICE: &str = "dev.courier.desktop";

/// Largest secret we write in one entry: well under the 2,560 bytes that
/// Windows' credential manager accepts.
pub const MAX_STORED_BYTES: usize = 2048;

/// Suffix of the ID token cache entry's account.
pub const ID_TOKEN_ACCOUNT_SUFFIX: &str = "|id_token";

/// What is kept between runs: the refresh token and a little about the user.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The refresh token (rotated on every refresh).
    pub refresh_token: RefreshToken,
    /// Who is signed in, shown while offline.
    pub user: User,
    /// When the session (this refresh token) was issued.
    pub issued_at: SystemTime,
    /// The `nonce` of the sign-in: a refreshed ID token may repeat it.
    pub nonce: Option<String>,
    /// The current ID token (compact JWT), kept in the cache entry. `None`
    /// when there is none or it is too large to cache.
    pub id_token: Option<String>,
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("refresh_token", &self.refresh_token)
            .field("user", &self.user)
            .field("issued_at", &self.issued_at)
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// The JSON written to the keychain (version 1).
#[derive(Serialize, Deserialize)]
struct Wire {
    v: u32,
    refresh_token: String,
    user: User,
    issued_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    nonce: Option<String>,
}

impl StoredSession {
    /// The small JSON document kept in the keychain.
    pub fn to_json(&self) -> Result<String, StoreError> {
        let wire = Wire {
            v: 1,
            refresh_token: self.refresh_token.secret().to_owned(),
            user: self.user.clone(),
            issued_at: self
                .issued_at
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
            nonce: self.nonce.clone(),
        };
        let json = serde_json::to_string(&wire).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        if json.len() > MAX_STORED_BYTES {
            return Err(StoreError::TooLarge(json.len()));
        }
        Ok(json)
    }

    /// Parses what [`StoredSession::to_json`] wrote.
    pub fn from_json(json: &str) -> Result<Self, StoreError> {
        let wire: Wire = serde_json::from_str(json)
            .map_err(|e| StoreError::Corrupt(format!("stored session is not readable: {e}")))?;
        if wire.v != 1 || wire.refresh_token.is_empty() {
            return Err(StoreError::Corrupt(
                "stored session has an unknown format".into(),
            ));
        }
        Ok(StoredSession {
            refresh_token: RefreshToken::new(wire.refresh_token),
            user: wire.user,
            issued_at: UNIX_EPOCH + Duration::from_secs(wire.issued_at),
            nonce: wire.nonce,
            id_token: None,
        })
    }

    /// The ID token as the cache entry holds it, if it fits.
    pub fn id_token_to_cache(&self) -> Option<&str> {
        self.id_token
            .as_deref()
            .filter(|t| !t.is_empty() && t.len() <= MAX_STORED_BYTES)
    }
}

/// The keychain failed: locked, missing, or holding something unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The keychain exists but is locked (or access was refused).
    #[error("the keychain is locked: {0}")]
    Locked(String),
    /// No keychain service could be reached (e.g. no Secret Service on D-Bus).
    #[error("no keychain is available: {0}")]
    Unavailable(String),
    /// The stored entry could not be read back.
    #[error("the keychain entry is unreadable: {0}")]
    Corrupt(String),
    /// The session would exceed [`MAX_STORED_BYTES`].
    #[error("the session is too large for the keychain ({0} bytes)")]
    TooLarge(usize),
    /// Any other keychain failure.
    #[error("keychain error: {0}")]
    Other(String),
}

impl StoreError {
    /// What happened and what to do, for a person.
    pub fn user_message(&self) -> String {
        match self {
            StoreError::Locked(_) => "Courier could not open your keychain because it is locked. Unlock it (or allow Courier access) and try again.".into(),
            StoreError::Unavailable(_) => "Courier could not find a keychain to keep your session in. On Linux, start a Secret Service (GNOME Keyring or KWallet) and try again.".into(),
            StoreError::Corrupt(_) => "The saved session in your keychain could not be read. Sign in again.".into(),
            StoreError::TooLarge(_) => "The session is too large for your keychain. Sign in again; if it keeps happening, report it.".into(),
            StoreError::Other(e) => format!("Your keychain reported an error ({e}). Try again; if it keeps happening, restart your session."),
        }
    }
}

/// Where the session is kept between runs. Calls block (the keychain is a
/// local IPC call, ~4 ms); the session manager runs them off the async workers.
pub trait SessionStore: Send + Sync + 'static {
    /// The stored session with its cached ID token, or `None` when there is
    /// none.
    fn load(&self) -> Result<Option<StoredSession>, StoreError>;
    /// Replaces the stored session and its cached ID token (removing the
    /// cache when `session.id_token` is `None` or too large).
    fn save(&self, session: &StoredSession) -> Result<(), StoreError>;
    /// Removes the stored session and its cache (no error when there is none).
    fn delete(&self) -> Result<(), StoreError>;
}

/// An in-memory store, for tests and for a session that must not persist.
#[derive(Default)]
pub struct MemoryStore {
    slot: Mutex<Option<String>>,
    id_token: Mutex<Option<String>>,
    fail: Mutex<Option<StoreError>>,
    loads: std::sync::atomic::AtomicU64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every later call fail with `error` (`None` heals it): a locked
    /// keychain, for tests.
    pub fn set_failure(&self, error: Option<StoreError>) {
        *self.fail.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// How many times [`SessionStore::load`] was called (a keychain read
    /// costs an IPC round trip; tests check nothing polls it in a loop).
    pub fn loads(&self) -> u64 {
        self.loads.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The stored JSON as the keychain would hold it.
    pub fn raw(&self) -> Option<String> {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn check(&self) -> Result<(), StoreError> {
        match &*self.fail.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl SessionStore for MemoryStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.check()?;
        let Some(json) = self.raw() else {
            return Ok(None);
        };
        let mut session = StoredSession::from_json(&json)?;
        session.id_token = self
            .id_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Ok(Some(session))
    }

    fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        self.check()?;
        let json = session.to_json()?;
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(json);
        *self.id_token.lock().unwrap_or_else(|e| e.into_inner()) =
            session.id_token_to_cache().map(str::to_owned);
        Ok(())
    }

    fn delete(&self) -> Result<(), StoreError> {
        self.check()?;
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
        *self.id_token.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
}

/// The OS keychain through `keyring-core`: the Secret Service (over one
/// D-Bus connection) on Linux, the Keychain on macOS, the Credential
/// Manager on Windows. There is no fallback: without a keychain,
/// [`KeyringStore::new`] or the calls fail with a [`StoreError`].
pub struct KeyringStore {
    entry: keyring_core::Entry,
    id_token_entry: keyring_core::Entry,
    service: String,
    account: String,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &self.service)
            .field("account", &self.account)
            .finish()
    }
}

impl KeyringStore {
    /// The entries `service` / `<issuer>|<client_id>` (issuer without
    /// trailing slash) and `<issuer>|<client_id>|id_token` in the platform
    /// keychain. Connects to the keychain now.
    pub fn new(service: &str, issuer: &str, client_id: &str) -> Result<Self, StoreError> {
        let account = format!("{}|{}", issuer.trim_end_matches('/'), client_id);
        let store = platform_store()?;
        let entry = store
            .build(service, &account, None)
            .map_err(map_keyring_error)?;
        let id_token_entry = store
            .build(
                service,
                &format!("{account}{ID_TOKEN_ACCOUNT_SUFFIX}"),
                None,
            )
            .map_err(map_keyring_error)?;
        Ok(KeyringStore {
            entry,
            id_token_entry,
            service: service.to_owned(),
            account,
        })
    }

    /// The store for this configuration, under [`KEYCHAIN_SERVICE`].
    pub fn for_config(config: &crate::ClerkConfig) -> Result<Self, StoreError> {
        Self::new(KEYCHAIN_SERVICE, &config.issuer_str(), &config.client_id)
    }

    /// The account name: `<issuer>|<client_id>`.
    pub fn account(&self) -> &str {
        &self.account
    }
}

/// One credential store per process: one D-Bus connection on Linux.
fn platform_store() -> Result<Arc<keyring_core::CredentialStore>, StoreError> {
    static STORE: Mutex<Option<Arc<keyring_core::CredentialStore>>> = Mutex::new(None);
    let mut guard = STORE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(store) = guard.as_ref() {
        return Ok(store.clone());
    }
    let store = new_platform_store()?;
    *guard = Some(store.clone());
    Ok(store)
}

#[cfg(target_os = "linux")]
fn new_platform_store() -> Result<Arc<keyring_core::CredentialStore>, StoreError> {
    let store = zbus_secret_service_keyring_store::Store::new().map_err(|e| match e {
        keyring_core::Error::PlatformFailure(p) => StoreError::Unavailable(p.to_string()),
        other => map_keyring_error(other),
    })?;
    Ok(store)
}

#[cfg(target_os = "macos")]
fn new_platform_store() -> Result<Arc<keyring_core::CredentialStore>, StoreError> {
    let store = apple_native_keyring_store::keychain::Store::new().map_err(map_keyring_error)?;
    Ok(store)
}

#[cfg(target_os = "windows")]
fn new_platform_store() -> Result<Arc<keyring_core::CredentialStore>, StoreError> {
    let store = windows_native_keyring_store::Store::new().map_err(map_keyring_error)?;
    Ok(store)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn new_platform_store() -> Result<Arc<keyring_core::CredentialStore>, StoreError> {
    Err(StoreError::Unavailable(
        "no keychain backend for this platform".into(),
    ))
}

fn map_keyring_error(e: keyring_core::Error) -> StoreError {
    use keyring_core::Error as E;
    match e {
        E::NoStorageAccess(p) => StoreError::Locked(p.to_string()),
        E::PlatformFailure(p) => StoreError::Other(p.to_string()),
        E::NoDefaultStore => StoreError::Unavailable("no keychain store".into()),
        E::BadEncoding(_) => StoreError::Corrupt("not UTF-8".into()),
        E::BadDataFormat(_, p) => StoreError::Corrupt(p.to_string()),
        E::TooLong(what, limit) => StoreError::Other(format!("{what} is longer than {limit}")),
        other => StoreError::Other(other.to_string()),
    }
}

fn delete_entry(entry: &keyring_core::Entry) -> Result<(), StoreError> {
    match entry.delete_credential() {
        Ok(()) | Err(keyring_core::Error::NoEntry) => Ok(()),
        Err(e) => Err(map_keyring_error(e)),
    }
}

impl SessionStore for KeyringStore {
    fn load(&self) -> Result<Option<StoredSession>, StoreError> {
        let mut session = match self.entry.get_password() {
            Ok(json) => StoredSession::from_json(&json)?,
            Err(keyring_core::Error::NoEntry) => return Ok(None),
            Err(e) => return Err(map_keyring_error(e)),
        };
        // The cache is optional: any failure reading it means "refresh".
        session.id_token = match self.id_token_entry.get_password() {
            Ok(token) => Some(token),
            Err(keyring_core::Error::NoEntry) => None,
            Err(e) => {
                tracing::debug!(error = %map_keyring_error(e), "the ID token cache is unreadable");
                None
            }
        };
        Ok(Some(session))
    }

    fn save(&self, session: &StoredSession) -> Result<(), StoreError> {
        let json = session.to_json()?;
        // The refresh token first: it is the session; the cache only saves a
        // refresh. A reader between the two writes sees the new refresh
        // token with the previous ID token of the same user, which is fine.
        self.entry.set_password(&json).map_err(map_keyring_error)?;
        match session.id_token_to_cache() {
            Some(token) => self
                .id_token_entry
                .set_password(token)
                .map_err(map_keyring_error),
            None => delete_entry(&self.id_token_entry),
        }
    }

    fn delete(&self) -> Result<(), StoreError> {
        // The session entry first: once it is gone, no process uses the cache.
        delete_entry(&self.entry)?;
        delete_entry(&self.id_token_entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> StoredSession {
        StoredSession {
            refresh_token: RefreshToken::new("rt_".to_owned() + &"x".repeat(64)),
            user: User {
                id: "user_2AdaLovelace1815000000".into(),
                name: Some("Ada Lovelace".into()),
                email: Some("ada@example.com".into()),
                picture: Some(
                    "http://127.0.0.1:4810/avatars/user_2AdaLovelace1815000000.svg".into(),
                ),
            },
            issued_at: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            nonce: Some("n".repeat(43)),
            id_token: None,
        }
    }

    #[test]
    fn json_round_trip_is_small() {
        let s = session();
        let json = s.to_json().unwrap();
        assert!(json.len() < 600, "{} bytes", json.len());
        assert_eq!(StoredSession::from_json(&json).unwrap(), s);
        assert!(!format!("{s:?}").contains("xxxx"));
    }

    #[test]
    fn oversized_and_corrupt_sessions_are_errors() {
        let mut s = session();
        s.refresh_token = RefreshToken::new("x".repeat(3000));
        assert!(matches!(s.to_json(), Err(StoreError::TooLarge(_))));
        assert!(matches!(
            StoredSession::from_json("{}"),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            StoredSession::from_json("not json"),
            Err(StoreError::Corrupt(_))
        ));
    }

    #[test]
    fn memory_store_round_trip_and_failure() {
        let m = MemoryStore::new();
        assert_eq!(m.load().unwrap(), None);
        m.save(&session()).unwrap();
        assert_eq!(m.load().unwrap(), Some(session()));
        m.set_failure(Some(StoreError::Locked("test".into())));
        assert!(matches!(m.load(), Err(StoreError::Locked(_))));
        m.set_failure(None);
        m.delete().unwrap();
        assert_eq!(m.load().unwrap(), None);
        m.delete().unwrap();
    }

    #[test]
    fn the_id_token_is_cached_unless_too_large() {
        let m = MemoryStore::new();
        let mut s = session();
        s.id_token = Some("eyJ.payload.sig".into());
        m.save(&s).unwrap();
        assert_eq!(
            m.load().unwrap().unwrap().id_token.as_deref(),
            Some("eyJ.payload.sig")
        );
        assert!(!format!("{s:?}").contains("payload"));
        s.id_token = Some("x".repeat(MAX_STORED_BYTES + 1));
        m.save(&s).unwrap();
        assert_eq!(m.load().unwrap().unwrap().id_token, None);
        m.delete().unwrap();
        assert_eq!(m.load().unwrap(), None);
    }
}
