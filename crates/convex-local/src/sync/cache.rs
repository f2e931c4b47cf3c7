//! Query results shared between sessions and HTTP queries: Convex caches a
//! query's result by function, arguments, identity and timestamp, so many
//! sockets watching the same thing cost one run per commit rather than one
//! each, and repeated HTTP reads between two commits cost none. Results are
//! kept encoded as JSON, written once for every reader.
//!
//! Only results for the newest timestamp are kept. A result is computed
//! from a snapshot that holds every write up to its timestamp (perhaps a
//! few later ones too; those announce their own commit and a fresh key),
//! so every caller asking at that timestamp may use it. A write announces
//! its commit before it returns, so no read started after it gets an older
//! result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use serde_json::Value;

use super::subscriptions::Outcome;
use crate::functions::Function;

/// Slots kept for one timestamp: beyond it they are dropped (callers that
/// hold one keep it), so callers with ever-new arguments cannot grow the
/// cache between two commits.
const MAX_SLOTS: usize = 4096;

/// A result's key: it depends on the function, its arguments and the
/// caller's identity (`identity_key`, the identity's JSON text) only.
pub(crate) fn key(f: Function, args: &Value, identity_key: &str) -> String {
    format!("{}\n{args}\n{identity_key}", f.canonical_path())
}

/// Results at the newest timestamp, each computed once however many
/// sessions ask for it at the same time.
#[derive(Default)]
pub(crate) struct QueryCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    ts: u64,
    slots: HashMap<String, Arc<OnceCell<Outcome>>>,
}

impl QueryCache {
    /// The slot for `key` at `ts`: shared with every session asking for the
    /// same key at the same timestamp, private when `ts` is already older
    /// than the newest one asked for.
    pub(crate) fn slot(&self, ts: u64, key: String) -> Arc<OnceCell<Outcome>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if ts > inner.ts {
            inner.ts = ts;
            inner.slots.clear();
        }
        if ts < inner.ts {
            return Arc::default();
        }
        if inner.slots.len() >= MAX_SLOTS && !inner.slots.contains_key(&key) {
            inner.slots.clear();
        }
        inner.slots.entry(key).or_default().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_shared_per_timestamp_only() {
        let cache = QueryCache::default();
        let a = cache.slot(5, "k".into());
        assert!(Arc::ptr_eq(&a, &cache.slot(5, "k".into())));
        assert!(!Arc::ptr_eq(&a, &cache.slot(5, "other".into())));
        let newer = cache.slot(6, "k".into());
        assert!(!Arc::ptr_eq(&a, &newer));
        // A late asker at an old timestamp gets its own slot.
        assert!(!Arc::ptr_eq(&cache.slot(5, "k".into()), &newer));
    }
}
