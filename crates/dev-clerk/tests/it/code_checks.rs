use dev_clerk::{demo, DEFAULT_CLIENT_ID};
use openidconnect::{AuthorizationCode, OAuth2TokenResponse, PkceCodeVerifier};

use crate::util::{begin, param, post_form, Browser, Env, REDIRECT};

async fn code_for_ada(env: &Env, client: &crate::util::Oidc) -> (String, String) {
    let flow = begin(client);
    let callback = Browser::default()
        .sign_in(
            &env.http,
            &env.clerk.issuer_url(),
            &flow.url,
            demo::ADA_EMAIL,
            demo::PASSWORD,
        )
        .await;
    (
        param(&callback, "code").unwrap(),
        flow.verifier.secret().clone(),
    )
}

#[tokio::test]
async fn a_replayed_code_fails_and_revokes_what_it_issued() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (code, verifier) = code_for_ada(&env, &client).await;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.clone()))
        .request_async(&env.http)
        .await
        .unwrap();

    let replay = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&env.http)
        .await
        .unwrap_err();
    assert!(
        format!("{replay:?}").contains("invalid_grant"),
        "{replay:?}"
    );

    let refresh = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&env.http)
        .await
        .unwrap_err();
    assert!(
        format!("{refresh:?}").contains("invalid_grant"),
        "{refresh:?}"
    );
    let info = env
        .http
        .get(env.url("/oauth/userinfo"))
        .bearer_auth(tokens.access_token().secret())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 401);
    assert_eq!(env.clerk.grants().authorization_code, 1);
}

#[tokio::test]
async fn a_wrong_or_missing_verifier_is_refused_and_leaves_the_code_usable() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (code, verifier) = code_for_ada(&env, &client).await;
    let wrong = PkceCodeVerifier::new("w".repeat(64));
    let err = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .unwrap()
        .set_pkce_verifier(wrong)
        .request_async(&env.http)
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("code_verifier does not match"),
        "{err:?}"
    );

    let base = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("client_id", DEFAULT_CLIENT_ID),
    ];
    let (status, body) = post_form(&env, "/oauth/token", &base).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert_eq!(
        body["error_description"],
        "code_verifier is required (PKCE)"
    );

    let mut malformed = base.to_vec();
    malformed.push(("code_verifier", "short"));
    let (status, body) = post_form(&env, "/oauth/token", &malformed).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );

    let mut other_redirect = base.to_vec();
    other_redirect[2] = ("redirect_uri", "http://127.0.0.1:9/callback");
    other_redirect.push(("code_verifier", verifier.as_str()));
    let (status, body) = post_form(&env, "/oauth/token", &other_redirect).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    assert_eq!(env.clerk.grants().authorization_code, 0);
    client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&env.http)
        .await
        .expect("the right verifier still redeems the code");
}

#[tokio::test]
async fn codes_expire() {
    let env = Env::start_with(|c| c.code_ttl = std::time::Duration::from_secs(1)).await;
    let client = env.oidc(REDIRECT).await;
    let (code, verifier) = code_for_ada(&env, &client).await;
    crate::util::sleep_past(1).await;
    let (status, body) = post_form(
        &env,
        "/oauth/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", DEFAULT_CLIENT_ID),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
}
