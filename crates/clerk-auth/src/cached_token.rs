//! An ID token read back from the keychain's cache entry.
//!
//! Its signature is not checked again: it was validated when it arrived,
//! and the keychain is the store this crate trusts with the refresh token
//! itself. Checking it again would need the issuer's keys, and the cache
//! exists precisely so that a start (or a CLI command) works without the
//! issuer. What is checked is that it belongs to this session: `iss`,
//! `aud`, `sub` and an `exp` still ahead.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Deserialize;

use crate::config::ClerkConfig;
use crate::secret::IdToken;

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: u64,
    iat: u64,
}

/// The cached token as an [`IdToken`], if it is this session's and has not
/// expired; `None` otherwise (the caller then refreshes).
pub(crate) fn from_cache(raw: &str, config: &ClerkConfig, user_id: &str) -> Option<IdToken> {
    let payload = raw.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Claims = serde_json::from_slice(&bytes).ok()?;
    let audience_ok = match &claims.aud {
        Audience::One(a) => *a == config.client_id,
        Audience::Many(list) => list.len() == 1 && list[0] == config.client_id,
    };
    let expires_at = UNIX_EPOCH + Duration::from_secs(claims.exp);
    let ok = claims.iss.trim_end_matches('/') == config.issuer_str()
        && audience_ok
        && claims.sub == user_id
        && claims.iat <= claims.exp
        && expires_at > SystemTime::now();
    ok.then(|| {
        IdToken::new(
            raw,
            UNIX_EPOCH + Duration::from_secs(claims.iat),
            expires_at,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> ClerkConfig {
        ClerkConfig::new(url::Url::parse("http://127.0.0.1:4810").unwrap(), "client")
    }

    fn jwt(claims: serde_json::Value) -> String {
        let b64 = |v: &serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!("{}.{}.sig", b64(&json!({"alg": "RS256"})), b64(&claims))
    }

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    #[test]
    fn accepts_only_this_sessions_unexpired_token() {
        let good = json!({"iss": "http://127.0.0.1:4810", "sub": "user_1", "aud": "client", "iat": now(), "exp": now() + 60});
        let token = from_cache(&jwt(good.clone()), &config(), "user_1").expect("usable");
        assert!(token.time_left() > Duration::from_secs(50));

        let mut other_user = good.clone();
        other_user["sub"] = json!("user_2");
        let mut other_issuer = good.clone();
        other_issuer["iss"] = json!("http://127.0.0.1:4811");
        let mut other_client = good.clone();
        other_client["aud"] = json!(["client", "other"]);
        let mut expired = good.clone();
        expired["exp"] = json!(now() - 1);
        for bad in [other_user, other_issuer, other_client, expired] {
            assert!(
                from_cache(&jwt(bad.clone()), &config(), "user_1").is_none(),
                "{bad}"
            );
        }
        assert!(from_cache("not a jwt", &config(), "user_1").is_none());
        assert!(from_cache("a.b.c", &config(), "user_1").is_none());
    }
}
