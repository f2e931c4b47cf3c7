use dev_clerk::DEFAULT_CLIENT_ID;
use openidconnect::core::CoreRevocableToken;
use openidconnect::{OAuth2TokenResponse, RevocationUrl};

use crate::util::{post_form, sign_in_ada, Env, REDIRECT};

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_grant() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let refresh = tokens.refresh_token().unwrap().clone();
    // openidconnect builds the RFC 7009 request but refuses to send it over
    // plain HTTP (InsecureUrl), so the request is posted as it would send it.
    let revoker = client
        .clone()
        .set_revocation_url(RevocationUrl::new(env.url("/oauth/token/revoke")).unwrap());
    let refused = revoker.revoke_token(CoreRevocableToken::RefreshToken(refresh.clone()));
    assert!(matches!(
        refused,
        Err(openidconnect::ConfigurationError::InsecureUrl(_))
    ));
    let (status, _) = post_form(
        &env,
        "/oauth/token/revoke",
        &[
            ("token", refresh.secret()),
            ("token_type_hint", "refresh_token"),
            ("client_id", DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let err = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&env.http)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invalid_grant"));
    let info = env
        .http
        .get(env.url("/oauth/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401, "the grant's access token is dead too");
}

#[tokio::test]
async fn revoking_unknown_tokens_answers_200_and_access_tokens_can_be_revoked_alone() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let (status, _) = post_form(
        &env,
        "/oauth/token/revoke",
        &[("token", "never-issued"), ("client_id", DEFAULT_CLIENT_ID)],
    )
    .await;
    assert_eq!(status, 200);

    let access = tokens.access_token().secret();
    let (status, _) = post_form(
        &env,
        "/oauth/token/revoke",
        &[
            ("token", access),
            ("token_type_hint", "access_token"),
            ("client_id", DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let info = env
        .http
        .get(env.url("/oauth/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
    // The refresh token (and so the grant) is unaffected.
    client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&env.http)
        .await
        .expect("refresh still works");

    let (status, body) = post_form(
        &env,
        "/oauth/token/revoke",
        &[("client_id", DEFAULT_CLIENT_ID)],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = post_form(
        &env,
        "/oauth/token/revoke",
        &[("token", "x"), ("client_id", "nobody")],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
}

#[tokio::test]
async fn introspection_reports_live_tokens_and_only_those() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let access = tokens.access_token().secret();
    let refresh = tokens.refresh_token().unwrap().secret();

    let (status, body) = post_form(
        &env,
        "/oauth/token_info",
        &[("token", access), ("client_id", DEFAULT_CLIENT_ID)],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "access_token");
    assert_eq!(body["sub"], dev_clerk::demo::ADA_ID);
    assert_eq!(body["client_id"], DEFAULT_CLIENT_ID);

    let (_, body) = post_form(
        &env,
        "/oauth/token_info",
        &[("token", refresh), ("client_id", DEFAULT_CLIENT_ID)],
    )
    .await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");

    let (_, body) = post_form(
        &env,
        "/oauth/token_info",
        &[("token", "garbage"), ("client_id", DEFAULT_CLIENT_ID)],
    )
    .await;
    assert_eq!(body, serde_json::json!({"active": false}));

    // After a rotation the old refresh token is no longer active.
    client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&env.http)
        .await
        .unwrap();
    let (_, body) = post_form(
        &env,
        "/oauth/token_info",
        &[("token", refresh), ("client_id", DEFAULT_CLIENT_ID)],
    )
    .await;
    assert_eq!(body["active"], false);
}
