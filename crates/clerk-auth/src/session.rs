//! [`SessionManager`]: the one owner of the tokens in a process. It
//! publishes the [`AuthState`], hands out ID tokens with time left (one
//! refresh for any number of callers), refreshes ahead of expiry, and keeps
//! memory a cache of the keychain, which every Courier process shares.
//!
//! Across processes (DESIGN.md, "One session, many processes"): a refresh
//! runs only under the [`SessionLock`], after re-reading the keychain, so a
//! rotated refresh token written by another process is adopted rather than
//! a spent one presented; `invalid_grant` is believed only after another
//! re-read; a process that finds the entry gone (or another user's) follows
//! the keychain; and nothing is written after this process signed out.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{watch, Notify, OnceCell, OwnedMutexGuard};
use tokio::task::JoinHandle;

use crate::cached_token;
use crate::config::{is_loopback, ClerkConfig, SignInMode};
use crate::error::AuthError;
use crate::id_token::{IdTokenClaims, IdTokenError, NonceCheck};
use crate::lock::{SessionLock, SessionLockGuard, LOCK_TIMEOUT};
use crate::provider::Provider;
use crate::secret::{IdToken, RefreshToken};
use crate::sign_in::SignInHandle;
use crate::state::{AuthState, User};
use crate::store::{SessionStore, StoreError, StoredSession, KEYCHAIN_SERVICE};

/// Scheduled refresh runs this long before `exp`, or a third of the token's
/// lifetime when that is shorter (3-5 s tokens in tests).
pub const REFRESH_AHEAD: Duration = Duration::from_secs(60);
/// [`SessionManager::id_token`] refreshes first when less than this is left
/// (or a sixth of the lifetime when that is shorter).
pub const MIN_TIME_LEFT: Duration = Duration::from_secs(10);
/// First retry after a network failure; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait between retries while the issuer is away.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a long-lived process (the app) re-reads the keychain to notice
/// a sign-out or sign-in made by another process.
pub const KEYCHAIN_WATCH_INTERVAL: Duration = Duration::from_secs(3);
/// After an `invalid_grant`, the keychain is re-read after these pauses
/// (as Clerk's CLI does) in case another process rotated the token.
const INVALID_GRANT_REREADS: [Duration; 3] = [
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
];
/// How long sign-out waits for the revocation request.
const REVOKE_TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) fn refresh_lead(lifetime: Duration) -> Duration {
    REFRESH_AHEAD.min(lifetime / 3)
}

fn caller_margin(lifetime: Duration) -> Duration {
    MIN_TIME_LEFT.min(lifetime / 6)
}

/// The wait before retry number `failures` (1-based), with ±20 % jitter.
pub(crate) fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(16);
    let base = FIRST_BACKOFF.saturating_mul(1u32 << exp).min(MAX_BACKOFF);
    let jitter: f64 = 0.8 + 0.4 * rand::random::<f64>();
    base.mul_f64(jitter).min(MAX_BACKOFF)
}

/// Whether `token` is good for a caller now.
fn usable(token: &IdToken) -> bool {
    token.time_left() > caller_margin(token.lifetime())
}

/// The session in memory: a cache of the keychain entry.
struct Session {
    refresh_token: RefreshToken,
    id_token: Option<IdToken>,
    user: User,
    nonce: Option<String>,
    issued_at: SystemTime,
}

impl Session {
    fn stored(&self) -> StoredSession {
        StoredSession {
            refresh_token: self.refresh_token.clone(),
            user: self.user.clone(),
            issued_at: self.issued_at,
            nonce: self.nonce.clone(),
            id_token: self.id_token.as_ref().map(|t| t.secret().to_owned()),
        }
    }

    fn from_stored(stored: StoredSession, config: &ClerkConfig) -> Self {
        let id_token = stored
            .id_token
            .as_deref()
            .and_then(|raw| cached_token::from_cache(raw, config, &stored.user.id));
        Session {
            refresh_token: stored.refresh_token,
            id_token,
            user: stored.user,
            nonce: stored.nonce,
            issued_at: stored.issued_at,
        }
    }
}

