//! Property tests of call bodies (`/api/query`, `/api/mutation`,
//! `/api/action`, `/api/run/...`) and argument decoding: nothing panics,
//! every refusal has Convex's error shape, and what is accepted validates.
//! The decoding core is called directly (no HTTP), so each case is cheap;
//! 10,000 cases each.

use std::sync::OnceLock;

use axum::http::StatusCode;
use base64::Engine as _;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{json, Map, Value};

use crate::functions::{self, FnError, Function, Kind};
use crate::http::{decode_call, CallError, Decoded};
use crate::store::Store;

const CASES: u32 = 10_000;
const AUTHOR: &str = "https://issuer.example|user_1";

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One database with a few messages for the whole test binary.
fn store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir").keep();
        let store = Store::open(&dir).expect("store");
        let rows: Vec<(f64, &str, &str, &str)> = (0..5)
            .map(|i| (1_700_000_000_000.0 + f64::from(i), AUTHOR, "Ada", "hello"))
            .collect();
        store.insert_many(&rows).expect("rows");
        store
    })
}

fn text(max: usize) -> impl Strategy<Value = String> + Clone {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// Names calls use, and anything.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(&[
            "path", "args", "format", "body", "clientMessageId", "paginationOpts",
            "numItems", "cursor", "endCursor", "id", "maximumRowsRead",
        ][..])
        .prop_map(String::from),
        1 => text(8),
    ]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text(12).prop_map(Value::from),
        cursor().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Pagination cursors: real-looking ones (base64url of JSON) and garbage.
fn cursor() -> impl Strategy<Value = String> {
    let hex = proptest::collection::vec(select(&b"0123456789abcdefx"[..]), 0..18)
        .prop_map(|b| b.into_iter().map(char::from).collect::<String>());
    let shaped = prop_oneof![
        Just(json!(["start"])),
        Just(json!(["end"])),
        (hex, text(8)).prop_map(|(t, id)| json!(["after", t, id])),
        (text(6), any::<i32>()).prop_map(|(k, n)| json!([k, n])),
    ];
    prop_oneof![
        shaped.prop_map(|v| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())),
        text(24),
    ]
}

/// Arguments shaped like the functions', sometimes wrong.
fn args() -> impl Strategy<Value = Value> {
    let number = prop_oneof![
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        (-3i64..20).prop_map(Value::from),
        json_value(),
    ];
    let cursor_value = prop_oneof![
        Just(Value::Null),
        cursor().prop_map(Value::from),
        json_value()
    ];
    let list = (
        number,
        cursor_value,
        proptest::option::of((key(), json_value())),
    )
        .prop_map(|(n, c, extra)| {
            let mut opts = json!({"numItems": n, "cursor": c});
            if let Some((k, v)) = extra {
                opts[k] = v;
            }
            json!({"paginationOpts": opts})
        });
    let send = (text(40), proptest::option::of(json_value())).prop_map(|(body, cmid)| {
        let mut a = json!({"body": body});
        if let Some(c) = cmid {
            a["clientMessageId"] = c;
        }
        a
    });
    prop_oneof![
        list,
        send,
        Just(json!({})),
        json_value(),
        json_value().prop_map(|v| json!([v])),
    ]
}

fn path() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => select(&[
            "messages:list", "messages:send", "messages:getForCurrentUser", "users:me",
            "messages.js:list", "messages", "users:nope", ":", "",
        ][..])
        .prop_map(Value::from),
        1 => json_value(),
    ]
}

/// A call body: the fields a client sends, in any combination, plus extras.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let fields = (
        proptest::option::of(path()),
        proptest::option::of(args()),
        proptest::option::of(prop_oneof![
            select(&["json", "convex_encoded_json", "binary"][..]).prop_map(Value::from),
            json_value(),
        ]),
        proptest::option::of((key(), json_value())),
    )
        .prop_map(|(path, args, format, extra)| {
            let mut o = Map::new();
            for (k, v) in [("path", path), ("args", args), ("format", format)] {
                if let Some(v) = v {
                    o.insert(k.to_owned(), v);
                }
            }
            if let Some((k, v)) = extra {
                o.insert(k, v);
            }
            Value::Object(o).to_string().into_bytes()
        });
    prop_oneof![
        6 => fields,
        1 => proptest::collection::vec(any::<u8>(), 0..200),
        1 => json_value().prop_map(|v| v.to_string().into_bytes()),
    ]
}

