//! Live messages for the window: while someone is signed in, their newest
//! page (and the pages "load more" added) stays subscribed, and each new
//! result goes to the UI as one update, `messages://updated`. The socket's
//! state goes as `messages://connection`. Both go down the window's channel
//! (`updates`), which `start` opens before it reads them, so nothing is
//! missed at start.
//!
//! Until the first live result arrives, the account's cached first page
//! (`message_cache`) is shown, marked `cached`, so a start with a stored
//! session paints messages without waiting for the backend.

use std::sync::{Arc, Mutex};

use clerk_auth::AuthState;
use courier_messages::{Connection, LiveMessages, Message, Snapshot};
use serde::Serialize;
use tauri::{AppHandle, Manager};
use tokio::sync::watch;

use crate::account::Account;
use crate::message_cache::MessageCache;
use crate::state::Courier;

/// Messages per page in the window: a screenful and more, so "Load more"
/// is for going back in time, not for filling the window.
const PAGE_SIZE: u32 = 50;

/// A new snapshot of the person's messages.
pub(crate) const MESSAGES_UPDATED: &str = "messages://updated";
/// The socket went down or came back.
pub(crate) const CONNECTION_CHANGED: &str = "messages://connection";

/// What `messages://updated` carries: a version (increasing for the life of
/// the app, so the UI keeps the newest whichever way it arrived: an event or
/// the answer to `messages_snapshot`), whose messages, whether they are the
/// cached ones shown until the backend answers, and the snapshot.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessagesEvent {
    version: u64,
    user_id: Option<String>,
    cached: bool,
    #[serde(flatten)]
    snapshot: Snapshot,
}

/// The live pages of the signed-in account, if any, the last event, and
/// the cache of first pages.
pub(crate) struct Live {
    current: Mutex<Option<Following>>,
    last: Arc<Mutex<MessagesEvent>>,
    cache: MessageCache,
}

struct Following {
    user_id: String,
    pages: LiveMessages,
    forward: tauri::async_runtime::JoinHandle<()>,
}

impl Drop for Following {
    fn drop(&mut self) {
        self.forward.abort();
    }
}

impl Live {
    /// Nobody followed yet; first pages cached under `data_dir`.
    pub(crate) fn new(data_dir: &std::path::Path) -> Self {
        Live {
            current: Mutex::default(),
            last: Arc::default(),
            cache: MessageCache::new(data_dir, PAGE_SIZE as usize),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Following>> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The last event sent (empty while nobody is signed in).
    pub(crate) fn snapshot(&self) -> MessagesEvent {
        lock(&self.last).clone()
    }

    /// Adds the next page.
    pub(crate) fn load_more(&self) {
        if let Some(f) = self.lock().as_ref() {
            f.pages.load_more();
        }
    }
}

fn lock(last: &Mutex<MessagesEvent>) -> std::sync::MutexGuard<'_, MessagesEvent> {
    last.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records `snapshot` for `user_id` as the newest event and sends it.
fn publish(
    app: &AppHandle,
    last: &Mutex<MessagesEvent>,
    user_id: Option<String>,
    snapshot: Snapshot,
    cached: bool,
) {
    let event = {
        let mut last = lock(last);
        *last = MessagesEvent {
            version: last.version + 1,
            user_id,
            cached,
            snapshot,
        };
        last.clone()
    };
    crate::updates::publish(app, MESSAGES_UPDATED, event);
}

/// Follows the session for the life of the app: subscribes when someone
/// signs in, starts over for another account, stops at sign-out.
pub(crate) fn follow(app: &AppHandle) {
    let courier = app.state::<Courier>();
    let Ok(core) = courier.core() else {
        return;
    };
    let mut states = core.session.subscribe();
    let mut connection = core.messages.connection();
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let state = states.borrow_and_update().clone();
            apply(&handle, &state);
            if states.changed().await.is_err() {
                return;
            }
        }
    });
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            let state = *connection.borrow_and_update();
            crate::updates::publish(&handle, CONNECTION_CHANGED, state);
            if connection.changed().await.is_err() {
                return;
            }
        }
    });
}

