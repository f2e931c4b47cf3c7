//! ID token validation ([OpenID Connect Core §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)):
//! signature with a key from the issuer's JWKS, algorithm pinned, exact
//! `iss`, `aud`/`azp`, `exp`/`nbf`, `nonce`.

use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::secret::IdToken;
use crate::state::User;

/// Algorithms we ever accept, whatever discovery offers: never `none`, never HMAC.
pub const SUPPORTED_ALGORITHMS: [&str; 2] = ["RS256", "EdDSA"];

/// Why an ID token was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// Not three base64url JSON parts.
    #[error("the ID token is malformed: {0}")]
    Malformed(String),
    /// `alg` is not one the issuer advertises and we support.
    #[error("the ID token uses a disallowed algorithm {0:?}")]
    DisallowedAlgorithm(String),
    /// No key with this `kid` in the issuer's JWKS (after a refetch).
    #[error("the ID token is signed with an unknown key {0:?}")]
    UnknownKey(Option<String>),
    /// The signature does not verify.
    #[error("the ID token signature is invalid")]
    BadSignature,
    /// `exp` is in the past.
    #[error("the ID token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the ID token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future, beyond the clock leeway.
    #[error("the ID token claims to be issued in the future")]
    IssuedInFuture,
    /// `iss` is not the issuer.
    #[error("the ID token comes from another issuer")]
    WrongIssuer,
    /// `aud` does not contain our client id, or also names other audiences
    /// (which this client does not trust: OIDC Core §3.1.3.7 item 3).
    #[error("the ID token is for another client")]
    WrongAudience,
    /// `azp` is missing (several audiences) or not our client id.
    #[error("the ID token's authorized party is not this client")]
    WrongAuthorizedParty,
    /// `nonce` is not the one sent with the sign-in.
    #[error("the ID token's nonce does not match the sign-in")]
    NonceMismatch,
    /// A required claim is absent.
    #[error("the ID token lacks the {0} claim")]
    MissingClaim(String),
    /// A refreshed token names another user than the session's.
    #[error("the refreshed ID token is for another user")]
    SubjectChanged,
    /// A key in the JWKS could not be used.
    #[error("the issuer's signing key is unusable: {0}")]
    BadKey(String),
}

/// What the `nonce` claim must be.
#[derive(Clone, Copy, Debug)]
pub enum NonceCheck<'a> {
    /// Sign-in: exactly the nonce sent in the authorization request.
    Exact(&'a str),
    /// Refresh: absent, or the original sign-in nonce
    /// ([OIDC Core §12.2](https://openid.net/specs/openid-connect-core-1_0.html#RefreshTokenResponse)).
    AbsentOr(Option<&'a str>),
}

/// The claims of a validated ID token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdTokenClaims {
    /// `iss`.
    pub issuer: String,
    /// `sub`: the user id.
    pub subject: String,
    /// `iat` (seconds since the epoch).
    pub issued_at: u64,
    /// `exp` (seconds since the epoch).
    pub expires_at: u64,
    /// `nonce`, if any.
    pub nonce: Option<String>,
    /// `name` (or `given_name family_name`).
    pub name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `picture`.
    pub picture: Option<String>,
}

impl IdTokenClaims {
    /// The person these claims describe.
    pub fn user(&self) -> User {
        User {
            id: self.subject.clone(),
            name: self.name.clone(),
            email: self.email.clone(),
            picture: self.picture.clone(),
        }
    }

