use std::time::Duration;

use dev_clerk::demo;
use openidconnect::core::CoreUserInfoClaims;
use openidconnect::{OAuth2TokenResponse, TokenResponse};

use crate::util::{sign_in_ada, Env, REDIRECT};

#[tokio::test]
async fn userinfo_returns_the_profile_for_a_valid_access_token() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (flow, tokens) = sign_in_ada(&env, &client).await;
    let subject = tokens
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &flow.nonce)
        .unwrap()
        .subject()
        .clone();
    let info: CoreUserInfoClaims = client
        .user_info(tokens.access_token().clone(), Some(subject))
        .unwrap()
        .request_async(&env.http)
        .await
        .expect("userinfo through openidconnect");
    assert_eq!(info.subject().as_str(), demo::ADA_ID);
    assert_eq!(info.email().unwrap().as_str(), demo::ADA_EMAIL);
    assert_eq!(
        info.name().unwrap().get(None).unwrap().as_str(),
        "Ada Lovelace"
    );

    let post = env
        .http
        .post(env.url("/oauth/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200, "POST works too");
}

#[tokio::test]
async fn userinfo_refuses_missing_forged_and_id_tokens() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let none = env
        .http
        .get(env.url("/oauth/userinfo"))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));

    let id_token = tokens.id_token().unwrap().to_string();
    let access = tokens.access_token().secret().clone();
    let mut forged = access.clone();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    for (token, why) in [
        ("garbage", "malformed"),
        (id_token.as_str(), "typ"),
        (forged.as_str(), "invalid"),
    ] {
        let resp = env
            .http
            .get(env.url("/oauth/userinfo"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{why}");
        let challenge = resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            challenge.contains("invalid_token") && challenge.contains(why),
            "{challenge}"
        );
    }
}

#[tokio::test]
async fn expired_access_tokens_are_refused() {
    let env = Env::start_with(|c| c.access_token_ttl = Duration::from_secs(1)).await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    assert_eq!(tokens.expires_in().unwrap().as_secs(), 1);
    crate::util::sleep_past(1).await;
    let resp = env
        .http
        .get(env.url("/oauth/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("expired"));
}
