//! The Convex functions convex-local runs, mirroring `convex/messages.ts`
//! and `convex/users.ts`: same names, arguments, results and errors.

use std::fmt;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::store::{Message, Position, Store};
use crate::validate::Validator;
use crate::Error;

/// Longest message body, in UTF-16 code units (JavaScript's `length`).
pub(crate) const MAX_BODY_CHARS: usize = 10_000;
/// Largest page `messages:list` returns.
const MAX_PAGE: usize = 8192;

/// Query, mutation or action, with Convex's spelling in messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Query,
    Mutation,
    Action,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Query => "Query",
            Kind::Mutation => "Mutation",
            Kind::Action => "Action",
        })
    }
}

/// A registered public function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Function {
    MessagesGetForCurrentUser,
    MessagesList,
    MessagesSend,
    UsersMe,
}

impl Function {
    /// Resolves `module:function` (`.js` and a default export allowed).
    pub(crate) fn lookup(module: &str, name: &str) -> Option<Function> {
        let module = module.strip_suffix(".js").unwrap_or(module);
        match (module, name) {
            ("messages", "getForCurrentUser") => Some(Function::MessagesGetForCurrentUser),
            ("messages", "list") => Some(Function::MessagesList),
            ("messages", "send") => Some(Function::MessagesSend),
            ("users", "me") => Some(Function::UsersMe),
            _ => None,
        }
    }

    /// Whether a write of messages can change this function's result (so a
    /// live subscription to it must re-run after one).
    pub(crate) fn reads_messages(self) -> bool {
        match self {
            Function::MessagesGetForCurrentUser | Function::MessagesList => true,
            Function::MessagesSend | Function::UsersMe => false,
        }
    }

    /// Whether its result is a page whose end a query journal can pin.
    pub(crate) fn is_paginated(self) -> bool {
        self == Function::MessagesList
    }

    pub(crate) fn kind(self) -> Kind {
        match self {
            Function::MessagesSend => Kind::Mutation,
            _ => Kind::Query,
        }
    }

    /// Canonical path as Convex prints it in type-mismatch messages.
    pub(crate) fn canonical_path(self) -> &'static str {
        match self {
            Function::MessagesGetForCurrentUser => "messages.js:getForCurrentUser",
            Function::MessagesList => "messages.js:list",
            Function::MessagesSend => "messages.js:send",
            Function::UsersMe => "users.js:me",
        }
    }

    /// Its arguments' validator, built once.
    pub(crate) fn args(self) -> &'static Validator {
        static VALIDATORS: std::sync::LazyLock<[Validator; 4]> = std::sync::LazyLock::new(|| {
            [
                Function::MessagesGetForCurrentUser.build_args(),
                Function::MessagesList.build_args(),
                Function::MessagesSend.build_args(),
                Function::UsersMe.build_args(),
            ]
        });
        &VALIDATORS[match self {
            Function::MessagesGetForCurrentUser => 0,
            Function::MessagesList => 1,
            Function::MessagesSend => 2,
            Function::UsersMe => 3,
        }]
    }

    fn build_args(self) -> Validator {
        match self {
            Function::MessagesGetForCurrentUser | Function::UsersMe => Validator::Object(vec![]),
            Function::MessagesSend => Validator::Object(vec![
                ("body", Validator::String),
                (
                    "clientMessageId",
                    Validator::Optional(Box::new(Validator::String)),
                ),
            ]),
            Function::MessagesList => {
                let opt_num = || Validator::Optional(Box::new(Validator::Number));
                let string_or_null = || Validator::Union(vec![Validator::String, Validator::Null]);
                Validator::Object(vec![(
                    "paginationOpts",
                    Validator::Object(vec![
                        ("numItems", Validator::Number),
                        ("cursor", string_or_null()),
                        ("endCursor", Validator::Optional(Box::new(string_or_null()))),
                        ("id", opt_num()),
                        ("maximumRowsRead", opt_num()),
                        ("maximumBytesRead", opt_num()),
                    ]),
                )])
            }
        }
    }
}

/// A function's result. Documents stay typed so the HTTP API and the sync
/// protocol write them straight to JSON: building a `Value` tree per
/// document (a map with hashed keys) cost more than reading the rows.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Reply {
    Value(Value),
    Docs(Vec<Message>),
    Page(Page),
}

/// `messages:list`'s result, a Convex `PaginationResult`.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page {
    pub(crate) page: Vec<Message>,
    pub(crate) is_done: bool,
    pub(crate) continue_cursor: String,
}