    pub(crate) fn to_token(&self, compact: &str) -> IdToken {
        IdToken::new(
            compact,
            UNIX_EPOCH + Duration::from_secs(self.issued_at),
            UNIX_EPOCH + Duration::from_secs(self.expires_at),
        )
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    exp: Option<u64>,
    iat: Option<u64>,
    azp: Option<String>,
    nonce: Option<String>,
    name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    picture: Option<String>,
}

struct Key {
    key: DecodingKey,
    alg: Option<Algorithm>,
}

/// Validates ID tokens against one issuer's key set. Pure and synchronous:
/// fetching and refetching the JWKS is the caller's business.
pub struct IdTokenValidator {
    issuer: String,
    client_id: String,
    algorithms: Vec<Algorithm>,
    keys: HashMap<String, Key>,
    leeway: Duration,
}

impl std::fmt::Debug for IdTokenValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenValidator")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("algorithms", &self.algorithms)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl IdTokenValidator {
    /// A validator for tokens from `issuer` (compared exactly) for
    /// `client_id`, accepting the algorithms in `offered` (discovery's
    /// `id_token_signing_alg_values_supported`; empty means RS256) that we
    /// support ([`SUPPORTED_ALGORITHMS`]), signed by a key of `jwks`.
    pub fn new(
        issuer: &str,
        client_id: &str,
        offered: &[String],
        jwks: &JwkSet,
        leeway: Duration,
    ) -> Result<Self, IdTokenError> {
        let algorithms = allowed_algorithms(offered);
        if algorithms.is_empty() {
            return Err(IdTokenError::DisallowedAlgorithm(offered.join(",")));
        }
        let mut v = IdTokenValidator {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            algorithms,
            keys: HashMap::new(),
            leeway,
        };
        v.set_keys(jwks);
        Ok(v)
    }

    /// Replaces the key set (after a refetch). Keys that are not for
    /// signature, have no `kid` or cannot be parsed are skipped.
    pub fn set_keys(&mut self, jwks: &JwkSet) {
        self.keys.clear();
        for jwk in &jwks.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            if matches!(
                jwk.common.public_key_use,
                Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
            ) {
                continue;
            }
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                self.keys.insert(kid, Key { key, alg });
            }
        }
    }

    /// Whether a key with this `kid` is known.
    pub fn has_key(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// The `kid` of a token's header, if it has one (no validation).
    pub fn kid_of(token: &str) -> Option<String> {
        jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid)
    }

    /// Validates `token` and returns its claims.
    pub fn validate(
        &self,
        token: &str,
        nonce: NonceCheck<'_>,
    ) -> Result<IdTokenClaims, IdTokenError> {
        let alg = self.header_algorithm(token)?;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| IdTokenError::Malformed(e.to_string()))?;
        let kid = header.kid.clone();
        let key = kid
            .as_deref()
            .and_then(|k| self.keys.get(k))
            .ok_or(IdTokenError::UnknownKey(kid.clone()))?;
        if key.alg.is_some_and(|a| a != alg) {
            return Err(IdTokenError::DisallowedAlgorithm(format!(
                "{alg:?} with a key for {:?}",
                key.alg
            )));
        }

        let mut validation = Validation::new(alg);
        validation.algorithms = vec![alg];
        validation.leeway = self.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<RawClaims>(token, &key.key, &validation)
            .map_err(map_jwt_error)?;
        let c = data.claims;

        // jsonwebtoken checked signature, exp, nbf, iss (set membership) and
        // aud; the rest is OpenID Connect's.
        let iss = c
            .iss
            .ok_or_else(|| IdTokenError::MissingClaim("iss".into()))?;
        if iss != self.issuer {
            return Err(IdTokenError::WrongIssuer);
        }
        let sub = c
            .sub
            .filter(|s| !s.is_empty())
            .ok_or_else(|| IdTokenError::MissingClaim("sub".into()))?;
        let audiences = match c.aud {
            Some(Audience::One(a)) => vec![a],
            Some(Audience::Many(v)) => v,
            None => return Err(IdTokenError::MissingClaim("aud".into())),
        };
        // Every audience must be us: a token also meant for another
        // party is one that party could replay here (OIDC Core §3.1.3.7
        // item 3: "not trusted by the Client").
        if audiences.is_empty() || audiences.iter().any(|a| a != &self.client_id) {
            return Err(IdTokenError::WrongAudience);
        }
        match c.azp.as_deref() {
            Some(azp) if azp != self.client_id => return Err(IdTokenError::WrongAuthorizedParty),
            None if audiences.len() > 1 => return Err(IdTokenError::WrongAuthorizedParty),
            _ => {}
        }
        let exp = c
            .exp
            .ok_or_else(|| IdTokenError::MissingClaim("exp".into()))?;
        let iat = c
            .iat
            .ok_or_else(|| IdTokenError::MissingClaim("iat".into()))?;
        let now = std::time::SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        if iat > now.saturating_add(self.leeway.as_secs()) {
            return Err(IdTokenError::IssuedInFuture);
        }
        match (nonce, c.nonce.as_deref()) {
            (NonceCheck::Exact(want), Some(got)) if want == got => {}
            (NonceCheck::Exact(_), _) => return Err(IdTokenError::NonceMismatch),
            (NonceCheck::AbsentOr(_), None) => {}
            (NonceCheck::AbsentOr(Some(want)), Some(got)) if want == got => {}
            (NonceCheck::AbsentOr(_), Some(_)) => return Err(IdTokenError::NonceMismatch),
        }
        let name = c.name.filter(|n| !n.is_empty()).or_else(|| {
            let joined = [c.given_name.as_deref(), c.family_name.as_deref()]
                .into_iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            (!joined.is_empty()).then_some(joined)
        });
        Ok(IdTokenClaims {
            issuer: iss,
            subject: sub,
            issued_at: iat,
            expires_at: exp,
            nonce: c.nonce,
            name,
            email: c.email,
            picture: c.picture,
        })
    }

    /// Reads `alg` from the header ourselves, so that `none` and HMAC are
    /// named in the error rather than lost in a parse failure.
    fn header_algorithm(&self, token: &str) -> Result<Algorithm, IdTokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(IdTokenError::Malformed("not three parts".into()));
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(h)
            .map_err(|_| IdTokenError::Malformed("header is not base64url".into()))?;
        #[derive(Deserialize)]
        struct H {
            alg: String,
        }
        let hdr: H = serde_json::from_slice(&bytes)
            .map_err(|_| IdTokenError::Malformed("header is not JSON".into()))?;
        let alg = match hdr.alg.as_str() {
            "RS256" => Algorithm::RS256,
            "EdDSA" => Algorithm::EdDSA,
            other => return Err(IdTokenError::DisallowedAlgorithm(other.to_owned())),
        };
        if !self.algorithms.contains(&alg) {
            return Err(IdTokenError::DisallowedAlgorithm(hdr.alg));
        }
        Ok(alg)
    }
}

