//! Discovery: OpenID Connect Discovery 1.0 and
//! [RFC 8414](https://www.rfc-editor.org/rfc/rfc8414) metadata, and the JWKS.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::server::Shared;

/// The scopes dev-clerk knows (Clerk's OAuth scopes that matter here).
pub(crate) const SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// `GET /.well-known/openid-configuration` (and `/.well-known/oauth-authorization-server`).
pub(crate) async fn openid_configuration(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let i = &shared.issuer;
    let body = json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/oauth/authorize"),
        "token_endpoint": format!("{i}/oauth/token"),
        "userinfo_endpoint": format!("{i}/oauth/userinfo"),
        "jwks_uri": format!("{i}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{i}/oauth/token/revoke"),
        "introspection_endpoint": format!("{i}/oauth/token_info"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": SCOPES,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "nonce", "auth_time", "azp",
            "name", "given_name", "family_name", "picture", "updated_at", "email", "email_verified"
        ],
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
    });
    ([(header::CACHE_CONTROL, "public, max-age=60")], Json(body))
}

/// `GET /.well-known/jwks.json`: the signing key and retired keys in their grace period.
pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let body = shared.keys.read().unwrap_or_else(|p| p.into_inner()).jwks();
    ([(header::CACHE_CONTROL, "public, max-age=60")], Json(body))
}
