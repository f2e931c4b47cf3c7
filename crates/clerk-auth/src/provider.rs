//! The issuer as discovered: its metadata
//! ([OIDC Discovery §3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata)),
//! its keys (cached; refetched for an unknown `kid`: the first time at once,
//! then at most every [`JWKS_REFETCH_INTERVAL`]), and the OAuth requests
//! made to it.

use std::borrow::Cow;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthUrl, ClientId, EndpointMaybeSet, EndpointNotSet, EndpointSet, ExtraTokenFields,
    RedirectUrl, RequestTokenError, RevocationUrl, StandardRevocableToken, StandardTokenResponse,
    TokenResponse as _, TokenUrl,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{is_loopback, ClerkConfig};
use crate::error::AuthError;
use crate::http::{read_capped, OAuthHttp, TransportError, MAX_RESPONSE_BYTES};
use crate::id_token::{IdTokenClaims, IdTokenError, IdTokenValidator, NonceCheck};
use crate::secret::RefreshToken;

/// Least time between two JWKS refetches caused by unknown `kid`s.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);

/// The discovery fields we use.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Metadata {
    pub(crate) issuer: String,
    pub(crate) authorization_endpoint: Url,
    pub(crate) token_endpoint: Url,
    pub(crate) jwks_uri: Url,
    #[serde(default)]
    pub(crate) revocation_endpoint: Option<Url>,
    #[serde(default)]
    pub(crate) id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub(crate) code_challenge_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) response_types_supported: Option<Vec<String>>,
    /// [RFC 9207 §3](https://www.rfc-editor.org/rfc/rfc9207#section-3).
    #[serde(default)]
    pub(crate) authorization_response_iss_parameter_supported: bool,
}

/// `id_token` in the token response; redacted in `Debug`.
#[derive(Clone, Default, Deserialize, Serialize)]
pub(crate) struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl std::fmt::Debug for IdTokenField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdTokenField([redacted])")
    }
}

impl ExtraTokenFields for IdTokenField {}

type TokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

type OAuthClient = oauth2::Client<
    BasicErrorResponse,
    TokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointSet,
>;

/// What a successful token request gives us, validated.
pub(crate) struct Tokens {
    pub(crate) id_token: String,
    pub(crate) claims: IdTokenClaims,
    pub(crate) refresh_token: Option<RefreshToken>,
}

struct Keys {
    validator: IdTokenValidator,
    /// When an unknown `kid` last caused a refetch.
    refetched_at: Option<Instant>,
    refetches: u64,
}

/// One discovered issuer.
pub(crate) struct Provider {
    pub(crate) metadata: Metadata,
    pub(crate) oauth: OAuthClient,
    http: OAuthHttp,
    keys: tokio::sync::Mutex<Keys>,
}

fn check_endpoint(name: &str, url: &Url) -> Result<(), AuthError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        _ => Err(AuthError::Discovery(format!("{name} must be https: {url}"))),
    }
}

pub(crate) fn map_transport(e: &reqwest::Error) -> AuthError {
    // Discovery and JWKS URLs carry no secrets.
    match std::error::Error::source(e) {
        Some(src) => AuthError::Network(format!("{e}: {src}")),
        None => AuthError::Network(e.to_string()),
    }
}

async fn get_json<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    url: &Url,
    what: &str,
) -> Result<T, AuthError> {
    let resp = http
        .get(url.clone())
        .send()
        .await
        .map_err(|e| map_transport(&e))?;
    let status = resp.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(AuthError::Network(format!("{what}: HTTP {status}")));
    }
    if !status.is_success() {
        return Err(AuthError::Discovery(format!("{what}: HTTP {status}")));
    }
    let body = match read_capped(resp, MAX_RESPONSE_BYTES).await {
        Ok(body) => body,
        Err(TransportError::Http(e)) => return Err(map_transport(&e)),
        Err(e) => return Err(AuthError::Discovery(format!("{what}: {e}"))),
    };
    serde_json::from_slice(&body)
        .map_err(|e| AuthError::Discovery(format!("{what} is not valid: {e}")))
}

