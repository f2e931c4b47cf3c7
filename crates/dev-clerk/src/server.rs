//! The server: shared state, the router, and the in-process handle tests use.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::routing::{get, post};
use axum::Router;
use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::config::{Client, Config, User};
use crate::error::Error;
use crate::host::AllowedHost;
use crate::keys::KeySet;
use crate::limit::Limiter;
use crate::store::Store;
use crate::{authorize, discovery, pages, token};

/// How many successful token responses of each grant type were sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GrantCounts {
    /// Successful `authorization_code` exchanges.
    pub authorization_code: u64,
    /// Successful `refresh_token` grants.
    pub refresh_token: u64,
    /// Refresh tokens presented again after rotation; each one revoked its
    /// whole grant (reuse detection).
    pub reused_refresh_tokens: u64,
}

/// A fault injected into the token endpoint (tests only; not reachable over HTTP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenFault {
    /// Normal operation.
    #[default]
    None,
    /// Every token request answers 503 `temporarily_unavailable`.
    Unavailable,
    /// Every token request waits this long, then is served normally.
    Stall(Duration),
}

/// State shared by every handler.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// The issuer, without a trailing slash.
    pub(crate) issuer: String,
    pub(crate) keys: RwLock<KeySet>,
    pub(crate) store: Store,
    pub(crate) fault: Mutex<TokenFault>,
    pub(crate) code_grants: AtomicU64,
    pub(crate) refresh_grants: AtomicU64,
    /// Wakes the task that writes `state.json`.
    pub(crate) changed: Notify,
    /// Failed sign-in attempts per account.
    pub(crate) limiter: Limiter,
    /// The only `Host` header answered (the issuer's authority), against DNS rebinding.
    pub(crate) host: AllowedHost,
}

impl Shared {
    pub(crate) fn client(&self, id: &str) -> Option<&Client> {
        self.config.clients.iter().find(|c| c.id == id)
    }

    pub(crate) fn user(&self, id: &str) -> Option<&User> {
        self.config.users.iter().find(|u| u.id == id)
    }

    pub(crate) fn user_by_email(&self, email: &str) -> Option<&User> {
        let email = email.trim();
        self.config
            .users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email))
    }

    pub(crate) fn fault(&self) -> TokenFault {
        *self.fault.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Asks for the state to be written soon.
    pub(crate) fn mark_changed(&self) {
        self.changed.notify_one();
    }

    /// How long a retired key stays in the JWKS: long enough for every token it signed to expire.
    fn key_grace(config: &Config) -> Duration {
        config.id_token_ttl.max(config.access_token_ttl) + Duration::from_secs(300)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What [`app`] serves: keys, grants and settings, loaded from a data folder.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

impl AppState {
    /// Loads (or creates) the keys and the grants in `config.data_dir`.
    /// `issuer` is the `iss` of every token, e.g. `http://127.0.0.1:4810`.
    pub fn new(config: Config, issuer: &str) -> Result<AppState, Error> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| Error::Io {
            path: config.data_dir.clone(),
            source,
        })?;
        let keys = KeySet::load_or_create(&config.data_dir, now(), Shared::key_grace(&config))?;
        let store = Store::load(&config.data_dir)?;
        let issuer = issuer.trim_end_matches('/').to_string();
        let host = AllowedHost::of_issuer(&issuer)?;
        Ok(AppState(Arc::new(Shared {
            issuer,
            host,
            limiter: Limiter::default(),
            keys: RwLock::new(keys),
            store,
            config,
            fault: Mutex::new(TokenFault::None),
            code_grants: AtomicU64::new(0),
            refresh_grants: AtomicU64::new(0),
            changed: Notify::new(),
        })))
    }
}

/// Largest request body dev-clerk reads (forms are a few hundred bytes).
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Every route dev-clerk serves, on one origin.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::home))
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
        .route(
            "/oauth/authorize",
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route("/sign-in", post(authorize::sign_in_submit))
        .route("/consent", post(authorize::consent_submit))
        .route("/oauth/token", post(token::token_issue))
        .route(
            "/oauth/userinfo",
            get(token::userinfo_get).post(token::userinfo_get),
        )
        .route("/oauth/token/revoke", post(token::token_revoke))
        .route("/oauth/token_info", post(token::token_introspect))
        .route("/avatars/{file}", get(pages::avatar_get))
        .fallback(pages::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.0.clone(),
            crate::host::host_check,
        ))
        .with_state(state.0)
}

/// A running dev-clerk. Dropping it stops the server and writes its state.
pub struct DevClerk {
    shared: Arc<Shared>,
    port: u16,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    flusher: Option<JoinHandle<()>>,
    stopping: Arc<AtomicBool>,
}

