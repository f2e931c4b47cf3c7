//! Query journals: what keeps a live paginated query's page the same page.
//!
//! Convex returns a journal with a paginated query's first result and
//! re-runs the query with it, so the page keeps its end (its
//! `continueCursor`) while messages arrive and the next page, loaded from
//! that cursor, neither repeats nor skips one. Clients treat journals as
//! opaque and hand them back on `Add` when they resubscribe (convex-js does
//! on reconnect). Here a journal is a small JSON object naming the end
//! cursor; the cursor itself is `messages:list`'s opaque cursor.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Journal {
    end_cursor: String,
}

/// A journal the client sent that is not one of ours.
#[derive(Debug, thiserror::Error)]
#[error("Invalid query journal: {0}")]
pub(super) struct JournalError(String);

/// The journal pinning a page's end at `end_cursor`.
pub(super) fn encode(end_cursor: &str) -> String {
    serde_json::json!({ "endCursor": end_cursor }).to_string()
}

/// The end cursor a journal pins.
pub(super) fn decode(journal: &str) -> Result<String, JournalError> {
    serde_json::from_str::<Journal>(journal)
        .map(|j| j.end_cursor)
        .map_err(|e| JournalError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_strangers() {
        assert_eq!(decode(&encode("abc")).unwrap(), "abc");
        assert!(decode("{}").is_err());
        assert!(decode("not json").is_err());
    }
}
