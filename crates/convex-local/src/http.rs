//! Convex's HTTP API: `/api/query`, `/api/mutation`, `/api/action`,
//! `/api/run/{module}/{function}`, with Convex's response shapes, auth
//! errors and CORS.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::auth::{AuthFailure, Verifier};
use crate::functions::{self, FnError, Function, Kind};
use crate::store::Store;
use crate::sync::{Encoded, Outcome};

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub(crate) store: Arc<Store>,
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) max_body_bytes: usize,
    /// Closes when the server stops: live sync sessions end with it (an
    /// upgraded socket outlives the HTTP server's graceful shutdown).
    pub(crate) stopping: tokio::sync::watch::Receiver<()>,
    /// Query results live sessions share.
    pub(crate) query_cache: Arc<crate::sync::QueryCache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// The router: Convex's public HTTP API plus `GET /version`.
pub fn app(state: AppState) -> Router {
    // Convex answers any origin, echoing it, with credentials allowed.
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(AllowHeaders::mirror_request())
        .max_age(Duration::from_secs(86_400));
    Router::new()
        .route("/api/query", post(query_post))
        .route("/api/mutation", post(mutation_post))
        .route("/api/action", post(action_post))
        .route("/api/run/{*path}", post(run_post))
        .route("/api/sync", get(crate::sync::sync_get))
        .route("/api/{client_version}/sync", get(crate::sync::sync_get))
        .route("/version", get(version_get))
        .layer(cors)
        .with_state(state)
}

async fn version_get() -> impl IntoResponse {
    concat!("convex-local ", env!("CARGO_PKG_VERSION"))
}

async fn query_post(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    call(s, Some(Kind::Query), None, headers, body).await
}

async fn mutation_post(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    call(s, Some(Kind::Mutation), None, headers, body).await
}

async fn action_post(State(s): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    call(s, Some(Kind::Action), None, headers, body).await
}

async fn run_post(
    State(s): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    call(s, None, Some(path), headers, body).await
}

/// An error answered at the HTTP level, Convex style: `{code, message}`.
fn http_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"code": code, "message": message.into()})),
    )
        .into_response()
}

impl IntoResponse for AuthFailure {
    fn into_response(self) -> Response {
        http_error(StatusCode::UNAUTHORIZED, self.code, self.message)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    path: Option<String>,
    #[serde(default)]
    args: Option<Value>,
    #[serde(default)]
    format: Option<String>,
}

async fn call(
    state: AppState,
    kind: Option<Kind>,
    run_path: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // 1. Who is calling (Convex authenticates before reading the body).
    let identity = match authenticate(&state, &headers).await {
        Ok(i) => i,
        Err(resp) => return resp,
    };
    // 2. The body, and the function it names.
    let bytes = match read_json_body(&headers, body, state.max_body_bytes).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Decoded {
        function,
        args,
        path,
    } = match decode_call(kind, run_path, &bytes) {
        Ok(d) => d,
        Err(e) => return e.into_response(),
    };
    // A query reads one indexed page from a pooled reader (tens of
    // microseconds): it runs on the request's own task, as a thread handoff
    // would cost more than the read. Writes may wait on the writer lock, so
    // they go to the blocking pool.
    let result = if function.kind() == Kind::Query {
        // Convex's query cache, shared with the sync sessions: a result is
        // keyed by function, arguments, identity and the commit timestamp
        // read before the query runs. A write commits, then moves the
        // timestamp on before it returns, so a call that starts after a
        // write returned never gets a result from before it.
        let ts = state.store.commits().latest();
        let identity_key = identity
            .as_deref()
            .map(Value::to_string)
            .unwrap_or_default();
        let slot = state
            .query_cache
            .slot(ts, crate::sync::cache_key(function, &args, &identity_key));
        if let Some(Outcome::Value(encoded)) = slot.get() {
            return success_encoded(encoded);
        }
        let store = &state.store;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            functions::run(store, function, identity.as_deref(), &args)
        }))
        .map_err(|_| "the query panicked".to_owned());
        if let Ok(Ok(reply)) = &result {
            if let Ok(encoded) = Encoded::new(reply) {
                let encoded = Arc::new(encoded);
                // Taken already (by a concurrent call or session): theirs is as good.
                let _ = slot.set(Outcome::Value(encoded.clone()));
                return success_encoded(&encoded);
            }
        }
        result
    } else {
        let store = state.store.clone();
        tokio::task::spawn_blocking(move || {
            functions::run(&store, function, identity.as_deref(), &args)
        })
        .await
        .map_err(|e| e.to_string())
    };
    match result {
        Ok(Ok(reply)) => success(&reply),
        Ok(Err(e)) => {
            let request_id = new_request_id();
            let (message, data) = client_error(&request_id, &path, e);
            udf_error(&request_id, message, data)
        }
        Err(e) => {
            let request_id = new_request_id();
            tracing::error!(request_id, "function {path} panicked: {e}");
            udf_error(&request_id, "Internal server error".into(), None)
        }
    }
}

