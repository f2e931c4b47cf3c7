//! The messages API of `convex/messages.ts`: function names, argument
//! shapes, results, and the limits the backend enforces (checked here first,
//! so a person hears about them before anything is sent).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The paginated query of the caller's messages, newest first.
pub const LIST: &str = "messages:list";
/// The mutation that sends a message as the caller.
pub const SEND: &str = "messages:send";

/// Longest body the backend accepts, in JavaScript string length (UTF-16
/// code units), after trimming.
pub const MAX_BODY_CHARS: usize = 10_000;
/// Messages per page, unless the caller asks for another size.
pub const PAGE_SIZE: u32 = 20;
/// The most messages one page may ask for.
pub const MAX_PAGE_SIZE: u32 = 200;

/// A message document as `messages:list` returns it (and as the UI and
/// `courier-cli messages --json` show it: Convex's field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// The document id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Milliseconds since the epoch.
    #[serde(rename = "_creationTime")]
    pub creation_time: f64,
    /// The author's token identifier (`<issuer>|<user id>`).
    #[serde(default)]
    pub author: String,
    /// The author's display name.
    #[serde(rename = "authorName", default)]
    pub author_name: Option<String>,
    /// The text.
    pub body: String,
    /// The sender's id for this message, which makes a retry never duplicate.
    #[serde(
        rename = "clientMessageId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub client_message_id: Option<String>,
}

/// One page of messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Page {
    /// The messages, newest first.
    pub page: Vec<Message>,
    /// True when there is nothing after this page.
    pub is_done: bool,
    /// Where the next page starts.
    pub continue_cursor: String,
}

/// Which page to read: `num_items` from `cursor` (the start when `None`),
/// or, with `end_cursor`, exactly the messages between the two cursors (a
/// page pinned at its end, as Convex keeps a live page: it grows as
/// messages arrive in it instead of pushing its last ones out).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// Where the page starts; `None` for the newest.
    pub cursor: Option<String>,
    /// How many messages (1 to [`MAX_PAGE_SIZE`]).
    pub num_items: u32,
    /// Where the page ends, once pinned.
    pub end_cursor: Option<String>,
}

impl PageRequest {
    /// The newest `num_items` messages.
    pub fn first(num_items: u32) -> Self {
        Self {
            cursor: None,
            num_items: num_items.clamp(1, MAX_PAGE_SIZE),
            end_cursor: None,
        }
    }

    /// `num_items` messages from `cursor`.
    pub fn after(cursor: impl Into<String>, num_items: u32) -> Self {
        Self {
            cursor: Some(cursor.into()),
            ..Self::first(num_items)
        }
    }

    /// The same page, ending at `end_cursor` from now on.
    pub fn pinned_at(&self, end_cursor: impl Into<String>) -> Self {
        Self {
            end_cursor: Some(end_cursor.into()),
            ..self.clone()
        }
    }

    /// `messages:list`'s arguments: `{paginationOpts: {numItems, cursor,
    /// endCursor?}}` (Convex's `paginationOptsValidator`).
    pub fn args(&self) -> BTreeMap<String, convex::Value> {
        let text =
            |c: &Option<String>| c.clone().map_or(convex::Value::Null, convex::Value::String);
        let mut opts = BTreeMap::from([
            (
                "numItems".to_owned(),
                convex::Value::Float64(f64::from(self.num_items)),
            ),
            ("cursor".to_owned(), text(&self.cursor)),
        ]);
        if self.end_cursor.is_some() {
            opts.insert("endCursor".to_owned(), text(&self.end_cursor));
        }
        BTreeMap::from([("paginationOpts".to_owned(), convex::Value::Object(opts))])
    }
}

/// `messages:send`'s arguments.
pub(crate) fn send_args(body: &str, client_message_id: &str) -> BTreeMap<String, convex::Value> {
    BTreeMap::from([
        ("body".to_owned(), convex::Value::String(body.to_owned())),
        (
            "clientMessageId".to_owned(),
            convex::Value::String(client_message_id.to_owned()),
        ),
    ])
}

/// A body the backend would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Nothing but white space.
    #[error("Write something first.")]
    Empty,
    /// Longer than [`MAX_BODY_CHARS`].
    #[error("This message is {chars} characters long; the limit is {MAX_BODY_CHARS}.")]
    TooLong {
        /// Its length after trimming.
        chars: usize,
    },
}

/// The body as it will be stored (trimmed), or why the backend would
/// refuse it. Lengths count as the backend counts them (UTF-16 units).
pub fn validate_body(body: &str) -> Result<&str, BodyError> {
    let trimmed = body.trim();
    let chars = trimmed.encode_utf16().count();
    if chars == 0 {
        return Err(BodyError::Empty);
    }
    if chars > MAX_BODY_CHARS {
        return Err(BodyError::TooLong { chars });
    }
    Ok(trimmed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_arguments_have_convex_shape() {
        let first = serde_json::Value::from(convex::Value::Object(PageRequest::first(20).args()));
        assert_eq!(
            first,
            serde_json::json!({"paginationOpts": {"numItems": 20.0, "cursor": null}})
        );
        let pinned = PageRequest::after("c1", 500).pinned_at("c2");
        assert_eq!(pinned.num_items, MAX_PAGE_SIZE);
        let json = serde_json::Value::from(convex::Value::Object(pinned.args()));
        assert_eq!(json["paginationOpts"]["cursor"], "c1");
        assert_eq!(json["paginationOpts"]["endCursor"], "c2");
        assert_eq!(PageRequest::first(0).num_items, 1);
    }

    #[test]
    fn bodies_are_checked_as_the_backend_counts() {
        assert_eq!(validate_body("  hi \n"), Ok("hi"));
        assert_eq!(validate_body(" \t\n"), Err(BodyError::Empty));
        let max = "a".repeat(MAX_BODY_CHARS);
        assert_eq!(validate_body(&max), Ok(max.as_str()));
        // An emoji is two UTF-16 units, as JavaScript's `length` counts it.
        let long = "😀".repeat(MAX_BODY_CHARS / 2 + 1);
        assert_eq!(
            validate_body(&long),
            Err(BodyError::TooLong {
                chars: MAX_BODY_CHARS + 2
            })
        );
        assert!(BodyError::TooLong { chars: 10_002 }
            .to_string()
            .contains("10002 characters"));
    }

    #[test]
    fn messages_read_and_write_convex_field_names() {
        let doc = serde_json::json!({
            "_id": "m1", "_creationTime": 1.5, "author": "iss|u", "authorName": "Ada",
            "body": "hi", "clientMessageId": "c1"
        });
        let m: Message = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(m.client_message_id.as_deref(), Some("c1"));
        assert_eq!(serde_json::to_value(&m).unwrap(), doc);
    }
}
