//! Each kind of Convex answer, and the 401 refresh-and-retry rule.

use std::sync::Arc;
use std::time::{Duration, Instant};

use convex_http::{
    ConvexClient, ConvexError, NoToken, TokenError, TransportErrorKind, CLIENT_NAME,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::fake_convex::FakeConvex;
use crate::util::{logs, CountingTokens};

#[derive(Debug, Deserialize, PartialEq)]
struct Echo {
    kind: String,
    args: Value,
    identity: Option<String>,
}

#[tokio::test]
async fn each_kind_posts_convex_request_with_token_and_client_header_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&["good-token"]).await;
    let tokens = CountingTokens::new(Some("good-token"));
    let convex = ConvexClient::new(fake.url.clone(), tokens.clone()).unwrap();

    let q: Echo = convex
        .query("echo:args", &json!({"limit": 3}))
        .await
        .unwrap();
    let m: Echo = convex
        .mutation("echo:args", &json!({"body": "hi"}))
        .await
        .unwrap();
    let a: Echo = convex.action("echo:args", &()).await.unwrap();

    assert_eq!(
        (q.kind.as_str(), m.kind.as_str(), a.kind.as_str()),
        ("query", "mutation", "action")
    );
    assert_eq!(q.args, json!({"limit": 3}));
    assert_eq!(a.args, json!({}), "() is sent as empty args");
    assert!(q.identity.is_some(), "the fake saw a valid token");

    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen.iter().map(|s| s.endpoint.as_str()).collect::<Vec<_>>(),
        ["/api/query", "/api/mutation", "/api/action"]
    );
    for s in &seen {
        assert_eq!(s.authorization.as_deref(), Some("Bearer good-token"));
        assert_eq!(s.convex_client.as_deref(), Some(CLIENT_NAME));
        assert_eq!(s.body["format"], "json");
        assert_eq!(s.body["path"], "echo:args");
    }
    assert_eq!(seen[1].body["args"], json!({"body": "hi"}));
    assert_eq!(tokens.refresh_calls(), 0);
}

#[tokio::test]
async fn no_token_sends_no_authorization_header_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&[]).await;
    let convex = ConvexClient::new(fake.url.clone(), Arc::new(NoToken)).unwrap();
    let echo: Echo = convex.query("echo:args", &json!({})).await.unwrap();
    assert_eq!(echo.identity, None);
    assert_eq!(fake.seen()[0].authorization, None);
}

#[tokio::test]
async fn undefined_value_decodes_as_unit_or_none_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&[]).await;
    let convex = ConvexClient::new(fake.url.clone(), Arc::new(NoToken)).unwrap();
    let () = convex.mutation("echo:undefined", &()).await.unwrap();
    let none: Option<String> = convex.mutation("echo:undefined", &()).await.unwrap();
    assert_eq!(none, None);
}

#[tokio::test]
async fn function_error_carries_message_and_data_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&[]).await;
    let convex = ConvexClient::new(fake.url.clone(), Arc::new(NoToken)).unwrap();
    let err = convex
        .mutation::<_, Value>("fail:throw", &json!({"body": "x"}))
        .await
        .unwrap_err();
    match &err {
        ConvexError::Function { message, data } => {
            assert_eq!(message, "Uncaught ConvexError: body too long");
            assert_eq!(
                data.as_ref(),
                Some(&json!({"code": "too_long", "max": 10000}))
            );
        }
        other => panic!("expected a function error, got {other:?}"),
    }
    assert_eq!(err.to_string(), "Uncaught ConvexError: body too long");
    assert!(!err.is_offline());

    let err = convex
        .query::<_, Value>("nope:missing", &())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConvexError::Function { message, data: None } if message.contains("nope:missing")),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_401_forces_one_refresh_and_retries_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&["fresh-token"]).await;
    let tokens =
        CountingTokens::new(Some("expired-token")).then_refresh_to(Ok(Some("fresh-token")));
    let convex = ConvexClient::new(fake.url.clone(), tokens.clone()).unwrap();

    let echo: Echo = convex.query("echo:args", &json!({"n": 1})).await.unwrap();
    assert!(echo.identity.is_some());
    assert_eq!(tokens.refresh_calls(), 1);
    let auth: Vec<_> = fake.seen().into_iter().map(|s| s.authorization).collect();
    assert_eq!(
        auth,
        [
            Some("Bearer expired-token".to_owned()),
            Some("Bearer fresh-token".to_owned())
        ]
    );

    // The next call uses the refreshed token straight away.
    let _: Echo = convex.query("echo:args", &json!({"n": 2})).await.unwrap();
    assert_eq!(tokens.refresh_calls(), 1);
    assert_eq!(fake.seen().len(), 3);
}

