//! The newest messages shown, kept per account so that a start with a
//! stored session paints them at once, before the session's token has
//! reached the backend and its first result has come back; the live result
//! replaces them as soon as it arrives.
//!
//! `messages/<account file stem>.json` in the app's data folder, 0600 in a
//! 0700 folder, like the drafts. It holds the first page of messages and
//! nothing else: never a token. Only the signed-in account's file is kept:
//! the others go when someone signs in, and all of them when nobody is
//! signed in (a sign-out here or in another Courier process), so the next
//! person at the keyboard never sees them.

use std::io;
use std::path::{Path, PathBuf};

use courier_messages::{Message, Snapshot};
use serde::{Deserialize, Serialize};

use crate::account::Account;
use crate::fsutil;

/// What one account's file holds.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CachedPage {
    messages: Vec<Message>,
    is_done: bool,
}

/// The cache folder.
#[derive(Debug, Clone)]
pub(crate) struct MessageCache {
    dir: PathBuf,
    /// Messages kept: the first page.
    limit: usize,
}

impl MessageCache {
    /// Keeps up to `limit` messages per account under `data_dir/messages`.
    pub(crate) fn new(data_dir: &Path, limit: usize) -> Self {
        MessageCache {
            dir: data_dir.join("messages"),
            limit,
        }
    }

    fn path(&self, account: &Account) -> PathBuf {
        self.dir.join(format!("{}.json", account.file_stem()))
    }

    /// The account's last first page as a loaded snapshot, if one was kept
    /// (an unreadable file counts as none: the live result follows anyway).
    pub(crate) fn load(&self, account: &Account) -> Option<Snapshot> {
        let bytes = std::fs::read(self.path(account)).ok()?;
        let page: CachedPage = serde_json::from_slice(&bytes)
            .inspect_err(|error| tracing::warn!(%error, "ignoring an unreadable message cache"))
            .ok()?;
        Some(Snapshot {
            messages: page.messages,
            loaded: true,
            is_done: page.is_done,
            ..Snapshot::default()
        })
    }

    /// Keeps the first page of a live `snapshot` (written atomically).
    pub(crate) fn store(&self, account: &Account, snapshot: &Snapshot) -> io::Result<()> {
        let page = CachedPage {
            is_done: snapshot.is_done && snapshot.messages.len() <= self.limit,
            messages: snapshot.messages.iter().take(self.limit).cloned().collect(),
        };
        let json = serde_json::to_vec(&page).map_err(io::Error::other)?;
        fsutil::create_private_dir(&self.dir)?;
        fsutil::write_private_atomic(&self.path(account), &json)
    }

    /// Removes every account's file but `keep`'s (all of them for `None`).
    pub(crate) fn keep_only(&self, keep: Option<&Account>) -> io::Result<()> {
        let keep = keep.map(|account| self.path(account));
        let entries = match std::fs::read_dir(&self.dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            other => other?,
        };
        for entry in entries {
            let path = entry?.path();
            if Some(&path) != keep.as_ref() {
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(user_id: &str) -> Account {
        Account {
            issuer: "http://127.0.0.1:4810".into(),
            user_id: user_id.into(),
        }
    }

    fn message(n: u32) -> Message {
        serde_json::from_value(serde_json::json!({
            "_id": format!("m{n}"),
            "_creationTime": 1_700_000_000_000.0 + f64::from(n),
            "author": "http://127.0.0.1:4810|user_ada",
            "authorName": "Ada",
            "body": format!("message {n}"),
        }))
        .unwrap()
    }

    fn live(messages: Vec<Message>, is_done: bool) -> Snapshot {
        Snapshot {
            messages,
            loaded: true,
            is_done,
            ..Snapshot::default()
        }
    }

    #[test]
    fn the_first_page_comes_back_loaded_for_its_account_only() {
        let data = tempfile::tempdir().unwrap();
        let cache = MessageCache::new(data.path(), 2);
        let (ada, grace) = (account("user_ada"), account("user_grace"));
        assert_eq!(cache.load(&ada), None, "nothing kept yet");

        // Three messages and "load more" done: only the first page is kept,
        // and it is no longer the end of the list.
        cache
            .store(&ada, &live(vec![message(3), message(2), message(1)], true))
            .unwrap();
        let shown = cache.load(&ada).unwrap();
        assert_eq!(shown.messages, vec![message(3), message(2)]);
        assert!(shown.loaded && !shown.is_done && shown.error.is_none());
        assert_eq!(cache.load(&grace), None, "another account sees nothing");

        cache.store(&ada, &live(vec![message(1)], true)).unwrap();
        assert!(cache.load(&ada).unwrap().is_done);
    }

    #[test]
    fn only_the_signed_in_account_keeps_a_file() {
        let data = tempfile::tempdir().unwrap();
        let cache = MessageCache::new(data.path(), 50);
        let (ada, grace) = (account("user_ada"), account("user_grace"));
        cache.keep_only(None).unwrap();
        cache.store(&ada, &live(vec![message(1)], true)).unwrap();
        cache.store(&grace, &live(vec![message(2)], true)).unwrap();

        cache.keep_only(Some(&grace)).unwrap();
        assert_eq!(cache.load(&ada), None);
        assert!(cache.load(&grace).is_some());

        cache.keep_only(None).unwrap();
        assert_eq!(cache.load(&grace), None);
        assert_eq!(
            std::fs::read_dir(data.path().join("messages"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn a_damaged_file_is_no_cache() {
        let data = tempfile::tempdir().unwrap();
        let cache = MessageCache::new(data.path(), 50);
        let ada = account("user_ada");
        cache.store(&ada, &live(vec![message(1)], true)).unwrap();
        std::fs::write(cache.path(&ada), b"{\"messages\": [").unwrap();
        assert_eq!(cache.load(&ada), None);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_0600_in_a_0700_folder() {
        let data = tempfile::tempdir().unwrap();
        let cache = MessageCache::new(data.path(), 50);
        let ada = account("user_ada");
        cache.store(&ada, &live(vec![message(1)], true)).unwrap();
        assert_eq!(fsutil::mode(&data.path().join("messages")), 0o700);
        assert_eq!(fsutil::mode(&cache.path(&ada)), 0o600);
    }
}
