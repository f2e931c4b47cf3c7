//! Configuration: ports, data folder, and the auth providers Convex reads
//! from `auth.config.ts`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use crate::Error;

/// Convex's own local port, also convex-local's default.
pub const DEFAULT_PORT: u16 = 3210;

/// Default request body limit: 1 MiB. A message is at most 10,000
/// characters (40 KB of UTF-8 at worst), so this leaves ample room while
/// refusing floods early.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// One entry of `auth.config.ts`'s `providers`: tokens whose `iss` is
/// `domain` (trailing slash ignored) and whose single `aud` is
/// `application_id` are trusted.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AuthProvider {
    /// Issuer URL, e.g. `https://verb-noun-00.clerk.accounts.dev`.
    pub domain: String,
    /// Expected audience (for Clerk ID tokens, the OAuth client id).
    #[serde(rename = "applicationID")]
    pub application_id: String,
}

impl AuthProvider {
    /// The domain without a trailing slash, as tokens are compared to it.
    pub fn normalized_domain(&self) -> &str {
        self.domain.trim_end_matches('/')
    }
}

/// How to run a [`crate::ConvexLocal`].
#[derive(Clone, Debug)]
pub struct Config {
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Folder holding `convex-local.sqlite3` (created if missing).
    pub data_dir: PathBuf,
    /// Trusted token issuers. Empty: every token is refused with `NoAuthProvider`.
    pub providers: Vec<AuthProvider>,
    /// Clock leeway for `exp` and `nbf` (default 5 s; tests use 0).
    pub leeway: Duration,
    /// Seed demo messages when the database is empty (default true).
    pub seed_demo: bool,
    /// Largest accepted request body (default [`DEFAULT_MAX_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// How long an issuer's keys are used before they are refetched (default
    /// one hour). The refetch runs in the background and, if it fails, the
    /// keys in hand keep verifying, so an issuer outage never refuses
    /// tokens whose keys are known.
    pub keys_max_age: Duration,
}

