//! Token trust, as Convex applies `auth.config.ts`: match a provider on
//! `iss` and a single `aud`, fetch its keys by OIDC discovery, verify
//! RS256/EdDSA signatures and the time claims, then build the identity.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use crate::identity::identity_from_claims;
use crate::AuthProvider;

/// Tokens larger than this are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// At most one unknown-`kid` refetch per issuer in this window.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Cached keys are refreshed after this long even without an unknown `kid`.
const KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
/// Verified tokens remembered (their time claims are still checked on every use).
const MAX_CACHED_TOKENS: usize = 10_000;

/// Why a bearer token was refused; rendered as Convex's 401 body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthFailure {
    /// `Unauthenticated`, `InvalidAuthHeader` or `NoAuthProvider`.
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

impl AuthFailure {
    fn invalid(message: impl Into<String>) -> Self {
        AuthFailure {
            code: "InvalidAuthHeader",
            message: message.into(),
        }
    }
    fn unauthenticated(message: impl Into<String>) -> Self {
        AuthFailure {
            code: "Unauthenticated",
            message: message.into(),
        }
    }
}

struct IssuerKeys {
    keys: Vec<(Option<String>, Algorithm, Arc<DecodingKey>)>,
    fetched_at: Instant,
    last_forced: Option<Instant>,
}

/// Verifies bearer tokens against the configured providers.
pub(crate) struct Verifier {
    providers: Vec<AuthProvider>,
    leeway: Duration,
    http: reqwest::Client,
    keys: Mutex<HashMap<String, IssuerKeys>>,
    /// Tokens whose signature and claims were verified, with their time
    /// claims. Emptied whenever keys are fetched, so a key retired by
    /// rotation stops vouching for its tokens at once.
    verified: std::sync::Mutex<HashMap<String, Verified>>,
}

#[derive(Clone)]
struct Verified {
    identity: Value,
    exp: f64,
    nbf: Option<f64>,
}

impl Verifier {
    pub(crate) fn new(providers: Vec<AuthProvider>, leeway: Duration) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Verifier {
            providers,
            leeway,
            http,
            keys: Mutex::new(HashMap::new()),
            verified: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Checks `token` and returns the identity object functions see.
    pub(crate) async fn verify(&self, token: &str) -> Result<Value, AuthFailure> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthFailure::invalid(format!(
                "Could not parse JWT: token is larger than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let cached = self.cache().get(token).cloned();
        if let Some(v) = cached {
            self.check_times(v.exp, v.nbf)?;
            return Ok(v.identity);
        }
        let parts: Vec<&str> = token.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return Err(AuthFailure::invalid(
                "Could not parse JWT: expected three non-empty base64url parts separated by '.'",
            ));
        }
        let header = decode_json_part(parts[0], "header")?;
        let payload = decode_json_part(parts[1], "payload")?;
        if let Some(typ) = header.get("typ") {
            if !typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT")) {
                return Err(AuthFailure::unauthenticated(format!(
                    "Could not verify token: unsupported token type {typ}; expected an OpenID \
                     Connect ID token (typ JWT)"
                )));
            }
        }
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => Algorithm::RS256,
            Some("EdDSA") => Algorithm::EdDSA,
            other => {
                return Err(AuthFailure::unauthenticated(format!(
                "Could not verify token: algorithm {} is not accepted; only RS256 and EdDSA are",
                other.map_or_else(|| "(missing)".to_owned(), |a| format!("{a:?}"))
            )))
            }
        };
        let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
        let iss = payload.get("iss").and_then(Value::as_str).unwrap_or("");
        let aud = single_audience(payload.get("aud"));
        let provider = self
            .providers
            .iter()
            .find(|p| {
                p.normalized_domain() == iss.trim_end_matches('/')
                    && aud.is_some_and(|a| a == p.application_id)
            })
            .ok_or_else(|| self.no_provider())?;

