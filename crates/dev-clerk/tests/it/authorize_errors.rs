use dev_clerk::DEFAULT_CLIENT_ID;
use url::Url;

use crate::util::{param, Browser, Env, Page, REDIRECT};

/// Query parameters of an authorization request.
type Params = Vec<(&'static str, &'static str)>;

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn valid() -> Vec<(&'static str, &'static str)> {
    vec![
        ("client_id", DEFAULT_CLIENT_ID),
        ("redirect_uri", REDIRECT),
        ("response_type", "code"),
        ("scope", "openid profile email offline_access"),
        ("state", "state-0123456789"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
}

fn with(changes: &[(&'static str, Option<&'static str>)]) -> Vec<(&'static str, &'static str)> {
    let mut params = valid();
    for (name, value) in changes {
        params.retain(|(n, _)| n != name);
        if let Some(v) = value {
            params.push((name, v));
        }
    }
    params
}

fn url(env: &Env, params: &[(&str, &str)]) -> String {
    let mut url = Url::parse(&env.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.to_string()
}

#[tokio::test]
async fn errors_before_the_redirect_uri_is_trusted_are_shown_as_a_page() {
    let env = Env::start().await;
    let cases: Vec<(Params, &str)> = vec![
        (with(&[("client_id", None)]), "no client_id"),
        (with(&[("client_id", Some("evil-app"))]), "evil-app"),
        (with(&[("redirect_uri", None)]), "no redirect_uri"),
        (
            with(&[("redirect_uri", Some("https://evil.example/callback"))]),
            "not a registered redirect URI",
        ),
        (
            with(&[("redirect_uri", Some("http://127.0.0.1:43117/elsewhere"))]),
            "not a registered redirect URI",
        ),
        (
            with(&[("redirect_uri", Some("http://localhost:43117/callback"))]),
            "not a registered redirect URI",
        ),
        (
            {
                let mut p = valid();
                p.push(("client_id", DEFAULT_CLIENT_ID));
                p
            },
            "more than once",
        ),
    ];
    for (params, expected) in cases {
        match Browser::default()
            .open(&env.http, &url(&env, &params))
            .await
        {
            Page::Other(400, html) => assert!(html.contains(expected), "{expected}: {html}"),
            Page::Redirect(u) => panic!("{expected}: redirected to {u}"),
            Page::Form { .. } | Page::Consent { .. } => panic!("{expected}: showed a form"),
            Page::Other(s, _) => panic!("{expected}: status {s}"),
        }
    }
}

#[tokio::test]
async fn errors_after_the_redirect_uri_is_trusted_go_back_to_the_client() {
    let env = Env::start().await;
    let cases: Vec<(Params, &str, &str)> = vec![
        (
            with(&[("response_type", Some("token"))]),
            "unsupported_response_type",
            "response_type",
        ),
        (
            with(&[("response_type", None)]),
            "invalid_request",
            "response_type is required",
        ),
        (
            with(&[("state", Some("short"))]),
            "invalid_request",
            "state must be at least 8 characters",
        ),
        (
            with(&[("state", None)]),
            "invalid_request",
            "state is required",
        ),
        (
            with(&[("scope", Some("openid admin"))]),
            "invalid_scope",
            "admin",
        ),
        (
            with(&[("scope", None)]),
            "invalid_request",
            "scope is required",
        ),
        (
            with(&[("code_challenge", None), ("code_challenge_method", None)]),
            "invalid_request",
            "code_challenge is required",
        ),
        (
            with(&[("code_challenge_method", Some("plain"))]),
            "invalid_request",
            "must be S256",
        ),
        (
            with(&[("code_challenge_method", None)]),
            "invalid_request",
            "must be S256",
        ),
        (
            with(&[("code_challenge", Some("too-short"))]),
            "invalid_request",
            "43 characters",
        ),
        (
            with(&[("prompt", Some("none"))]),
            "login_required",
            "prompt=none",
        ),
        (
            with(&[("prompt", Some("none login"))]),
            "invalid_request",
            "prompt=none",
        ),
        (
            with(&[("request_uri", Some("https://x.example/r"))]),
            "request_uri_not_supported",
            "request_uri",
        ),
        (
            {
                let mut p = valid();
                p.push(("scope", "openid"));
                p
            },
            "invalid_request",
            "scope appears more than once",
        ),
    ];
    for (params, error, description) in cases {
        let page = Browser::default()
            .open(&env.http, &url(&env, &params))
            .await;
        let Page::Redirect(to) = page else {
            panic!("{error}/{description}: no redirect");
        };
        assert_eq!(to.origin(), Url::parse(REDIRECT).unwrap().origin());
        assert_eq!(to.path(), "/callback");
        assert_eq!(param(&to, "error").as_deref(), Some(error), "{description}");
        assert!(
            param(&to, "error_description")
                .unwrap()
                .contains(description),
            "{:?}",
            param(&to, "error_description")
        );
        assert!(param(&to, "code").is_none());
        let state = params
            .iter()
            .find(|(n, _)| *n == "state")
            .map(|(_, v)| v.to_string());
        if !description.contains("more than once") {
            assert_eq!(param(&to, "state"), state, "state is echoed");
        }
        assert_eq!(param(&to, "iss"), Some(env.clerk.issuer_url()));
    }
}

#[tokio::test]
async fn a_loopback_redirect_on_any_port_is_accepted() {
    let env = Env::start().await;
    for port in ["1", "8080", "65535"] {
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let mut params = with(&[("redirect_uri", None)]);
        params.push(("redirect_uri", &redirect));
        match Browser::default()
            .open(&env.http, &url(&env, &params))
            .await
        {
            Page::Form { .. } => {}
            _ => panic!("port {port} refused"),
        }
    }
}
