//! One sync-protocol session: a task per socket that reads client
//! messages, follows commits, keeps the connection alive, and sends each
//! `Transition` from exactly the version the client holds.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use convex_sync_types::types::{ClientEvent, SerializedArgs};
use convex_sync_types::{
    AuthenticationToken, ClientMessage, ErrorPayload, IdentityVersion, LogLinesMessage,
    ServerMessage, StateVersion, Timestamp, UdfPath,
};
use serde_json::Value;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use tokio::time::Instant;

use super::subscriptions::{transition_text, QuerySet, Rerun};
use super::{QueryCache, SyncError};
use crate::auth::Verifier;
use crate::commits::Commit;
use crate::functions::{self, Kind};
use crate::http::{call_args, client_error, error_message, resolve_call, AppState, CallError};
use crate::store::Store;

/// A sync-protocol `Ping` after this long without any other message, as
/// Convex's sync worker sends it (`crates/sync/src/worker.rs`).
const SYNC_PING_AFTER: Duration = Duration::from_secs(15);
/// A WebSocket ping frame this often (`crates/local_backend/src/subs`):
/// the Rust client counts any frame as a sign of life and gives up after 30 s.
const WS_PING_EVERY: Duration = Duration::from_secs(5);
/// A client that sent nothing (not even a pong) for this long is dropped.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

/// The bearer token of the session's identity. It is kept only to check,
/// before every update, that the identity is still valid (Convex ends a
/// session whose token expired); it never reaches a log line.
struct UserToken(String);

impl std::fmt::Debug for UserToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserToken([redacted])")
    }
}

impl UserToken {
    /// The raw token. Secret: hand it only to the verifier.
    fn secret(&self) -> &str {
        &self.0
    }
}

/// Who the session runs queries as.
#[derive(Debug, Default)]
struct Auth {
    token: Option<UserToken>,
    identity: Option<Arc<Value>>,
}

impl Auth {
    fn token_identifier(&self) -> Option<&str> {
        self.identity
            .as_ref()
            .and_then(|i| i.get("tokenIdentifier"))
            .and_then(Value::as_str)
    }
}

struct Session {
    store: Arc<Store>,
    verifier: Arc<Verifier>,
    cache: Arc<QueryCache>,
    commits: Receiver<Commit>,
    stopping: tokio::sync::watch::Receiver<()>,
    auth: Auth,
    /// The identity version the client's last `Authenticate` reached.
    identity_version: IdentityVersion,
    queries: QuerySet,
    /// The version the client holds: the end of the last transition sent.
    version: StateVersion,
    rerun: Rerun,
    /// A mutation finished: the client waits for a transition (to reach its
    /// timestamp, or at all after a `ConvexError`), so one is sent even if
    /// no result changed.
    mutation_done: bool,
    last_sent: Instant,
}

/// Serves one socket until the client leaves or the session fails; a
/// failure the client must hear about is sent before the close.
pub(super) async fn run(mut socket: WebSocket, state: AppState) {
    let store = state.store.clone();
    let mut session = Session {
        commits: store.commits().subscribe(),
        store,
        stopping: state.stopping.clone(),
        cache: state.query_cache.clone(),
        verifier: state.verifier.clone(),
        auth: Auth::default(),
        identity_version: 0,
        queries: QuerySet::default(),
        version: StateVersion::initial(),
        rerun: Rerun::default(),
        mutation_done: false,
        last_sent: Instant::now(),
    };
    let Err(error) = session.serve(&mut socket).await else {
        return;
    };
    let last = match &error {
        SyncError::AuthUpdateFailed(m) => Some(ServerMessage::AuthError {
            error_message: m.clone(),
            base_version: Some(session.identity_version),
            auth_update_attempted: Some(true),
        }),
        SyncError::AuthExpired(m) => Some(ServerMessage::AuthError {
            error_message: m.clone(),
            base_version: Some(session.identity_version),
            auth_update_attempted: Some(false),
        }),
        SyncError::Socket(_) | SyncError::ClientTimeout(_) => None,
        SyncError::Internal(_) => {
            tracing::error!("sync session failed: {}", error.for_log());
            None
        }
        _ => Some(ServerMessage::FatalError {
            error_message: error.to_string(),
        }),
    };
    tracing::debug!("sync session ends: {}", error.for_log());
    if let Some(message) = last {
        let _ = session.send(&mut socket, message).await;
    }
    let _ = socket.send(Message::Close(None)).await;
}

