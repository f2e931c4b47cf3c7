//! [`SessionManager`]: the one owner of the tokens. It publishes the
//! [`AuthState`], hands out ID tokens with time left (one refresh for any
//! number of callers), refreshes ahead of expiry, and keeps the keychain in
//! step.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{watch, OnceCell};
use tokio::task::JoinHandle;

use crate::config::{is_loopback, ClerkConfig};
use crate::error::AuthError;
use crate::id_token::{IdTokenClaims, IdTokenError, NonceCheck};
use crate::provider::Provider;
use crate::secret::{IdToken, RefreshToken};
use crate::sign_in::SignInHandle;
use crate::state::{AuthState, User};
use crate::store::{SessionStore, StoreError, StoredSession};

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

/// The session in memory.
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
        }
    }
}

#[derive(Default)]
struct Slot {
    session: Option<Session>,
    /// Failed refreshes in a row, and when the last one was.
    failures: u32,
    last_failure: Option<Instant>,
}

pub(crate) struct Inner {
    pub(crate) config: ClerkConfig,
    pub(crate) http: reqwest::Client,
    store: Arc<dyn SessionStore>,
    state: watch::Sender<AuthState>,
    provider: OnceCell<Arc<Provider>>,
    slot: tokio::sync::Mutex<Slot>,
    auto_refresh: AtomicBool,
    refreshes: AtomicU64,
    refresh_task: Mutex<Option<JoinHandle<()>>>,
    /// The open sign-in flow: its id and handle.
    flow: Mutex<Option<(u64, SignInHandle)>>,
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
    pub fn new(config: ClerkConfig, store: Arc<dyn SessionStore>) -> Result<Self, AuthError> {
        let http = crate::http::build_client(is_loopback(&config.issuer))
            .map_err(|e| AuthError::Protocol(format!("cannot build the HTTP client: {e}")))?;
        let (state, _) = watch::channel(AuthState::Loading);
        Ok(SessionManager {
            inner: Arc::new(Inner {
                config,
                http,
                store,
                state,
                provider: OnceCell::new(),
                slot: tokio::sync::Mutex::new(Slot::default()),
                auto_refresh: AtomicBool::new(true),
                refreshes: AtomicU64::new(0),
                refresh_task: Mutex::new(None),
                flow: Mutex::new(None),
                flow_seq: AtomicU64::new(0),
            }),
        })
    }

    /// The configuration this manager was made with.
    pub fn config(&self) -> &ClerkConfig {
        &self.inner.config
    }

    /// A receiver of every state change (it starts with the current state).
    pub fn subscribe(&self) -> watch::Receiver<AuthState> {
        self.inner.state.subscribe()
    }

    /// The current state.
    pub fn state(&self) -> AuthState {
        self.inner.state.borrow().clone()
    }

    /// Turns the scheduled refresh on (the default) or off. Off, tokens are
    /// refreshed only on demand by [`id_token`](Self::id_token).
    pub fn set_auto_refresh(&self, on: bool) {
        self.inner.auto_refresh.store(on, Ordering::SeqCst);
        if on {
            self.start_refresh_task();
        } else if let Some(t) = self.lock_task().take() {
            t.abort();
        }
    }

    /// Loading -> SignedIn (refresh token found; refreshed, or offline when
    /// the issuer is unreachable) | SignedOut (none, ended, or keychain error).
    pub async fn restore(&self) {
        self.set_state(AuthState::Loading);
        let stored = match self.store_call(|s| s.load()).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                self.set_state(AuthState::SignedOut { reason: None });
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
        let mut slot = self.inner.slot.lock().await;
        let user = stored.user.clone();
        slot.session = Some(Session {
            refresh_token: stored.refresh_token,
            id_token: None,
            user: user.clone(),
            nonce: stored.nonce,
            issued_at: stored.issued_at,
        });
        slot.failures = 0;
        slot.last_failure = None;
        match self.refresh_locked(&mut slot).await {
            Ok(_) => {}
            Err(AuthError::InvalidGrant(_)) => return,
            Err(e) => {
                tracing::warn!(error = %e, "restored the session offline");
                self.set_state(AuthState::SignedIn {
                    user,
                    offline: true,
                });
            }
        }
        drop(slot);
        self.start_refresh_task();
    }

