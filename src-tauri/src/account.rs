//! Whose files: the account (issuer and user id) that a per-account file in
//! the app's data folder belongs to, and the name that file gets. The name
//! is a hash, so the folder does not list who signed in.

use sha2::{Digest as _, Sha256};

/// An account: the issuer and the user id (`sub`), as Convex's
/// `tokenIdentifier` pairs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    pub(crate) issuer: String,
    pub(crate) user_id: String,
}

impl Account {
    /// The hex SHA-256 of `issuer|user id` (a trailing slash on the issuer
    /// names the same issuer).
    pub(crate) fn file_stem(&self) -> String {
        let digest = Sha256::new()
            .chain_update(self.issuer.trim_end_matches('/').as_bytes())
            .chain_update(b"|")
            .chain_update(self.user_id.as_bytes())
            .finalize();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(issuer: &str, user_id: &str) -> Account {
        Account {
            issuer: issuer.into(),
            user_id: user_id.into(),
        }
    }

    #[test]
    fn one_name_per_account_that_does_not_name_it() {
        let ada = account("http://127.0.0.1:4810", "user_ada");
        let stem = ada.file_stem();
        assert_eq!(stem.len(), 64);
        assert!(!stem.contains("ada") && !stem.contains("4810"), "{stem}");
        assert_eq!(
            account("http://127.0.0.1:4810/", "user_ada").file_stem(),
            stem
        );
        assert_ne!(
            account("http://127.0.0.1:4810", "user_grace").file_stem(),
            stem
        );
        assert_ne!(
            account("https://clerk.example.com", "user_ada").file_stem(),
            stem
        );
    }
}
