//! Commit timestamps and the broadcast that tells live subscriptions a
//! write happened.
//!
//! Every committed write gets a timestamp (nanoseconds since the epoch,
//! strictly increasing, as Convex's `Timestamp`) and is announced with its
//! author. Sync sessions re-run only the queries that can see the author's
//! messages; the HTTP API and the socket write through the same store, so
//! both are announced.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::broadcast;

/// Commits a slow session may fall behind by before it is told it lagged
/// (it then re-runs everything, which is always correct).
const CHANNEL_CAPACITY: usize = 1024;

/// One committed write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Commit {
    /// The commit timestamp.
    pub(crate) ts: u64,
    /// Whose messages changed (tokenIdentifier `iss|sub`).
    pub(crate) author: Arc<str>,
}

/// The clock and the announcer.
pub(crate) struct Commits {
    latest: AtomicU64,
    tx: broadcast::Sender<Commit>,
}

impl Commits {
    pub(crate) fn new() -> Commits {
        let (tx, _) = broadcast::channel(CHANNEL_CAPACITY);
        Commits {
            // Timestamps live in memory only: starting at the wall clock keeps
            // them above anything a client saw before a restart.
            latest: AtomicU64::new(now_ns()),
            tx,
        }
    }

    /// The newest commit timestamp: every write up to it is visible to reads
    /// started after this call.
    pub(crate) fn latest(&self) -> u64 {
        self.latest.load(Ordering::Acquire)
    }

    /// Assigns the next timestamp to a write of `author` and announces it.
    /// Call it after the write committed and while still holding the writer
    /// lock, so timestamps follow commit order.
    pub(crate) fn publish(&self, author: &str) -> u64 {
        let ts = now_ns().max(self.latest() + 1);
        self.latest.store(ts, Ordering::Release);
        // No receiver (no live session) is not an error.
        let _ = self.tx.send(Commit {
            ts,
            author: author.into(),
        });
        ts
    }

    /// A receiver for commits announced from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Commit> {
        self.tx.subscribe()
    }
}

fn now_ns() -> u64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    // Convex timestamps stay below i64::MAX; so does any wall clock this side of 2262.
    u64::try_from(d.as_nanos()).unwrap_or(i64::MAX as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_increase_and_are_announced() {
        let commits = Commits::new();
        let mut rx = commits.subscribe();
        let a = commits.publish("x");
        let b = commits.publish("y");
        assert!(b > a);
        assert_eq!(commits.latest(), b);
        assert_eq!(rx.try_recv().unwrap().author.as_ref(), "x");
        assert_eq!(rx.try_recv().unwrap().ts, b);
    }
}
