use std::time::{Duration, Instant};

use dev_clerk::{demo, TokenFault, DEFAULT_CLIENT_ID};
use openidconnect::OAuth2TokenResponse;

use crate::util::{post_form, sign_in_ada, Env, REDIRECT};

#[tokio::test]
async fn token_faults_make_the_endpoint_fail_or_stall_then_recover() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", DEFAULT_CLIENT_ID),
    ];

    env.clerk.set_token_fault(TokenFault::Unavailable);
    let (status, body) = post_form(&env, "/oauth/token", &form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("temporarily_unavailable"))
    );
    assert_eq!(env.clerk.grants().refresh_token, 0);

    env.clerk
        .set_token_fault(TokenFault::Stall(Duration::from_millis(600)));
    let started = Instant::now();
    let (status, body) = post_form(&env, "/oauth/token", &form).await;
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(
        status, 200,
        "the failed attempt did not use the token up: {body}"
    );

    env.clerk.set_token_fault(TokenFault::None);
    let (status, _) = post_form(
        &env,
        "/oauth/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
            ("client_id", DEFAULT_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(env.clerk.grants().refresh_token, 2);
}

#[tokio::test]
async fn ending_a_users_grants_stops_their_refresh_and_access_tokens() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, a) = sign_in_ada(&env, &client).await;
    let (_, b) = sign_in_ada(&env, &client).await;
    assert_eq!(env.clerk.end_user_grants(demo::GRACE_ID), 0);
    assert_eq!(env.clerk.end_user_grants(demo::ADA_ID), 2);
    for tokens in [a, b] {
        let err = client
            .exchange_refresh_token(tokens.refresh_token().unwrap())
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
        assert_eq!(info.status(), 401);
    }
}

#[tokio::test]
async fn concurrent_refreshes_of_one_token_leave_exactly_one_winner() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (http, url, refresh) = (env.http.clone(), env.url("/oauth/token"), refresh.clone());
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .form(&[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                    ("client_id", DEFAULT_CLIENT_ID),
                ])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses,
        vec![200, 400, 400, 400],
        "one rotation, then reuse detection"
    );
    assert_eq!(env.clerk.grants().refresh_token, 1);
    assert_eq!(env.clerk.active_grants(), 0, "reuse revoked the grant");
}
