use serde_json::{json, Value};

use crate::util::{Backend, TestIssuer};

async fn post_raw(
    b: &Backend,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = b.http.post(b.url(path)).body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn malformed_requests_get_a_clear_400() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let cases: Vec<(&str, Option<&str>, Vec<u8>, &str)> = vec![
        (
            "broken JSON",
            Some("application/json"),
            b"{\"path\": \"users:me\",".to_vec(),
            "BadJsonBody",
        ),
        (
            "not JSON at all",
            Some("application/json"),
            b"hello".to_vec(),
            "BadJsonBody",
        ),
        (
            "missing path",
            Some("application/json"),
            br#"{"args": {}}"#.to_vec(),
            "BadJsonBody",
        ),
        (
            "unknown field",
            Some("application/json"),
            br#"{"path": "users:me", "args": {}, "x": 1}"#.to_vec(),
            "BadJsonBody",
        ),
        (
            "args a string",
            Some("application/json"),
            br#"{"path": "users:me", "args": "x"}"#.to_vec(),
            "InvalidArgs",
        ),
        (
            "args two objects",
            Some("application/json"),
            br#"{"path": "users:me", "args": [{}, {}]}"#.to_vec(),
            "InvalidArgs",
        ),
        (
            "unknown format",
            Some("application/json"),
            br#"{"path": "users:me", "args": {}, "format": "xml"}"#.to_vec(),
            "RequestedFormatNotSupported",
        ),
        (
            "form content type",
            Some("application/x-www-form-urlencoded"),
            b"path=users:me".to_vec(),
            "BadContentType",
        ),
        (
            "no content type",
            None,
            br#"{"path": "users:me", "args": {}}"#.to_vec(),
            "BadContentType",
        ),
        (
            "too large",
            Some("application/json"),
            {
                let mut v = br#"{"path": "messages:send", "args": {"body": ""#.to_vec();
                v.extend(std::iter::repeat_n(b'a', 2 * 1024 * 1024));
                v.extend(br#""}}"#);
                v
            },
            "RequestTooLarge",
        ),
    ];
    for (name, ct, body, code) in cases {
        let (status, resp) = post_raw(&b, "/api/query", ct, body).await;
        assert_eq!(status, 400, "{name}: {resp}");
        assert_eq!(resp["code"], code, "{name}: {resp}");
        assert!(
            resp["message"].as_str().is_some_and(|m| m.len() > 10),
            "{name}: {resp}"
        );
    }
    // With a charset parameter the JSON is accepted.
    let (status, resp) = post_raw(
        &b,
        "/api/query",
        Some("application/json; charset=utf-8"),
        br#"{"path": "users:me", "args": {}}"#.to_vec(),
    )
    .await;
    assert_eq!((status, resp["status"].as_str()), (200, Some("success")));
}

#[tokio::test]
async fn authorization_header_shapes() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let send = |auth: &'static str| {
        b.http
            .post(b.url("/api/query"))
            .header("authorization", auth)
            .json(&json!({"path": "users:me", "args": {}}))
            .send()
    };
    for (auth, status, code) in [
        ("Basic dXNlcjpwYXNz", 400, "InvalidAdminKey"),
        ("bearer-ish token", 400, "InvalidAdminKey"),
        ("Bearer ", 401, "InvalidAuthHeader"),
        ("Convex some-admin-key", 401, "BadAdminKey"),
    ] {
        let resp = send(auth).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{auth}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], code, "{auth}: {body}");
    }
}

#[tokio::test]
async fn cors_is_answered_as_convex_does() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let resp = b
        .http
        .request(reqwest::Method::OPTIONS, b.url("/api/query"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,convex-client",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "http://localhost:5173");
    assert_eq!(h["access-control-allow-credentials"], "true");
    assert!(h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));

    let resp = b
        .http
        .post(b.url("/api/query"))
        .header("origin", "tauri://localhost")
        .json(&json!({"path": "users:me", "args": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["access-control-allow-origin"],
        "tauri://localhost"
    );
}