impl Session {
    async fn serve(&mut self, socket: &mut WebSocket) -> Result<(), SyncError> {
        let mut ws_ping = tokio::time::interval_at(Instant::now() + WS_PING_EVERY, WS_PING_EVERY);
        let mut last_received = Instant::now();
        loop {
            let sync_ping_at = self.last_sent + SYNC_PING_AFTER;
            tokio::select! {
                frame = socket.recv() => {
                    last_received = Instant::now();
                    match frame {
                        None | Some(Ok(Message::Close(_))) => return Ok(()),
                        Some(Err(e)) => return Err(SyncError::Socket(e.to_string())),
                        Some(Ok(Message::Text(text))) => self.handle_text(socket, &text).await?,
                        Some(Ok(Message::Binary(_))) => {
                            return Err(SyncError::BadMessage("binary frames are not messages".into()))
                        }
                        // Pings are answered by the socket itself.
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    }
                }
                commit = self.commits.recv() => match commit {
                    Ok(commit) => self.observe(&commit),
                    // Missed commits may have been anyone's: re-run to be sure.
                    Err(RecvError::Lagged(_)) => self.rerun.messages = true,
                    Err(RecvError::Closed) => return Ok(()),
                },
                _ = ws_ping.tick() => {
                    if last_received.elapsed() > CLIENT_TIMEOUT {
                        return Err(SyncError::ClientTimeout(CLIENT_TIMEOUT.as_secs()));
                    }
                    socket
                        .send(Message::Ping(Default::default()))
                        .await
                        .map_err(|e| SyncError::Socket(e.to_string()))?;
                }
                // The server is stopping.
                _ = self.stopping.changed() => return Ok(()),
                _ = tokio::time::sleep_until(sync_ping_at) => {
                    self.send(socket, ServerMessage::Ping).await?;
                }
            }
            if self.rerun.all
                || self.rerun.messages
                || self.mutation_done
                || self.queries.has_pending()
            {
                self.transition(socket).await?;
            }
        }
    }

    /// Marks the session's message queries for a re-run when `commit`
    /// changed the messages of the identity they run as; other authors'
    /// writes cannot change them.
    fn observe(&mut self, commit: &Commit) {
        if self.auth.token_identifier() == Some(&*commit.author) && self.queries.reads_messages() {
            self.rerun.messages = true;
        }
    }

    async fn handle_text(&mut self, socket: &mut WebSocket, text: &str) -> Result<(), SyncError> {
        match parse_client_message(text)? {
            // The session id and counters matter for Convex's metrics only.
            ClientMessage::Connect { .. } | ClientMessage::Event(ClientEvent { .. }) => Ok(()),
            ClientMessage::Authenticate {
                base_version,
                token,
            } => self.authenticate(base_version, token).await,
            ClientMessage::ModifyQuerySet {
                base_version,
                new_version,
                modifications,
            } => self
                .queries
                .modify(base_version, new_version, modifications),
            ClientMessage::Mutation {
                request_id,
                udf_path,
                args,
                ..
            } => {
                let result = self.call(Kind::Mutation, udf_path, args).await;
                // The write (if any) committed before this read: the
                // transition the client waits for reaches at least this.
                let ts = match result {
                    Ok(_) => Some(timestamp(self.store.commits().latest())?),
                    Err(_) => None,
                };
                // Failed ones too: the official Rust client completes a
                // mutation that threw a `ConvexError` only at the next
                // transition (it resolves plain error messages at once).
                self.mutation_done = true;
                self.send(
                    socket,
                    ServerMessage::MutationResponse {
                        request_id,
                        result,
                        ts,
                        log_lines: LogLinesMessage(vec![]),
                    },
                )
                .await
            }
            ClientMessage::Action {
                request_id,
                udf_path,
                args,
                ..
            } => {
                let result = self.call(Kind::Action, udf_path, args).await;
                self.send(
                    socket,
                    ServerMessage::ActionResponse {
                        request_id,
                        result,
                        log_lines: LogLinesMessage(vec![]),
                    },
                )
                .await
            }
        }
    }

    /// Applies `Authenticate`. A token that does not verify leaves the
    /// identity as it was and ends the session with `AuthError`.
    async fn authenticate(
        &mut self,
        base_version: IdentityVersion,
        token: AuthenticationToken,
    ) -> Result<(), SyncError> {
        if base_version != self.identity_version {
            return Err(SyncError::IdentityVersion {
                base: base_version,
                current: self.identity_version,
            });
        }
        self.auth =
            match token {
                AuthenticationToken::User(token) => {
                    let identity = self
                        .verifier
                        .verify(&token)
                        .await
                        .map_err(|f| SyncError::AuthUpdateFailed(f.message))?;
                    Auth {
                        token: Some(UserToken(token)),
                        identity: Some(identity),
                    }
                }
                AuthenticationToken::Admin(..) => return Err(SyncError::AuthUpdateFailed(
                    "The provided admin key was invalid for this instance: convex-local has no \
                     admin keys"
                        .into(),
                )),
                AuthenticationToken::None => Auth::default(),
            };
        self.identity_version += 1;
        self.rerun.all = true;
        Ok(())
    }