impl Config {
    /// Defaults: port [`DEFAULT_PORT`], no providers, 5 s leeway, demo seed on.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            port: DEFAULT_PORT,
            data_dir: data_dir.into(),
            providers: Vec::new(),
            leeway: Duration::from_secs(5),
            seed_demo: true,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            keys_max_age: crate::auth::DEFAULT_KEYS_MAX_AGE,
        }
    }

    /// As [`Config::new`] but on a free port with zero clock leeway.
    pub fn for_tests(data_dir: impl Into<PathBuf>) -> Self {
        Config {
            port: 0,
            leeway: Duration::ZERO,
            ..Config::new(data_dir)
        }
    }

    /// Providers from `CLERK_FRONTEND_API_URL` (alias
    /// `CLERK_JWT_ISSUER_DOMAIN`, else decoded from `CLERK_PUBLISHABLE_KEY`)
    /// and `CLERK_OAUTH_CLIENT_ID`, read through `lookup`.
    ///
    /// Returns an empty list when no issuer is configured at all; an issuer
    /// without a client id (or the reverse) is an error.
    pub fn providers_from_env(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Vec<AuthProvider>, Error> {
        let get = |k: &str| {
            lookup(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let domain = match get("CLERK_FRONTEND_API_URL").or_else(|| get("CLERK_JWT_ISSUER_DOMAIN"))
        {
            Some(url) => Some(url),
            None => get("CLERK_PUBLISHABLE_KEY")
                .map(|k| domain_from_publishable_key(&k))
                .transpose()?,
        };
        let client_id = get("CLERK_OAUTH_CLIENT_ID");
        match (domain, client_id) {
            (None, None) => Ok(Vec::new()),
            (Some(domain), Some(application_id)) => {
                check_domain(&domain)?;
                Ok(vec![AuthProvider {
                    domain,
                    application_id,
                }])
            }
            (Some(_), None) => Err(Error::Config(
                "CLERK_OAUTH_CLIENT_ID is not set: it is the applicationID (the ID token's aud) \
                 Convex checks"
                    .into(),
            )),
            (None, Some(_)) => Err(Error::Config(
                "CLERK_OAUTH_CLIENT_ID is set but no issuer is: set CLERK_FRONTEND_API_URL \
                 (or CLERK_JWT_ISSUER_DOMAIN or CLERK_PUBLISHABLE_KEY)"
                    .into(),
            )),
        }
    }

    /// Providers from a JSON file shaped like `auth.config.ts`'s export:
    /// `{"providers": [{"domain": "...", "applicationID": "..."}]}`.
    pub fn providers_from_file(path: &Path) -> Result<Vec<AuthProvider>, Error> {
        #[derive(Deserialize)]
        struct File {
            providers: Vec<AuthProvider>,
        }
        let fail = |message: String| Error::ConfigFile {
            path: path.to_owned(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
        let file: File = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        for p in &file.providers {
            check_domain(&p.domain)?;
        }
        Ok(file.providers)
    }
}

fn check_domain(domain: &str) -> Result<(), Error> {
    if domain.starts_with("https://") || domain.starts_with("http://") {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "issuer {domain:?} must be a URL with its scheme, e.g. https://example.clerk.accounts.dev"
        )))
    }
}

/// Clerk publishable keys are `pk_test_`/`pk_live_` + base64 of `<host>$`.
fn domain_from_publishable_key(key: &str) -> Result<String, Error> {
    let bad = || Error::Config("CLERK_PUBLISHABLE_KEY is not a pk_test_/pk_live_ key".into());
    let encoded = key
        .strip_prefix("pk_test_")
        .or_else(|| key.strip_prefix("pk_live_"))
        .ok_or_else(bad)?;
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(encoded.trim_end_matches('='))
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let host = text.strip_suffix('$').ok_or_else(bad)?;
    if host.is_empty() || host.contains('/') {
        return Err(bad());
    }
    Ok(format!("https://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn frontend_api_url_wins_over_alias_and_key() {
        let p = Config::providers_from_env(env(&[
            ("CLERK_FRONTEND_API_URL", "http://127.0.0.1:4810"),
            ("CLERK_JWT_ISSUER_DOMAIN", "https://other.example"),
            ("CLERK_OAUTH_CLIENT_ID", "courier-desktop"),
        ]))
        .unwrap();
        assert_eq!(p[0].domain, "http://127.0.0.1:4810");
        assert_eq!(p[0].application_id, "courier-desktop");
    }

    #[test]
    fn alias_is_read() {
        let p = Config::providers_from_env(env(&[
            ("CLERK_JWT_ISSUER_DOMAIN", "https://a.example/"),
            ("CLERK_OAUTH_CLIENT_ID", "c"),
        ]))
        .unwrap();
        assert_eq!(p[0].normalized_domain(), "https://a.example");
    }

    #[test]
    fn publishable_key_decodes_to_https_host() {
        // base64("verb-noun-00.clerk.accounts.dev$") without padding
        let key = format!(
            "pk_test_{}",
            base64::engine::general_purpose::STANDARD_NO_PAD
                .encode("verb-noun-00.clerk.accounts.dev$")
        );
        let p = Config::providers_from_env(env(&[
            ("CLERK_PUBLISHABLE_KEY", &key),
            ("CLERK_OAUTH_CLIENT_ID", "c"),
        ]))
        .unwrap();
        assert_eq!(p[0].domain, "https://verb-noun-00.clerk.accounts.dev");
        assert!(domain_from_publishable_key("pk_test_bm9kb2xsYXI").is_err());
        assert!(domain_from_publishable_key("sk_test_abc").is_err());
    }

    #[test]
    fn nothing_set_is_no_providers_and_half_set_is_an_error() {
        assert!(Config::providers_from_env(env(&[])).unwrap().is_empty());
        assert!(Config::providers_from_env(env(&[("CLERK_OAUTH_CLIENT_ID", "c")])).is_err());
        assert!(
            Config::providers_from_env(env(&[("CLERK_FRONTEND_API_URL", "http://x")])).is_err()
        );
        assert!(Config::providers_from_env(env(&[
            ("CLERK_FRONTEND_API_URL", "no-scheme.example"),
            ("CLERK_OAUTH_CLIENT_ID", "c")
        ]))
        .is_err());
    }
}
