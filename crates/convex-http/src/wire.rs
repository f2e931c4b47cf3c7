//! The JSON shapes of Convex's HTTP API (`/api/query|mutation|action`).
//!
//! Request: `{"path": "messages:list", "args": {...}, "format": "json"}`.
//! Answer (HTTP 200): `{"status":"success","value":...,"logLines":[...]}` or
//! `{"status":"error","errorMessage":"...","errorData":...,"logLines":[...]}`.
//! Auth failure (HTTP 401): `{"code":"Unauthenticated","message":"..."}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The three kinds of public function, i.e. the endpoint to post to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FunctionKind {
    Query,
    Mutation,
    Action,
}

impl FunctionKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Action => "action",
        }
    }
}

/// The request body.
#[derive(Debug, Serialize)]
pub(crate) struct CallRequest<'a> {
    pub(crate) path: &'a str,
    pub(crate) args: Value,
    pub(crate) format: &'static str,
}

/// The answer body of a call that reached the function.
#[derive(Debug, Deserialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub(crate) enum CallResponse {
    Success {
        /// Missing means the function returned `undefined`.
        #[serde(default)]
        value: Value,
        #[serde(default, rename = "logLines")]
        log_lines: Vec<Value>,
    },
    Error {
        #[serde(rename = "errorMessage")]
        error_message: String,
        #[serde(default, rename = "errorData")]
        error_data: Option<Value>,
        #[serde(default, rename = "logLines")]
        log_lines: Vec<Value>,
    },
}

/// The body of an HTTP 401.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuthFailure {
    #[serde(default)]
    pub(crate) code: String,
    #[serde(default)]
    pub(crate) message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_has_convex_shape() {
        let body = CallRequest {
            path: "messages:list",
            args: json!({"limit": 3}),
            format: "json",
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"path": "messages:list", "args": {"limit": 3}, "format": "json"})
        );
    }

    #[test]
    fn parses_success_and_error() {
        let ok: CallResponse = serde_json::from_value(
            json!({"status":"success","value":[1,2],"logLines":["[LOG] hi"]}),
        )
        .unwrap();
        assert!(
            matches!(ok, CallResponse::Success { value, log_lines } if value == json!([1,2]) && log_lines.len() == 1)
        );
        let undefined: CallResponse = serde_json::from_value(json!({"status":"success"})).unwrap();
        assert!(matches!(
            undefined,
            CallResponse::Success {
                value: Value::Null,
                ..
            }
        ));
        let err: CallResponse = serde_json::from_value(
            json!({"status":"error","errorMessage":"Uncaught Error: no","errorData":{"k":1}}),
        )
        .unwrap();
        assert!(matches!(
            err,
            CallResponse::Error { error_message, error_data: Some(_), .. } if error_message == "Uncaught Error: no"
        ));
    }
}