#[tokio::test]
async fn second_401_surfaces_unauthenticated_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&["never-handed-out"]).await;
    let tokens =
        CountingTokens::new(Some("expired-token")).then_refresh_to(Ok(Some("rejected-too")));
    let convex = ConvexClient::new(fake.url.clone(), tokens.clone()).unwrap();

    let err = convex
        .query::<_, Value>("echo:args", &())
        .await
        .unwrap_err();
    match &err {
        ConvexError::Unauthenticated { code, message } => {
            assert_eq!(code, "Unauthenticated");
            assert!(message.contains("OIDC token"), "{message}");
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
    assert_eq!(tokens.refresh_calls(), 1, "exactly one forced refresh");
    assert_eq!(fake.seen().len(), 2, "exactly one retry");
    assert!(
        !err.to_string().contains("rejected-too"),
        "no token in the message"
    );
}

#[tokio::test]
async fn failed_refresh_after_401_surfaces_the_token_error_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&[]).await;
    let tokens = CountingTokens::new(Some("expired-token"))
        .then_refresh_to(Err(TokenError::not_signed_in()));
    let convex = ConvexClient::new(fake.url.clone(), tokens.clone()).unwrap();
    let err = convex
        .query::<_, Value>("echo:args", &())
        .await
        .unwrap_err();
    assert!(err.is_not_signed_in(), "{err:?}");
    assert_eq!(fake.seen().len(), 1, "no retry without a token");
}

#[tokio::test]
async fn request_timeout_is_offline_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&[]).await;
    let convex = ConvexClient::builder(fake.url.clone(), Arc::new(NoToken))
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = convex
        .query::<_, Value>("slow:sleep", &())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "gave up in time"
    );
    match &err {
        ConvexError::Transport(t) => assert_eq!(t.kind(), TransportErrorKind::Timeout),
        other => panic!("expected a transport timeout, got {other:?}"),
    }
    assert!(err.is_offline());
    assert_eq!(err.to_string(), "Convex did not answer in time");
}

#[tokio::test]
async fn closed_port_is_offline() {
    logs();
    // A real refused connection: bind a port, then free it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
    let convex = ConvexClient::new(url, Arc::new(NoToken)).unwrap();
    let err = convex
        .query::<_, Value>("echo:args", &())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConvexError::Transport(t) if t.kind() == TransportErrorKind::Connect),
        "{err:?}"
    );
    assert!(err.is_offline());
}

#[tokio::test]
async fn unexpected_answers_are_decode_or_http_errors_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&[]).await;
    let convex = ConvexClient::new(fake.url.clone(), Arc::new(NoToken)).unwrap();

    let err = convex.query::<_, Value>("bad:html", &()).await.unwrap_err();
    assert!(
        matches!(&err, ConvexError::Decode { what, .. } if what.contains("<html>not convex</html>")),
        "{err:?}"
    );

    let err = convex
        .query::<_, Value>("bad:status", &())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConvexError::Http { status: 503, body } if body == "upstream unavailable"),
        "{err:?}"
    );

    let err = convex
        .query::<_, Value>("bad:redirect", &())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConvexError::Http { status: 302, .. }),
        "redirects are not followed: {err:?}"
    );
    assert_eq!(fake.seen().len(), 3);

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        missing_field: u32,
    }
    let err = convex
        .query::<_, Wrong>("echo:args", &())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConvexError::Decode { what, .. } if what.contains("echo:args")),
        "{err:?}"
    );
}

#[tokio::test]
async fn log_lines_reach_tracing_and_tokens_never_do_against_fake_convex() {
    logs();
    let fake = FakeConvex::start(&["sekrit-token-value"]).await;
    let tokens =
        CountingTokens::new(Some("stale-sekrit")).then_refresh_to(Ok(Some("sekrit-token-value")));
    let convex = ConvexClient::new(fake.url.clone(), tokens).unwrap();
    let _: Echo = convex.query("echo:args", &()).await.unwrap();

    let text = logs().text();
    assert!(text.contains("[LOG] 'echo called'"), "{text}");
    assert!(text.contains("[ERROR] 'and complained'"), "{text}");
    assert!(text.contains("DEBUG"), "forwarded at debug: {text}");
    assert!(!text.contains("sekrit"), "a token reached the log: {text}");
}
