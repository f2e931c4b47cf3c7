//! Convex's sync protocol on a WebSocket (`GET /api/sync`, and
//! `GET /api/{client-version}/sync` as convex-js opens it).
//!
//! Messages are parsed and written with `convex_sync_types`, the crate the
//! official Rust client uses, so the shapes are Convex's own. One task per
//! socket ([`session`]) keeps the client's query set ([`subscriptions`]),
//! its identity and the state version it holds, and answers:
//!
//! * `Connect`, `Event`: accepted; nothing to do here.
//! * `Authenticate`: verified by the same [`Verifier`] as the HTTP API; a
//!   refused token gets `AuthError` (`authUpdateAttempted: true`) and the
//!   socket closes, as Convex does, with the identity unchanged until then.
//! * `ModifyQuerySet`, `Mutation`, `Action`: a `Transition` from exactly
//!   the version the client holds, after every commit its queries can see.
//!
//! [`Verifier`]: crate::auth::Verifier

mod cache;
mod error;
mod journal;
#[cfg(test)]
mod proptests;
mod session;
mod subscriptions;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::State;
use axum::response::Response;

use crate::http::AppState;

pub(crate) use cache::{key as cache_key, QueryCache};
pub(crate) use error::SyncError;
pub(crate) use subscriptions::{Encoded, Outcome};

/// Room for a message's framing around the largest call body allowed.
const FRAME_SLACK_BYTES: usize = 64 * 1024;
/// Most bytes one read from the socket takes in. tungstenite zero-fills this
/// much of its buffer on every read attempt, and a session's loop attempts
/// one each time it wakes (for every commit, with nothing to read): at the
/// default 128 KiB that memset was a tenth of the server's push work.
/// Client messages are small; a larger one just takes several reads.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// `GET /api/sync`: upgrades to a sync-protocol session.
pub(crate) async fn sync_get(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(state.max_body_bytes.saturating_add(FRAME_SLACK_BYTES))
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| session::run(socket, state))
}