        let key = self.key_for(provider, kid.as_deref(), alg).await?;
        let mut validation = Validation::new(alg);
        // Time, issuer and audience checks are done here on the raw claims,
        // with Convex's rules (`exp` is exclusive, a single audience).
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| {
            AuthFailure::unauthenticated(format!(
                "Could not verify OIDC token claim. Check that the token signature is valid and \
                 the token hasn't expired: {e}"
            ))
        })?;
        let (exp, nbf) = self.check_claims(&payload)?;
        let identity = identity_from_claims(&payload);
        let mut cache = self.cache();
        if cache.len() >= MAX_CACHED_TOKENS {
            cache.clear();
        }
        cache.insert(
            token.to_owned(),
            Verified {
                identity: identity.clone(),
                exp,
                nbf,
            },
        );
        Ok(identity)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Verified>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn no_provider(&self) -> AuthFailure {
        let list: Vec<String> = self
            .providers
            .iter()
            .map(|p| format!("OIDC(domain={}, app_id={})", p.domain, p.application_id))
            .collect();
        AuthFailure {
            code: "NoAuthProvider",
            message: format!(
                "No auth provider found matching the given token. Check that your JWT's issuer \
                 and audience match one of your configured providers: [{}]",
                list.join(", ")
            ),
        }
    }

    /// Checks `sub`, `iat`, `exp` and `nbf`; returns `(exp, nbf)`.
    fn check_claims(&self, claims: &Map<String, Value>) -> Result<(f64, Option<f64>), AuthFailure> {
        if claims
            .get("sub")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(AuthFailure::unauthenticated(
                "Could not verify token claim: missing subject (sub)",
            ));
        }
        let exp = claims.get("exp").and_then(Value::as_f64).ok_or_else(|| {
            AuthFailure::unauthenticated("Could not verify token claim: missing expiry (exp)")
        })?;
        if claims.get("iat").and_then(Value::as_f64).is_none() {
            return Err(AuthFailure::unauthenticated(
                "Could not verify token claim: missing issue time (iat)",
            ));
        }
        let nbf = match claims.get("nbf") {
            None => None,
            Some(n) => Some(n.as_f64().ok_or_else(|| {
                AuthFailure::unauthenticated("Could not verify token claim: nbf is not a number")
            })?),
        };
        self.check_times(exp, nbf)?;
        Ok((exp, nbf))
    }

    /// `exp` is exclusive (expired at `exp` itself), both with the leeway.
    fn check_times(&self, exp: f64, nbf: Option<f64>) -> Result<(), AuthFailure> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let leeway = self.leeway.as_secs_f64();
        if now >= exp + leeway {
            return Err(AuthFailure::unauthenticated(
                "Token expired: the ID token's exp is in the past; refresh it and retry",
            ));
        }
        if nbf.is_some_and(|nbf| now + leeway < nbf) {
            return Err(AuthFailure::unauthenticated(
                "Token is not valid yet: its nbf is in the future",
            ));
        }
        Ok(())
    }

    async fn key_for(
        &self,
        provider: &AuthProvider,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<DecodingKey>, AuthFailure> {
        let issuer = provider.normalized_domain().to_owned();
        let mut cache = self.keys.lock().await;
        let stale = cache
            .get(&issuer)
            .is_none_or(|k| k.fetched_at.elapsed() > KEYS_MAX_AGE);
        if stale {
            let keys = self.fetch_keys(&issuer).await?;
            let last_forced = cache.get(&issuer).and_then(|k| k.last_forced);
            cache.insert(
                issuer.clone(),
                IssuerKeys {
                    keys,
                    fetched_at: Instant::now(),
                    last_forced,
                },
            );
        }
        if let Some(k) = cache.get(&issuer).and_then(|k| pick(&k.keys, kid, alg)) {
            return Ok(k);
        }
        // Unknown kid: the issuer may have rotated its keys. Refetch once,
        // rate limited so forged kids cannot make us hammer the issuer.
        let entry = cache.get_mut(&issuer).expect("inserted above");
        let may_refetch = !stale
            && entry
                .last_forced
                .is_none_or(|t| t.elapsed() >= REFETCH_INTERVAL);
        if may_refetch {
            entry.last_forced = Some(Instant::now());
            let keys = self.fetch_keys(&issuer).await?;
            entry.keys = keys;
            entry.fetched_at = Instant::now();
            if let Some(k) = pick(&entry.keys, kid, alg) {
                return Ok(k);
            }
        }
        Err(AuthFailure::unauthenticated(format!(
            "Could not verify token: no {alg:?} key with kid {} in the issuer's JWKS",
            kid.map_or_else(|| "(none)".to_owned(), |k| format!("{k:?}"))
        )))
    }

    async fn fetch_keys(
        &self,
        issuer: &str,
    ) -> Result<Vec<(Option<String>, Algorithm, Arc<DecodingKey>)>, AuthFailure> {
        self.cache().clear();
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            tracing::warn!(issuer, "fetching {what} failed: {e}");
            AuthFailure::unauthenticated(format!(
                "Could not verify token: fetching the issuer's {what} failed: {e}"
            ))
        };
        let discovery_url = format!("{issuer}/.well-known/openid-configuration");
        let discovery: Value = self
            .get_json(&discovery_url)
            .await
            .map_err(|e| fail("OpenID configuration", &e))?;
        let jwks_uri = discovery
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("OpenID configuration", &"no jwks_uri"))?;
        let jwks: Value = self
            .get_json(jwks_uri)
            .await
            .map_err(|e| fail("JWKS", &e))?;
        let raw_keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| fail("JWKS", &"no keys array"))?;
        let mut keys = Vec::new();
        for raw in raw_keys {
            // One bad key must not hide the good ones.
            let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
                continue;
            };
            if let Some((alg, key)) = decoding_key(&jwk) {
                keys.push((jwk.common.key_id.clone(), alg, Arc::new(key)));
            }
        }
        tracing::debug!(issuer, count = keys.len(), "fetched signing keys");
        Ok(keys)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let resp = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status()));
        }
        resp.json::<Value>().await.map_err(|e| e.to_string())
    }
}