/// A function's value, `{"status": "success", "value": ..., "logLines": []}`,
/// serialized straight from the reply.
fn success(reply: &functions::Reply) -> Response {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Success<'a> {
        status: &'static str,
        value: &'a functions::Reply,
        log_lines: [(); 0],
    }
    let body = Success {
        status: "success",
        value: reply,
        log_lines: [],
    };
    let mut bytes = Vec::with_capacity(1024);
    match serde_json::to_writer(&mut bytes, &body) {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(e) => {
            let request_id = new_request_id();
            tracing::error!(request_id, "encoding a result failed: {e}");
            udf_error(&request_id, "Internal server error".into(), None)
        }
    }
}

/// A function's value already encoded as JSON, in the same envelope.
fn success_encoded(value: &Encoded) -> Response {
    let mut bytes = Vec::with_capacity(value.json.len() + 48);
    bytes.extend_from_slice(br#"{"status":"success","value":"#);
    bytes.extend_from_slice(value.json.as_bytes());
    bytes.extend_from_slice(br#","logLines":[]}"#);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        bytes,
    )
        .into_response()
}

/// The request id Convex shows in a failed function's message. Made only
/// for failures: a successful call never shows one (and it costs a read of
/// the OS random source).
pub(crate) fn new_request_id() -> String {
    crate::store::new_id()[..16].to_owned()
}

/// A function's failure as clients see it, without the request-id prefix:
/// the message and, for a `ConvexError`, its data. Storage failures are
/// logged here and shown only as "Internal server error".
pub(crate) fn client_error(request_id: &str, path: &str, e: FnError) -> (String, Option<Value>) {
    match e {
        FnError::Convex(data) => {
            let text = match &data {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (format!("Uncaught ConvexError: {text}"), Some(data))
        }
        FnError::System(message) => (message, None),
        FnError::Internal(e) => {
            tracing::error!(request_id, "function {path} failed: {e}");
            ("Internal server error".into(), None)
        }
    }
}

/// The full error message Convex shows for a failed function.
pub(crate) fn error_message(request_id: &str, message: &str) -> String {
    format!("[Request ID: {request_id}] Server Error\n{message}")
}

/// A function's failure: HTTP 200, as Convex answers it.
fn udf_error_body(request_id: &str, message: &str, data: Option<Value>) -> Value {
    let mut body = json!({
        "status": "error",
        "errorMessage": error_message(request_id, message),
        "logLines": [],
    });
    if let Some(data) = data {
        body["errorData"] = data;
    }
    body
}

fn udf_error(request_id: &str, message: String, data: Option<Value>) -> Response {
    (
        StatusCode::OK,
        Json(udf_error_body(request_id, &message, data)),
    )
        .into_response()
}

/// A call whose body decoded: the function, its checked arguments, its path.
pub(crate) struct Decoded {
    pub(crate) function: Function,
    pub(crate) args: Value,
    pub(crate) path: String,
}

/// Why a call's body was refused, each with the code Convex answers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum CallError {
    /// Not JSON, or not the shape of a call.
    #[error("Failed to deserialize the JSON body: {0}")]
    BadJsonBody(String),
    /// A `format` other than `json` / `convex_encoded_json`.
    #[error("Requested format {0:?} is not supported; use \"json\"")]
    FormatNotSupported(String),
    /// `args` neither an object nor a one-object array.
    #[error("args must be an object, or an array holding one object")]
    InvalidArgs,
    /// The function is unknown, of another kind, or its arguments do not
    /// validate: a function error (HTTP 200), as Convex answers it.
    #[error("{message}")]
    Function {
        /// Shown in the error message, as Convex does.
        request_id: String,
        /// What went wrong.
        message: String,
    },
}

impl CallError {
    /// The status and JSON body Convex answers for this error.
    pub(crate) fn status_and_body(&self) -> (StatusCode, Value) {
        let code = match self {
            CallError::BadJsonBody(_) => "BadJsonBody",
            CallError::FormatNotSupported(_) => "RequestedFormatNotSupported",
            CallError::InvalidArgs => "InvalidArgs",
            CallError::Function {
                request_id,
                message,
            } => return (StatusCode::OK, udf_error_body(request_id, message, None)),
        };
        (
            StatusCode::BAD_REQUEST,
            json!({"code": code, "message": self.to_string()}),
        )
    }
}

impl IntoResponse for CallError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        (status, Json(body)).into_response()
    }
}

