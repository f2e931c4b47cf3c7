//! A session's query set: what the client subscribed to, the last result
//! it was sent for each query, and re-running queries into the
//! modifications of a `Transition`.

use std::collections::BTreeMap;
use std::sync::Arc;

use convex_sync_types::{
    LogLinesMessage, QueryId, QuerySetModification, QuerySetVersion, ServerMessage,
    StateModification, StateVersion, Timestamp,
};
use serde_json::Value;

use super::cache::QueryCache;
use super::journal;
use super::SyncError;
use crate::functions::{self, FnError, Function, Kind};
use crate::http::{call_args, client_error, error_message, resolve_call, CallError};
use crate::store::Store;

/// A query's result as the client sees it, minus the request id Convex puts
/// in error messages (which differs on every run and is not a change).
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    /// Encoded once, shared by every session that gets it from the cache.
    Value(Arc<Encoded>),
    Failed {
        message: String,
        data: Option<Value>,
    },
}

/// A query's value as JSON text (written once however many sockets it
/// goes to), and the end of its page if it is one.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub(crate) json: String,
    continue_cursor: Option<String>,
}

impl Encoded {
    pub(crate) fn new(reply: &functions::Reply) -> Result<Encoded, serde_json::Error> {
        Ok(Encoded {
            json: serde_json::to_string(reply)?,
            continue_cursor: reply.continue_cursor().map(str::to_owned),
        })
    }
}

/// Equal texts are equal values; a value written differently would only
/// cost a redundant update.
impl PartialEq for Outcome {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Outcome::Value(a), Outcome::Value(b)) => Arc::ptr_eq(a, b) || a.json == b.json,
            (
                Outcome::Failed { message, data },
                Outcome::Failed {
                    message: m2,
                    data: d2,
                },
            ) => message == m2 && data == d2,
            _ => false,
        }
    }
}

/// A change to the client's query results, for a `Transition`.
pub(super) enum Modification {
    /// `QueryUpdated` with a shared, already encoded value.
    Updated {
        query_id: QueryId,
        value: Arc<Encoded>,
        journal: Option<String>,
    },
    /// `QueryFailed` or `QueryRemoved`.
    Other(StateModification<Value>),
}

/// The `Transition` message's text: what `convex_sync_types` writes for it
/// (`Value::from(ServerMessage::Transition {..})`), except that each value,
/// encoded once for every session, is copied in as text rather than turned
/// into a `Value` and written again for each socket.
pub(super) fn transition_text(
    start_version: StateVersion,
    end_version: StateVersion,
    server_ts: Option<Timestamp>,
    modifications: Vec<Modification>,
) -> String {
    let envelope = Value::from(ServerMessage::<Value>::Transition {
        start_version,
        end_version,
        modifications: vec![],
        client_clock_skew: None,
        server_ts,
    });
    let values: usize = modifications
        .iter()
        .map(|m| match m {
            Modification::Updated { value, .. } => value.json.len() + 128,
            Modification::Other(_) => 256,
        })
        .sum();
    let mut out = String::with_capacity(256 + values);
    write_object_with(&mut out, &envelope, "modifications", |out| {
        out.push('[');
        for (i, m) in modifications.into_iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match m {
                Modification::Updated {
                    query_id,
                    value,
                    journal,
                } => {
                    let shape = Value::from(StateModification::QueryUpdated {
                        query_id,
                        value: Value::Null,
                        log_lines: LogLinesMessage(vec![]),
                        journal,
                    });
                    write_object_with(out, &shape, "value", |out| out.push_str(&value.json));
                }
                Modification::Other(m) => out.push_str(&Value::from(m).to_string()),
            }
        }
        out.push(']');
    });
    out
}

/// Writes the JSON object `shape` with the value of `key` written by `splice`.
fn write_object_with(out: &mut String, shape: &Value, key: &str, splice: impl FnOnce(&mut String)) {
    let Value::Object(map) = shape else {
        out.push_str(&shape.to_string());
        return;
    };
    let mut splice = Some(splice);
    out.push('{');
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::from(k.as_str()).to_string());
        out.push(':');
        match splice.take_if(|_| k == key) {
            Some(f) => f(out),
            None => out.push_str(&v.to_string()),
        }
    }
    out.push('}');
}