fn allowed_algorithms(offered: &[String]) -> Vec<Algorithm> {
    if offered.is_empty() {
        return vec![Algorithm::RS256];
    }
    let mut out = Vec::new();
    for a in offered {
        match a.as_str() {
            "RS256" => out.push(Algorithm::RS256),
            "EdDSA" => out.push(Algorithm::EdDSA),
            _ => {}
        }
    }
    out
}

fn map_jwt_error(e: jsonwebtoken::errors::Error) -> IdTokenError {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::InvalidSignature => IdTokenError::BadSignature,
        K::ExpiredSignature => IdTokenError::Expired,
        K::ImmatureSignature => IdTokenError::NotYetValid,
        K::InvalidIssuer => IdTokenError::WrongIssuer,
        K::InvalidAudience => IdTokenError::WrongAudience,
        K::MissingRequiredClaim(c) => IdTokenError::MissingClaim(c.clone()),
        K::InvalidAlgorithm | K::MissingAlgorithm | K::InvalidAlgorithmName => {
            IdTokenError::DisallowedAlgorithm(e.to_string())
        }
        K::InvalidRsaKey(_) | K::InvalidEddsaKey | K::InvalidEcdsaKey | K::InvalidKeyFormat => {
            IdTokenError::BadKey(e.to_string())
        }
        _ => IdTokenError::Malformed(e.to_string()),
    }
}

#[cfg(test)]
#[path = "id_token_tests.rs"]
mod tests;
