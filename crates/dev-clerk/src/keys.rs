//! RS256 signing keys: generated once per data folder, persisted (mode
//! 0600), published as a JWKS. Rotation keeps retired keys published for a
//! grace period so tokens signed before the rotation still verify.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::fsutil;

/// File name of the key store in the data folder.
pub(crate) const KEYS_FILE: &str = "keys.json";

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    /// PKCS#1 PEM of the private key.
    pem: String,
    created_at: u64,
    #[serde(default)]
    retired_at: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<StoredKey>,
}

/// One usable key.
pub(crate) struct Key {
    pub(crate) kid: String,
    pub(crate) encoding: EncodingKey,
    pub(crate) decoding: DecodingKey,
    n: String,
    e: String,
    pem: String,
    created_at: u64,
    retired_at: Option<u64>,
}

/// The signing key (first) and the retired ones still published.
pub(crate) struct KeySet {
    keys: Vec<Key>,
    path: PathBuf,
}

impl KeySet {
    /// Loads `keys.json` from the data folder, or generates a key and writes it.
    pub(crate) fn load_or_create(
        data_dir: &Path,
        now: u64,
        grace: Duration,
    ) -> Result<Self, Error> {
        let path = data_dir.join(KEYS_FILE);
        let mut set = match fsutil::read_optional(&path)? {
            Some(text) => {
                let file: KeyFile = serde_json::from_str(&text).map_err(|e| Error::Corrupt {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                let keys = file
                    .keys
                    .into_iter()
                    .map(Key::from_stored)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|message| Error::Corrupt {
                        path: path.clone(),
                        message,
                    })?;
                KeySet { keys, path }
            }
            None => KeySet {
                keys: Vec::new(),
                path,
            },
        };
        let had = set.keys.len();
        set.prune(now, grace);
        if set.keys.iter().all(|k| k.retired_at.is_some()) {
            set.keys.insert(0, Key::generate(now)?);
        }
        if set.keys.len() != had || had == 0 {
            set.save()?;
        }
        // The active key first: every other one is retired.
        set.keys.sort_by_key(|k| k.retired_at.is_some());
        Ok(set)
    }

    /// A new key signs from now on; the old one stays published for `grace`.
    #[cfg(test)]
    pub(crate) fn rotate(&mut self, now: u64, grace: Duration) -> Result<String, Error> {
        let fresh = Key::generate(now)?;
        self.install(fresh, now, grace)
    }

    /// As [`KeySet::rotate`], with a key generated beforehand (outside any lock).
    pub(crate) fn install(
        &mut self,
        fresh: Key,
        now: u64,
        grace: Duration,
    ) -> Result<String, Error> {
        for key in &mut self.keys {
            key.retired_at.get_or_insert(now);
        }
        let kid = fresh.kid.clone();
        self.keys.insert(0, fresh);
        self.prune(now, grace);
        self.save()?;
        Ok(kid)
    }

    /// Drops retired keys older than the grace period.
    fn prune(&mut self, now: u64, grace: Duration) {
        self.keys
            .retain(|k| k.retired_at.is_none_or(|at| at + grace.as_secs() > now));
    }

    fn save(&self) -> Result<(), Error> {
        let file = KeyFile {
            keys: self
                .keys
                .iter()
                .map(|k| StoredKey {
                    kid: k.kid.clone(),
                    pem: k.pem.clone(),
                    created_at: k.created_at,
                    retired_at: k.retired_at,
                })
                .collect(),
        };
        let text = serde_json::to_vec_pretty(&file).map_err(|e| Error::Key(e.to_string()))?;
        fsutil::write_private_atomic(&self.path, &text)
    }

    /// The key that signs new tokens.
    pub(crate) fn active(&self) -> &Key {
        &self.keys[0]
    }

    /// A published key by `kid`.
    pub(crate) fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The JWKS document (RFC 7517).
    pub(crate) fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self
            .keys
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256",
                    "kid": k.kid, "n": k.n, "e": k.e,
                })
            })
            .collect();
        serde_json::json!({ "keys": keys })
    }
}

impl Key {
    /// A new 2048-bit RSA key (seconds of CPU in a debug build).
    pub(crate) fn generate(now: u64) -> Result<Key, Error> {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .map_err(|e| Error::Key(e.to_string()))?;
        let pem = private
            .to_pkcs1_pem(LineEnding::LF)
            .map_err(|e| Error::Key(e.to_string()))?
            .to_string();
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        Key::assemble(&private, thumbprint(&n, &e), pem, n, e, now, None).map_err(Error::Key)
    }

    fn from_stored(stored: StoredKey) -> Result<Key, String> {
        let private = RsaPrivateKey::from_pkcs1_pem(&stored.pem).map_err(|e| e.to_string())?;
        let n = URL_SAFE_NO_PAD.encode(private.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(private.e().to_bytes_be());
        Key::assemble(
            &private,
            stored.kid,
            stored.pem,
            n,
            e,
            stored.created_at,
            stored.retired_at,
        )
    }

    fn assemble(
        private: &RsaPrivateKey,
        kid: String,
        pem: String,
        n: String,
        e: String,
        created_at: u64,
        retired_at: Option<u64>,
    ) -> Result<Key, String> {
        let der = private.to_pkcs1_der().map_err(|e| e.to_string())?;
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| e.to_string())?;
        Ok(Key {
            kid,
            encoding,
            decoding,
            n,
            e,
            pem,
            created_at,
            retired_at,
        })
    }
}

/// The RFC 7638 JWK thumbprint, a stable `kid`.
fn thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_persist_privately_and_rotation_keeps_the_old_key_for_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let grace = Duration::from_secs(100);
        let mut set = KeySet::load_or_create(dir.path(), 1000, grace).unwrap();
        let first = set.active().kid.clone();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEYS_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = KeySet::load_or_create(dir.path(), 1001, grace).unwrap();
        assert_eq!(again.active().kid, first, "a restart keeps the key");

        let second = set.rotate(1010, grace).unwrap();
        assert_ne!(second, first);
        let kids: Vec<_> = set.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kids, vec![second.clone(), first.clone()]);

        let reloaded = KeySet::load_or_create(dir.path(), 1050, grace).unwrap();
        assert_eq!(reloaded.active().kid, second);
        assert!(reloaded.find(&first).is_some(), "old key within grace");
        let later = KeySet::load_or_create(dir.path(), 1200, grace).unwrap();
        assert_eq!(later.active().kid, second);
        assert!(later.find(&first).is_none(), "old key dropped after grace");
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 section 3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(n, "AQAB"),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