struct Subscription {
    /// The function and its checked arguments, or why they were refused
    /// (sent as `QueryFailed`, as Convex reports an unknown function).
    call: Result<(Function, Value), String>,
    /// The end cursor a paginated query's page keeps (see [`journal`]).
    end_cursor: Option<String>,
    /// What the client was last sent; `None` until the first transition.
    sent: Option<Outcome>,
}

/// What to re-run on an update.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Rerun {
    /// The identity changed: every query's result may have.
    pub(super) all: bool,
    /// A commit the identity can see: every query that reads messages.
    pub(super) messages: bool,
}

/// The client's query set, at the version it last sent.
#[derive(Default)]
pub(super) struct QuerySet {
    version: QuerySetVersion,
    queries: BTreeMap<QueryId, Subscription>,
    /// Removed since the last transition: each gets a `QueryRemoved`.
    removed: Vec<QueryId>,
}

impl QuerySet {
    /// The version the client's last `ModifyQuerySet` reached.
    pub(super) fn version(&self) -> QuerySetVersion {
        self.version
    }

    /// Whether the set changed since the last transition.
    pub(super) fn has_pending(&self) -> bool {
        !self.removed.is_empty() || self.queries.values().any(|s| s.sent.is_none())
    }

    /// Whether a write of messages can change any result in the set.
    pub(super) fn reads_messages(&self) -> bool {
        self.queries
            .values()
            .any(|s| matches!(&s.call, Ok((f, _)) if f.reads_messages()))
    }

    /// Applies `ModifyQuerySet`, checking its versions as Convex does.
    pub(super) fn modify(
        &mut self,
        base: QuerySetVersion,
        new: QuerySetVersion,
        modifications: Vec<QuerySetModification>,
    ) -> Result<(), SyncError> {
        if base != self.version {
            return Err(SyncError::QuerySetVersion {
                base,
                current: self.version,
            });
        }
        if new <= base {
            return Err(SyncError::QuerySetNotIncreasing { base, new });
        }
        for m in modifications {
            match m {
                QuerySetModification::Add(q) => {
                    if self.queries.contains_key(&q.query_id) {
                        return Err(SyncError::DuplicateQuery(q.query_id.get_id()));
                    }
                    // A query re-added under an id removed in the same batch
                    // is a new query: no `QueryRemoved` for it.
                    self.removed.retain(|id| *id != q.query_id);
                    let call = resolve_query(String::from(q.udf_path), q.args.get());
                    let (call, end_cursor) = match q.journal.flatten() {
                        None => (call, None),
                        Some(j) => match journal::decode(&j) {
                            Ok(end) => (call, Some(end)),
                            Err(e) => (Err(e.to_string()), None),
                        },
                    };
                    self.queries.insert(
                        q.query_id,
                        Subscription {
                            call,
                            end_cursor,
                            sent: None,
                        },
                    );
                }
                QuerySetModification::Remove { query_id } => {
                    if self.queries.remove(&query_id).is_none() {
                        return Err(SyncError::UnknownQuery(query_id.get_id()));
                    }
                    self.removed.push(query_id);
                }
            }
        }
        self.version = new;
        Ok(())
    }

