use dev_clerk::{demo, GrantCounts, DEFAULT_CLIENT_ID};
use openidconnect::{OAuth2TokenResponse, TokenResponse};

use crate::util::{jwt_part, sign_in_ada, Env, REDIRECT};

#[tokio::test]
async fn code_flow_with_pkce_gives_tokens_that_verify_against_the_jwks() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (flow, tokens) = sign_in_ada(&env, &client).await;

    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&client.id_token_verifier(), &flow.nonce)
        .expect("signature, iss, aud, exp and nonce check out");
    assert_eq!(claims.subject().as_str(), demo::ADA_ID);
    assert_eq!(claims.issuer().as_str(), env.clerk.issuer_url());
    assert_eq!(claims.audiences().len(), 1);
    assert_eq!(claims.audiences()[0].as_str(), DEFAULT_CLIENT_ID);
    assert_eq!(claims.email().unwrap().as_str(), demo::ADA_EMAIL);
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(
        claims.name().unwrap().get(None).unwrap().as_str(),
        "Ada Lovelace"
    );
    assert_eq!(
        claims.given_name().unwrap().get(None).unwrap().as_str(),
        "Ada"
    );
    assert_eq!(
        claims.family_name().unwrap().get(None).unwrap().as_str(),
        "Lovelace"
    );

    let raw = jwt_part(&id_token.to_string(), 1);
    for claim in ["iat", "nbf", "exp", "jti", "sid", "updated_at"] {
        assert!(raw.get(claim).is_some(), "ID token lacks {claim}");
    }
    let header = jwt_part(&id_token.to_string(), 0);
    assert_eq!(header["alg"], "RS256");
    assert!(header["kid"].is_string());

    // The picture is served by dev-clerk itself.
    let picture = claims
        .picture()
        .unwrap()
        .get(None)
        .unwrap()
        .as_str()
        .to_string();
    assert_eq!(
        picture,
        format!("{}/avatars/{}.svg", env.clerk.issuer_url(), demo::ADA_ID)
    );
    let avatar = env.http.get(&picture).send().await.unwrap();
    assert_eq!(avatar.headers()["content-type"], "image/svg+xml");
    assert!(avatar.text().await.unwrap().contains(">AL<"));

    // The access token is a JWT of type at+jwt without aud (as Clerk's).
    let access = tokens.access_token().secret();
    let header = jwt_part(access, 0);
    assert_eq!(header["typ"], "at+jwt");
    let at = jwt_part(access, 1);
    assert_eq!(at["sub"], demo::ADA_ID);
    assert_eq!(at["client_id"], DEFAULT_CLIENT_ID);
    assert!(at.get("aud").is_none());
    assert_eq!(at["sid"], raw["sid"]);
    for claim in ["scope", "jti", "iat", "exp"] {
        assert!(at.get(claim).is_some(), "access token lacks {claim}");
    }
    assert!(
        tokens.refresh_token().is_some(),
        "offline_access gives a refresh token"
    );
    assert_eq!(tokens.expires_in().unwrap().as_secs(), 86_400);
    assert_eq!(
        env.clerk.grants(),
        GrantCounts {
            authorization_code: 1,
            refresh_token: 0,
            reused_refresh_tokens: 0
        }
    );
}

#[tokio::test]
async fn token_responses_are_not_cacheable_and_say_bearer() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let flow = crate::util::begin(&client);
    let mut browser = crate::util::Browser::default();
    let callback = browser
        .sign_in(
            &env.http,
            &env.clerk.issuer_url(),
            &flow.url,
            demo::GRACE_EMAIL,
            demo::PASSWORD,
        )
        .await;
    assert_eq!(
        crate::util::param(&callback, "iss"),
        Some(env.clerk.issuer_url())
    );
    let code = crate::util::param(&callback, "code").unwrap();
    let resp = env
        .http
        .post(env.url("/oauth/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", DEFAULT_CLIENT_ID),
            ("code_verifier", flow.verifier.secret()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid profile email offline_access");
    assert_eq!(
        jwt_part(body["id_token"].as_str().unwrap(), 1)["sub"],
        demo::GRACE_ID
    );
}

#[tokio::test]
async fn without_offline_access_there_is_no_refresh_token_and_without_openid_no_id_token() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (challenge, verifier) = openidconnect::PkceCodeChallenge::new_random_sha256();
    let mut url = url::Url::parse(&env.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", DEFAULT_CLIENT_ID)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("response_type", "code")
        .append_pair("scope", "profile email")
        .append_pair("state", "state-without-openid")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256");
    let mut browser = crate::util::Browser::default();
    let callback = browser
        .sign_in(
            &env.http,
            &env.clerk.issuer_url(),
            &url,
            demo::ADA_EMAIL,
            demo::PASSWORD,
        )
        .await;
    let code = crate::util::param(&callback, "code").unwrap();
    let tokens = client
        .exchange_code(openidconnect::AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&env.http)
        .await
        .unwrap();
    assert!(tokens.refresh_token().is_none());
    assert!(tokens.id_token().is_none());
}