#[derive(Default)]
struct Slot {
    session: Option<Session>,
    /// Failed refreshes in a row, and when the last one was.
    failures: u32,
    last_failure: Option<Instant>,
    /// The keychain could not be written: memory holds a newer refresh
    /// token than the keychain, so the keychain's must not be adopted.
    unsaved: bool,
}

/// What the caller of a refresh needs.
#[derive(Clone)]
enum Need {
    /// A token with time left for a caller: refresh only if the keychain
    /// has none either.
    Fresh,
    /// The scheduled refresh: a token with more than the refresh lead left
    /// (another process may have refreshed ahead already).
    Ahead,
    /// A token other than `rejected` (the backend refused it).
    Forced { rejected: Option<Arc<str>> },
}

pub(crate) struct Inner {
    pub(crate) config: ClerkConfig,
    pub(crate) http: reqwest::Client,
    store: Arc<dyn SessionStore>,
    lock: SessionLock,
    state: watch::Sender<AuthState>,
    /// The current ID token, for clients that must be handed each new one
    /// (the Convex WebSocket never asks before its token expires).
    token: watch::Sender<Option<IdToken>>,
    provider: OnceCell<Arc<Provider>>,
    slot: Arc<tokio::sync::Mutex<Slot>>,
    auto_refresh: AtomicBool,
    refreshes: AtomicU64,
    /// Bumped by every sign-out: a refresh that began before it writes
    /// nothing and changes no state.
    epoch: AtomicU64,
    /// Set when a session ended: the next sign-in sends `prompt=login`.
    prompt_login: AtomicBool,
    /// Wakes the background task when the session changed.
    wake: Arc<Notify>,
    refresh_task: Mutex<Option<JoinHandle<()>>>,
    /// The open sign-in flow: its id, handle and mode.
    flow: Mutex<Option<(u64, SignInHandle)>>,
    flow_mode: Mutex<SignInMode>,
    flow_seq: AtomicU64,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(t) = self
            .refresh_task
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            t.abort();
        }
    }
}

/// Owns the session. Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct SessionManager {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("issuer", &self.inner.config.issuer_str())
            .field("state", &*self.inner.state.borrow())
            .finish()
    }
}

impl SessionManager {
    /// A manager in state `Loading`; call [`restore`](Self::restore) next.
    /// Refreshes are serialized with other processes by the default
    /// [`SessionLock`] of this issuer and client.
    pub fn new(config: ClerkConfig, store: Arc<dyn SessionStore>) -> Result<Self, AuthError> {
        let lock = SessionLock::for_account(KEYCHAIN_SERVICE, &config.keychain_account());
        Self::with_lock(config, store, lock)
    }