    /// Runs the queries that are new or may have changed, as `identity`,
    /// and returns a modification for each removed query and each result
    /// that differs from what the client holds.
    pub(super) async fn update(
        &mut self,
        store: &Arc<Store>,
        cache: &QueryCache,
        ts: u64,
        identity: Option<&Value>,
        rerun: Rerun,
    ) -> Vec<Modification> {
        let mut modifications: Vec<Modification> = self
            .removed
            .drain(..)
            .map(|query_id| Modification::Other(StateModification::QueryRemoved { query_id }))
            .collect();
        let jobs: Vec<(QueryId, Function, Value)> = self
            .queries
            .iter()
            .filter_map(|(id, s)| {
                let (f, args) = s.call.as_ref().ok()?;
                let due = s.sent.is_none() || rerun.all || (rerun.messages && f.reads_messages());
                due.then(|| (*id, *f, pinned_args(*f, args, s.end_cursor.as_deref())))
            })
            .collect();
        // Identity and arguments as a key: results depend on nothing else.
        let identity_key = identity.map(Value::to_string).unwrap_or_default();
        let mut outcomes = Vec::with_capacity(jobs.len());
        for (id, f, args) in jobs {
            let key = super::cache::key(f, &args, &identity_key);
            let slot = cache.slot(ts, key);
            let outcome = slot
                .get_or_init(|| run_query(store.clone(), f, identity.cloned(), args))
                .await
                .clone();
            outcomes.push((id, outcome));
        }
        // Refused calls never run; they fail once, on their first transition.
        for (id, s) in &self.queries {
            if let (Err(message), None) = (&s.call, &s.sent) {
                outcomes.push((
                    *id,
                    Outcome::Failed {
                        message: message.clone(),
                        data: None,
                    },
                ));
            }
        }
        for (id, outcome) in outcomes {
            let Some(s) = self.queries.get_mut(&id) else {
                continue;
            };
            let paginated = matches!(&s.call, Ok((f, _)) if f.is_paginated());
            if s.sent.as_ref() == Some(&outcome) {
                continue;
            }
            // The first page's end becomes the journal: re-runs keep it.
            if paginated && s.end_cursor.is_none() {
                if let Outcome::Value(v) = &outcome {
                    s.end_cursor.clone_from(&v.continue_cursor);
                }
            }
            let journal = s.end_cursor.as_deref().map(journal::encode);
            modifications.push(match &outcome {
                Outcome::Value(value) => Modification::Updated {
                    query_id: id,
                    value: value.clone(),
                    journal,
                },
                Outcome::Failed { message, data } => {
                    Modification::Other(StateModification::QueryFailed {
                        query_id: id,
                        error_message: error_message(&request_id(), message),
                        log_lines: LogLinesMessage(vec![]),
                        journal,
                        error_data: data.clone(),
                    })
                }
            });
            s.sent = Some(outcome);
        }
        modifications
    }
}

/// Runs one query on a blocking thread (SQLite reads block).
async fn run_query(
    store: Arc<Store>,
    f: Function,
    identity: Option<Value>,
    args: Value,
) -> Outcome {
    let run = tokio::task::spawn_blocking(move || {
        let encoded = functions::run(&store, f, identity.as_ref(), &args).and_then(|reply| {
            Encoded::new(&reply).map_err(|e| {
                FnError::Internal(crate::Error::Corrupt(format!("encoding a result: {e}")))
            })
        });
        match encoded {
            Ok(encoded) => Outcome::Value(Arc::new(encoded)),
            Err(e) => {
                let (message, data) = client_error("sync", f.canonical_path(), e);
                Outcome::Failed { message, data }
            }
        }
    });
    run.await.unwrap_or_else(|e| {
        tracing::error!("query {} panicked: {e}", f.canonical_path());
        Outcome::Failed {
            message: "Internal server error".into(),
            data: None,
        }
    })
}

/// A query's function and checked arguments, or the message Convex gives
/// for a call it refuses.
fn resolve_query(path: String, args: &str) -> Result<(Function, Value), String> {
    let args: Value = serde_json::from_str(args).map_err(|e| format!("Invalid arguments: {e}"))?;
    let args = call_args(Some(args)).map_err(|e| e.to_string())?;
    match resolve_call(Some(Kind::Query), path, args) {
        Ok(d) => Ok((d.function, d.args)),
        Err(CallError::Function { message, .. }) => Err(message),
        Err(e) => Err(e.to_string()),
    }
}

/// `args` with the page's end pinned, for a paginated query with a journal
/// whose arguments do not pin it themselves.
fn pinned_args(f: Function, args: &Value, end_cursor: Option<&str>) -> Value {
    let mut args = args.clone();
    if let (true, Some(end)) = (f.is_paginated(), end_cursor) {
        if let Some(opts) = args
            .get_mut("paginationOpts")
            .and_then(Value::as_object_mut)
        {
            if opts.get("endCursor").is_none_or(Value::is_null) {
                opts.insert("endCursor".into(), end.into());
            }
        }
    }
    args
}

/// A request id for an error message, as Convex shows one.
fn request_id() -> String {
    crate::store::new_id()[..16].to_owned()
}

