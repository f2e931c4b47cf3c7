//! Property tests of what parses outside input: the form and query parser,
//! the authorization request, the sign-in and consent forms, and the token
//! request. None may panic, and none may issue a code or tokens without
//! what it must check. The handlers' sync cores are called directly (no
//! HTTP), so each case is cheap; 10,000 cases each.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use proptest::prelude::*;
use proptest::sample::select;

use crate::authorize::{authorize, consent_form, sign_in_form};
use crate::config::{demo, Config, DEFAULT_CLIENT_ID};
use crate::form::Params;
use crate::server::{now, AppState, Shared};
use crate::store::{AuthRequest, PendingIds};
use crate::token::token_grant;

const CASES: u32 = 10_000;
const REDIRECT: &str = "http://127.0.0.1:5000/callback";
/// RFC 7636 appendix B.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One issuer for the whole test binary: its RSA key takes seconds to make.
fn shared() -> &'static Shared {
    static STATE: OnceLock<AppState> = OnceLock::new();
    &STATE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir").keep();
            AppState::new(Config::for_tests(dir), "http://127.0.0.1:4810").expect("state")
        })
        .0
}

fn request() -> AuthRequest {
    AuthRequest {
        client_id: DEFAULT_CLIENT_ID.into(),
        redirect_uri: REDIRECT.into(),
        state: "state-1234".into(),
        scope: "openid offline_access".into(),
        code_challenge: Some(CHALLENGE.into()),
        nonce: None,
        login_hint: None,
    }
}

/// A sign-in page in progress, a consent page for a live session, and that session's cookie.
fn pages() -> &'static (PendingIds, PendingIds, String) {
    static PAGES: OnceLock<(PendingIds, PendingIds, String)> = OnceLock::new();
    PAGES.get_or_init(|| {
        let s = shared();
        let sign_in = s.store.put_pending(request(), None, now());
        let (cookie, _) = s.store.create_session(demo::GRACE_ID, now());
        let session = s.store.session(&cookie, now());
        let consent = s.store.put_pending(request(), session, now());
        (sign_in, consent, cookie)
    })
}

/// An unredeemed code for [`REDIRECT`] with [`CHALLENGE`]; failed checks never use it up.
fn code() -> &'static str {
    static CODE: OnceLock<String> = OnceLock::new();
    CODE.get_or_init(|| {
        shared().store.issue_code(
            request(),
            demo::ADA_ID,
            "sess_x",
            now(),
            now() + 3600,
            now(),
        )
    })
}

fn query(pairs: &[(String, String)]) -> Params {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    Params::parse(s.finish().as_bytes())
}

/// Any text up to `max` characters (cheaper to generate than a regex).
fn text(max: usize) -> impl Strategy<Value = String> + Clone {
    proptest::collection::vec(any::<char>(), 0..max).prop_map(String::from_iter)
}

/// Printable ASCII up to `max` characters (what a header value may hold).
fn ascii(max: usize) -> impl Strategy<Value = String> + Clone {
    proptest::collection::vec(0x20u8..0x7f, 0..max)
        .prop_map(|b| b.into_iter().map(char::from).collect())
}

/// Mostly meaningful values for a parameter, sometimes anything.
fn value(choices: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(choices).prop_map(str::to_string),
        1 => text(24),
        1 => ascii(48),
    ]
    .boxed()
}

fn authorize_pair() -> impl Strategy<Value = (String, String)> {
    let named = |name: &'static str, choices: &'static [&'static str]| {
        value(choices).prop_map(move |v| (name.to_string(), v))
    };
    prop_oneof![
        named("client_id", &[DEFAULT_CLIENT_ID, "other"]),
        named(
            "redirect_uri",
            &[
                REDIRECT,
                "http://127.0.0.1/callback",
                "https://evil.example/cb",
                "http://localhost:1/callback"
            ],
        ),
        named("response_type", &["code", "token", "code id_token"]),
        named(
            "scope",
            &[
                "openid",
                "openid profile email offline_access",
                "openid bogus",
                " "
            ]
        ),
        named("state", &["state-12345678", "short", "ééééééééé"]),
        named("code_challenge", &[CHALLENGE, "short", VERIFIER]),
        named("code_challenge_method", &["S256", "plain"]),
        named(
            "prompt",
            &[
                "none",
                "login",
                "consent",
                "none login",
                "select_account",
                "bogus"
            ]
        ),
        named("nonce", &["n-1"]),
        named("response_mode", &["query", "fragment"]),
        named("login_hint", &["ada@example.com", "<script>"]),
        named("request", &["eyJ"]),
        (text(8), text(16)),
    ]
}

