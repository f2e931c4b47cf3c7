use openidconnect::core::CoreProviderMetadata;
use openidconnect::IssuerUrl;

use crate::util::Env;

#[tokio::test]
async fn discovery_documents_describe_the_issuer_and_openidconnect_accepts_them() {
    let env = Env::start().await;
    let issuer = env.clerk.issuer_url();
    assert_eq!(issuer, format!("http://127.0.0.1:{}", env.clerk.port()));

    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone()).unwrap(), &env.http)
            .await
            .expect("openidconnect accepts discovery and the JWKS");
    assert_eq!(metadata.issuer().as_str(), issuer);
    assert_eq!(metadata.jwks().keys().len(), 1);

    let oidc: serde_json::Value = env
        .http
        .get(env.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let oauth: serde_json::Value = env
        .http
        .get(env.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(oidc, oauth);
    assert_eq!(oidc["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(
        oidc["authorization_endpoint"],
        format!("{issuer}/oauth/authorize")
    );
    assert_eq!(
        oidc["userinfo_endpoint"],
        format!("{issuer}/oauth/userinfo")
    );
    assert_eq!(
        oidc["revocation_endpoint"],
        format!("{issuer}/oauth/token/revoke")
    );
    assert_eq!(
        oidc["introspection_endpoint"],
        format!("{issuer}/oauth/token_info")
    );
    assert_eq!(oidc["jwks_uri"], format!("{issuer}/.well-known/jwks.json"));
    assert_eq!(
        oidc["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        oidc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    for scope in ["openid", "profile", "email", "offline_access"] {
        assert!(
            oidc["scopes_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s == scope),
            "{scope}"
        );
    }

    let jwks: serde_json::Value = env
        .http
        .get(env.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    assert!(key.get("d").is_none(), "no private part in the JWKS");
}

#[tokio::test]
async fn rotated_keys_stay_published_and_old_tokens_still_verify() {
    let env = Env::start().await;
    let client = env.oidc(crate::util::REDIRECT).await;
    let (flow, tokens) = crate::util::sign_in_ada(&env, &client).await;
    let old_kid = crate::util::jwt_part(
        &openidconnect::TokenResponse::id_token(&tokens)
            .unwrap()
            .to_string(),
        0,
    )["kid"]
        .clone();

    let new_kid = env.clerk.rotate_key().await.unwrap();
    assert_ne!(serde_json::json!(new_kid), old_kid);
    // A client that discovers again sees both keys and still accepts the old token.
    let client = env.oidc(crate::util::REDIRECT).await;
    let id_token = openidconnect::TokenResponse::id_token(&tokens).unwrap();
    id_token
        .claims(&client.id_token_verifier(), &flow.nonce)
        .expect("old token verifies after rotation");

    let (_, fresh) = crate::util::sign_in_ada(&env, &client).await;
    let fresh_id = openidconnect::TokenResponse::id_token(&fresh)
        .unwrap()
        .to_string();
    assert_eq!(
        crate::util::jwt_part(&fresh_id, 0)["kid"],
        serde_json::json!(new_kid)
    );
    let jwks: serde_json::Value = env
        .http
        .get(env.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}
