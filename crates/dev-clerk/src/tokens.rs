//! Minting and checking JWTs: the ID token (OpenID Connect Core section 2)
//! and the access token ([RFC 9068](https://www.rfc-editor.org/rfc/rfc9068), `typ: at+jwt`, no `aud`, as Clerk's).

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::config::User;
use crate::secret;
use crate::server::Shared;
use crate::store::{has_scope, Issued};

/// The tokens of one successful token response.
pub(crate) struct Minted {
    pub(crate) access_token: String,
    pub(crate) id_token: Option<String>,
    pub(crate) expires_in: u64,
}

/// The claims dev-clerk reads back from its own access tokens.
#[derive(Debug, Deserialize)]
pub(crate) struct AccessClaims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) sid: String,
    pub(crate) jti: String,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
}

impl AccessClaims {
    /// The grant an access token belongs to: its `jti` is `<grant id>.<random>`.
    pub(crate) fn grant_id(&self) -> &str {
        self.jti.split_once('.').map_or("", |(g, _)| g)
    }
}

/// Signs the access token and (with `openid`) the ID token for a grant.
pub(crate) fn mint(
    shared: &Shared,
    issued: &Issued,
    user: &User,
    now: u64,
) -> Result<Minted, String> {
    let config = &shared.config;
    let access_ttl = config.access_token_ttl.as_secs();
    let id_ttl = config.id_token_ttl.as_secs();
    let access_claims = json!({
        "iss": shared.issuer,
        "sub": issued.user_id,
        "client_id": issued.client_id,
        "scope": issued.scope,
        "sid": issued.session_id,
        "jti": format!("{}.{}", issued.grant_id, secret::random_token(16)),
        "iat": now,
        "nbf": now,
        "exp": now + access_ttl,
    });
    let mut id_claims = Map::new();
    if has_scope(&issued.scope, "openid") {
        id_claims.insert("iss".into(), json!(shared.issuer));
        id_claims.insert("sub".into(), json!(issued.user_id));
        id_claims.insert("aud".into(), json!(issued.client_id));
        id_claims.insert("azp".into(), json!(issued.client_id));
        id_claims.insert("exp".into(), json!(now + id_ttl));
        id_claims.insert("iat".into(), json!(now));
        id_claims.insert("nbf".into(), json!(now));
        id_claims.insert("auth_time".into(), json!(issued.auth_time));
        id_claims.insert(
            "jti".into(),
            json!(format!("idt_{}", secret::random_token(16))),
        );
        id_claims.insert("sid".into(), json!(issued.session_id));
        if let Some(nonce) = &issued.nonce {
            id_claims.insert("nonce".into(), json!(nonce));
        }
        id_claims.extend(profile_claims(shared, user, &issued.scope));
    }

    let keys = shared.keys.read().unwrap_or_else(|p| p.into_inner());
    let key = keys.active();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    header.typ = Some("at+jwt".to_string());
    let access_token =
        jsonwebtoken::encode(&header, &access_claims, &key.encoding).map_err(|e| e.to_string())?;
    let id_token = if id_claims.is_empty() {
        None
    } else {
        header.typ = Some("JWT".to_string());
        Some(
            jsonwebtoken::encode(&header, &Value::Object(id_claims), &key.encoding)
                .map_err(|e| e.to_string())?,
        )
    };
    Ok(Minted {
        access_token,
        id_token,
        expires_in: access_ttl,
    })
}

/// The claims the `profile` and `email` scopes release (ID token and userinfo).
pub(crate) fn profile_claims(shared: &Shared, user: &User, scope: &str) -> Map<String, Value> {
    let mut claims = Map::new();
    if has_scope(scope, "profile") {
        claims.insert("name".into(), json!(user.full_name()));
        claims.insert("given_name".into(), json!(user.first_name));
        claims.insert("family_name".into(), json!(user.last_name));
        claims.insert(
            "picture".into(),
            json!(format!("{}/avatars/{}.svg", shared.issuer, user.id)),
        );
        claims.insert("updated_at".into(), json!(user.updated_at));
    }
    if has_scope(scope, "email") {
        claims.insert("email".into(), json!(user.email));
        claims.insert("email_verified".into(), json!(true));
    }
    claims
}

/// Checks one of dev-clerk's access tokens: signature by a published key,
/// `typ`, issuer, expiry (no leeway), and that its grant is still alive.
pub(crate) fn verify_access_token(
    shared: &Shared,
    token: &str,
) -> Result<AccessClaims, &'static str> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| "the access token is malformed")?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err("not an access token (typ is not at+jwt)");
    }
    let kid = header.kid.ok_or("the access token has no kid")?;
    let claims = {
        let keys = shared.keys.read().unwrap_or_else(|p| p.into_inner());
        let key = keys
            .find(&kid)
            .ok_or("the access token was signed by an unknown key")?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_issuer(&[&shared.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => "the access token has expired",
                _ => "the access token is invalid",
            })?
            .claims
    };
    if !shared
        .store
        .access_token_active(claims.grant_id(), &claims.jti)
    {
        return Err("the access token has been revoked");
    }
    Ok(claims)
}