impl serde::Serialize for Reply {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Reply::Value(v) => v.serialize(s),
            Reply::Docs(docs) => docs.serialize(s),
            Reply::Page(page) => page.serialize(s),
        }
    }
}

impl Reply {
    /// The result as a JSON value.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Reply::Value(v) => v,
            Reply::Docs(docs) => docs.iter().map(Message::to_doc).collect(),
            Reply::Page(p) => json!({
                "page": p.page.iter().map(Message::to_doc).collect::<Vec<_>>(),
                "isDone": p.is_done,
                "continueCursor": p.continue_cursor,
            }),
        }
    }
}

impl Reply {
    /// A page's `continueCursor`.
    pub(crate) fn continue_cursor(&self) -> Option<&str> {
        match self {
            Reply::Page(p) => Some(&p.continue_cursor),
            Reply::Value(v) => v.get("continueCursor").and_then(Value::as_str),
            Reply::Docs(_) => None,
        }
    }
}

impl From<Value> for Reply {
    fn from(v: Value) -> Self {
        Reply::Value(v)
    }
}

/// How a function call ended without a value.
#[derive(Debug)]
pub(crate) enum FnError {
    /// `throw new ConvexError(data)`: message plus data for the client.
    Convex(Value),
    /// A system error (bad cursor, ...): message only.
    System(String),
    /// Storage failed: logged, not echoed.
    Internal(Error),
}

impl From<Error> for FnError {
    fn from(e: Error) -> Self {
        FnError::Internal(e)
    }
}

fn not_authenticated() -> FnError {
    FnError::Convex("Not authenticated".into())
}

/// Runs `f` with validated `args` as the caller `identity`. Blocking: call
/// it from `spawn_blocking`.
pub(crate) fn run(
    store: &Store,
    f: Function,
    identity: Option<&Value>,
    args: &Value,
) -> Result<Reply, FnError> {
    let token_identifier = identity
        .and_then(|i| i.get("tokenIdentifier"))
        .and_then(Value::as_str);
    match f {
        Function::UsersMe => Ok(identity.cloned().unwrap_or(Value::Null).into()),
        Function::MessagesGetForCurrentUser => {
            let author = token_identifier.ok_or_else(not_authenticated)?;
            Ok(Reply::Docs(store.all_by_author(author)?))
        }
        Function::MessagesList => {
            let author = token_identifier.ok_or_else(not_authenticated)?;
            let opts = &args["paginationOpts"];
            let num = opts["numItems"].as_f64().unwrap_or(0.0);
            let limit = if num.is_finite() && num > 0.0 {
                (num.floor() as usize).min(MAX_PAGE)
            } else {
                0
            };
            let bad_cursor = || FnError::System("InvalidCursor: Failed to parse cursor".into());
            let cursor = match opts["cursor"].as_str() {
                None => Cursor::Start,
                Some(s) => Cursor::decode(s).ok_or_else(bad_cursor)?,
            };
            // `endCursor` pins the page's end, as Convex does for a page kept
            // live (convex-js sends it; the sync protocol's journal sets it).
            match opts.get("endCursor").and_then(Value::as_str) {
                None => list(store, author, cursor, limit),
                Some(end) => {
                    let end = Cursor::decode(end).ok_or_else(bad_cursor)?;
                    list_until(store, author, cursor, end)
                }
            }
        }
        Function::MessagesSend => {
            let identity = identity.ok_or_else(not_authenticated)?;
            let author = token_identifier.ok_or_else(not_authenticated)?;
            let body = js_trim(args["body"].as_str().unwrap_or_default());
            let len = body.encode_utf16().count();
            if len == 0 {
                return Err(FnError::Convex("Message body must not be empty".into()));
            }
            if len > MAX_BODY_CHARS {
                return Err(FnError::Convex(
                    format!(
                        "Message body is too long: {len} characters (at most {MAX_BODY_CHARS})"
                    )
                    .into(),
                ));
            }
            let client_message_id = args.get("clientMessageId").and_then(Value::as_str);
            let id = store.send(author, &author_name(identity), body, client_message_id)?;
            Ok(Value::from(id).into())
        }
    }
}

fn page(page: Vec<Message>, is_done: bool, continue_cursor: &Cursor) -> Reply {
    Reply::Page(Page {
        page,
        is_done,
        continue_cursor: continue_cursor.encode(),
    })
}