    /// A manager whose cross-process lock is `lock`.
    pub fn with_lock(
        config: ClerkConfig,
        store: Arc<dyn SessionStore>,
        lock: SessionLock,
    ) -> Result<Self, AuthError> {
        let http = crate::http::build_client(is_loopback(&config.issuer))
            .map_err(|e| AuthError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        let (state, _) = watch::channel(AuthState::Loading);
        let (token, _) = watch::channel(None);
        let flow_mode = Mutex::new(config.sign_in_mode);
        Ok(SessionManager {
            inner: Arc::new(Inner {
                config,
                http,
                store,
                lock,
                state,
                token,
                provider: OnceCell::new(),
                slot: Arc::new(tokio::sync::Mutex::new(Slot::default())),
                auto_refresh: AtomicBool::new(true),
                refreshes: AtomicU64::new(0),
                epoch: AtomicU64::new(0),
                prompt_login: AtomicBool::new(false),
                wake: Arc::new(Notify::new()),
                refresh_task: Mutex::new(None),
                flow: Mutex::new(None),
                flow_mode,
                flow_seq: AtomicU64::new(0),
            }),
        })
    }

    /// The configuration this manager was made with.
    pub fn config(&self) -> &ClerkConfig {
        &self.inner.config
    }

    /// The cross-process lock this manager refreshes under.
    pub fn lock(&self) -> &SessionLock {
        &self.inner.lock
    }

    /// A receiver of every state change (it starts with the current state).
    pub fn subscribe(&self) -> watch::Receiver<AuthState> {
        self.inner.state.subscribe()
    }

    /// The current state.
    pub fn state(&self) -> AuthState {
        self.inner.state.borrow().clone()
    }

    /// A receiver of the current ID token: a new value each time it changes
    /// (a refresh here or adopted from another process, a sign-in), `None`
    /// once signed out. For a client that holds a connection open with a
    /// token and must get the next one before the old one expires.
    pub fn watch_id_token(&self) -> watch::Receiver<Option<IdToken>> {
        self.inner.token.subscribe()
    }

    /// Turns the background task on (the default) or off. On, tokens are
    /// refreshed ahead of expiry and the keychain is watched for what other
    /// processes did; off (a short CLI command), tokens are refreshed only
    /// on demand by [`id_token`](Self::id_token).
    pub fn set_auto_refresh(&self, on: bool) {
        self.inner.auto_refresh.store(on, Ordering::SeqCst);
        if on {
            self.start_background_task();
        } else if let Some(t) = self.lock_task().take() {
            t.abort();
        }
    }

    /// Loading -> SignedIn (a session in the keychain: its cached ID token
    /// when it has time left, else refreshed, or offline when the issuer is
    /// unreachable) | SignedOut (none, ended, or keychain error).
    pub async fn restore(&self) {
        self.set_state(AuthState::Loading);
        let stored = match self.store_call(|s| s.load()).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.set_state(AuthState::SignedOut { reason: None });
                self.start_background_task();
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the session from the keychain");
                self.set_state(AuthState::SignedOut {
                    reason: Some(AuthError::Keychain(e).reason()),
                });
                return;
            }
        };
        let mut slot = self.inner.slot.clone().lock_owned().await;
        let session = Session::from_stored(stored, &self.inner.config);
        let user = session.user.clone();
        let cached = session.id_token.as_ref().is_some_and(usable);
        slot.session = Some(session);
        slot.failures = 0;
        slot.last_failure = None;
        slot.unsaved = false;
        self.publish_token(&slot);
        if cached {
            tracing::debug!("restored the session with its cached ID token");
            self.set_state(AuthState::SignedIn {
                user,
                offline: false,
            });
            drop(slot);
        } else {
            match self.refresh_detached(slot, Need::Fresh).await {
                Ok(_) => {}
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "restored the session offline");
                }
                Err(_) => {} // the state says why
            }
        }
        self.start_background_task();
    }

    /// An ID token with time left, refreshing first when needed (after
    /// adopting what another process left in the keychain). Any number of
    /// concurrent callers share one refresh.
    pub async fn id_token(&self) -> Result<IdToken, AuthError> {
        let slot = self.inner.slot.clone().lock_owned().await;
        let session = slot.session.as_ref().ok_or(AuthError::NotSignedIn)?;
        let current = session.id_token.clone();
        if let Some(t) = &current {
            if usable(t) {
                return Ok(t.clone());
            }
        }
        // While the issuer is away, callers do not each hammer it: one try a second.
        if slot
            .last_failure
            .is_some_and(|at| at.elapsed() < FIRST_BACKOFF)
        {
            return match current {
                Some(t) if t.time_left() > Duration::ZERO => Ok(t),
                _ => Err(AuthError::Network(
                    "the issuer is unreachable; retrying".into(),
                )),
            };
        }
        match self.refresh_detached(slot, Need::Fresh).await {
            Ok(t) => Ok(t),
            Err(e) if e.is_transient() => match current {
                Some(t) if t.time_left() > Duration::ZERO => Ok(t),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// A token other than the current one (e.g. after the backend answered
    /// 401): another process's newer token from the keychain, else a
    /// refresh. Callers that queue behind a refresh that just happened get
    /// its token.
    pub async fn force_refresh(&self) -> Result<IdToken, AuthError> {
        let seen = self.inner.refreshes.load(Ordering::SeqCst);
        let slot = self.inner.slot.clone().lock_owned().await;
        let session = slot.session.as_ref().ok_or(AuthError::NotSignedIn)?;
        let current = session.id_token.clone();
        if self.inner.refreshes.load(Ordering::SeqCst) != seen {
            if let Some(t) = current.clone().filter(|t| t.time_left() > Duration::ZERO) {
                return Ok(t);
            }
        }
        let rejected = current.map(|t| Arc::from(t.secret()));
        self.refresh_detached(slot, Need::Forced { rejected }).await
    }

    /// Revokes the refresh token (best effort), clears the keychain entries
    /// and memory. SignedOut afterwards, whatever happens; a refresh in
    /// flight writes nothing after this.
    pub async fn sign_out(&self) -> Result<(), AuthError> {
        self.inner.epoch.fetch_add(1, Ordering::SeqCst);
        self.inner.prompt_login.store(true, Ordering::SeqCst);
        if let Some((_, handle)) = self.lock_flow().take() {
            handle.cancel();
        }
        let mut slot = self.inner.slot.clone().lock_owned().await;
        let session = slot.session.take();
        slot.failures = 0;
        slot.last_failure = None;
        slot.unsaved = false;
        self.publish_token(&slot);
        // The keychain first, so that SignedOut means "nothing left here".
        // Under the cross-process lock: another process's refresh section
        // finishes its write before this delete, never after it.
        let deleted = match self.acquire_lock().await {
            Ok(guard) => {
                self.store_call(move |s| {
                    let result = s.delete();
                    drop(guard);
                    result
                })
                .await
            }
            Err(_) => self.store_call(|s| s.delete()).await,
        };
        let result = match deleted {
            Ok(()) => {
                self.set_state(AuthState::SignedOut { reason: None });
                Ok(())
            }
            Err(e) => {
                let err = AuthError::Keychain(e);
                self.set_state(AuthState::SignedOut {
                    reason: Some(err.reason()),
                });
                Err(err)
            }
        };
        if let Some(session) = session {
            // A session restored from the cache has not discovered the
            // issuer yet: discovery is part of the best effort.
            let revoke = async {
                let provider = self.provider().await?;
                provider.revoke(&session.refresh_token).await
            };
            match tokio::time::timeout(REVOKE_TIMEOUT, revoke).await {
                Ok(Ok(())) => tracing::info!("refresh token revoked"),
                Ok(Err(e)) => tracing::warn!(error = %e, "could not revoke the refresh token"),
                Err(_) => tracing::warn!("revocation timed out"),
            }
        }
        drop(slot);
        self.inner.wake.notify_one();
        result
    }

    /// Whether the next sign-in asks the issuer to show its form again
    /// (`prompt=login`): true once a session ended in this process.
    pub fn prompt_login(&self) -> bool {
        self.inner.prompt_login.load(Ordering::SeqCst)
    }

    /// The open sign-in flow, if any, with its mode.
    pub fn open_sign_in(&self) -> Option<(SignInHandle, SignInMode)> {
        let flow = self.lock_flow();
        let handle = flow.as_ref().map(|(_, h)| h.clone())?;
        Some((handle, *self.lock_flow_mode()))
    }

    /// Cancels the open sign-in flow, if any.
    pub fn cancel_sign_in(&self) {
        if let Some((handle, _)) = self.open_sign_in() {
            handle.cancel();
        }
    }

    // ---- internals -------------------------------------------------------

    /// Publishes the slot's ID token on [`watch_id_token`](Self::watch_id_token).
    fn publish_token(&self, slot: &Slot) {
        let current = slot.session.as_ref().and_then(|s| s.id_token.clone());
        self.inner.token.send_if_modified(|t| {
            let same = match (t.as_ref(), current.as_ref()) {
                (Some(a), Some(b)) => a.secret() == b.secret(),
                (None, None) => true,
                _ => false,
            };
            if !same {
                *t = current;
            }
            !same
        });
    }

    pub(crate) fn set_state(&self, new: AuthState) {
        self.inner.state.send_if_modified(|s| {
            if *s == new {
                false
            } else {
                *s = new;
                true
            }
        });
    }

    fn lock_task(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.inner
            .refresh_task
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_flow(&self) -> std::sync::MutexGuard<'_, Option<(u64, SignInHandle)>> {
        self.inner.flow.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_flow_mode(&self) -> std::sync::MutexGuard<'_, SignInMode> {
        self.inner
            .flow_mode
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn next_flow_id(&self) -> u64 {
        self.inner.flow_seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The discovered issuer, fetched once and cached.
    pub(crate) async fn provider(&self) -> Result<Arc<Provider>, AuthError> {
        self.inner
            .provider
            .get_or_try_init(|| async {
                Provider::discover(&self.inner.http, &self.inner.config)
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }

    pub(crate) async fn is_signed_in(&self) -> bool {
        self.inner.slot.lock().await.session.is_some()
    }

    /// Runs a blocking keychain call off the async workers.
    async fn store_call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn SessionStore) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let store = self.inner.store.clone();
        tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .unwrap_or_else(|e| Err(StoreError::Other(format!("keychain task failed: {e}"))))
    }

    /// Takes the cross-process lock (off the async workers).
    async fn acquire_lock(&self) -> Result<SessionLockGuard, AuthError> {
        let lock = self.inner.lock.clone();
        let guard = tokio::task::spawn_blocking(move || lock.acquire(LOCK_TIMEOUT))
            .await
            .map_err(|e| AuthError::Protocol(format!("lock task failed: {e}")))?
            .map_err(|e| {
                tracing::warn!(error = %e, "cannot take the session lock");
                AuthError::Network(format!("the session is busy in another process: {e}"))
            })?;
        tracing::debug!(
            waited_us = guard.waited().as_micros() as u64,
            "session lock taken"
        );
        Ok(guard)
    }

    /// Writes `stored` unless this process signed out since `epoch`. Called
    /// with the cross-process lock held.
    async fn save_unless_signed_out(&self, stored: StoredSession, epoch: u64) -> bool {
        if self.inner.epoch.load(Ordering::SeqCst) != epoch {
            return false;
        }
        match self.store_call(move |s| s.save(&stored)).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not write the session to the keychain; keeping it in memory");
                false
            }
        }
    }

    /// Installs a fresh session from a completed sign-in: keychain first
    /// (under the cross-process lock), then memory, state and the schedule.
    /// `still_wanted` is asked last, just before the keychain write: a
    /// cancel that arrived meanwhile wins (`Cancelled`, nothing stored; the
    /// caller revokes the tokens).
    pub(crate) async fn install_session(
        &self,
        claims: &IdTokenClaims,
        id_token: &str,
        refresh_token: RefreshToken,
        nonce: String,
        still_wanted: &(dyn Fn() -> bool + Send + Sync),
    ) -> Result<User, AuthError> {
        let mut slot = self.inner.slot.clone().lock_owned().await;
        let session = Session {
            refresh_token,
            id_token: Some(claims.to_token(id_token)),
            user: claims.user(),
            nonce: Some(nonce),
            issued_at: SystemTime::now(),
        };
        let stored = session.stored();
        let guard = self.acquire_lock().await.ok();
        if !still_wanted() {
            return Err(AuthError::Cancelled);
        }
        let saved = self.store_call(move |s| s.save(&stored)).await;
        drop(guard);
        if let Err(e) = saved {
            // We cannot keep it: revoke what we were given.
            if let Some(p) = self.inner.provider.get() {
                let _ =
                    tokio::time::timeout(REVOKE_TIMEOUT, p.revoke(&session.refresh_token)).await;
            }
            return Err(AuthError::Keychain(e));
        }
        let user = session.user.clone();
        slot.session = Some(session);
        slot.failures = 0;
        slot.last_failure = None;
        slot.unsaved = false;
        self.publish_token(&slot);
        self.inner.refreshes.fetch_add(1, Ordering::SeqCst);
        self.set_state(AuthState::SignedIn {
            user: user.clone(),
            offline: false,
        });
        drop(slot);
        self.inner.wake.notify_one();
        self.start_background_task();
        Ok(user)
    }

    /// Runs the refresh section in its own task, so that a caller that gives
    /// up (a dropped future, an aborted task) never cuts it between the
    /// issuer rotating the refresh token and the keychain receiving it.
    async fn refresh_detached(
        &self,
        slot: OwnedMutexGuard<Slot>,
        need: Need,
    ) -> Result<IdToken, AuthError> {
        let me = self.clone();
        tokio::spawn(async move { me.refresh_section(slot, need).await })
            .await
            .unwrap_or_else(|e| Err(AuthError::Protocol(format!("refresh task failed: {e}"))))
    }

    /// The critical section, with the slot locked (so one runs per process)
    /// and then the cross-process lock: re-read the keychain, adopt what
    /// another process wrote, refresh only if still needed, write back.
    async fn refresh_section(
        &self,
        mut slot: OwnedMutexGuard<Slot>,
        need: Need,
    ) -> Result<IdToken, AuthError> {
        let epoch = self.inner.epoch.load(Ordering::SeqCst);
        let guard = match self.acquire_lock().await {
            Ok(g) => g,
            Err(e) => return Err(self.refresh_failed(&mut slot, e)),
        };
        let result = self.refresh_under_lock(&mut slot, need, epoch).await;
        drop(guard);
        self.publish_token(&slot);
        if self.inner.epoch.load(Ordering::SeqCst) != epoch {
            return Err(AuthError::NotSignedIn);
        }
        match result {
            Ok(token) => {
                slot.failures = 0;
                slot.last_failure = None;
                if let Some(s) = &slot.session {
                    self.set_state(AuthState::SignedIn {
                        user: s.user.clone(),
                        offline: false,
                    });
                }
                Ok(token)
            }
            Err(e @ (AuthError::InvalidGrant(_) | AuthError::SignedOutElsewhere)) => {
                slot.session = None;
                self.publish_token(&slot);
                slot.failures = 0;
                slot.last_failure = None;
                slot.unsaved = false;
                self.inner.prompt_login.store(true, Ordering::SeqCst);
                self.set_state(AuthState::SignedOut {
                    reason: Some(e.reason()),
                });
                Err(e)
            }
            Err(e) => Err(self.refresh_failed(&mut slot, e)),
        }
    }

    fn refresh_failed(&self, slot: &mut Slot, e: AuthError) -> AuthError {
        slot.failures = slot.failures.saturating_add(1);
        slot.last_failure = Some(Instant::now());
        tracing::warn!(error = %e, failures = slot.failures, "refresh failed; the session is kept");
        if e.is_transient() {
            if let Some(s) = &slot.session {
                self.set_state(AuthState::SignedIn {
                    user: s.user.clone(),
                    offline: true,
                });
            }
        }
        e
    }

    async fn refresh_under_lock(
        &self,
        slot: &mut Slot,
        need: Need,
        epoch: u64,
    ) -> Result<IdToken, AuthError> {
        self.adopt_keychain(slot).await?;
        let session = slot.session.as_ref().ok_or(AuthError::NotSignedIn)?;
        if let Some(token) = &session.id_token {
            let enough = match &need {
                Need::Fresh => usable(token),
                Need::Ahead => token.time_left() > refresh_lead(token.lifetime()),
                Need::Forced { rejected } => {
                    rejected.as_deref() != Some(token.secret())
                        && token.time_left() > Duration::ZERO
                }
            };
            if enough {
                tracing::debug!("another process refreshed; adopted its ID token");
                return Ok(token.clone());
            }
        }
        match self.refresh_request(slot, epoch).await {
            Err(AuthError::InvalidGrant(detail)) => {
                // Believe it only if the keychain still holds the refused token.
                let refused = slot
                    .session
                    .as_ref()
                    .map(|s| s.refresh_token.clone())
                    .ok_or(AuthError::NotSignedIn)?;
                for pause in INVALID_GRANT_REREADS {
                    tokio::time::sleep(pause).await;
                    match self.store_call(|s| s.load()).await {
                        Ok(Some(stored)) if stored.refresh_token != refused => {
                            tracing::info!("invalid_grant, but another process had rotated the token; retrying once");
                            self.adopt_stored(slot, stored);
                            if let Some(t) = slot
                                .session
                                .as_ref()
                                .and_then(|s| s.id_token.clone())
                                .filter(usable)
                            {
                                return Ok(t);
                            }
                            return self.refresh_request(slot, epoch).await;
                        }
                        Ok(None) => return Err(AuthError::SignedOutElsewhere),
                        Ok(Some(_)) | Err(_) => {}
                    }
                }
                tracing::info!("the issuer ended the session (invalid_grant)");
                if self.inner.epoch.load(Ordering::SeqCst) == epoch {
                    if let Err(e) = self.store_call(|s| s.delete()).await {
                        tracing::warn!(error = %e, "could not delete the ended session from the keychain");
                    }
                }
                Err(AuthError::InvalidGrant(detail))
            }
            other => other,
        }
    }

    /// Makes memory follow the keychain: gone -> signed out elsewhere;
    /// another user -> that user's session; a newer refresh or ID token ->
    /// adopted. A keychain that cannot be read leaves memory as it is.
    async fn adopt_keychain(&self, slot: &mut Slot) -> Result<(), AuthError> {
        if slot.unsaved {
            // Memory is ahead of the keychain: write it first.
            if let Some(s) = &slot.session {
                let stored = s.stored();
                if self.store_call(move |st| st.save(&stored)).await.is_ok() {
                    slot.unsaved = false;
                }
            }
            return Ok(());
        }
        match self.store_call(|s| s.load()).await {
            Ok(None) if slot.session.is_some() => Err(AuthError::SignedOutElsewhere),
            Ok(None) => Err(AuthError::NotSignedIn),
            Ok(Some(stored)) => {
                self.adopt_stored(slot, stored);
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot re-read the keychain; using the session in memory");
                Ok(())
            }
        }
    }

    fn adopt_stored(&self, slot: &mut Slot, stored: StoredSession) {
        let fresh = Session::from_stored(stored, &self.inner.config);
        match slot.session.as_mut() {
            Some(s) if s.user.id == fresh.user.id => {
                if s.refresh_token != fresh.refresh_token {
                    s.refresh_token = fresh.refresh_token;
                    s.nonce = fresh.nonce;
                    s.issued_at = fresh.issued_at;
                }
                if s.user != fresh.user {
                    s.user = fresh.user;
                }
                let newer = match (&fresh.id_token, &s.id_token) {
                    (Some(new), Some(old)) => new.expires_at() > old.expires_at(),
                    (Some(_), None) => true,
                    _ => false,
                };
                if newer {
                    s.id_token = fresh.id_token;
                }
            }
            _ => {
                tracing::info!("the keychain holds another session; following it");
                slot.session = Some(fresh);
                slot.failures = 0;
                slot.last_failure = None;
            }
        }
    }

    /// One refresh request. The rotated refresh token reaches the keychain
    /// before anything else can fail (the old one is spent).
    async fn refresh_request(&self, slot: &mut Slot, epoch: u64) -> Result<IdToken, AuthError> {
        let provider = self.provider().await?;
        let session = slot.session.as_mut().ok_or(AuthError::NotSignedIn)?;
        let (new_rt, raw) = provider.refresh(&session.refresh_token).await?;
        self.inner.refreshes.fetch_add(1, Ordering::SeqCst);
        if let Some(rt) = new_rt {
            session.refresh_token = rt;
            // The previous ID token stays cached with the new refresh token
            // until the new one is validated.
            let stored = session.stored();
            slot.unsaved = !self.save_unless_signed_out(stored, epoch).await;
        }
        let session = slot.session.as_mut().ok_or(AuthError::NotSignedIn)?;
        let raw =
            raw.ok_or_else(|| AuthError::Protocol("the refresh response has no id_token".into()))?;
        let claims = provider
            .validate(&raw, NonceCheck::AbsentOr(session.nonce.as_deref()))
            .await?;
        if claims.subject != session.user.id {
            return Err(AuthError::InvalidIdToken(IdTokenError::SubjectChanged));
        }
        session.user = claims.user();
        let token = claims.to_token(&raw);
        session.id_token = Some(token.clone());
        let stored = session.stored();
        if self.save_unless_signed_out(stored, epoch).await {
            slot.unsaved = false;
        }
        Ok(token)
    }

    /// Starts the background task (refresh ahead of expiry, keychain watch)
    /// unless it runs already or auto refresh is off.
    fn start_background_task(&self) {
        if !self.inner.auto_refresh.load(Ordering::SeqCst) {
            return;
        }
        let mut task = self.lock_task();
        if task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        *task = Some(tokio::spawn(background_loop(weak)));
    }

    /// How long until the next scheduled refresh; `None` when signed out.
    async fn next_refresh_delay(&self) -> Option<Duration> {
        let slot = self.inner.slot.lock().await;
        let session = slot.session.as_ref()?;
        if slot.failures > 0 {
            let wait = backoff(slot.failures);
            let since = slot.last_failure.map(|t| t.elapsed()).unwrap_or_default();
            return Some(wait.saturating_sub(since));
        }
        Some(match &session.id_token {
            Some(t) => t.time_left().saturating_sub(refresh_lead(t.lifetime())),
            None => Duration::ZERO,
        })
    }

    async fn scheduled_refresh(&self) {
        let slot = self.inner.slot.clone().lock_owned().await;
        let Some(session) = slot.session.as_ref() else {
            return;
        };
        if slot.failures == 0 {
            if let Some(t) = &session.id_token {
                if t.time_left() > refresh_lead(t.lifetime()) {
                    return; // someone refreshed meanwhile
                }
            }
        }
        let _ = self.refresh_detached(slot, Need::Ahead).await;
    }

    /// Re-reads the keychain between refreshes, so that a sign-out or a
    /// sign-in by another process shows here within one interval.
    async fn watch_keychain(&self) {
        if matches!(self.state(), AuthState::SigningIn | AuthState::Loading) {
            return;
        }
        let epoch = self.inner.epoch.load(Ordering::SeqCst);
        let mut slot = self.inner.slot.clone().lock_owned().await;
        if slot.unsaved {
            return;
        }
        let loaded = match self.store_call(|s| s.load()).await {
            Ok(l) => l,
            Err(_) => return, // a locked keychain is reported when a token is needed
        };
        if self.inner.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        match (loaded, slot.session.is_some()) {
            (None, true) => {
                tracing::info!("the session was signed out in another process");
                slot.session = None;
                self.publish_token(&slot);
                slot.failures = 0;
                slot.last_failure = None;
                self.inner.prompt_login.store(true, Ordering::SeqCst);
                self.set_state(AuthState::SignedOut {
                    reason: Some(AuthError::SignedOutElsewhere.reason()),
                });
            }
            (Some(stored), _) => {
                let before = slot.session.as_ref().map(|s| s.user.id.clone());
                self.adopt_stored(&mut slot, stored);
                self.publish_token(&slot);
                let Some(s) = slot.session.as_ref() else {
                    return;
                };
                if before.as_deref() != Some(s.user.id.as_str()) {
                    // Signed in elsewhere (as this or another person).
                    let offline = matches!(self.state(), AuthState::SignedIn { offline: true, .. });
                    self.set_state(AuthState::SignedIn {
                        user: s.user.clone(),
                        offline: offline && before.is_some(),
                    });
                }
            }
            (None, false) => {}
        }
    }
}

async fn background_loop(weak: Weak<Inner>) {
    loop {
        let (delay, due) = {
            let Some(inner) = weak.upgrade() else { return };
            let manager = SessionManager { inner };
            match manager.next_refresh_delay().await {
                Some(d) if d <= KEYCHAIN_WATCH_INTERVAL => (d, true),
                _ => (KEYCHAIN_WATCH_INTERVAL, false),
            }
        };
        let woken = {
            // Only the Notify is kept while sleeping: the task must not keep
            // the manager alive.
            let Some(wake) = weak.upgrade().map(|inner| inner.wake.clone()) else {
                return;
            };
            let notified = wake.notified();
            tokio::pin!(notified);
            tokio::select! {
                _ = tokio::time::sleep(delay) => false,
                _ = &mut notified => true,
            }
        };
        if woken {
            continue;
        }
        let Some(inner) = weak.upgrade() else { return };
        let manager = SessionManager { inner };
        if due {
            manager.scheduled_refresh().await;
        } else {
            manager.watch_keychain().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_lead_is_60s_or_a_third_of_short_lifetimes() {
        assert_eq!(refresh_lead(Duration::from_secs(86_400)), REFRESH_AHEAD);
        assert_eq!(refresh_lead(Duration::from_secs(3)), Duration::from_secs(1));
        assert!(caller_margin(Duration::from_secs(3)) < refresh_lead(Duration::from_secs(3)));
        assert!(
            caller_margin(Duration::from_secs(86_400)) < refresh_lead(Duration::from_secs(86_400))
        );
    }

    #[test]
    fn backoff_starts_near_one_second_and_caps_at_thirty() {
        for _ in 0..100 {
            let first = backoff(1);
            assert!(
                first >= Duration::from_millis(800) && first <= Duration::from_millis(1200),
                "{first:?}"
            );
            assert!(backoff(2) >= Duration::from_millis(1600));
            assert!(backoff(50) <= MAX_BACKOFF);
            assert!(backoff(50) >= Duration::from_secs(24));
        }
    }
}
