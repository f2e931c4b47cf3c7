//! The composer's unsent draft, one per account: `drafts/<sha256 of
//! "issuer|user id">.txt` in the app's data folder (0600 files in a 0700
//! folder). A draft is shown only to the account that wrote it and is removed
//! at that account's sign-out, so the next person at the keyboard never sees
//! it. The file name is a hash so the folder does not list who signed in.

use std::io;
use std::path::{Path, PathBuf};

use crate::account::Account;
use crate::fsutil;

/// The drafts folder.
#[derive(Debug, Clone)]
pub(crate) struct DraftStore {
    dir: PathBuf,
}

impl DraftStore {
    /// Drafts under `data_dir/drafts`. The single `draft.txt` of earlier
    /// versions belonged to nobody in particular: it is removed.
    pub(crate) fn new(data_dir: &Path) -> Self {
        let legacy = data_dir.join("draft.txt");
        if legacy.exists() {
            if let Err(error) = std::fs::remove_file(&legacy) {
                tracing::warn!(%error, "could not remove the old shared draft");
            }
        }
        DraftStore {
            dir: data_dir.join("drafts"),
        }
    }

    fn path(&self, owner: &Account) -> PathBuf {
        self.dir.join(format!("{}.txt", owner.file_stem()))
    }

    /// The owner's draft, or an empty string.
    pub(crate) fn get(&self, owner: &Account) -> String {
        std::fs::read_to_string(self.path(owner)).unwrap_or_default()
    }

    /// Keeps the owner's draft (written atomically; empty removes it).
    pub(crate) fn set(&self, owner: &Account, text: &str) -> io::Result<()> {
        if text.is_empty() {
            return self.remove(owner);
        }
        fsutil::create_private_dir(&self.dir)?;
        fsutil::write_private_atomic(&self.path(owner), text.as_bytes())
    }

    /// Removes the owner's draft (at their sign-out); none is fine.
    pub(crate) fn remove(&self, owner: &Account) -> io::Result<()> {
        match std::fs::remove_file(self.path(owner)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(issuer: &str, user_id: &str) -> Account {
        Account {
            issuer: issuer.into(),
            user_id: user_id.into(),
        }
    }

    #[test]
    fn a_draft_belongs_to_one_account() {
        let data = tempfile::tempdir().unwrap();
        let drafts = DraftStore::new(data.path());
        let ada = owner("http://127.0.0.1:4810", "user_ada");
        let grace = owner("http://127.0.0.1:4810", "user_grace");
        let ada_elsewhere = owner("https://clerk.example.com", "user_ada");

        drafts.set(&ada, "half a thought").unwrap();
        assert_eq!(drafts.get(&ada), "half a thought");
        assert_eq!(drafts.get(&grace), "", "another account sees nothing");
        assert_eq!(drafts.get(&ada_elsewhere), "", "same id, other issuer");
        assert_eq!(
            drafts.get(&owner("http://127.0.0.1:4810/", "user_ada")),
            "half a thought",
            "a trailing slash names the same issuer"
        );

        drafts.set(&grace, "grace's").unwrap();
        // Ada signs out: her draft goes, Grace's stays.
        drafts.remove(&ada).unwrap();
        assert_eq!(drafts.get(&ada), "");
        assert_eq!(drafts.get(&grace), "grace's");
        drafts.remove(&ada).unwrap();

        drafts.set(&grace, "").unwrap();
        assert_eq!(drafts.get(&grace), "");
        assert_eq!(
            std::fs::read_dir(data.path().join("drafts"))
                .unwrap()
                .count(),
            0
        );
    }

    #[test]
    fn file_names_do_not_name_the_account_and_the_shared_draft_is_dropped() {
        let data = tempfile::tempdir().unwrap();
        std::fs::write(data.path().join("draft.txt"), "someone's").unwrap();
        let drafts = DraftStore::new(data.path());
        assert!(!data.path().join("draft.txt").exists());
        let ada = owner("http://127.0.0.1:4810", "user_ada");
        drafts.set(&ada, "x").unwrap();
        let name = std::fs::read_dir(data.path().join("drafts"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name()
            .into_string()
            .unwrap();
        assert!(!name.contains("ada") && !name.contains("4810"), "{name}");
        assert_eq!(name.len(), 64 + 4, "{name}");
    }

    #[cfg(unix)]
    #[test]
    fn drafts_are_0600_in_a_0700_folder() {
        let data = tempfile::tempdir().unwrap();
        let drafts = DraftStore::new(data.path());
        let ada = owner("http://127.0.0.1:4810", "user_ada");
        drafts.set(&ada, "private").unwrap();
        assert_eq!(fsutil::mode(&data.path().join("drafts")), 0o700);
        assert_eq!(fsutil::mode(&drafts.path(&ada)), 0o600);
    }
}
