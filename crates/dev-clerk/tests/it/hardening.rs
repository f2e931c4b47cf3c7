//! Consent for signed-in browsers (RFC 8252 section 8.6), CSRF tokens on
//! every form, the Host check against DNS rebinding, and the per-account
//! limit on failed passwords.

use dev_clerk::{demo, Client, GrantCounts};
use openidconnect::{AuthorizationCode, PkceCodeVerifier, TokenResponse};
use reqwest::header;

use crate::util::{begin, hidden, param, Browser, Env, Flow, Oidc, Page, REDIRECT};

/// Exchanges the code of `callback` and returns the ID token's subject.
async fn subject_of(env: &Env, client: &Oidc, flow: &Flow, callback: &url::Url) -> String {
    let code = param(callback, "code").expect("a code");
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.secret().clone()))
        .request_async(&env.http)
        .await
        .unwrap();
    let claims = tokens
        .id_token()
        .unwrap()
        .claims(&client.id_token_verifier(), &flow.nonce)
        .unwrap();
    claims.subject().to_string()
}

async fn signed_in_browser(env: &Env, client: &Oidc, email: &str) -> Browser {
    let mut browser = Browser::default();
    browser
        .sign_in(
            &env.http,
            &env.clerk.issuer_url(),
            &begin(client).url,
            email,
            demo::PASSWORD,
        )
        .await;
    browser
}

