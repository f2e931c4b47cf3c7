//! [`MessagesClient`]: one socket to the deployment, authenticated by the
//! session, with the messages API's three operations.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use clerk_auth::SessionManager;
use convex::{
    ConvexClient, ConvexClientBuilder, FunctionResult, QuerySubscription, WebSocketState,
};
use futures_util::StreamExt as _;
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use url::Url;

use crate::api::{self, Page, PageRequest};
use crate::{auth, deployment, validate_body, MessagesError};

/// The client id Courier's sockets announce.
pub const CLIENT_ID: &str = concat!("courier-", env!("CARGO_PKG_VERSION"));

/// How long a one-shot operation waits for the socket to be up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a one-shot operation waits for its answer once sent.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Whether the socket is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Connection {
    /// Connecting, or reconnecting after the connection broke: results may
    /// be stale until it is back.
    Connecting,
    /// Open: results are live.
    Connected,
}

/// Courier's connection to its Convex deployment. Cheap to clone (one
/// socket); the socket closes when the last clone is dropped.
#[derive(Clone)]
pub struct MessagesClient {
    inner: Arc<Inner>,
}

struct Inner {
    client: ConvexClient,
    url: Url,
    connection: watch::Receiver<Connection>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The tasks hold clones of the client; without them it closes.
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl fmt::Debug for MessagesClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessagesClient")
            .field("url", &self.inner.url.as_str())
            .field("connection", &*self.inner.connection.borrow())
            .finish_non_exhaustive()
    }
}

impl MessagesClient {
    /// Opens the socket to `url` (checked first: see [`deployment::check`])
    /// with the session's tokens. Returns at once: the socket connects, and
    /// reconnects after a failure, in the background (see
    /// [`connection`](Self::connection)). Must run inside a Tokio runtime.
    pub async fn connect(url: &Url, session: SessionManager) -> Result<Self, MessagesError> {
        deployment::check(url)?;
        // A wss:// socket takes rustls's process default: the one stack.
        clerk_auth::install_crypto_provider();
        let (states_tx, mut states) = mpsc::channel(16);
        let mut client = ConvexClientBuilder::new(url.as_str())
            .with_client_id(CLIENT_ID)
            .with_on_state_change(states_tx)
            .build()
            .await
            .map_err(|e| MessagesError::Client(e.to_string()))?;
        // Before any subscription, so no query ever runs without the token.
        client
            .set_auth_callback(Some(auth::fetcher(session.clone())))
            .await;

        let (connection_tx, connection) = watch::channel(Connection::Connecting);
        let states_task = tokio::spawn(async move {
            while let Some(state) = states.recv().await {
                let state = match state {
                    WebSocketState::Connected => Connection::Connected,
                    WebSocketState::Connecting => Connection::Connecting,
                };
                let was = connection_tx.send_replace(state);
                match (was, state) {
                    (Connection::Connecting, Connection::Connected) => {
                        tracing::info!("connected to Convex")
                    }
                    (Connection::Connected, Connection::Connecting) => {
                        tracing::warn!("the connection to Convex broke; reconnecting")
                    }
                    _ => {}
                }
            }
        });
        let auth_task = tokio::spawn(auth::follow_session(client.clone(), session));
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                url: url.clone(),
                connection,
                tasks: vec![states_task, auth_task],
            }),
        })
    }

    /// The deployment URL.
    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// The socket's state, now and as it changes.
    pub fn connection(&self) -> watch::Receiver<Connection> {
        self.inner.connection.clone()
    }

    /// Waits until the socket is up, at most `within`.
    pub async fn connected(&self, within: Duration) -> Result<(), MessagesError> {
        let mut connection = self.connection();
        let up = tokio::time::timeout(within, async {
            connection
                .wait_for(|c| *c == Connection::Connected)
                .await
                .is_ok()
        })
        .await;
        match up {
            Ok(true) => Ok(()),
            _ => Err(self.unreachable()),
        }
    }

    /// A live page: a new value each time its messages change.
    pub async fn subscribe(
        &self,
        request: &PageRequest,
    ) -> Result<PageSubscription, MessagesError> {
        let mut client = self.inner.client.clone();
        let inner = client
            .subscribe(api::LIST, request.args())
            .await
            .map_err(|e| MessagesError::Client(e.to_string()))?;
        Ok(PageSubscription { inner })
    }

    /// One page, read once (the socket up within [`CONNECT_TIMEOUT`], the
    /// answer within [`CALL_TIMEOUT`]).
    pub async fn page(&self, request: &PageRequest) -> Result<Page, MessagesError> {
        self.connected(CONNECT_TIMEOUT).await?;
        let mut subscription = self.subscribe(request).await?;
        match tokio::time::timeout(CALL_TIMEOUT, subscription.next()).await {
            Ok(Some(page)) => page,
            Ok(None) => Err(MessagesError::Client("the subscription ended".into())),
            Err(_) => Err(self.timeout()),
        }
    }

    /// Sends `body` (checked first: see [`validate_body`]) and returns the
    /// message's id. A repeated `client_message_id` returns the first
    /// message's id and writes nothing, so a retry after a timeout never
    /// duplicates.
    pub async fn send(&self, body: &str, client_message_id: &str) -> Result<String, MessagesError> {
        let body = validate_body(body)?;
        self.connected(CONNECT_TIMEOUT).await?;
        let mut client = self.inner.client.clone();
        let call = client.mutation(api::SEND, api::send_args(body, client_message_id));
        let result = match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Ok(result) => result.map_err(|e| MessagesError::Client(e.to_string()))?,
            Err(_) => return Err(self.timeout()),
        };
        match result {
            FunctionResult::Value(convex::Value::String(id)) => Ok(id),
            FunctionResult::Value(other) => Err(MessagesError::Decode {
                function: api::SEND,
                detail: format!(
                    "expected a message id, got {}",
                    serde_json::Value::from(other)
                ),
            }),
            failure => Err(MessagesError::from_function(failure)),
        }
    }

    fn unreachable(&self) -> MessagesError {
        MessagesError::Unreachable {
            url: origin(&self.inner.url),
        }
    }

    fn timeout(&self) -> MessagesError {
        MessagesError::Timeout {
            url: origin(&self.inner.url),
        }
    }
}

fn origin(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// A live page of messages. Dropping it ends the subscription.
pub struct PageSubscription {
    inner: QuerySubscription,
}

impl fmt::Debug for PageSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageSubscription").finish_non_exhaustive()
    }
}

impl PageSubscription {
    /// The page's next value (`None` once the client has stopped).
    pub async fn next(&mut self) -> Option<Result<Page, MessagesError>> {
        self.inner.next().await.map(decode_page)
    }

    pub(crate) fn into_inner(self) -> QuerySubscription {
        self.inner
    }
}

/// A `messages:list` result, as a [`Page`] or the function's refusal.
pub(crate) fn decode_page(result: FunctionResult) -> Result<Page, MessagesError> {
    match result {
        FunctionResult::Value(value) => serde_json::from_value(serde_json::Value::from(value))
            .map_err(|e| MessagesError::Decode {
                function: api::LIST,
                detail: e.to_string(),
            }),
        failure => Err(MessagesError::from_function(failure)),
    }
}
