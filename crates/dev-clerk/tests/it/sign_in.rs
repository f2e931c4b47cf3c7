use dev_clerk::{demo, GrantCounts};

use crate::util::{begin, param, Browser, Env, Page, REDIRECT};

#[tokio::test]
async fn the_sign_in_page_follows_the_html_contract() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let flow = begin(&client);
    let Page::Form { html, csp, .. } = Browser::default().open(&env.http, flow.url.as_str()).await
    else {
        panic!("no form");
    };
    assert!(html.contains(r#"<form id="sign-in-form" method="post" action="/sign-in""#));
    assert!(html.contains(r#"name="email""#));
    assert!(html.contains(r#"name="password" type="password""#));
    assert!(html.contains(r#"<button type="submit">Continue</button>"#));
    assert!(html.contains("Ada Lovelace") && html.contains("Grace Hopper"));
    assert!(html.contains(&format!("/avatars/{}.svg", demo::ADA_ID)));
    assert!(!html.contains("id=\"error\""));
    assert!(
        !html.contains("<link") && !html.contains("src=\"http"),
        "no external resources"
    );
    assert!(
        csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(
        csp.contains("form-action 'self' http://127.0.0.1:43117"),
        "{csp}"
    );
}

#[tokio::test]
async fn a_wrong_password_shows_an_error_and_issues_nothing() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let flow = begin(&client);
    let mut browser = Browser::default();
    let Page::Form { request, csrf, .. } = browser.open(&env.http, flow.url.as_str()).await else {
        panic!("no form");
    };
    for (email, password) in [
        (demo::ADA_EMAIL, "wrong"),
        ("nobody@example.com", demo::PASSWORD),
        (demo::ADA_EMAIL, ""),
    ] {
        let (page, cookie) = browser
            .submit(
                &env.http,
                &env.clerk.issuer_url(),
                &request,
                &csrf,
                email,
                password,
            )
            .await;
        let Page::Form { html, .. } = page else {
            panic!("expected the form again");
        };
        assert!(html.contains(
            r#"<p id="error" class="error" role="alert">Incorrect email or password.</p>"#
        ));
        assert!(!cookie, "no session for a wrong password");
        assert!(
            !html.contains(r#"value="wrong""#),
            "the password is not echoed"
        );
    }
    assert_eq!(env.clerk.grants(), GrantCounts::default());
    assert_eq!(env.clerk.active_grants(), 0);

    // The same page still works with the right password.
    let (page, cookie) = browser
        .submit(
            &env.http,
            &env.clerk.issuer_url(),
            &request,
            &csrf,
            "ADA@example.com",
            demo::PASSWORD,
        )
        .await;
    let Page::Redirect(callback) = page else {
        panic!("no redirect")
    };
    assert!(cookie);
    assert!(param(&callback, "code").is_some());
    assert_eq!(
        param(&callback, "state").as_deref(),
        Some(flow.csrf.secret().as_str())
    );
}

#[tokio::test]
async fn a_signed_in_browser_gets_consent_not_the_form_unless_prompt_is_login() {
    let env = Env::start().await;
    let client = env.oidc(REDIRECT).await;
    let mut browser = Browser::default();
    let first = begin(&client);
    browser
        .sign_in(
            &env.http,
            &env.clerk.issuer_url(),
            &first.url,
            demo::GRACE_EMAIL,
            demo::PASSWORD,
        )
        .await;

    let second = begin(&client);
    let Page::Consent { .. } = browser.open(&env.http, second.url.as_str()).await else {
        panic!("the session should offer to continue");
    };

    let mut with_prompt = second.url.clone();
    with_prompt.query_pairs_mut().append_pair("prompt", "login");
    assert!(matches!(
        browser.open(&env.http, with_prompt.as_str()).await,
        Page::Form { .. }
    ));

    // prompt=none cannot ask for consent, and a loopback redirect needs it.
    let mut silent = begin(&client).url;
    silent.query_pairs_mut().append_pair("prompt", "none");
    let Page::Redirect(callback) = browser.open(&env.http, silent.as_str()).await else {
        panic!()
    };
    assert_eq!(
        param(&callback, "error").as_deref(),
        Some("consent_required")
    );
    assert!(param(&callback, "code").is_none());
    let Page::Redirect(callback) = Browser::default().open(&env.http, silent.as_str()).await else {
        panic!()
    };
    assert_eq!(param(&callback, "error").as_deref(), Some("login_required"));
}

#[tokio::test]
async fn an_unknown_or_stale_sign_in_request_shows_a_page() {
    let env = Env::start().await;
    let mut browser = Browser::default();
    let (page, cookie) = browser
        .submit(
            &env.http,
            &env.clerk.issuer_url(),
            "made-up",
            "made-up-too",
            demo::ADA_EMAIL,
            demo::PASSWORD,
        )
        .await;
    let Page::Other(400, html) = page else {
        panic!("expected an error page")
    };
    assert!(html.contains("expired"));
    assert!(!cookie);
}
