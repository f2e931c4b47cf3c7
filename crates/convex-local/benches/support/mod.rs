//! What both benches need: a test issuer serving the fixed RS256 test key
//! (discovery + JWKS) and ID tokens signed with it.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

fn keys() -> Value {
    serde_json::from_str(include_str!("../../tests/fixtures/test-keys.json")).unwrap()
}

/// A test issuer: discovery + JWKS with the fixed test key.
pub(crate) async fn issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (u, jwk) = (url.clone(), keys()["rsa_a"]["jwk"].clone());
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || {
                let u = u.clone();
                async move { Json(json!({"issuer": u, "jwks_uri": format!("{u}/jwks")})) }
            }),
        )
        .route(
            "/jwks",
            get(move || {
                let jwk = jwk.clone();
                async move { Json(json!({"keys": [jwk]})) }
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

pub(crate) fn token(iss: &str, sub: &str) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some("rsa_a".into());
    let key =
        EncodingKey::from_rsa_pem(keys()["rsa_a"]["private_pem"].as_str().unwrap().as_bytes())
            .unwrap();
    let claims = json!({"iss": iss, "sub": sub, "aud": "courier-desktop", "iat": now, "exp": now + 3600, "name": "Bench"});
    jsonwebtoken::encode(&h, &claims, &key).unwrap()
}