/// Decodes a call's JSON body (`/api/query` and friends, or `/api/run/<path>`
/// with `run_path`), resolves the function and checks its arguments.
pub(crate) fn decode_call(
    kind: Option<Kind>,
    run_path: Option<String>,
    bytes: &[u8],
) -> Result<Decoded, CallError> {
    let req: CallBody =
        serde_json::from_slice(bytes).map_err(|e| CallError::BadJsonBody(e.to_string()))?;
    match req.format.as_deref() {
        None | Some("json") | Some("convex_encoded_json") => {}
        Some(other) => return Err(CallError::FormatNotSupported(other.to_owned())),
    }
    let args = call_args(req.args)?;
    let path = match (run_path, req.path) {
        (Some(p), _) => match p.rsplit_once('/') {
            Some((module, function)) => format!("{module}:{function}"),
            None => format!("{p}:default"),
        },
        (None, Some(p)) => p,
        (None, None) => return Err(CallError::BadJsonBody("missing field `path`".into())),
    };
    resolve_call(kind, path, args)
}

/// A call's arguments: an object, or (as Convex's clients send them) an
/// array holding one object.
pub(crate) fn call_args(args: Option<Value>) -> Result<Value, CallError> {
    match args {
        None => Ok(json!({})),
        Some(Value::Object(o)) => Ok(Value::Object(o)),
        Some(Value::Array(mut items)) if items.len() == 1 && items[0].is_object() => {
            Ok(items.remove(0))
        }
        Some(_) => Err(CallError::InvalidArgs),
    }
}

/// Resolves the function `path` names, checks it is of `kind` (if given)
/// and validates `args`: shared by the HTTP API and the sync protocol.
pub(crate) fn resolve_call(
    kind: Option<Kind>,
    path: String,
    args: Value,
) -> Result<Decoded, CallError> {
    let fail = |message: String| CallError::Function {
        request_id: new_request_id(),
        message,
    };
    let (module, name) = path.split_once(':').unwrap_or((path.as_str(), "default"));
    let Some(function) = Function::lookup(module, name) else {
        let shown = format!("{}:{}", module.strip_suffix(".js").unwrap_or(module), name);
        return Err(fail(format!(
            "Could not find public function for '{shown}'. Did you forget to run \
             `npx convex dev` or `npx convex deploy`?"
        )));
    };
    if let Some(kind) = kind {
        if kind != function.kind() {
            return Err(fail(format!(
                "Trying to execute {} as {kind}, but it is defined as {}.",
                function.canonical_path(),
                function.kind()
            )));
        }
    }
    function.args().check_args(&args).map_err(fail)?;
    Ok(Decoded {
        function,
        args,
        path,
    })
}

async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Arc<Value>>, Response> {
    let Some(raw) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let Ok(value) = raw.to_str() else {
        return Err(http_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthHeader",
            "The Authorization header is not valid ASCII",
        ));
    };
    let bearer = value
        .strip_prefix("Bearer")
        .filter(|rest| rest.is_empty() || rest.starts_with(' '));
    if let Some(token) = bearer {
        let token = token.trim();
        if token.is_empty() {
            return Err(http_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthHeader",
                "The Authorization header has an empty bearer token",
            ));
        }
        return state
            .verifier
            .verify(token)
            .await
            .map(Some)
            .map_err(IntoResponse::into_response);
    }
    if value.starts_with("Convex ") {
        return Err(http_error(
            StatusCode::UNAUTHORIZED,
            "BadAdminKey",
            "The provided admin key was invalid for this instance: convex-local has no admin keys",
        ));
    }
    Err(http_error(
        StatusCode::BAD_REQUEST,
        "InvalidAdminKey",
        "The Authorization header must be `Bearer <token>` (or `Convex <admin key>`)",
    ))
}

async fn read_json_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        let shown = if content_type.is_empty() {
            "none".to_owned()
        } else {
            format!("{content_type:?}")
        };
        return Err(http_error(
            StatusCode::BAD_REQUEST,
            "BadContentType",
            format!("Expected request with `Content-Type: application/json`, got {shown}"),
        ));
    }
    let too_large = || {
        http_error(
            StatusCode::BAD_REQUEST,
            "RequestTooLarge",
            format!("The request body is larger than the limit of {limit} bytes"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(too_large());
        }
    }
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())
}