#[cfg(test)]
pub(super) mod tests {
    use serde_json::json;

    use super::*;

    /// A test modification: query id, value or error data, journal.
    pub(in crate::sync) type TestModification = (u32, Result<Value, Option<Value>>, Option<String>);

    /// `transition_text` for `modifications`, and what `convex_sync_types`
    /// writes for the same message, both parsed.
    pub(in crate::sync) fn both_encodings(modifications: Vec<TestModification>) -> (Value, Value) {
        let start = StateVersion::initial();
        let end = StateVersion {
            query_set: 3,
            identity: 1,
            ts: Timestamp::try_from(1_795_417_060_925_970_123u64).unwrap(),
        };
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for (id, outcome, journal) in modifications {
            let query_id = QueryId::new(id);
            match outcome {
                Ok(value) => {
                    let reply = functions::Reply::Value(value.clone());
                    ours.push(Modification::Updated {
                        query_id,
                        value: Arc::new(Encoded::new(&reply).unwrap()),
                        journal: journal.clone(),
                    });
                    theirs.push(StateModification::QueryUpdated {
                        query_id,
                        value,
                        log_lines: LogLinesMessage(vec![]),
                        journal,
                    });
                }
                Err(error_data) => {
                    let failed = || StateModification::QueryFailed {
                        query_id,
                        error_message: "boom".into(),
                        log_lines: LogLinesMessage(vec![]),
                        journal: journal.clone(),
                        error_data: error_data.clone(),
                    };
                    ours.push(Modification::Other(failed()));
                    theirs.push(failed());
                }
            }
        }
        ours.push(Modification::Other(StateModification::QueryRemoved {
            query_id: QueryId::new(99),
        }));
        theirs.push(StateModification::QueryRemoved {
            query_id: QueryId::new(99),
        });
        let text = transition_text(start, end, Some(end.ts), ours);
        let library = Value::from(ServerMessage::Transition {
            start_version: start,
            end_version: end,
            modifications: theirs,
            client_clock_skew: None,
            server_ts: Some(end.ts),
        });
        (serde_json::from_str(&text).unwrap(), library)
    }

    #[test]
    fn transitions_are_written_as_the_protocol_crate_writes_them() {
        let page = json!({"page": [{"_id": "a", "_creationTime": 1.5, "body": "x\"y\u{1F600}"}],
                          "isDone": false, "continueCursor": "c"});
        let (ours, library) = both_encodings(vec![
            (0, Ok(page), Some(journal::encode("c"))),
            (1, Ok(json!(null)), None),
            (2, Err(Some(json!({"code": 1}))), None),
            (3, Err(None), Some("j".into())),
        ]);
        assert_eq!(ours, library);
        let (ours, library) = both_encodings(vec![]);
        assert_eq!(ours, library);
    }

    #[test]
    fn a_journal_pins_only_an_unpinned_page() {
        let open = json!({"paginationOpts": {"numItems": 3, "cursor": null}});
        let pinned = pinned_args(Function::MessagesList, &open, Some("end"));
        assert_eq!(pinned["paginationOpts"]["endCursor"], "end");
        let own = json!({"paginationOpts": {"numItems": 3, "cursor": null, "endCursor": "mine"}});
        let kept = pinned_args(Function::MessagesList, &own, Some("end"));
        assert_eq!(kept["paginationOpts"]["endCursor"], "mine");
        assert_eq!(
            pinned_args(Function::UsersMe, &json!({}), Some("end")),
            json!({})
        );
    }

    #[test]
    fn versions_are_checked() {
        let mut set = QuerySet::default();
        assert!(matches!(
            set.modify(1, 2, vec![]),
            Err(SyncError::QuerySetVersion {
                base: 1,
                current: 0
            })
        ));
        assert!(matches!(
            set.modify(0, 0, vec![]),
            Err(SyncError::QuerySetNotIncreasing { .. })
        ));
        set.modify(0, 1, vec![]).unwrap();
        assert_eq!(set.version(), 1);
        assert!(matches!(
            set.modify(
                1,
                2,
                vec![QuerySetModification::Remove {
                    query_id: QueryId::new(9)
                }]
            ),
            Err(SyncError::UnknownQuery(9))
        ));
    }
}
