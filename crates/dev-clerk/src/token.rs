//! The token endpoint ([RFC 6749 section 3.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.2)),
//! userinfo (OpenID Connect Core section 5.3), revocation
//! ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)) and introspection
//! ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662)).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::config::Client;
use crate::form::{read_form, BodyError, Params};
use crate::oauth_error::OAuthError;
use crate::secret;
use crate::server::{now, Shared, TokenFault};
use crate::store::Issued;
use crate::tokens::{self, verify_access_token};

fn body_error(e: BodyError) -> OAuthError {
    match e {
        BodyError::TooLarge => OAuthError::too_large(crate::server::MAX_BODY),
        other => OAuthError::invalid_request(other.describe()),
    }
}

/// Authenticates the client of a token, revocation or introspection request:
/// public clients by `client_id`, confidential ones by `client_secret_basic`
/// or `client_secret_post` (RFC 6749 section 2.3.1).
fn authenticate<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    p: &Params,
) -> Result<&'a Client, OAuthError> {
    let basic = match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(value) if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") => {
            let decoded = STANDARD
                .decode(value[6..].trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    OAuthError::invalid_request("malformed Basic authorization header")
                })?;
            let (id, secret) = decoded.split_once(':').ok_or_else(|| {
                OAuthError::invalid_request("malformed Basic authorization header")
            })?;
            let unescape = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((unescape(id), unescape(secret)))
        }
        _ => None,
    };
    if basic.is_some() && p.get("client_secret").is_some() {
        return Err(OAuthError::invalid_request(
            "use one client authentication method, not two",
        ));
    }
    let (client_id, secret, via_basic) = match &basic {
        Some((id, secret)) => {
            if p.get("client_id").is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            (id.as_str(), Some(secret.as_str()), true)
        }
        None => match p.get("client_id") {
            Some(id) => (id, p.get("client_secret"), false),
            None => return Err(OAuthError::invalid_client("client_id is required")),
        },
    };
    let challenge = |e: OAuthError| {
        if via_basic {
            e.with_challenge("Basic realm=\"dev-clerk\"")
        } else {
            e
        }
    };
    let Some(client) = shared.client(client_id) else {
        return Err(challenge(OAuthError::invalid_client("unknown client")));
    };
    match (&client.secret, secret) {
        (None, None) => Ok(client),
        (None, Some("")) => Ok(client),
        (None, Some(_)) => Err(challenge(OAuthError::invalid_client(
            "this public client has no secret",
        ))),
        (Some(_), None) => Err(challenge(OAuthError::invalid_client(
            "client authentication is required",
        ))),
        (Some(expected), Some(given)) => {
            if secret::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
                Ok(client)
            } else {
                Err(challenge(OAuthError::invalid_client(
                    "client authentication failed",
                )))
            }
        }
    }
}

fn no_store(value: Value) -> Response {
    let mut response = Json(value).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// `POST /oauth/token`.
pub(crate) async fn token_issue(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match shared.fault() {
        TokenFault::None => {}
        TokenFault::Unavailable => return OAuthError::temporarily_unavailable().into_response(),
        TokenFault::Stall(d) => tokio::time::sleep(d).await,
    }
    match token_inner(&shared, &headers, body).await {
        Ok(response) => response,
        Err(e) => {
            tracing::info!(error = e.code, description = %e.description, "token request refused");
            shared.mark_changed();
            e.into_response()
        }
    }
}

async fn token_inner(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    let p = read_form(headers, body).await.map_err(body_error)?;
    token_grant(shared, headers, &p)
}

/// The token request once its body is read: client authentication, then the grant.
pub(crate) fn token_grant(
    shared: &Shared,
    headers: &HeaderMap,
    p: &Params,
) -> Result<Response, OAuthError> {
    if let Some(name) = p.first_repeated() {
        return Err(OAuthError::invalid_request(format!(
            "parameter {name} appears more than once"
        )));
    }
    let client = authenticate(shared, headers, p)?;
    let now = now();
    let refresh_ttl = shared.config.refresh_token_ttl.as_secs();
    let (issued, counter) = match p.get("grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is required")),
        Some("authorization_code") => {
            let code = p
                .get("code")
                .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
            let issued = shared.store.redeem_code(
                code,
                &client.id,
                p.get("redirect_uri"),
                p.get("code_verifier"),
                refresh_ttl,
                now,
            )?;
            (issued, &shared.code_grants)
        }
        Some("refresh_token") => {
            let token = p
                .get("refresh_token")
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
            let issued =
                shared
                    .store
                    .refresh(token, &client.id, p.get("scope"), refresh_ttl, now)?;
            (issued, &shared.refresh_grants)
        }
        Some(other) => {
            return Err(
                if ["client_credentials", "password", "implicit"].contains(&other)
                    || other.starts_with("urn:")
                {
                    OAuthError::unsupported_grant_type(format!(
                        "grant_type {other} is not supported"
                    ))
                } else {
                    OAuthError::unsupported_grant_type(format!("unknown grant_type {other:?}"))
                },
            )
        }
    };
    let grant_type = p.get("grant_type").unwrap_or_default();
    let response = respond(shared, &issued, now)?;
    counter.fetch_add(1, Ordering::SeqCst);
    shared.mark_changed();
    tracing::info!(grant_type, client_id = %issued.client_id, user_id = %issued.user_id, "tokens issued");
    Ok(response)
}