fn location(response: &Response) -> Option<url::Url> {
    let value = response.headers().get(header::LOCATION)?.to_str().ok()?;
    url::Url::parse(value).ok()
}

fn has_param(url: &url::Url, name: &str) -> bool {
    url.query_pairs().any(|(k, _)| k == name)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_parser_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let p = Params::parse(&bytes);
        let _ = (p.first_repeated(), p.first_too_long(8), p.get("code"), format!("{p:?}"));
    }

    #[test]
    fn the_parser_keeps_first_values_and_sees_repeats(
        pairs in proptest::collection::vec((select(&["a", "b", "ab"][..]).prop_map(String::from), text(6)), 0..8),
    ) {
        let p = query(&pairs);
        for (name, _) in &pairs {
            let values: Vec<&String> = pairs.iter().filter(|(n, v)| n == name && !v.is_empty()).map(|(_, v)| v).collect();
            prop_assert_eq!(p.get(name), values.first().map(|v| v.as_str()));
            prop_assert_eq!(p.is_repeated(name), values.len() > 1);
        }
    }

    #[test]
    fn authorize_without_a_session_never_issues_a_code(
        pairs in proptest::collection::vec(authorize_pair(), 0..10),
        cookie in ascii(40),
    ) {
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("dev_clerk_session={cookie}")) {
            headers.insert(header::COOKIE, v);
        }
        let response = authorize(shared(), &headers, &query(&pairs));
        let status = response.status();
        prop_assert!(
            [StatusCode::OK, StatusCode::FOUND, StatusCode::BAD_REQUEST].contains(&status),
            "status {}", status
        );
        if status == StatusCode::FOUND {
            let to = location(&response).expect("a redirect has a Location");
            prop_assert!(!has_param(&to, "code"), "a code without a session: {}", to);
            prop_assert!(has_param(&to, "error"), "{}", to);
            let client = shared().client(DEFAULT_CLIENT_ID).expect("client");
            let target = format!("{}://{}{}", to.scheme(), &to[url::Position::BeforeHost..url::Position::AfterPath], "");
            prop_assert!(crate::authorize::redirect_matches(client, &target), "errors go only to registered redirects: {}", to);
        }
    }

    #[test]
    fn a_signed_in_browser_never_gets_a_loopback_code_without_consent(
        port in any::<u16>(),
        overrides in proptest::collection::vec(authorize_pair(), 0..4),
    ) {
        // A valid request first, so every case reaches the session branch
        // unless an override spoils it.
        let redirect = format!("http://127.0.0.1:{port}/callback");
        let mut pairs: Vec<(String, String)> = [
            ("client_id", DEFAULT_CLIENT_ID),
            ("redirect_uri", redirect.as_str()),
            ("response_type", "code"),
            ("scope", "openid profile email offline_access"),
            ("state", "state-12345678"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        pairs.extend(overrides);
        let mut headers = HeaderMap::new();
        let cookie = format!("dev_clerk_session={}", pages().2);
        headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).expect("ASCII"));
        let response = authorize(shared(), &headers, &query(&pairs));
        if let Some(to) = location(&response) {
            prop_assert!(!has_param(&to, "code"), "a loopback code without consent: {}", to);
        }
        prop_assert!(response.headers().get(header::SET_COOKIE).is_none());
    }

    #[test]
    fn the_sign_in_form_never_issues_without_request_csrf_and_password(
        use_request in any::<bool>(),
        use_csrf in any::<bool>(),
        random_request in ascii(40),
        random_csrf in text(50),
        email in prop_oneof![Just(demo::ADA_EMAIL.to_string()), text(30)],
        password in text(20).prop_filter("a wrong password", |p| p != demo::PASSWORD),
        extra in proptest::collection::vec(authorize_pair(), 0..3),
    ) {
        let (page, _, _) = pages();
        let mut pairs = vec![
            ("request".to_string(), if use_request { page.id.clone() } else { random_request }),
            ("csrf".to_string(), if use_csrf { page.csrf.clone() } else { random_csrf.clone() }),
            ("email".to_string(), email),
            ("password".to_string(), password),
        ];
        pairs.extend(extra);
        let p = query(&pairs);
        let response = sign_in_form(shared(), &p, now());
        let status = response.status();
        prop_assert!(response.headers().get(header::SET_COOKIE).is_none());
        prop_assert!(location(&response).is_none(), "issued on a wrong password");
        let guessed = use_request && (use_csrf || random_csrf == page.csrf);
        if !guessed {
            prop_assert_eq!(status, StatusCode::BAD_REQUEST);
        } else {
            prop_assert!([StatusCode::OK, StatusCode::TOO_MANY_REQUESTS, StatusCode::BAD_REQUEST].contains(&status));
        }
    }

    #[test]
    fn the_consent_form_never_issues_without_csrf_and_the_session(
        use_csrf in any::<bool>(),
        random_csrf in text(50),
        action in value(&["continue", "switch", ""]),
        cookie in ascii(40),
    ) {
        let (_, page, _) = pages();
        let p = query(&[
            ("request".to_string(), page.id.clone()),
            ("csrf".to_string(), if use_csrf { page.csrf.clone() } else { random_csrf }),
            ("action".to_string(), action),
        ]);
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("dev_clerk_session={cookie}")) {
            headers.insert(header::COOKIE, v);
        }
        let response = consent_form(shared(), &headers, &p, now());
        // A random cookie is never the session the page offered.
        prop_assert!(location(&response).is_none(), "issued without the session");
        prop_assert!([StatusCode::OK, StatusCode::BAD_REQUEST].contains(&response.status()));
    }

    #[test]
    fn the_token_endpoint_never_issues_without_a_valid_code_and_verifier(
        grant_type in value(&["authorization_code", "refresh_token", "password"]),
        use_code in any::<bool>(),
        random_code in text(60),
        verifier in prop_oneof![
            proptest::collection::vec(select(&b"abcXYZ019-._~"[..]), 43..129)
                .prop_map(|b| b.into_iter().map(char::from).collect::<String>()),
            text(60),
        ].prop_filter("not the verifier", |v| v != VERIFIER),
        redirect_uri in value(&[REDIRECT, "http://127.0.0.1:5001/callback"]),
        client_id in value(&[DEFAULT_CLIENT_ID, "other"]),
        refresh_token in text(60),
        authorization in prop_oneof![
            Just(String::new()),
            ascii(40).prop_map(|b| format!("Basic {b}")),
            ascii(40),
        ],
        extra in proptest::collection::vec(authorize_pair(), 0..2),
    ) {
        let mut pairs = vec![
            ("grant_type".to_string(), grant_type),
            ("code".to_string(), if use_code { code().to_string() } else { random_code }),
            ("code_verifier".to_string(), verifier),
            ("redirect_uri".to_string(), redirect_uri),
            ("client_id".to_string(), client_id),
            ("refresh_token".to_string(), refresh_token),
        ];
        pairs.extend(extra);
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&authorization) {
            if !authorization.is_empty() {
                headers.insert(header::AUTHORIZATION, v);
            }
        }
        match token_grant(shared(), &headers, &query(&pairs)) {
            Ok(_) => prop_assert!(false, "tokens issued without a valid code and verifier"),
            Err(err) => prop_assert!(err.status.is_client_error(), "{:?}", err),
        }
    }
}

#[test]
fn the_token_endpoint_still_issues_for_the_real_code_and_verifier() {
    // The properties above hold because checks refuse, not because nothing works.
    let s = shared();
    let code = s.store.issue_code(
        request(),
        demo::ADA_ID,
        "sess_y",
        now(),
        now() + 3600,
        now(),
    );
    let p = query(&[
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), code),
        ("code_verifier".into(), VERIFIER.into()),
        ("redirect_uri".into(), REDIRECT.into()),
        ("client_id".into(), DEFAULT_CLIENT_ID.into()),
    ]);
    let response = token_grant(s, &HeaderMap::new(), &p).expect("tokens");
    assert_eq!(response.status(), StatusCode::OK);
    // And the code the properties used is still unredeemed: failed checks used nothing up.
    let p = query(&[
        ("grant_type".into(), "authorization_code".into()),
        ("code".into(), self::code().to_string()),
        ("code_verifier".into(), VERIFIER.into()),
        ("redirect_uri".into(), REDIRECT.into()),
        ("client_id".into(), DEFAULT_CLIENT_ID.into()),
    ]);
    assert!(token_grant(s, &HeaderMap::new(), &p).is_ok());
}
