//! The client: one `reqwest` pool, one token source, three call kinds.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use url::Url;

use crate::config::check_deployment_url;
use crate::error::snippet;
use crate::wire::{AuthFailure, CallRequest, CallResponse, FunctionKind};
use crate::{ConvexError, TokenSource, TransportError};

/// The value of the `Convex-Client` header sent with every call.
pub const CLIENT_NAME: &str = concat!("courier-", env!("CARGO_PKG_VERSION"));

/// Default time allowed to open a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default time allowed for a whole call (connect, send, answer).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How much of an unexpected body an error keeps.
const SNIPPET_BYTES: usize = 512;

/// A Convex HTTP API client. Cheap to clone (one shared connection pool).
///
/// Each call asks the [`TokenSource`] for a token and sends it as
/// `Authorization: Bearer`; on HTTP 401 it forces one refresh and retries
/// once, and a second 401 surfaces as [`ConvexError::Unauthenticated`].
#[derive(Clone)]
pub struct ConvexClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    url: Url,
    tokens: Arc<dyn TokenSource>,
}

impl fmt::Debug for ConvexClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvexClient")
            .field("url", &self.inner.url.as_str())
            .finish_non_exhaustive()
    }
}

/// Builds a [`ConvexClient`] with non-default timeouts.
#[derive(Clone)]
pub struct ConvexClientBuilder {
    url: Url,
    tokens: Arc<dyn TokenSource>,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl fmt::Debug for ConvexClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConvexClientBuilder")
            .field("url", &self.url.as_str())
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .finish_non_exhaustive()
    }
}

impl ConvexClientBuilder {
    /// Time allowed to open a connection (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Time allowed for a whole call, answer included (default 20 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Builds the client; fails on a URL that is not http(s) with a host.
    pub fn build(self) -> Result<ConvexClient, ConvexError> {
        check_deployment_url(&self.url)?;
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "Convex-Client",
            reqwest::header::HeaderValue::from_static(CLIENT_NAME),
        );
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .user_agent(CLIENT_NAME)
            .default_headers(headers)
            .build()
            .map_err(|e| ConvexError::Config(format!("could not set up the HTTP client: {e}")))?;
        Ok(ConvexClient {
            inner: Arc::new(Inner {
                http,
                url: self.url,
                tokens: self.tokens,
            }),
        })
    }
}

/// The outcome of one HTTP exchange, before any retry.
enum Attempt<R> {
    Done(Result<R, ConvexError>),
    Unauthorized(AuthFailure),
}

impl ConvexClient {
    /// A client for the deployment at `deployment_url` (e.g.
    /// `https://happy-otter-123.convex.cloud`), with default timeouts.
    pub fn new(deployment_url: Url, tokens: Arc<dyn TokenSource>) -> Result<Self, ConvexError> {
        Self::builder(deployment_url, tokens).build()
    }

    /// A builder, to change timeouts.
    pub fn builder(deployment_url: Url, tokens: Arc<dyn TokenSource>) -> ConvexClientBuilder {
        ConvexClientBuilder {
            url: deployment_url,
            tokens,
            connect_timeout: CONNECT_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
        }
    }

    /// The deployment URL.
    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// Runs the query function `path` (`"messages:list"`) with `args` (a
    /// struct or map; `()` sends `{}`) and decodes its value into `R`.
    pub async fn query<A, R>(&self, path: &str, args: &A) -> Result<R, ConvexError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.call(FunctionKind::Query, path, args).await
    }

    /// Runs the mutation function `path` with `args`; see [`Self::query`].
    pub async fn mutation<A, R>(&self, path: &str, args: &A) -> Result<R, ConvexError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.call(FunctionKind::Mutation, path, args).await
    }

    /// Runs the action function `path` with `args`; see [`Self::query`].
    pub async fn action<A, R>(&self, path: &str, args: &A) -> Result<R, ConvexError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        self.call(FunctionKind::Action, path, args).await
    }

    async fn call<A, R>(&self, kind: FunctionKind, path: &str, args: &A) -> Result<R, ConvexError>
    where
        A: Serialize + ?Sized,
        R: DeserializeOwned,
    {
        let args = match serde_json::to_value(args) {
            // Convex wants an object; `()` and `None` mean "no arguments".
            Ok(Value::Null) => Value::Object(Default::default()),
            Ok(v) => v,
            Err(source) => {
                return Err(ConvexError::Decode {
                    what: format!("the arguments of {path} could not be encoded as JSON"),
                    source,
                })
            }
        };
        let body = CallRequest {
            path,
            args,
            format: "json",
        };
        let endpoint = self.endpoint(kind);

        let token = self.inner.tokens.token().await?;
        let first = self.send(kind, &endpoint, &body, token.as_deref()).await?;
        let failure = match first {
            Attempt::Done(result) => return result,
            Attempt::Unauthorized(failure) => failure,
        };
        tracing::debug!(
            function = path,
            code = %failure.code,
            "Convex answered HTTP 401; forcing a token refresh and retrying once"
        );
        let Some(token) = self.inner.tokens.refresh().await? else {
            return Err(unauthenticated(failure));
        };
        match self.send(kind, &endpoint, &body, Some(&token)).await? {
            Attempt::Done(result) => result,
            Attempt::Unauthorized(failure) => Err(unauthenticated(failure)),
        }
    }

    fn endpoint(&self, kind: FunctionKind) -> Url {
        let mut url = self.inner.url.clone();
        let base = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base}/api/{}", kind.as_str()));
        url
    }

    /// One HTTP exchange. `Err` only for transport failures; everything the
    /// server said is in the `Attempt`.
    async fn send<R: DeserializeOwned>(
        &self,
        kind: FunctionKind,
        endpoint: &Url,
        body: &CallRequest<'_>,
        token: Option<&str>,
    ) -> Result<Attempt<R>, ConvexError> {
        let started = Instant::now();
        let mut request = self.inner.http.post(endpoint.clone()).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(TransportError::new)?;
        let status = response.status();
        let text = response.text().await.map_err(TransportError::new)?;
        tracing::debug!(
            kind = kind.as_str(),
            function = body.path,
            status = status.as_u16(),
            authenticated = token.is_some(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Convex call answered"
        );
        if status == StatusCode::UNAUTHORIZED {
            let failure =
                serde_json::from_str::<AuthFailure>(&text).unwrap_or_else(|_| AuthFailure {
                    code: String::new(),
                    message: snippet(&text, SNIPPET_BYTES),
                });
            return Ok(Attempt::Unauthorized(failure));
        }
        Ok(Attempt::Done(decode(body.path, status, &text)))
    }
}

