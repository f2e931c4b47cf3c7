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
use tokio::sync::watch;

use crate::identity::identity_from_claims;
use crate::AuthProvider;

/// Tokens larger than this are refused before any parsing.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// At most one refetch per issuer in this window, whatever asks for it
/// (an unknown `kid`, keys past their age, a failed fetch).
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How long cached keys are used before they are refetched (in the
/// background: the old ones keep verifying until new ones arrive).
pub(crate) const DEFAULT_KEYS_MAX_AGE: Duration = Duration::from_secs(3600);
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

/// Why fetching an issuer's keys failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("fetching the issuer's {what} failed: {detail}")]
struct FetchError {
    what: &'static str,
    detail: String,
}

/// One signing key of an issuer.
struct IssuerKey {
    kid: Option<String>,
    alg: Algorithm,
    key: Arc<DecodingKey>,
    /// The JWK as published: tells whether a refetch kept this very key.
    fingerprint: String,
}

/// A key picked for a token: the key and its fingerprint.
type Picked = (Arc<DecodingKey>, String);

#[derive(Default)]
struct IssuerKeys {
    /// Empty until the first successful fetch; kept when a refetch fails.
    keys: Arc<Vec<IssuerKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// Last refetch forced by an unknown `kid` (rate limited on its own).
    last_forced: Option<Instant>,
    last_error: Option<FetchError>,
    /// Open while a fetch is under way; it closes when the fetch is done.
    in_flight: Option<watch::Receiver<()>>,
}

impl IssuerKeys {
    /// Whether keys past their age may be refetched now: once per
    /// `interval`, so a failing issuer is asked again only that often.
    fn may_refresh(&self, now: Instant, interval: Duration) -> bool {
        self.last_attempt
            .is_none_or(|t| now.duration_since(t) >= interval)
    }

    /// Whether an unknown `kid` may force a refetch now. With no keys at all
    /// nothing can be verified: always, when no fetch is running.
    fn may_force(&self, now: Instant) -> bool {
        self.fetched_at.is_none()
            || self
                .last_forced
                .is_none_or(|t| now.duration_since(t) >= REFETCH_INTERVAL)
    }

    /// A fetch under way, if its fetcher is still alive (a cancelled request drops it).
    fn running(&mut self) -> Option<watch::Receiver<()>> {
        match &self.in_flight {
            Some(rx) if rx.has_changed().is_ok() => Some(rx.clone()),
            _ => {
                self.in_flight = None;
                None
            }
        }
    }

    fn start(&mut self, now: Instant) -> watch::Sender<()> {
        let (tx, rx) = watch::channel(());
        self.in_flight = Some(rx);
        self.last_attempt = Some(now);
        tx
    }
}

/// What to do for a token's key.
enum Step {
    Use(Picked),
    Fetch(watch::Sender<()>),
    Wait(watch::Receiver<()>),
    Refuse,
}

/// Keys and verified tokens; shared with background refetches.
struct Cache {
    http: reqwest::Client,
    keys_max_age: Duration,
    /// By issuer. A plain lock, never held across an await: a slow or dead
    /// issuer must not hold up tokens whose keys are already known.
    issuers: std::sync::Mutex<HashMap<String, IssuerKeys>>,
    /// Tokens whose signature and claims were verified, with their time
    /// claims. When a fetch drops a key, the tokens it verified go too, so a
    /// key retired by rotation stops vouching for its tokens at once.
    verified: std::sync::Mutex<HashMap<String, Arc<Verified>>>,
}

/// Verifies bearer tokens against the configured providers.
pub(crate) struct Verifier {
    providers: Vec<AuthProvider>,
    leeway: Duration,
    cache: Arc<Cache>,
}

/// Providers only: the caches hold bearer tokens.
impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("providers", &self.providers)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

/// Shared, so a cache hit copies no claims (one is looked up per HTTP call
/// and per socket update).
struct Verified {
    identity: Arc<Value>,
    exp: f64,
    nbf: Option<f64>,
    issuer: String,
    fingerprint: String,
}

impl Verifier {
    pub(crate) fn new(
        providers: Vec<AuthProvider>,
        leeway: Duration,
        keys_max_age: Duration,
    ) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Verifier {
            providers,
            leeway,
            cache: Arc::new(Cache {
                http,
                keys_max_age,
                issuers: std::sync::Mutex::new(HashMap::new()),
                verified: std::sync::Mutex::new(HashMap::new()),
            }),
        }
    }

    /// How many verified tokens are remembered (tests and diagnostics).
    pub(crate) fn cached_tokens(&self) -> usize {
        self.cache.tokens().len()
    }

    /// Checks `token` and returns the identity object functions see.
    pub(crate) async fn verify(&self, token: &str) -> Result<Arc<Value>, AuthFailure> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthFailure::invalid(format!(
                "Could not parse JWT: token is larger than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let cached = self.cache.tokens().get(token).cloned();
        if let Some(v) = cached {
            self.check_times(v.exp, v.nbf)?;
            return Ok(v.identity.clone());
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

        let issuer = provider.normalized_domain().to_owned();
        let (key, fingerprint) = self.key_for(&issuer, kid.as_deref(), alg).await?;
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
        let identity = Arc::new(identity_from_claims(&payload));
        let mut cache = self.cache.tokens();
        if cache.len() >= MAX_CACHED_TOKENS {
            cache.clear();
        }
        cache.insert(
            token.to_owned(),
            Arc::new(Verified {
                identity: identity.clone(),
                exp,
                nbf,
                issuer,
                fingerprint,
            }),
        );
        Ok(identity)
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

    /// The key for a token of `issuer`. Known keys are used at once, even
    /// past their age or while the issuer is down (a refetch then runs in
    /// the background); only a token whose key is unknown waits for a fetch.
    async fn key_for(
        &self,
        issuer: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Picked, AuthFailure> {
        let mut waited = false;
        loop {
            match self.cache.plan(issuer, kid, alg, waited) {
                Step::Use(picked) => return Ok(picked),
                Step::Fetch(done) => {
                    let result = self.cache.fetch_keys(issuer).await;
                    self.cache.apply(issuer, result);
                    drop(done);
                }
                Step::Wait(mut running) => {
                    // Closed, never sent to: this returns when the fetch is done.
                    let _ = running.changed().await;
                }
                Step::Refuse => return Err(self.cache.no_key(issuer, kid, alg)),
            }
            waited = true;
        }
    }
}

impl Cache {
    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Verified>>> {
        self.verified.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn issuers(&self) -> std::sync::MutexGuard<'_, HashMap<String, IssuerKeys>> {
        self.issuers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Decides under the lock, acts outside it.
    fn plan(
        self: &Arc<Self>,
        issuer: &str,
        kid: Option<&str>,
        alg: Algorithm,
        waited: bool,
    ) -> Step {
        let now = Instant::now();
        let mut issuers = self.issuers();
        let entry = issuers.entry(issuer.to_owned()).or_default();
        if let Some(picked) = pick(&entry.keys, kid, alg) {
            let old = entry
                .fetched_at
                .is_none_or(|t| now.duration_since(t) > self.keys_max_age);
            let interval = REFETCH_INTERVAL.min(self.keys_max_age);
            if old && entry.running().is_none() && entry.may_refresh(now, interval) {
                let done = entry.start(now);
                self.refetch_in_background(issuer, done);
            }
            return Step::Use(picked);
        }
        if waited {
            return Step::Refuse;
        }
        if let Some(running) = entry.running() {
            return Step::Wait(running);
        }
        // Unknown kid: the issuer may have rotated its keys. Refetch, rate
        // limited so forged kids cannot make us hammer the issuer.
        if entry.may_force(now) {
            if entry.fetched_at.is_some() {
                entry.last_forced = Some(now);
            }
            return Step::Fetch(entry.start(now));
        }
        Step::Refuse
    }

    fn refetch_in_background(self: &Arc<Self>, issuer: &str, done: watch::Sender<()>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let cache = self.clone();
        let issuer = issuer.to_owned();
        runtime.spawn(async move {
            let result = cache.fetch_keys(&issuer).await;
            cache.apply(&issuer, result);
            drop(done);
        });
    }

    /// Installs fetched keys (and forgets tokens of keys that are gone), or
    /// keeps the keys it had when the fetch failed.
    fn apply(&self, issuer: &str, result: Result<Vec<IssuerKey>, FetchError>) {
        let kept: Vec<String> = {
            let mut issuers = self.issuers();
            let entry = issuers.entry(issuer.to_owned()).or_default();
            entry.in_flight = None;
            match result {
                Err(e) => {
                    tracing::warn!(issuer, "{e}; keeping the {} keys it had", entry.keys.len());
                    entry.last_error = Some(e);
                    return;
                }
                Ok(keys) => {
                    tracing::debug!(issuer, count = keys.len(), "fetched signing keys");
                    let kept = keys.iter().map(|k| k.fingerprint.clone()).collect();
                    entry.keys = Arc::new(keys);
                    entry.fetched_at = Some(Instant::now());
                    entry.last_error = None;
                    kept
                }
            }
        };
        self.tokens()
            .retain(|_, v| v.issuer != issuer || kept.contains(&v.fingerprint));
    }

    fn no_key(&self, issuer: &str, kid: Option<&str>, alg: Algorithm) -> AuthFailure {
        let issuers = self.issuers();
        let entry = issuers.get(issuer);
        if let Some(e) = entry
            .filter(|e| e.fetched_at.is_none())
            .and_then(|e| e.last_error.as_ref())
        {
            return AuthFailure::unauthenticated(format!("Could not verify token: {e}"));
        }
        AuthFailure::unauthenticated(format!(
            "Could not verify token: no {alg:?} key with kid {} in the issuer's JWKS",
            kid.map_or_else(|| "(none)".to_owned(), |k| format!("{k:?}"))
        ))
    }

    async fn fetch_keys(&self, issuer: &str) -> Result<Vec<IssuerKey>, FetchError> {
        let fail = |what: &'static str, detail: &dyn std::fmt::Display| FetchError {
            what,
            detail: detail.to_string(),
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
                keys.push(IssuerKey {
                    kid: jwk.common.key_id.clone(),
                    alg,
                    key: Arc::new(key),
                    fingerprint: raw.to_string(),
                });
            }
        }
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

fn pick(keys: &[IssuerKey], kid: Option<&str>, alg: Algorithm) -> Option<Picked> {
    let found = match kid {
        Some(kid) => keys
            .iter()
            .find(|k| k.kid.as_deref() == Some(kid) && k.alg == alg),
        None => {
            let mut of_alg = keys.iter().filter(|k| k.alg == alg);
            match (of_alg.next(), of_alg.next()) {
                (Some(k), None) => Some(k),
                _ => None,
            }
        }
    };
    found.map(|k| (k.key.clone(), k.fingerprint.clone()))
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