fn list(store: &Store, author: &str, cursor: Cursor, limit: usize) -> Result<Reply, FnError> {
    let after = match &cursor {
        Cursor::Start => None,
        Cursor::After(p) => Some(p),
        Cursor::End => return Ok(page(Vec::new(), true, &Cursor::End)),
    };
    if limit == 0 {
        return Ok(page(Vec::new(), false, &cursor));
    }
    let mut rows = store.page(author, after, limit + 1)?;
    let is_done = rows.len() <= limit;
    rows.truncate(limit);
    let next = match rows.last() {
        _ if is_done => Cursor::End,
        Some(last) => Cursor::After((last.creation_time, last.id.clone())),
        None => Cursor::End,
    };
    Ok(page(rows, is_done, &next))
}

/// The page from `cursor` through `end`, whatever its length: a page kept
/// live grows with new messages rather than pushing old ones to the next page.
fn list_until(store: &Store, author: &str, cursor: Cursor, end: Cursor) -> Result<Reply, FnError> {
    let after = match &cursor {
        Cursor::Start => None,
        Cursor::After(p) => Some(p),
        Cursor::End => return Ok(page(Vec::new(), true, &Cursor::End)),
    };
    let (rows, is_done) = match &end {
        Cursor::Start => (Vec::new(), false),
        Cursor::End => (store.page(author, after, usize::MAX >> 1)?, true),
        Cursor::After(until) => (store.page_until(author, after, until)?, false),
    };
    Ok(page(rows, is_done, &end))
}

/// The name shown next to a message: the identity's `name`, else its
/// `email`, else "Anonymous" (as `convex/messages.ts` does).
fn author_name(identity: &Value) -> String {
    ["name", "email"]
        .iter()
        .filter_map(|k| identity.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("Anonymous")
        .to_owned()
}

/// `String.prototype.trim`: ECMAScript WhiteSpace and LineTerminator
/// characters, which differ slightly from Rust's `char::is_whitespace`
/// (U+FEFF yes, U+0085 no).
fn js_trim(s: &str) -> &str {
    fn is_js_space(c: char) -> bool {
        matches!(
            c,
            '\u{9}'
                | '\u{a}'
                | '\u{b}'
                | '\u{c}'
                | '\u{d}'
                | ' '
                | '\u{a0}'
                | '\u{1680}'
                | '\u{2000}'
                ..='\u{200a}'
                    | '\u{2028}'
                    | '\u{2029}'
                    | '\u{202f}'
                    | '\u{205f}'
                    | '\u{3000}'
                    | '\u{feff}'
        )
    }
    s.trim_matches(is_js_space)
}

/// Opaque pagination cursor: base64url of the last position returned.
enum Cursor {
    Start,
    After(Position),
    End,
}

impl Cursor {
    fn encode(&self) -> String {
        let raw = match self {
            Cursor::Start => json!(["start"]),
            // The time travels as its bit pattern: a decimal float may not
            // parse back to the very same f64, and the cursor must be exact.
            Cursor::After((t, id)) => json!(["after", format!("{:016x}", t.to_bits()), id]),
            Cursor::End => json!(["end"]),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.to_string())
    }

    fn decode(s: &str) -> Option<Cursor> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        match v.as_array()?.as_slice() {
            [k] if k == "start" => Some(Cursor::Start),
            [k] if k == "end" => Some(Cursor::End),
            [k, t, id] if k == "after" => {
                let bits = u64::from_str_radix(t.as_str()?, 16).ok()?;
                Some(Cursor::After((
                    f64::from_bits(bits),
                    id.as_str()?.to_owned(),
                )))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trim_follows_javascript() {
        assert_eq!(js_trim("\u{feff} hi \n"), "hi");
        assert_eq!(js_trim("\u{85}hi"), "\u{85}hi");
    }

    #[test]
    fn author_name_falls_back() {
        assert_eq!(author_name(&json!({"name": "Ada"})), "Ada");
        assert_eq!(author_name(&json!({"email": "a@b.c"})), "a@b.c");
        assert_eq!(author_name(&json!({})), "Anonymous");
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let t = 1_795_417_060_925.970_2_f64;
        let c = Cursor::After((t, "abc".into())).encode();
        assert!(
            matches!(Cursor::decode(&c), Some(Cursor::After((x, id))) if x.to_bits() == t.to_bits() && id == "abc")
        );
        assert!(Cursor::decode("not a cursor!").is_none());
    }
}