impl Provider {
    /// Fetches `/.well-known/openid-configuration` and the JWKS, and checks them.
    pub(crate) async fn discover(
        http: &reqwest::Client,
        config: &ClerkConfig,
    ) -> Result<Self, AuthError> {
        let issuer = config.issuer_str();
        let url = Url::parse(&format!("{issuer}/.well-known/openid-configuration"))
            .map_err(|e| AuthError::Discovery(e.to_string()))?;
        let metadata: Metadata = get_json(http, &url, "the OpenID configuration").await?;
        if metadata.issuer.trim_end_matches('/') != issuer {
            return Err(AuthError::Discovery(format!(
                "it names issuer {:?}, expected {issuer:?}",
                metadata.issuer
            )));
        }
        check_endpoint("authorization_endpoint", &metadata.authorization_endpoint)?;
        check_endpoint("token_endpoint", &metadata.token_endpoint)?;
        check_endpoint("jwks_uri", &metadata.jwks_uri)?;
        if let Some(r) = &metadata.revocation_endpoint {
            check_endpoint("revocation_endpoint", r)?;
        }
        if let Some(methods) = &metadata.code_challenge_methods_supported {
            if !methods.iter().any(|m| m == "S256") {
                return Err(AuthError::Discovery(
                    "the issuer does not support PKCE S256".into(),
                ));
            }
        }
        if let Some(types) = &metadata.response_types_supported {
            if !types.iter().any(|t| t == "code") {
                return Err(AuthError::Discovery(
                    "the issuer does not support response_type=code".into(),
                ));
            }
        }
        let jwks: JwkSet = get_json(http, &metadata.jwks_uri, "the issuer's keys (JWKS)").await?;
        let validator = IdTokenValidator::new(
            &metadata.issuer,
            &config.client_id,
            &metadata.id_token_signing_alg_values_supported,
            &jwks,
            config.leeway,
        )
        .map_err(|e| AuthError::Discovery(e.to_string()))?;

        let oauth = oauth2::Client::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(metadata.authorization_endpoint.clone()))
            .set_token_uri(TokenUrl::from_url(metadata.token_endpoint.clone()))
            .set_revocation_url_option(
                metadata
                    .revocation_endpoint
                    .clone()
                    .map(RevocationUrl::from_url),
            )
            .set_auth_type(oauth2::AuthType::RequestBody);
        Ok(Provider {
            metadata,
            oauth,
            http: OAuthHttp(http.clone()),
            keys: tokio::sync::Mutex::new(Keys {
                validator,
                refetched_at: None,
                refetches: 0,
            }),
        })
    }

    /// Validates an ID token, refetching the JWKS once for an unknown `kid`
    /// (rate-limited).
    pub(crate) async fn validate(
        &self,
        token: &str,
        nonce: NonceCheck<'_>,
    ) -> Result<IdTokenClaims, AuthError> {
        let mut keys = self.keys.lock().await;
        match keys.validator.validate(token, nonce) {
            Err(IdTokenError::UnknownKey(Some(kid)))
                if keys
                    .refetched_at
                    .is_none_or(|t| t.elapsed() >= JWKS_REFETCH_INTERVAL) =>
            {
                tracing::info!(kid = %kid, "unknown signing key: refetching the JWKS");
                keys.refetched_at = Some(Instant::now());
                keys.refetches += 1;
                let jwks: JwkSet = get_json(
                    &self.http.0,
                    &self.metadata.jwks_uri,
                    "the issuer's keys (JWKS)",
                )
                .await?;
                keys.validator.set_keys(&jwks);
                Ok(keys.validator.validate(token, nonce)?)
            }
            other => Ok(other?),
        }
    }

    /// Exchanges an authorization code ([RFC 6749 §4.1.3](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.3))
    /// with its PKCE verifier, and validates the ID token against `nonce`.
    pub(crate) async fn exchange_code(
        &self,
        code: String,
        verifier: oauth2::PkceCodeVerifier,
        redirect_uri: &RedirectUrl,
        nonce: &str,
    ) -> Result<Tokens, AuthError> {
        let response = self
            .oauth
            .exchange_code(oauth2::AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(Cow::Borrowed(redirect_uri))
            .request_async(&self.http)
            .await
            .map_err(map_token_error)?;
        self.finish_tokens(response, NonceCheck::Exact(nonce)).await
    }

    /// Refreshes ([RFC 6749 §6](https://www.rfc-editor.org/rfc/rfc6749#section-6)).
    /// Returns the raw response first so the caller can store a rotated
    /// refresh token before anything else can fail.
    pub(crate) async fn refresh(
        &self,
        refresh_token: &RefreshToken,
    ) -> Result<(Option<RefreshToken>, Option<String>), AuthError> {
        let rt = oauth2::RefreshToken::new(refresh_token.secret().to_owned());
        let response = self
            .oauth
            .exchange_refresh_token(&rt)
            .request_async(&self.http)
            .await
            .map_err(map_token_error)?;
        let new_rt = response
            .refresh_token()
            .map(|t| RefreshToken::new(t.secret().clone()));
        Ok((new_rt, response.extra_fields().id_token.clone()))
    }

    async fn finish_tokens(
        &self,
        response: TokenResponse,
        nonce: NonceCheck<'_>,
    ) -> Result<Tokens, AuthError> {
        let id_token = response.extra_fields().id_token.clone().ok_or_else(|| {
            AuthError::Protocol(
                "the token response has no id_token (is the openid scope granted?)".into(),
            )
        })?;
        let claims = self.validate(&id_token, nonce).await?;
        Ok(Tokens {
            id_token,
            claims,
            refresh_token: response
                .refresh_token()
                .map(|t| RefreshToken::new(t.secret().clone())),
        })
    }

    /// Revokes a refresh token ([RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)).
    /// Sent by hand: `oauth2` refuses a non-https revocation URL, and
    /// dev-clerk serves plain http on loopback.
    pub(crate) async fn revoke(&self, refresh_token: &RefreshToken) -> Result<(), AuthError> {
        let Some(url) = &self.metadata.revocation_endpoint else {
            return Ok(()); // nothing to call: the keychain entry is still deleted
        };
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("token", refresh_token.secret())
            .append_pair("token_type_hint", "refresh_token")
            .append_pair("client_id", self.oauth.client_id().as_str())
            .finish();
        let resp = self
            .http
            .0
            .post(url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| map_transport(&e))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 429 {
            Err(AuthError::Network(format!("revocation: HTTP {status}")))
        } else {
            Err(AuthError::Protocol(format!("revocation: HTTP {status}")))
        }
    }
}

