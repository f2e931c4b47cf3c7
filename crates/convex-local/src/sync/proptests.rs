//! Property tests of what a sync-protocol client sends (bounded: 10,000
//! cases each): any text frame is parsed or refused with a typed error,
//! never a panic; any sequence of `ModifyQuerySet` is applied only from the
//! version the session holds to a greater one; any journal decodes or is
//! refused.

use convex_sync_types::types::SerializedArgs;
use convex_sync_types::{ClientMessage, Query, QueryId, QuerySetModification};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::session::parse_client_message;
use super::subscriptions::tests::both_encodings;
use super::subscriptions::QuerySet;
use super::{journal, SyncError};

const CASES: u32 = 10_000;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn text(max: usize) -> impl Strategy<Value = String> + Clone {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// JSON values of a few levels, with the protocol's own words among the keys.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        text(12).prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type",
            "baseVersion",
            "newVersion",
            "modifications",
            "queryId",
            "udfPath",
            "args",
            "journal",
            "requestId",
            "tokenType",
            "value",
            "sessionId",
            "connectionCount",
            "lastCloseReason",
            "eventType",
            "event",
        ])
        .prop_map(String::from),
        text(8),
    ]
}

/// A client message's outline: a known `type` and arbitrary fields.
fn message_like() -> impl Strategy<Value = String> {
    (
        prop::sample::select(vec![
            "Connect",
            "Authenticate",
            "ModifyQuerySet",
            "Mutation",
            "Action",
            "Event",
            "Nonsense",
        ]),
        proptest::collection::btree_map(key(), json_value(), 0..6),
    )
        .prop_map(|(kind, fields)| {
            let mut object: serde_json::Map<String, Value> = fields.into_iter().collect();
            object.insert("type".into(), kind.into());
            Value::Object(object).to_string()
        })
}

fn modification() -> impl Strategy<Value = QuerySetModification> {
    let id = (0u32..4).prop_map(QueryId::new);
    let path = prop::sample::select(vec![
        "messages:list",
        "messages:getForCurrentUser",
        "users:me",
        "messages:send",
        "nope:nothing",
    ]);
    let args = prop_oneof![
        Just(json!([{}])),
        Just(json!([{"paginationOpts": {"numItems": 3, "cursor": null}}])),
        json_value().prop_map(|v| json!([v])),
    ];
    let journal = prop_oneof![
        Just(None),
        Just(Some(journal::encode("0000000001"))),
        text(20).prop_map(Some),
    ];
    prop_oneof![
        (id.clone(), path, args, journal).prop_map(|(query_id, path, args, journal)| {
            QuerySetModification::Add(Query {
                query_id,
                udf_path: path.parse().expect("a function path"),
                args: SerializedArgs::from_args(args.as_array().cloned().unwrap_or_default())
                    .expect("JSON arguments"),
                journal: Some(journal),
                component_path: None,
            })
        }),
        id.prop_map(|query_id| QuerySetModification::Remove { query_id }),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn any_text_frame_is_parsed_or_refused_as_a_bad_message(frame in prop_oneof![text(200), message_like()]) {
        match parse_client_message(&frame) {
            Ok(message) => {
                // What parses is a message Convex's client could have sent:
                // it writes back to JSON with the same type.
                let back = Value::try_from(message).expect("a parsed message serializes");
                prop_assert!(back.get("type").is_some());
            }
            Err(SyncError::BadMessage(_)) => {}
            Err(other) => prop_assert!(false, "not a BadMessage: {other:?}"),
        }
    }

    #[test]
    fn query_set_versions_only_move_forward_from_the_version_held(
        steps in proptest::collection::vec(
            (0u32..6, 0u32..6, proptest::collection::vec(modification(), 0..4)),
            1..8,
        )
    ) {
        let mut set = QuerySet::default();
        for (base, new, modifications) in steps {
            let before = set.version();
            match set.modify(base, new, modifications) {
                Ok(()) => {
                    prop_assert_eq!(base, before);
                    prop_assert!(new > base);
                    prop_assert_eq!(set.version(), new);
                }
                Err(_) => prop_assert_eq!(set.version(), before),
            }
        }
    }

    #[test]
    fn transitions_match_the_protocol_crate_for_any_values(
        modifications in proptest::collection::vec(
            (
                0u32..50,
                prop_oneof![
                    json_value().prop_map(Ok),
                    proptest::option::of(json_value()).prop_map(Err),
                ],
                proptest::option::of(text(16)),
            ),
            0..4,
        )
    ) {
        let (ours, library) = both_encodings(modifications);
        prop_assert_eq!(ours, library);
    }

    #[test]
    fn any_journal_decodes_or_is_refused(journal in prop_oneof![text(64), json_value().prop_map(|v| v.to_string()), text(16).prop_map(|c| journal::encode(&c))]) {
        if let Ok(end) = journal::decode(&journal) {
            // What decodes encodes back to a journal that decodes the same.
            prop_assert_eq!(journal::decode(&journal::encode(&end)).ok(), Some(end));
        }
    }
}

#[test]
fn a_real_modify_query_set_frame_parses() {
    let frame = json!({
        "type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1,
        "modifications": [{"type": "Add", "queryId": 0, "udfPath": "messages:list",
                           "args": [{"paginationOpts": {"numItems": 20, "cursor": null}}]}],
    })
    .to_string();
    assert!(matches!(
        parse_client_message(&frame),
        Ok(ClientMessage::ModifyQuerySet { new_version: 1, .. })
    ));
}