    /// Runs a mutation or action as the session's identity.
    async fn call(
        &self,
        kind: Kind,
        udf_path: UdfPath,
        args: SerializedArgs,
    ) -> Result<Value, ErrorPayload<Value>> {
        let request_id = crate::store::new_id()[..16].to_owned();
        let refused = |e: CallError| match e {
            CallError::Function {
                request_id,
                message,
            } => ErrorPayload::Message(error_message(&request_id, &message)),
            other => ErrorPayload::Message(other.to_string()),
        };
        let args: Value = serde_json::from_str(args.get())
            .map_err(|e| refused(CallError::BadJsonBody(e.to_string())))?;
        let decoded = resolve_call(
            Some(kind),
            String::from(udf_path),
            call_args(Some(args)).map_err(refused)?,
        )
        .map_err(refused)?;
        let store = self.store.clone();
        let identity = self.auth.identity.clone();
        let (function, args, path) = (decoded.function, decoded.args, decoded.path);
        let result = tokio::task::spawn_blocking(move || {
            functions::run(&store, function, identity.as_deref(), &args).map(|r| r.into_value())
        })
        .await;
        match result {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => {
                let (message, data) = client_error(&request_id, &path, e);
                let message = error_message(&request_id, &message);
                Err(match data {
                    Some(data) => ErrorPayload::ErrorData { message, data },
                    None => ErrorPayload::Message(message),
                })
            }
            Err(e) => {
                tracing::error!(request_id, "function {path} panicked: {e}");
                Err(ErrorPayload::Message(error_message(
                    &request_id,
                    "Internal server error",
                )))
            }
        }
    }

    /// Re-runs what may have changed and sends the client a transition
    /// from the version it holds.
    async fn transition(&mut self, socket: &mut WebSocket) -> Result<(), SyncError> {
        // Commits already announced are covered by this update.
        loop {
            match self.commits.try_recv() {
                Ok(commit) => self.observe(&commit),
                Err(TryRecvError::Lagged(_)) => self.rerun.messages = true,
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        // As Convex does before each update: an identity whose token expired
        // ends the session (the client then reconnects with a fresh token).
        if let Some(token) = &self.auth.token {
            self.verifier
                .verify(token.secret())
                .await
                .map_err(|f| SyncError::AuthExpired(f.message))?;
        }
        // Read before the queries run: every write up to `ts` is in their
        // results (later ones may be too, and get their own transition).
        let ts = self
            .store
            .commits()
            .latest()
            .max(u64::from(self.version.ts));
        let rerun = std::mem::take(&mut self.rerun);
        let modifications = self
            .queries
            .update(
                &self.store,
                &self.cache,
                ts,
                self.auth.identity.as_deref(),
                rerun,
            )
            .await;
        let end = StateVersion {
            query_set: self.queries.version(),
            identity: self.identity_version,
            ts: timestamp(ts)?,
        };
        let mutation_done = std::mem::take(&mut self.mutation_done);
        if end == self.version && modifications.is_empty() && !mutation_done {
            return Ok(());
        }
        let text = transition_text(self.version, end, Some(end.ts), modifications);
        self.send_text(socket, text).await?;
        self.version = end;
        Ok(())
    }

    async fn send(
        &mut self,
        socket: &mut WebSocket,
        message: ServerMessage<Value>,
    ) -> Result<(), SyncError> {
        self.send_text(socket, Value::from(message).to_string())
            .await
    }

    async fn send_text(&mut self, socket: &mut WebSocket, text: String) -> Result<(), SyncError> {
        socket
            .send(Message::Text(text.into()))
            .await
            .map_err(|e| SyncError::Socket(e.to_string()))?;
        self.last_sent = Instant::now();
        Ok(())
    }
}

fn timestamp(ts: u64) -> Result<Timestamp, SyncError> {
    Timestamp::try_from(ts).map_err(|e| SyncError::Internal(format!("timestamp {ts}: {e}")))
}

/// A text frame from the client, parsed by `convex_sync_types`.
pub(super) fn parse_client_message(text: &str) -> Result<ClientMessage, SyncError> {
    let json: Value =
        serde_json::from_str(text).map_err(|e| SyncError::BadMessage(e.to_string()))?;
    ClientMessage::try_from(json).map_err(|e| SyncError::BadMessage(e.to_string()))
}
