//! A stand-in for a Convex deployment: `POST /api/{query,mutation,action}`
//! with Convex's request and answer shapes, a set of accepted bearer tokens,
//! and a few functions that misbehave on purpose.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// One request as the fake saw it.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) endpoint: String,
    pub(crate) authorization: Option<String>,
    pub(crate) convex_client: Option<String>,
    pub(crate) body: Value,
}

#[derive(Default)]
pub(crate) struct FakeState {
    pub(crate) accepted: Mutex<HashSet<String>>,
    pub(crate) seen: Mutex<Vec<Seen>>,
}

pub(crate) struct FakeConvex {
    pub(crate) url: url::Url,
    pub(crate) state: Arc<FakeState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeConvex {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeConvex {
    /// Serves on 127.0.0.1:0, accepting the given bearer tokens.
    pub(crate) async fn start(accepted: &[&str]) -> Self {
        let state = Arc::new(FakeState::default());
        state
            .accepted
            .lock()
            .unwrap()
            .extend(accepted.iter().map(|t| t.to_string()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = app(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: url::Url::parse(&format!("http://{addr}")).unwrap(),
            state,
            task,
        }
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }
}

pub(crate) fn app(state: Arc<FakeState>) -> Router {
    Router::new()
        .route("/api/{kind}", post(function_call))
        .with_state(state)
}

async fn function_call(
    State(state): State<Arc<FakeState>>,
    Path(kind): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
    let authorization = header("authorization");
    state.seen.lock().unwrap().push(Seen {
        endpoint: format!("/api/{kind}"),
        authorization: authorization.clone(),
        convex_client: header("convex-client"),
        body: body.clone(),
    });

    // Convex: no header runs unauthenticated; a bad token is HTTP 401.
    let identity = match authorization {
        None => None,
        Some(value) => match value.strip_prefix("Bearer ") {
            Some(token) if state.accepted.lock().unwrap().contains(token) => {
                Some(format!("subject-of-{}", token.len()))
            }
            Some(_) => {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"code": "Unauthenticated", "message": "Could not verify OIDC token claim. Check that the token signature is valid and the token hasn't expired."})),
                )
                    .into_response()
            }
            None => {
                return (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({"code": "InvalidAuthHeader", "message": "bad header"})),
                )
                    .into_response()
            }
        },
    };

    let path = body["path"].as_str().unwrap_or_default();
    let args = body["args"].clone();
    match path {
        "echo:args" => Json(json!({
            "status": "success",
            "value": {"kind": kind, "args": args, "identity": identity},
            "logLines": ["[LOG] 'echo called'", "[ERROR] 'and complained'"],
        }))
        .into_response(),
        "echo:undefined" => Json(json!({"status": "success", "logLines": []})).into_response(),
        "fail:throw" => Json(json!({
            "status": "error",
            "errorMessage": "Uncaught ConvexError: body too long",
            "errorData": {"code": "too_long", "max": 10000},
            "logLines": [],
        }))
        .into_response(),
        "slow:sleep" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            Json(json!({"status": "success", "value": null})).into_response()
        }
        "bad:html" => (StatusCode::OK, "<html>not convex</html>").into_response(),
        "bad:status" => (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response(),
        "bad:redirect" => (
            StatusCode::FOUND,
            [("location", "http://127.0.0.1:1/elsewhere")],
            "",
        )
            .into_response(),
        _ => Json(json!({
            "status": "error",
            "errorMessage": format!("Could not find public function for '{path}'"),
        }))
        .into_response(),
    }
}