/// Sorts a token endpoint failure into what refresh needs to decide.
/// Never includes a response body: it may hold tokens.
fn map_token_error(e: RequestTokenError<TransportError, BasicErrorResponse>) -> AuthError {
    match e {
        // An oversized answer is not the network's fault: do not retry it.
        RequestTokenError::Request(t @ TransportError::TooLarge(_)) => {
            AuthError::Protocol(t.to_string())
        }
        RequestTokenError::Request(t) => AuthError::Network(t.to_string()),
        RequestTokenError::ServerResponse(r) => {
            let desc = r.error_description().cloned().unwrap_or_default();
            match r.error() {
                BasicErrorResponseType::InvalidGrant => AuthError::InvalidGrant(desc),
                BasicErrorResponseType::Extension(x)
                    if x == "temporarily_unavailable" || x == "server_error" =>
                {
                    AuthError::Network(format!("{x}: {desc}"))
                }
                other => AuthError::Protocol(format!("{other}: {desc}")),
            }
        }
        // serde's message can quote the offending value (a token); say where only.
        RequestTokenError::Parse(e, _body) => {
            AuthError::Protocol(format!("unreadable token response (at {})", e.path()))
        }
        RequestTokenError::Other(s) => AuthError::Protocol(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use axum::routing::get;
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};

    const RSA_KEY: &str = include_str!("../tests/fixtures/rsa-test-key.pem");
    const JWKS: &str = include_str!("../tests/fixtures/jwks.json");

    /// A local fake issuer (discovery + JWKS only) that counts JWKS fetches
    /// and can change its key set: the kid-refetch rules need it.
    struct Fake {
        issuer: String,
        jwks_hits: Arc<AtomicUsize>,
        jwks: Arc<Mutex<serde_json::Value>>,
    }

    async fn fake_issuer() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let jwks_hits = Arc::new(AtomicUsize::new(0));
        let mut initial: serde_json::Value = serde_json::from_str(JWKS).unwrap();
        initial["keys"][0]["kid"] = "old-kid".into();
        let jwks = Arc::new(Mutex::new(initial));
        let doc = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/oauth/authorize"),
            "token_endpoint": format!("{issuer}/oauth/token"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "response_types_supported": ["code"],
            "code_challenge_methods_supported": ["S256"],
            "id_token_signing_alg_values_supported": ["RS256"],
        });
        let (hits, keys) = (jwks_hits.clone(), jwks.clone());
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(move || async move { axum::Json(doc) }),
            )
            .route(
                "/.well-known/jwks.json",
                get(move || async move {
                    hits.fetch_add(1, Ordering::SeqCst);
                    let v = keys.lock().unwrap().clone();
                    axum::Json(v)
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake {
            issuer,
            jwks_hits,
            jwks,
        }
    }

    fn token(issuer: &str, kid: &str) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = serde_json::json!({"iss": issuer, "sub": "user_1", "aud": "courier-desktop", "exp": now + 60, "iat": now});
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(kid.into());
        encode(
            &h,
            &claims,
            &EncodingKey::from_rsa_pem(RSA_KEY.as_bytes()).unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn unknown_kid_refetches_once_then_is_rate_limited() {
        let fake = fake_issuer().await;
        let http = crate::http::build_client(true).unwrap();
        let mut config =
            ClerkConfig::new(url::Url::parse(&fake.issuer).unwrap(), "courier-desktop");
        config.leeway = Duration::ZERO;
        let p = Provider::discover(&http, &config).await.unwrap();
        assert_eq!(fake.jwks_hits.load(Ordering::SeqCst), 1);
        assert!(p
            .validate(&token(&fake.issuer, "old-kid"), NonceCheck::AbsentOr(None))
            .await
            .is_ok());

        // The issuer rotates: the first unknown kid refetches, and validates.
        fake.jwks.lock().unwrap()["keys"][0]["kid"] = "new-kid".into();
        assert!(p
            .validate(&token(&fake.issuer, "new-kid"), NonceCheck::AbsentOr(None))
            .await
            .is_ok());
        assert_eq!(fake.jwks_hits.load(Ordering::SeqCst), 2);

        // A burst of unknown kids right after: no more fetches.
        for i in 0..20 {
            let r = p
                .validate(
                    &token(&fake.issuer, &format!("bogus-{i}")),
                    NonceCheck::AbsentOr(None),
                )
                .await;
            assert!(
                matches!(
                    r,
                    Err(AuthError::InvalidIdToken(IdTokenError::UnknownKey(_)))
                ),
                "{r:?}"
            );
        }
        assert_eq!(fake.jwks_hits.load(Ordering::SeqCst), 2);
        assert_eq!(p.keys.lock().await.refetches, 1);
    }

    #[tokio::test]
    async fn discovery_must_name_the_configured_issuer() {
        let fake = fake_issuer().await;
        let http = crate::http::build_client(true).unwrap();
        let other = fake.issuer.replace("127.0.0.1", "localhost");
        let config = ClerkConfig::new(url::Url::parse(&other).unwrap(), "courier-desktop");
        let r = Provider::discover(&http, &config).await;
        assert!(matches!(r, Err(AuthError::Discovery(_))), "{:?}", r.err());
    }

    #[tokio::test]
    async fn an_oversized_jwks_is_refused() {
        let fake = fake_issuer().await;
        fake.jwks.lock().unwrap()["padding"] = "x".repeat(MAX_RESPONSE_BYTES).into();
        let http = crate::http::build_client(true).unwrap();
        let config = ClerkConfig::new(url::Url::parse(&fake.issuer).unwrap(), "courier-desktop");
        let r = Provider::discover(&http, &config).await;
        match r {
            Err(AuthError::Discovery(why)) => assert!(why.contains("larger than"), "{why}"),
            other => panic!("{:?}", other.err()),
        }
    }
}
