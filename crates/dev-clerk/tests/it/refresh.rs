use dev_clerk::{demo, GrantCounts, DEFAULT_CLIENT_ID};
use openidconnect::{Nonce, OAuth2TokenResponse, RefreshToken, TokenResponse};

use crate::util::{post_form, sign_in_ada, Env, REDIRECT};

fn no_nonce(_: Option<&Nonce>) -> Result<(), String> {
    Ok(())
}

#[tokio::test]
async fn every_refresh_returns_a_new_refresh_token_and_a_fresh_id_token() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let first_sid =
        crate::util::jwt_part(&tokens.id_token().unwrap().to_string(), 1)["sid"].clone();

    let mut refresh = tokens.refresh_token().unwrap().clone();
    let mut seen = vec![refresh.secret().clone()];
    for _ in 0..3 {
        let next = client
            .exchange_refresh_token(&refresh)
            .unwrap()
            .request_async(&env.http)
            .await
            .unwrap();
        let id_token = next.id_token().expect("refresh re-issues the ID token");
        let claims = id_token
            .claims(&client.id_token_verifier(), no_nonce)
            .unwrap();
        assert_eq!(claims.subject().as_str(), demo::ADA_ID);
        assert!(claims.nonce().is_none(), "no nonce on refresh");
        assert_eq!(
            crate::util::jwt_part(&id_token.to_string(), 1)["sid"],
            first_sid,
            "same session"
        );
        refresh = next
            .refresh_token()
            .expect("rotation: a new refresh token")
            .clone();
        assert!(
            !seen.contains(refresh.secret()),
            "each refresh token is new"
        );
        seen.push(refresh.secret().clone());
    }
    assert_eq!(
        env.clerk.grants(),
        GrantCounts {
            authorization_code: 1,
            refresh_token: 3,
            reused_refresh_tokens: 0
        }
    );
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_grant() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let r1 = tokens.refresh_token().unwrap().clone();
    let second = client
        .exchange_refresh_token(&r1)
        .unwrap()
        .request_async(&env.http)
        .await
        .unwrap();
    let r2 = second.refresh_token().unwrap().clone();
    let access2 = second.access_token().secret().clone();

    // An attacker (or a confused client) presents r1 again.
    let (status, body) = post_form(
        &env,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", r1.secret()),
            ("client_id", DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        env.clerk.grants().reused_refresh_tokens,
        1,
        "the handle counts the reuse"
    );

    // The legitimate holder's current token is dead too, and so is its access token.
    let err = client
        .exchange_refresh_token(&r2)
        .unwrap()
        .request_async(&env.http)
        .await
        .unwrap_err();
    assert!(format!("{err:?}").contains("invalid_grant"), "{err:?}");
    let info = env
        .http
        .get(env.url("/oauth/userinfo"))
        .bearer_auth(&access2)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
    assert_eq!(env.clerk.grants().refresh_token, 1);
    assert_eq!(env.clerk.active_grants(), 0);
}

#[tokio::test]
async fn refresh_tokens_belong_to_their_client_and_may_only_narrow_scope() {
    let env = Env::start_with(|c| {
        c.clients.push(dev_clerk::Client::public(
            "other-app",
            &["http://127.0.0.1/callback"],
        ));
    })
    .await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let r1 = tokens.refresh_token().unwrap().secret().clone();
    let (status, body) = post_form(
        &env,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("client_id", "other-app"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (status, body) = post_form(
        &env,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &r1),
            ("client_id", DEFAULT_CLIENT_ID),
            ("scope", "openid admin"),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope"))
    );
    // Neither attempt used the token up.
    let next = client
        .exchange_refresh_token(&RefreshToken::new(r1))
        .unwrap()
        .request_async(&env.http)
        .await
        .expect("the token still works");
    assert!(next.refresh_token().is_some());
}

#[tokio::test]
async fn expired_refresh_tokens_are_refused() {
    let env = Env::start_with(|c| c.refresh_token_ttl = std::time::Duration::from_secs(1)).await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    crate::util::sleep_past(1).await;
    let (status, body) = post_form(
        &env,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens.refresh_token().unwrap().secret()),
            ("client_id", DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error_description"], "the refresh token has expired");
}