/// The only key types accepted: RSA for RS256, Ed25519 for EdDSA.
fn decoding_key(jwk: &Jwk) -> Option<(Algorithm, DecodingKey)> {
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    if let Some(declared) = jwk.common.key_algorithm {
        if format!("{declared:?}") != format!("{alg:?}") {
            return None;
        }
    }
    DecodingKey::from_jwk(jwk).ok().map(|k| (alg, k))
}

fn pick(
    keys: &[(Option<String>, Algorithm, Arc<DecodingKey>)],
    kid: Option<&str>,
    alg: Algorithm,
) -> Option<Arc<DecodingKey>> {
    match kid {
        Some(kid) => keys
            .iter()
            .find(|(k, a, _)| k.as_deref() == Some(kid) && *a == alg)
            .map(|(_, _, key)| key.clone()),
        None => {
            let mut of_alg = keys.iter().filter(|(_, a, _)| *a == alg);
            match (of_alg.next(), of_alg.next()) {
                (Some((_, _, key)), None) => Some(key.clone()),
                _ => None,
            }
        }
    }
}

fn single_audience(aud: Option<&Value>) -> Option<&str> {
    match aud? {
        Value::String(s) => Some(s),
        Value::Array(items) if items.len() == 1 => items[0].as_str(),
        _ => None,
    }
}

fn decode_json_part(part: &str, what: &str) -> Result<Map<String, Value>, AuthFailure> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| {
            AuthFailure::invalid(format!("Could not parse JWT: {what} is not base64url"))
        })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AuthFailure::invalid(format!(
            "Could not parse JWT: {what} is not a JSON object"
        ))),
    }
}
