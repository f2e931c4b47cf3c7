use dev_clerk::{demo, Config, DevClerk};
use openidconnect::{Nonce, OAuth2TokenResponse, TokenResponse};

use crate::util::{begin, param, sign_in_ada, Browser, Env, Page, REDIRECT};

#[tokio::test]
async fn a_restart_on_the_same_port_and_folder_keeps_grants_keys_and_sessions() {
    let env = Env::start().await;
    let port = env.clerk.port();
    let issuer = env.clerk.issuer_url();
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let refresh = client
        .exchange_refresh_token(tokens.refresh_token().unwrap())
        .unwrap()
        .request_async(&env.http)
        .await
        .unwrap()
        .refresh_token()
        .unwrap()
        .clone();
    let mut browser = Browser::default();
    browser
        .sign_in(
            &env.http,
            &issuer,
            &begin(&client).url,
            demo::GRACE_EMAIL,
            demo::PASSWORD,
        )
        .await;

    let Env { clerk, dir, http } = env;
    clerk.stop().await;
    assert!(
        http.get(format!("{issuer}/.well-known/jwks.json"))
            .send()
            .await
            .is_err(),
        "stopped"
    );

    let mut config = Config::for_tests(dir.path());
    config.port = port;
    let clerk = DevClerk::start(config)
        .await
        .expect("the port is free again");
    assert_eq!(clerk.issuer_url(), issuer);
    let env = Env { clerk, dir, http };

    // Discovery again: same key, so the refreshed ID token verifies.
    let client = env.oidc(REDIRECT).await;
    let next = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&env.http)
        .await
        .expect("the grant survived the restart");
    let claims = next
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), |_: Option<&Nonce>| {
            Ok::<(), String>(())
        })
        .unwrap();
    assert_eq!(claims.subject().as_str(), demo::ADA_ID);
    assert_eq!(env.clerk.grants().refresh_token, 1, "counts are per run");

    // The browser session survived too: no sign-in form, only the consent
    // page a loopback redirect always gets, and continuing issues a code.
    let Page::Consent {
        request,
        csrf,
        html,
    } = browser.open(&env.http, begin(&client).url.as_str()).await
    else {
        panic!("the session should survive the restart");
    };
    assert!(html.contains("Continue as Grace Hopper"));
    let Page::Redirect(callback) = browser
        .consent(
            &env.http,
            &env.clerk.issuer_url(),
            &request,
            &csrf,
            "continue",
        )
        .await
    else {
        panic!("continue should redirect");
    };
    assert!(param(&callback, "code").is_some());
}

#[tokio::test]
async fn state_files_are_private_and_hold_no_secrets() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let (_, tokens) = sign_in_ada(&env, &client).await;
    let refresh = tokens.refresh_token().unwrap().secret().clone();
    let Env { clerk, dir, .. } = env;
    clerk.stop().await;
    let state = std::fs::read_to_string(dir.path().join("state.json")).unwrap();
    assert!(state.contains(demo::ADA_ID));
    assert!(!state.contains(&refresh));
    #[cfg(unix)]
    for file in ["state.json", "keys.json"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}
