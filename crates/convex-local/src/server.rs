//! The running server: a handle that owns the listener task.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::auth::Verifier;
use crate::http::{app, AppState};
use crate::store::Store;
use crate::{seed, Config, Error};

/// A running convex-local on 127.0.0.1. Dropping it stops the server.
#[derive(Debug)]
pub struct ConvexLocal {
    addr: SocketAddr,
    store: Arc<Store>,
    verifier: Arc<Verifier>,
    shutdown: Option<oneshot::Sender<()>>,
    /// Dropped to end the sync sessions.
    sessions: Option<watch::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl ConvexLocal {
    /// Opens (or creates) the database in `config.data_dir`, seeds demo
    /// messages if it is empty and `seed_demo` is set, and starts serving.
    pub async fn start(config: Config) -> Result<ConvexLocal, Error> {
        let data_dir = config.data_dir.clone();
        let providers = config.providers.clone();
        let seed_demo = config.seed_demo;
        let store = tokio::task::spawn_blocking(move || -> Result<Store, Error> {
            let store = Store::open(&data_dir)?;
            if seed_demo && store.is_empty()? {
                seed::seed_demo(&store, &providers)?;
            }
            Ok(store)
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))??;
        let store = Arc::new(store);
        let verifier = Arc::new(Verifier::new(
            config.providers.clone(),
            config.leeway,
            config.keys_max_age,
        ));
        let (sessions, stopping) = watch::channel(());
        let state = AppState {
            store: store.clone(),
            verifier: verifier.clone(),
            max_body_bytes: config.max_body_bytes,
            stopping,
            query_cache: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app(state)).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!("convex-local server stopped: {e}");
            }
        });
        tracing::info!(%addr, "convex-local listening");
        Ok(ConvexLocal {
            addr,
            store,
            verifier,
            shutdown: Some(tx),
            sessions: Some(sessions),
            task: Some(task),
        })
    }

    /// The deployment URL, e.g. `http://127.0.0.1:3210`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every stored message of this author (tokenIdentifier `iss|sub`),
    /// newest first, as the JSON documents functions return. Reads SQLite
    /// on the calling thread.
    pub fn messages_by_author(&self, token_identifier: &str) -> Result<Vec<Value>, Error> {
        Ok(self
            .store
            .all_by_author(token_identifier)?
            .iter()
            .map(|m| m.to_doc())
            .collect())
    }

    /// Writes a message as `token_identifier` directly, as `messages:send`
    /// would (no identity check): for tests that need many messages fast.
    pub fn insert_message(
        &self,
        token_identifier: &str,
        author_name: &str,
        body: &str,
    ) -> Result<String, Error> {
        self.store.send(token_identifier, author_name, body, None)
    }

    /// How many verified tokens the backend remembers (so a repeated token
    /// skips signature checks). For tests and diagnostics.
    pub fn cached_tokens(&self) -> usize {
        self.verifier.cached_tokens()
    }

    /// Stops accepting connections, lets requests in flight finish, and
    /// waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.sessions.take();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for ConvexLocal {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.sessions.take();
    }
}