/// The socket's state now.
pub(crate) fn connection(app: &AppHandle) -> Connection {
    app.state::<Courier>()
        .core()
        .map(|core| *core.messages.connection().borrow())
        .unwrap_or(Connection::Connecting)
}

fn apply(app: &AppHandle, state: &AuthState) {
    let courier = app.state::<Courier>();
    let live = app.state::<Live>();
    let Ok(core) = courier.core() else {
        return;
    };
    let mut current = live.lock();
    match state {
        AuthState::SignedIn { user, .. } => {
            if current.as_ref().is_some_and(|f| f.user_id == user.id) {
                return;
            }
            // Another account's pages go first: never shown to this one.
            *current = None;
            let account = Account {
                issuer: core.session.config().issuer_str(),
                user_id: user.id.clone(),
            };
            if let Err(error) = live.cache.keep_only(Some(&account)) {
                tracing::warn!(%error, "could not remove other accounts' cached messages");
            }
            let cached = live.cache.load(&account);
            tracing::debug!(
                cached = cached.is_some(),
                "following the account's messages"
            );
            if let Some(snapshot) = &cached {
                publish(
                    app,
                    &live.last,
                    Some(user.id.clone()),
                    snapshot.clone(),
                    true,
                );
            }
            let pages = LiveMessages::start(&core.messages, PAGE_SIZE);
            let forward = tauri::async_runtime::spawn(forward(
                app.clone(),
                account,
                pages.snapshots(),
                cached.map(|s| s.messages),
            ));
            *current = Some(Following {
                user_id: user.id.clone(),
                pages,
                forward,
            });
        }
        AuthState::SignedOut { .. } => {
            // Here or in another process: nobody's messages stay on disk.
            if let Err(error) = live.cache.keep_only(None) {
                tracing::warn!(%error, "could not remove the cached messages");
            }
            if current.take().is_some() {
                publish(app, &live.last, None, Snapshot::default(), false);
            }
        }
        // Signing in or loading: what is shown stays until the outcome.
        _ => {}
    }
}

/// Sends each live snapshot of `account`'s pages to the UI, and keeps its
/// first page in the cache. While the cached page is shown, snapshots still
/// waiting for their first result are not sent: they would blank it.
async fn forward(
    app: AppHandle,
    account: Account,
    mut snapshots: watch::Receiver<Snapshot>,
    mut kept: Option<Vec<Message>>,
) {
    let mut showing_cached = kept.is_some();
    loop {
        let snapshot = snapshots.borrow_and_update().clone();
        if snapshot.loaded || !showing_cached {
            if showing_cached {
                tracing::debug!("the live result replaces the cached messages");
            }
            showing_cached = false;
            if snapshot.loaded && snapshot.error.is_none() {
                keep_first_page(&app, &account, &snapshot, &mut kept);
            }
            let live = app.state::<Live>();
            publish(
                &app,
                &live.last,
                Some(account.user_id.clone()),
                snapshot,
                false,
            );
        }
        if snapshots.changed().await.is_err() {
            return;
        }
    }
}

/// Writes the first page when it changed, and only while `account` is still
/// the one followed (under the lock a sign-out takes to clear the cache, so
/// a late write cannot outlive it).
fn keep_first_page(
    app: &AppHandle,
    account: &Account,
    snapshot: &Snapshot,
    kept: &mut Option<Vec<Message>>,
) {
    let first_page = &snapshot.messages[..snapshot.messages.len().min(PAGE_SIZE as usize)];
    if kept.as_deref() == Some(first_page) {
        return;
    }
    let live = app.state::<Live>();
    let current = live.lock();
    if current
        .as_ref()
        .is_some_and(|f| f.user_id == account.user_id)
    {
        match live.cache.store(account, snapshot) {
            Ok(()) => *kept = Some(first_page.to_vec()),
            Err(error) => tracing::warn!(%error, "could not cache the messages shown"),
        }
    }
}