fn unauthenticated(failure: AuthFailure) -> ConvexError {
    ConvexError::Unauthenticated {
        code: if failure.code.is_empty() {
            "Unauthenticated".to_owned()
        } else {
            failure.code
        },
        message: failure.message,
    }
}

/// Reads an answer that was not a 401.
fn decode<R: DeserializeOwned>(
    path: &str,
    status: StatusCode,
    text: &str,
) -> Result<R, ConvexError> {
    // The envelope is authoritative whatever the status: a function error
    // is reported with HTTP 200 by Convex, but a proxy in front may differ.
    let envelope = match serde_json::from_str::<CallResponse>(text) {
        Ok(envelope) => envelope,
        Err(_) if !status.is_success() => {
            return Err(ConvexError::Http {
                status: status.as_u16(),
                body: snippet(text, SNIPPET_BYTES),
            })
        }
        Err(source) => {
            return Err(ConvexError::Decode {
                what: format!(
                    "the answer to {path} is not a Convex response: {}",
                    snippet(text, SNIPPET_BYTES)
                ),
                source,
            })
        }
    };
    match envelope {
        CallResponse::Success { value, log_lines } => {
            forward_logs(path, &log_lines);
            serde_json::from_value::<R>(value.clone()).map_err(|source| ConvexError::Decode {
                what: format!(
                    "the value returned by {path} does not have the expected shape: {}",
                    snippet(&value.to_string(), SNIPPET_BYTES)
                ),
                source,
            })
        }
        CallResponse::Error {
            error_message,
            error_data,
            log_lines,
        } => {
            forward_logs(path, &log_lines);
            Err(ConvexError::Function {
                message: error_message,
                data: error_data.filter(|d| !d.is_null()),
            })
        }
    }
}

/// Function log lines go to `tracing` at debug (they carry what the
/// function printed, never the caller's token).
fn forward_logs(path: &str, lines: &[Value]) {
    for line in lines {
        match line {
            Value::String(text) => {
                tracing::debug!(target: "convex_http::function_log", function = path, "{text}")
            }
            other => {
                tracing::debug!(target: "convex_http::function_log", function = path, "{other}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NoToken;

    fn client(url: &str) -> ConvexClient {
        ConvexClient::new(Url::parse(url).unwrap(), Arc::new(NoToken)).unwrap()
    }

    #[test]
    fn endpoints_keep_a_base_path() {
        let c = client("http://127.0.0.1:3210");
        assert_eq!(
            c.endpoint(FunctionKind::Query).as_str(),
            "http://127.0.0.1:3210/api/query"
        );
        let c = client("https://example.com/convex/");
        assert_eq!(
            c.endpoint(FunctionKind::Mutation).as_str(),
            "https://example.com/convex/api/mutation"
        );
        assert_eq!(
            c.endpoint(FunctionKind::Action).as_str(),
            "https://example.com/convex/api/action"
        );
    }

    #[test]
    fn rejects_non_http_urls() {
        let err =
            ConvexClient::new(Url::parse("file:///tmp/x").unwrap(), Arc::new(NoToken)).unwrap_err();
        assert!(matches!(err, ConvexError::Config(_)), "{err:?}");
    }

    #[test]
    fn client_name_carries_the_version() {
        assert_eq!(
            CLIENT_NAME,
            format!("courier-{}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn decode_maps_each_answer() {
        let ok: Vec<u32> =
            decode("f", StatusCode::OK, r#"{"status":"success","value":[1]}"#).unwrap();
        assert_eq!(ok, vec![1]);

        let err = decode::<Value>(
            "f",
            StatusCode::OK,
            r#"{"status":"error","errorMessage":"boom","errorData":null}"#,
        )
        .unwrap_err();
        assert!(
            matches!(&err, ConvexError::Function { message, data: None } if message == "boom"),
            "{err:?}"
        );

        let err =
            decode::<Value>("f", StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").unwrap_err();
        assert!(
            matches!(&err, ConvexError::Http { status: 502, body } if body.contains("bad gateway")),
            "{err:?}"
        );

        let err = decode::<Value>("f", StatusCode::OK, "not json").unwrap_err();
        assert!(
            matches!(&err, ConvexError::Decode { what, .. } if what.contains("not json")),
            "{err:?}"
        );

        let err =
            decode::<u32>("f", StatusCode::OK, r#"{"status":"success","value":"x"}"#).unwrap_err();
        assert!(
            matches!(&err, ConvexError::Decode { what, .. } if what.contains("\"x\"")),
            "{err:?}"
        );
    }
}
