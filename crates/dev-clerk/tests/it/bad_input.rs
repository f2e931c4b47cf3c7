use dev_clerk::{demo, Client, DEFAULT_CLIENT_ID};
use openidconnect::{AuthorizationCode, PkceCodeVerifier};

use crate::util::{begin, param, post_form, Browser, Env, REDIRECT};

#[tokio::test]
async fn bad_token_requests_get_precise_errors_and_change_nothing() {
    let env = Env::start_with(|c| {
        c.clients.push(Client::confidential(
            "server-app",
            "s3cret",
            &["https://app.example/cb"],
        ))
    })
    .await;
    let client = env.oidc(REDIRECT).await;
    let flow = begin(&client);
    let callback = Browser::default()
        .sign_in(
            &env.http,
            &env.clerk.issuer_url(),
            &flow.url,
            demo::ADA_EMAIL,
            demo::PASSWORD,
        )
        .await;
    let code = param(&callback, "code").unwrap();
    let token_url = env.url("/oauth/token");

    let cases: Vec<(reqwest::RequestBuilder, u16, &str, &str)> = vec![
        (
            env.http
                .post(&token_url)
                .header("content-type", "application/json")
                .body(r#"{"grant_type":"authorization_code"}"#),
            400,
            "invalid_request",
            "Content-Type",
        ),
        (
            env.http
                .post(&token_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(vec![0xff, 0xfe, b'=', 0xff]),
            400,
            "invalid_request",
            "UTF-8",
        ),
        (
            env.http
                .post(&token_url)
                .form(&[("grant_type", "x".repeat(20_000))]),
            413,
            "invalid_request",
            "larger than",
        ),
        (
            env.http
                .post(&token_url)
                .form(&[("client_id", DEFAULT_CLIENT_ID)]),
            400,
            "invalid_request",
            "grant_type is required",
        ),
        (
            env.http
                .post(&token_url)
                .form(&[("grant_type", "password"), ("client_id", DEFAULT_CLIENT_ID)]),
            400,
            "unsupported_grant_type",
            "password",
        ),
        (
            env.http
                .post(&token_url)
                .form(&[("grant_type", "authorization_code"), ("code", &code)]),
            401,
            "invalid_client",
            "client_id is required",
        ),
        (
            env.http.post(&token_url).form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", "nobody"),
            ]),
            401,
            "invalid_client",
            "unknown client",
        ),
        (
            env.http.post(&token_url).form(&[
                ("grant_type", "authorization_code"),
                ("client_id", DEFAULT_CLIENT_ID),
            ]),
            400,
            "invalid_request",
            "code is required",
        ),
        (
            env.http.post(&token_url).form(&[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("client_id", DEFAULT_CLIENT_ID),
            ]),
            400,
            "invalid_grant",
            "unknown",
        ),
        (
            env.http.post(&token_url).form(&[
                ("grant_type", "authorization_code"),
                ("grant_type", "refresh_token"),
                ("client_id", DEFAULT_CLIENT_ID),
            ]),
            400,
            "invalid_request",
            "more than once",
        ),
        (
            env.http.post(&token_url).form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", "server-app"),
            ]),
            401,
            "invalid_client",
            "authentication is required",
        ),
        (
            env.http
                .post(&token_url)
                .basic_auth("server-app", Some("wrong"))
                .form(&[("grant_type", "authorization_code"), ("code", &code)]),
            401,
            "invalid_client",
            "failed",
        ),
        (
            env.http
                .post(&token_url)
                .basic_auth("server-app", Some("s3cret"))
                .form(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                ]),
            400,
            "invalid_grant",
            "another client",
        ),
        (
            env.http.post(&token_url).form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", DEFAULT_CLIENT_ID),
                ("client_secret", "guess"),
            ]),
            401,
            "invalid_client",
            "public client",
        ),
    ];
    for (request, status, error, description) in cases {
        let resp = request.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{description}");
        if status == 401 && description == "failed" {
            assert!(resp.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic"));
        }
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], error, "{description}: {body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(description),
            "{description}: {body}"
        );
    }
    assert_eq!(env.clerk.grants().authorization_code, 0);
    assert_eq!(env.clerk.active_grants(), 0);

    client
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.secret().clone()))
        .request_async(&env.http)
        .await
        .expect("after all that, the code still works");
}

#[tokio::test]
async fn a_confidential_client_authenticates_by_basic_or_post() {
    let env = Env::start_with(|c| {
        c.clients.push(Client::confidential(
            "server-app",
            "s3 cret:x",
            &["https://app.example/cb"],
        ))
    })
    .await;
    let (status, body) = post_form(
        &env,
        "/oauth/token_info",
        &[
            ("token", "x"),
            ("client_id", "server-app"),
            ("client_secret", "s3 cret:x"),
        ],
    )
    .await;
    assert_eq!((status, body["active"].as_bool()), (200, Some(false)));
    // RFC 6749 section 2.3.1: Basic credentials are form-urlencoded first.
    let resp = env
        .http
        .post(env.url("/oauth/token_info"))
        .basic_auth("server-app", Some("s3+cret%3Ax"))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