    /// An ID token with time left, refreshing first when needed. Any number
    /// of concurrent callers share one refresh.
    pub async fn id_token(&self) -> Result<IdToken, AuthError> {
        let mut slot = self.inner.slot.lock().await;
        let session = slot.session.as_ref().ok_or(AuthError::NotSignedIn)?;
        let current = session.id_token.clone();
        if let Some(t) = &current {
            if t.time_left() > caller_margin(t.lifetime()) {
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
        match self.refresh_locked(&mut slot).await {
            Ok(t) => Ok(t),
            Err(e) if e.is_transient() => match current {
                Some(t) if t.time_left() > Duration::ZERO => Ok(t),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Refreshes now (e.g. after the backend answered 401). Callers that
    /// queue behind a refresh that just happened get its token.
    pub async fn force_refresh(&self) -> Result<IdToken, AuthError> {
        let seen = self.inner.refreshes.load(Ordering::SeqCst);
        let mut slot = self.inner.slot.lock().await;
        let session = slot.session.as_ref().ok_or(AuthError::NotSignedIn)?;
        if self.inner.refreshes.load(Ordering::SeqCst) != seen {
            if let Some(t) = session
                .id_token
                .clone()
                .filter(|t| t.time_left() > Duration::ZERO)
            {
                return Ok(t);
            }
        }
        self.refresh_locked(&mut slot).await
    }

    /// Revokes the refresh token (best effort), clears the keychain entry
    /// and memory. SignedOut afterwards, whatever happens.
    pub async fn sign_out(&self) -> Result<(), AuthError> {
        if let Some((_, handle)) = self.lock_flow().take() {
            handle.cancel();
        }
        if let Some(t) = self.lock_task().take() {
            t.abort();
        }
        let mut slot = self.inner.slot.lock().await;
        let session = slot.session.take();
        slot.failures = 0;
        slot.last_failure = None;
        if let Some(session) = session {
            if let Some(provider) = self.inner.provider.get() {
                let revoke = provider.revoke(&session.refresh_token);
                match tokio::time::timeout(REVOKE_TIMEOUT, revoke).await {
                    Ok(Ok(())) => tracing::info!("refresh token revoked"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "could not revoke the refresh token"),
                    Err(_) => tracing::warn!("revocation timed out"),
                }
            }
        }
        let deleted = self.store_call(|s| s.delete()).await;
        drop(slot);
        match deleted {
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
        }
    }

    // ---- internals -------------------------------------------------------

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

    /// Installs a fresh session from a completed sign-in: keychain first,
    /// then memory, state and the refresh schedule.
    pub(crate) async fn install_session(
        &self,
        claims: &IdTokenClaims,
        id_token: &str,
        refresh_token: RefreshToken,
        nonce: String,
    ) -> Result<User, AuthError> {
        let mut slot = self.inner.slot.lock().await;
        let session = Session {
            refresh_token,
            id_token: Some(claims.to_token(id_token)),
            user: claims.user(),
            nonce: Some(nonce),
            issued_at: SystemTime::now(),
        };
        let stored = session.stored();
        if let Err(e) = self.store_call(move |s| s.save(&stored)).await {
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
        self.inner.refreshes.fetch_add(1, Ordering::SeqCst);
        self.set_state(AuthState::SignedIn {
            user: user.clone(),
            offline: false,
        });
        drop(slot);
        self.start_refresh_task();
        Ok(user)
    }

    /// One refresh request, with the slot locked (so exactly one runs).
    /// Applies the outcome to the session, the keychain and the state.
    async fn refresh_locked(&self, slot: &mut Slot) -> Result<IdToken, AuthError> {
        let result = self.refresh_request(slot).await;
        match result {
            Ok(token) => {
                slot.failures = 0;
                slot.last_failure = None;
                self.inner.refreshes.fetch_add(1, Ordering::SeqCst);
                if let Some(s) = &slot.session {
                    self.set_state(AuthState::SignedIn {
                        user: s.user.clone(),
                        offline: false,
                    });
                }
                Ok(token)
            }
            Err(AuthError::InvalidGrant(d)) => {
                tracing::info!("the issuer ended the session (invalid_grant)");
                slot.session = None;
                slot.failures = 0;
                slot.last_failure = None;
                let err = AuthError::InvalidGrant(d);
                let reason = err.reason();
                if let Err(e) = self.store_call(|s| s.delete()).await {
                    tracing::warn!(error = %e, "could not delete the ended session from the keychain");
                }
                self.set_state(AuthState::SignedOut {
                    reason: Some(reason),
                });
                Err(err)
            }
            Err(e) => {
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
                Err(e)
            }
        }
    }

    async fn refresh_request(&self, slot: &mut Slot) -> Result<IdToken, AuthError> {
        let provider = self.provider().await?;
        let session = slot.session.as_mut().ok_or(AuthError::NotSignedIn)?;
        let (new_rt, raw) = provider.refresh(&session.refresh_token).await?;
        if let Some(rt) = new_rt {
            // Store the rotated token before anything else can fail: the old
            // one is spent.
            session.refresh_token = rt;
            let stored = session.stored();
            if let Err(e) = self.store_call(move |s| s.save(&stored)).await {
                tracing::warn!(error = %e, "could not store the rotated refresh token; keeping it in memory");
            }
        }
        let raw =
            raw.ok_or_else(|| AuthError::Protocol("the refresh response has no id_token".into()))?;
        let claims = provider
            .validate(&raw, NonceCheck::AbsentOr(session.nonce.as_deref()))
            .await?;
        if claims.subject != session.user.id {
            return Err(AuthError::InvalidIdToken(IdTokenError::SubjectChanged));
        }
        let user = claims.user();
        if user != session.user {
            session.user = user;
            let stored = session.stored();
            if let Err(e) = self.store_call(move |s| s.save(&stored)).await {
                tracing::warn!(error = %e, "could not update the stored user");
            }
        }
        let token = claims.to_token(&raw);
        session.id_token = Some(token.clone());
        Ok(token)
    }

    /// (Re)starts the scheduled refresh task.
    fn start_refresh_task(&self) {
        if !self.inner.auto_refresh.load(Ordering::SeqCst) {
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let task = tokio::spawn(refresh_loop(weak));
        if let Some(old) = self.lock_task().replace(task) {
            old.abort();
        }
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
        let mut slot = self.inner.slot.lock().await;
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
        let _ = self.refresh_locked(&mut slot).await;
    }
}

async fn refresh_loop(weak: Weak<Inner>) {
    loop {
        let delay = {
            let Some(inner) = weak.upgrade() else { return };
            let manager = SessionManager { inner };
            match manager.next_refresh_delay().await {
                Some(d) => d,
                None => return,
            }
        };
        tokio::time::sleep(delay).await;
        let Some(inner) = weak.upgrade() else { return };
        SessionManager { inner }.scheduled_refresh().await;
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
