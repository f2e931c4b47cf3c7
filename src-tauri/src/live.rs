//! Live messages for the window: while someone is signed in, their newest
//! page (and the pages "load more" added) stays subscribed, and each new
//! result goes to the UI as one event, `messages://updated`. The socket's
//! state goes as `messages://connection`. The UI asks `messages_snapshot`
//! and `connection_state` after subscribing, so nothing is missed at start.

use std::sync::{Arc, Mutex};

use clerk_auth::AuthState;
use courier_messages::{Connection, LiveMessages, Snapshot};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};

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
/// the answer to `messages_snapshot`), whose messages, and the snapshot.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessagesEvent {
    version: u64,
    user_id: Option<String>,
    #[serde(flatten)]
    snapshot: Snapshot,
}

/// The live pages of the signed-in account, if any, and the last event.
#[derive(Default)]
pub(crate) struct Live {
    current: Mutex<Option<Following>>,
    last: Arc<Mutex<MessagesEvent>>,
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
) {
    let event = {
        let mut last = lock(last);
        *last = MessagesEvent {
            version: last.version + 1,
            user_id,
            snapshot,
        };
        last.clone()
    };
    let _ = app.emit_to("main", MESSAGES_UPDATED, event);
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
            let _ = handle.emit_to("main", CONNECTION_CHANGED, state);
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
            let pages = LiveMessages::start(&core.messages, PAGE_SIZE);
            let mut snapshots = pages.snapshots();
            let handle = app.clone();
            let last = live.last.clone();
            let user_id = user.id.clone();
            let forward = tauri::async_runtime::spawn(async move {
                loop {
                    let snapshot = snapshots.borrow_and_update().clone();
                    publish(&handle, &last, Some(user_id.clone()), snapshot);
                    if snapshots.changed().await.is_err() {
                        return;
                    }
                }
            });
            *current = Some(Following {
                user_id: user.id.clone(),
                pages,
                forward,
            });
        }
        AuthState::SignedOut { .. } if current.take().is_some() => {
            publish(app, &live.last, None, Snapshot::default());
        }
        // Signing in or loading: what is shown stays until the outcome.
        _ => {}
    }
}