#[tokio::test]
async fn the_session_cookie_lasts_one_day() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let Page::Form { request, csrf, .. } = Browser::default()
        .open(&env.http, begin(&client).url.as_str())
        .await
    else {
        panic!("no form")
    };
    let resp = env
        .http
        .post(env.url("/sign-in"))
        .form(&[
            ("request", request.as_str()),
            ("csrf", csrf.as_str()),
            ("email", demo::ADA_EMAIL),
            ("password", demo::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(cookie.contains("Max-Age=86400"), "{cookie}");
    assert!(!cookie.contains("2592000"), "{cookie}");
}

#[tokio::test]
async fn a_signed_in_browser_must_consent_before_a_loopback_code() {
    let env = Env::start().await;
    let issuer = env.clerk.issuer_url();
    let client = env.oidc(REDIRECT).await;
    let browser = signed_in_browser(&env, &client, demo::ADA_EMAIL).await;
    let codes_before = env.clerk.grants();

    let flow = begin(&client);
    let Page::Consent {
        html,
        request,
        csrf,
    } = browser.open(&env.http, flow.url.as_str()).await
    else {
        panic!("a signed-in browser must see the consent page, not get a code");
    };
    assert!(html.contains(r#"<form id="consent-form" method="post" action="/consent">"#));
    assert!(html.contains(
        r#"<button type="submit" name="action" value="continue">Continue as Ada Lovelace</button>"#
    ));
    assert!(
        html.contains(r#"name="action" value="switch""#) && html.contains("Use another account")
    );
    assert!(html.contains(r#"name="csrf" value=""#));

    // Nothing is issued without the right token, or from another browser.
    for (who, token) in [("no token", ""), ("wrong token", "x".repeat(43).as_str())] {
        let page = browser
            .consent(&env.http, &issuer, &request, token, "continue")
            .await;
        let Page::Other(400, _) = page else {
            panic!("{who}: consent accepted")
        };
    }
    let Page::Other(400, _) = Browser::default()
        .consent(&env.http, &issuer, &request, &csrf, "continue")
        .await
    else {
        panic!("a browser without the session must not continue it")
    };
    let Page::Other(400, _) = browser
        .consent(&env.http, &issuer, &request, &csrf, "steal")
        .await
    else {
        panic!("an unknown action must be refused")
    };
    assert_eq!(env.clerk.grants(), codes_before);

    let Page::Redirect(callback) = browser
        .consent(&env.http, &issuer, &request, &csrf, "continue")
        .await
    else {
        panic!("continue must redirect with a code");
    };
    assert_eq!(
        param(&callback, "state").as_deref(),
        Some(flow.csrf.secret().as_str())
    );
    assert_eq!(
        subject_of(&env, &client, &flow, &callback).await,
        demo::ADA_ID
    );
    // The page is used up.
    let Page::Other(400, _) = browser
        .consent(&env.http, &issuer, &request, &csrf, "continue")
        .await
    else {
        panic!("a consent page works once")
    };
}

#[tokio::test]
async fn use_another_account_shows_the_sign_in_form() {
    let env = Env::start().await;
    let issuer = env.clerk.issuer_url();
    let client = env.oidc(REDIRECT).await;
    let mut browser = signed_in_browser(&env, &client, demo::ADA_EMAIL).await;
    let flow = begin(&client);
    let Page::Consent { request, csrf, .. } = browser.open(&env.http, flow.url.as_str()).await
    else {
        panic!("no consent page")
    };
    let Page::Form {
        html,
        request: form_request,
        csrf: form_csrf,
        ..
    } = browser
        .consent(&env.http, &issuer, &request, &csrf, "switch")
        .await
    else {
        panic!("switch must show the sign-in form")
    };
    assert!(html.contains(r#"<form id="sign-in-form""#));
    let (Page::Redirect(callback), true) = browser
        .submit(
            &env.http,
            &issuer,
            &form_request,
            &form_csrf,
            demo::GRACE_EMAIL,
            demo::PASSWORD,
        )
        .await
    else {
        panic!("Grace could not sign in")
    };
    assert_eq!(
        subject_of(&env, &client, &flow, &callback).await,
        demo::GRACE_ID
    );
}

#[tokio::test]
async fn a_session_still_skips_the_form_for_a_registered_https_redirect() {
    const WEB: &str = "https://app.example/cb";
    let env = Env::start_with(|c| c.clients.push(Client::public("web", &[WEB]))).await;
    let client = env.oidc(REDIRECT).await;
    let browser = signed_in_browser(&env, &client, demo::ADA_EMAIL).await;
    let mut url = url::Url::parse(&env.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", "web")
        .append_pair("redirect_uri", WEB)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("state", "state-for-web")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256");
    let Page::Redirect(callback) = browser.open(&env.http, url.as_str()).await else {
        panic!("no silent sign-in for an exact https redirect")
    };
    assert!(callback.as_str().starts_with(WEB));
    assert!(param(&callback, "code").is_some());
    // prompt=consent asks anyway.
    url.query_pairs_mut().append_pair("prompt", "consent");
    assert!(matches!(
        browser.open(&env.http, url.as_str()).await,
        Page::Consent { .. }
    ));
}

#[tokio::test]
async fn a_sign_in_without_the_forms_csrf_token_issues_nothing() {
    let env = Env::start().await;
    let issuer = env.clerk.issuer_url();
    let client = env.oidc(REDIRECT).await;
    let flow = begin(&client);
    let mut browser = Browser::default();
    let Page::Form { request, csrf, .. } = browser.open(&env.http, flow.url.as_str()).await else {
        panic!("no form")
    };
    // Another page's token does not fit this request either.
    let Page::Form { csrf: other, .. } = Browser::default()
        .open(&env.http, begin(&client).url.as_str())
        .await
    else {
        panic!("no form")
    };
    for token in ["", "forged", other.as_str()] {
        let (page, cookie) = browser
            .submit(
                &env.http,
                &issuer,
                &request,
                token,
                demo::ADA_EMAIL,
                demo::PASSWORD,
            )
            .await;
        let Page::Other(400, html) = page else {
            panic!("token {token:?} accepted")
        };
        assert!(html.contains("security token"), "{html}");
        assert!(!cookie);
    }
    // Sent twice, even with the right value first.
    let resp = env
        .http
        .post(env.url("/sign-in"))
        .form(&[
            ("request", request.as_str()),
            ("csrf", csrf.as_str()),
            ("csrf", "forged"),
            ("email", demo::ADA_EMAIL),
            ("password", demo::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(env.clerk.grants(), GrantCounts::default());
    assert_eq!(env.clerk.active_grants(), 0);

    let (Page::Redirect(callback), true) = browser
        .submit(
            &env.http,
            &issuer,
            &request,
            &csrf,
            demo::ADA_EMAIL,
            demo::PASSWORD,
        )
        .await
    else {
        panic!("the right token must work")
    };
    assert!(param(&callback, "code").is_some());
}

#[tokio::test]
async fn another_host_header_is_refused_everywhere() {
    let env = Env::start().await;
    let port = env.clerk.port();
    let client = env.oidc(REDIRECT).await;
    let flow = begin(&client);
    for host in [
        format!("evil.example:{port}"),
        format!("localhost:{port}"),
        "127.0.0.1".to_string(),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
    ] {
        for (method, path) in [
            ("GET", "/.well-known/openid-configuration".to_string()),
            ("GET", flow.url[url::Position::BeforePath..].to_string()),
            ("POST", "/sign-in".to_string()),
            ("POST", "/oauth/token".to_string()),
        ] {
            let req = match method {
                "GET" => env.http.get(env.url(&path)),
                _ => env
                    .http
                    .post(env.url(&path))
                    .form(&[("grant_type", "authorization_code")]),
            };
            let resp = req.header(header::HOST, &host).send().await.unwrap();
            assert_eq!(resp.status(), 421, "{host} {path}");
            let text = resp.text().await.unwrap();
            assert!(
                text.contains(&format!("answers only for Host 127.0.0.1:{port}")),
                "{text}"
            );
        }
    }
    // The issuer's own authority works (every other test relies on it too).
    let resp = env
        .http
        .get(env.url("/.well-known/openid-configuration"))
        .header(header::HOST, format!("127.0.0.1:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_account_even_for_the_right_one() {
    let env = Env::start().await;
    let issuer = env.clerk.issuer_url();
    let client = env.oidc(REDIRECT).await;
    let mut browser = Browser::default();
    let Page::Form { request, csrf, .. } =
        browser.open(&env.http, begin(&client).url.as_str()).await
    else {
        panic!("no form")
    };
    for attempt in 1..=4 {
        let (page, _) = browser
            .submit(
                &env.http,
                &issuer,
                &request,
                &csrf,
                demo::ADA_EMAIL,
                "wrong",
            )
            .await;
        let Page::Form { html, .. } = page else {
            panic!("attempt {attempt}: expected the form again")
        };
        assert!(html.contains("Incorrect email or password."));
    }
    let (page, _) = browser
        .submit(
            &env.http,
            &issuer,
            &request,
            &csrf,
            "ADA@example.com",
            "wrong",
        )
        .await;
    let Page::Other(429, html) = page else {
        panic!("the fifth failure must lock the account")
    };
    assert!(
        html.contains("Too many attempts; try again in 60 seconds."),
        "{html}"
    );

    // The right password is refused too while the lock lasts.
    let resp = env
        .http
        .post(env.url("/sign-in"))
        .form(&[
            ("request", request.as_str()),
            ("csrf", csrf.as_str()),
            ("email", demo::ADA_EMAIL),
            ("password", demo::PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let wait: u64 = resp.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(resp.headers().get(header::SET_COOKIE).is_none());
    let html = resp.text().await.unwrap();
    assert!(html.contains(&format!("Too many attempts; try again in {wait} seconds.")));
    assert!(hidden(&html, "csrf").is_some(), "the form is still there");
    assert_eq!(env.clerk.grants(), GrantCounts::default());

    // Other accounts are not affected.
    let (Page::Redirect(callback), true) = browser
        .submit(
            &env.http,
            &issuer,
            &request,
            &csrf,
            demo::GRACE_EMAIL,
            demo::PASSWORD,
        )
        .await
    else {
        panic!("Grace is not locked")
    };
    assert!(param(&callback, "code").is_some());
}