fn kind_and_run_path() -> impl Strategy<Value = (Option<Kind>, Option<String>)> {
    prop_oneof![
        select(&[Kind::Query, Kind::Mutation, Kind::Action][..]).prop_map(|k| (Some(k), None)),
        prop_oneof![
            select(
                &[
                    "messages/list",
                    "messages/send",
                    "users/me",
                    "messages",
                    "a/b/c"
                ][..]
            )
            .prop_map(String::from),
            text(16),
        ]
        .prop_map(|p| (None, Some(p))),
    ]
}

/// The refusal has Convex's shape: a 400 `{code, message}`, or a function
/// error (HTTP 200, `status: "error"`, `errorMessage` with a request id).
fn has_convex_shape(e: &CallError) -> Result<(), TestCaseError> {
    let (status, body) = e.status_and_body();
    if status == StatusCode::BAD_REQUEST {
        let code = body["code"].as_str().unwrap_or_default();
        prop_assert!(
            ["BadJsonBody", "RequestedFormatNotSupported", "InvalidArgs"].contains(&code),
            "{}",
            body
        );
        prop_assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}",
            body
        );
    } else {
        prop_assert_eq!(status, StatusCode::OK);
        prop_assert_eq!(&body["status"], "error");
        prop_assert!(
            body["errorMessage"]
                .as_str()
                .is_some_and(|m| m.starts_with("[Request ID: ")),
            "{}",
            body
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_call_body_is_decoded_or_refused_with_convexs_shape(
        (kind, run_path) in kind_and_run_path(),
        bytes in body(),
    ) {
        match decode_call(kind, run_path, &bytes) {
            Ok(Decoded { function, args, .. }) => {
                prop_assert!(args.is_object(), "{}", args);
                prop_assert!(function.args().check_args(&args).is_ok());
                if let Some(kind) = kind {
                    prop_assert_eq!(kind, function.kind());
                }
            }
            Err(e) => has_convex_shape(&e)?,
        }
    }

    #[test]
    fn the_quick_argument_check_agrees_with_the_detailed_one(args in args()) {
        for f in [Function::MessagesGetForCurrentUser, Function::MessagesList, Function::MessagesSend, Function::UsersMe] {
            let v = f.args();
            prop_assert_eq!(v.matches(&args), v.check(&args, "").is_ok(), "{} {}", v, args);
        }
    }

    #[test]
    fn decoded_read_calls_run_without_panics_or_internal_errors(
        path in select(&["messages:list", "messages:getForCurrentUser", "users:me"][..]),
        args in args(),
        signed_in in any::<bool>(),
    ) {
        let bytes = json!({"path": path, "args": args, "format": "json"}).to_string();
        let Ok(Decoded { function, args, .. }) = decode_call(Some(Kind::Query), None, bytes.as_bytes()) else {
            return Ok(());
        };
        prop_assert_ne!(function, Function::MessagesSend);
        let identity = signed_in.then(|| json!({"tokenIdentifier": AUTHOR, "name": "Ada"}));
        match functions::run(store(), function, identity.as_ref(), &args) {
            Ok(reply) => {
                let text = serde_json::to_string(&reply).unwrap();
                let value = reply.into_value();
                prop_assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), value.clone());
                if function == Function::MessagesList {
                    prop_assert!(value["page"].is_array() && value["isDone"].is_boolean(), "{}", value);
                    prop_assert!(value["continueCursor"].is_string(), "{}", value);
                }
            }
            Err(FnError::Convex(_) | FnError::System(_)) => {}
            Err(FnError::Internal(e)) => prop_assert!(false, "internal error: {}", e),
        }
    }
}