fn respond(shared: &Shared, issued: &Issued, now: u64) -> Result<Response, OAuthError> {
    let Some(user) = shared.user(&issued.user_id) else {
        shared.store.end_user_grants(&issued.user_id);
        return Err(OAuthError::invalid_grant("the user no longer exists"));
    };
    let minted = tokens::mint(shared, issued, user, now).map_err(|e| {
        tracing::error!(error = %e, "signing failed");
        OAuthError::invalid_request("the server could not sign the tokens")
    })?;
    shared
        .store
        .note_access_token(&issued.grant_id, now + minted.expires_in);
    let mut body = json!({
        "access_token": minted.access_token,
        "token_type": "Bearer",
        "expires_in": minted.expires_in,
        "scope": issued.scope,
    });
    if let Some(id_token) = minted.id_token {
        body["id_token"] = json!(id_token);
    }
    if let Some(refresh) = &issued.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    Ok(no_store(body))
}

/// `GET|POST /oauth/userinfo` with `Authorization: Bearer <access token>`.
pub(crate) async fn userinfo_get(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim())
        });
    let Some(token) = token else {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Json(json!({
                "error": "invalid_request", "error_description": "a Bearer access token is required"
            })),
        )
            .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"dev-clerk\""),
        );
        return response;
    };
    let claims = match verify_access_token(&shared, token) {
        Ok(c) => c,
        Err(why) => return OAuthError::invalid_token(why).into_response(),
    };
    let Some(user) = shared.user(&claims.sub) else {
        return OAuthError::invalid_token("the user no longer exists").into_response();
    };
    let mut body = tokens::profile_claims(&shared, user, &claims.scope);
    body.insert("sub".into(), json!(user.id));
    no_store(Value::Object(body))
}

/// `POST /oauth/token/revoke`: 200 whatever the token, as RFC 7009 section 2.2 says.
pub(crate) async fn token_revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result: Result<(), OAuthError> = async {
        let p = read_form(&headers, body).await.map_err(body_error)?;
        if let Some(name) = p.first_repeated() {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} appears more than once"
            )));
        }
        let client = authenticate(&shared, &headers, &p)?;
        let token = p
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        match p.get("token_type_hint") {
            None | Some("access_token") | Some("refresh_token") => {}
            Some(other) => {
                return Err(OAuthError::unsupported_token_type(format!(
                    "token_type_hint {other:?} is not supported"
                )))
            }
        }
        if shared.store.revoke_refresh_token(token, &client.id) {
            tracing::info!(client_id = %client.id, "refresh token revoked; grant ended");
        } else if let Ok(claims) = verify_access_token(&shared, token) {
            if claims.client_id == client.id {
                shared
                    .store
                    .revoke_access_token(claims.grant_id(), &claims.jti, claims.exp);
                tracing::info!(client_id = %client.id, "access token revoked");
            }
        }
        shared.mark_changed();
        Ok(())
    }
    .await;
    match result {
        Ok(()) => no_store(json!({})),
        Err(e) => e.into_response(),
    }
}

/// `POST /oauth/token_info`: RFC 7662 introspection, for the client's own tokens.
pub(crate) async fn token_introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result: Result<Value, OAuthError> = async {
        let p = read_form(&headers, body).await.map_err(body_error)?;
        let client = authenticate(&shared, &headers, &p)?;
        let token = p
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        if let Ok(c) = verify_access_token(&shared, token) {
            if c.client_id == client.id {
                return Ok(json!({
                    "active": true, "token_type": "access_token", "client_id": c.client_id,
                    "sub": c.sub, "scope": c.scope, "sid": c.sid, "jti": c.jti,
                    "iat": c.iat, "exp": c.exp, "iss": c.iss,
                }));
            }
        }
        if let Some(r) = shared.store.refresh_info(token, now()) {
            if r.client_id == client.id {
                return Ok(json!({
                    "active": true, "token_type": "refresh_token", "client_id": r.client_id,
                    "sub": r.user_id, "scope": r.scope, "sid": r.session_id,
                    "iat": r.issued_at, "exp": r.expires_at, "iss": shared.issuer,
                }));
            }
        }
        Ok(json!({ "active": false }))
    }
    .await;
    match result {
        Ok(v) => no_store(v),
        Err(e) => e.into_response(),
    }
}
