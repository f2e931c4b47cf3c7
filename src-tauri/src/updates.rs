//! The main window's updates: one IPC channel, opened by the `start`
//! command, that carries every change the UI follows (the session, the live
//! messages, the socket), each as an event name and its payload.
//!
//! Why a channel and not Tauri events: at start the page needs the state
//! and every change after it. With events that took three `listen`
//! requests and then four reads; `start` is one. (First paint moved less
//! than the window bench's noise; the app's PSS fell ~3 MiB.) It also keeps
//! the window's capability to its own commands (no `core:event`).

use std::sync::Mutex;

use serde::Serialize;
use serde_json::Value;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager};

/// One change: the event's name and its payload.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Update {
    event: &'static str,
    payload: Value,
}

/// The channel the main window opened last (a reload opens another).
#[derive(Default)]
pub(crate) struct Updates {
    channel: Mutex<Option<Channel<Update>>>,
}

impl Updates {
    /// From now on, changes also go to `channel`.
    pub(crate) fn open(&self, channel: Channel<Update>) {
        *self.channel.lock().unwrap_or_else(|e| e.into_inner()) = Some(channel);
    }

    fn send(&self, update: Update) {
        let channel = self.channel.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = channel.as_ref() {
            // A closed page's channel fails; the next `start` replaces it.
            let _ = channel.send(update);
        }
    }
}

/// Sends `event` down the main window's channel, if it has opened one.
pub(crate) fn publish<T: Serialize>(app: &AppHandle, event: &'static str, payload: T) {
    let Ok(payload) = serde_json::to_value(payload) else {
        return;
    };
    if let Some(updates) = app.try_state::<Updates>() {
        updates.send(Update { event, payload });
    }
}
