//! RS256 signing keys: generated once per data folder, persisted (mode
//! 0600), published as a JWKS. Rotation keeps retired keys published for a
//! grace period so tokens signed before the rotation still verify.

use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::fsutil;

/// File name of the key store in the data folder.
pub(crate) const KEYS_FILE: &str = "keys.json";

#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    /// PEM of the private key: PKCS#8 (`PRIVATE KEY`), or PKCS#1
    /// (`RSA PRIVATE KEY`) in folders written by earlier versions.
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
    /// A new 2048-bit RSA key (AWS-LC: milliseconds, constant-time).
    pub(crate) fn generate(now: u64) -> Result<Key, Error> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|e| Error::Key(e.to_string()))?;
        let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|e| Error::Key(e.to_string()))?;
        let pem = pem_encode("PRIVATE KEY", der.as_ref());
        let (n, e) = public_components(&pair);
        Key::assemble(thumbprint(&n, &e), pem, n, e, now, None).map_err(Error::Key)
    }

    fn from_stored(stored: StoredKey) -> Result<Key, String> {
        let (label, der) = pem_decode(&stored.pem)?;
        let pair = match label.as_str() {
            "PRIVATE KEY" => KeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => KeyPair::from_der(&der),
            other => return Err(format!("a key stored as `{other}`, not an RSA private key")),
        }
        .map_err(|e| e.to_string())?;
        let (n, e) = public_components(&pair);
        Key::assemble(
            stored.kid,
            stored.pem,
            n,
            e,
            stored.created_at,
            stored.retired_at,
        )
    }

    fn assemble(
        kid: String,
        pem: String,
        n: String,
        e: String,
        created_at: u64,
        retired_at: Option<u64>,
    ) -> Result<Key, String> {
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
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

/// The public modulus and exponent, base64url as a JWK carries them.
fn public_components(pair: &KeyPair) -> (String, String) {
    let public = pair.public_key();
    (
        URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
        URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
    )
}

/// RFC 7468 text encoding: the label's armour around base64 in 64-column lines.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// The label and DER bytes of a single-block PEM.
fn pem_decode(pem: &str) -> Result<(String, Vec<u8>), String> {
    let mut lines = pem.lines().map(str::trim).filter(|l| !l.is_empty());
    let label = lines
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or("the key is not PEM")?
        .to_string();
    let end = format!("-----END {label}-----");
    let body: String = lines.by_ref().take_while(|l| *l != end).collect();
    let der = STANDARD
        .decode(body)
        .map_err(|e| format!("the key's PEM body: {e}"))?;
    Ok((label, der))
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

    #[test]
    fn a_pkcs1_key_written_by_an_earlier_version_still_loads_and_signs() {
        let fresh = Key::generate(1000).unwrap();
        let (label, pkcs8) = pem_decode(&fresh.pem).unwrap();
        assert_eq!(label, "PRIVATE KEY");
        // PKCS#8 for RSA 2048 wraps the PKCS#1 key in an OCTET STRING at
        // byte 22 (two length bytes), after the version and the algorithm.
        assert_eq!(&pkcs8[22..24], &[0x04, 0x82]);
        let pkcs1 = &pkcs8[26..];
        let file = KeyFile {
            keys: vec![StoredKey {
                kid: fresh.kid.clone(),
                pem: pem_encode("RSA PRIVATE KEY", pkcs1),
                created_at: 1000,
                retired_at: None,
            }],
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(KEYS_FILE),
            serde_json::to_vec(&file).unwrap(),
        )
        .unwrap();
        let set = KeySet::load_or_create(dir.path(), 1001, Duration::from_secs(100)).unwrap();
        let key = set.active();
        assert_eq!(key.kid, fresh.kid);
        assert_eq!((&key.n, &key.e), (&fresh.n, &fresh.e));

        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        let token =
            jsonwebtoken::encode(&header, &serde_json::json!({"sub": "u"}), &key.encoding).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<serde_json::Value>(&token, &fresh.decoding, &validation)
            .expect("the reloaded key signs what the public key verifies");
    }

    #[test]
    fn a_key_file_that_is_not_an_rsa_key_is_refused() {
        let stored = StoredKey {
            kid: "k".into(),
            pem: pem_encode("EC PRIVATE KEY", b"not a key"),
            created_at: 0,
            retired_at: None,
        };
        let err = Key::from_stored(stored).err().expect("refused");
        assert!(err.contains("EC PRIVATE KEY"), "{err}");
    }
}