impl std::fmt::Debug for DevClerk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevClerk")
            .field("issuer", &self.shared.issuer)
            .finish_non_exhaustive()
    }
}

impl DevClerk {
    /// Binds 127.0.0.1 on `config.port` (0: a free port), loads or creates the
    /// keys and grants, and serves until stopped.
    pub async fn start(config: Config) -> Result<DevClerk, Error> {
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)))
                .await
                .map_err(|source| Error::Bind {
                    port: config.port,
                    source,
                })?;
        let port = listener
            .local_addr()
            .map_err(|source| Error::Bind {
                port: config.port,
                source,
            })?
            .port();
        let issuer = config
            .issuer_url
            .clone()
            .unwrap_or_else(|| format!("http://127.0.0.1:{port}"));
        // Key generation is seconds of CPU the first time; keep it off the runtime's threads.
        let state = tokio::task::spawn_blocking(move || AppState::new(config, &issuer))
            .await
            .map_err(|e| Error::Key(e.to_string()))??;
        let shared = state.0.clone();
        let stopping = Arc::new(AtomicBool::new(false));

        let flusher = tokio::spawn(flush_loop(shared.clone(), stopping.clone()));
        let (tx, rx) = oneshot::channel::<()>();
        let router = app(state);
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "dev-clerk server stopped with an error");
            }
        });
        tracing::info!(issuer = %shared.issuer, data_dir = %shared.config.data_dir.display(), "dev-clerk listening");
        Ok(DevClerk {
            shared,
            port,
            shutdown: Some(tx),
            server: Some(server),
            flusher: Some(flusher),
            stopping,
        })
    }

    /// The issuer URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub fn issuer_url(&self) -> String {
        self.shared.issuer.clone()
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data folder in use.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.shared.config.data_dir
    }

    /// Successful token responses so far, by grant type.
    pub fn grants(&self) -> GrantCounts {
        GrantCounts {
            authorization_code: self.shared.code_grants.load(Ordering::SeqCst),
            refresh_token: self.shared.refresh_grants.load(Ordering::SeqCst),
            reused_refresh_tokens: self
                .shared
                .store
                .reused_refresh_tokens
                .load(Ordering::SeqCst),
        }
    }

    /// Makes the token endpoint fail or stall until set back to [`TokenFault::None`].
    pub fn set_token_fault(&self, fault: TokenFault) {
        *self.shared.fault.lock().unwrap_or_else(|p| p.into_inner()) = fault;
    }

    /// Revokes every grant of a user (their refresh and access tokens stop
    /// working), as ending their sessions in Clerk's dashboard does. Returns how many.
    pub fn end_user_grants(&self, user_id: &str) -> usize {
        let n = self.shared.store.end_user_grants(user_id);
        tracing::info!(user_id, grants = n, "grants ended");
        self.shared.mark_changed();
        n
    }

    /// How many grants are alive now.
    pub fn active_grants(&self) -> usize {
        self.shared.store.grant_count()
    }

    /// Generates a new signing key. The old one stays in the JWKS (and keeps
    /// verifying) until the tokens it signed have expired. Returns the new `kid`.
    pub async fn rotate_key(&self) -> Result<String, Error> {
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            let grace = Shared::key_grace(&shared.config);
            let fresh = crate::keys::Key::generate(now())?;
            let mut keys = shared.keys.write().unwrap_or_else(|p| p.into_inner());
            keys.install(fresh, now(), grace)
        })
        .await
        .map_err(|e| Error::Key(e.to_string()))?
    }

    /// Closes the listener, waits (briefly) for requests in flight, and writes the state.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(flusher) = self.flusher.take() {
            flusher.abort();
        }
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || flush_now(&shared)).await;
    }
}

impl Drop for DevClerk {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        if let Some(flusher) = self.flusher.take() {
            self.stopping.store(true, Ordering::SeqCst);
            flusher.abort();
            flush_now(&self.shared);
        }
    }
}

fn flush_now(shared: &Shared) {
    if let Err(e) = shared.store.flush(now()) {
        tracing::error!(error = %e, "cannot write dev-clerk state");
    }
}

/// Writes `state.json` whenever something changed; changes that arrive while
/// a write is under way are coalesced into the next one.
async fn flush_loop(shared: Arc<Shared>, stopping: Arc<AtomicBool>) {
    loop {
        shared.changed.notified().await;
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        if !shared.store.is_dirty() {
            continue;
        }
        let s = shared.clone();
        let _ = tokio::task::spawn_blocking(move || flush_now(&s)).await;
    }
}
