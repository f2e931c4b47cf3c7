use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::util::{b64, config_for, keys, now, sign, sign_with_header, Backend, TestIssuer};

/// Replaces one dot-separated part of a token.
fn with_part(token: &str, index: usize, part: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    parts[index] = part;
    parts.join(".")
}

#[tokio::test]
async fn forged_and_malformed_tokens_are_refused_with_the_right_code() {
    let issuer = TestIssuer::start(&["rsa_a", "ed"]).await;
    let b = Backend::start(&issuer).await;
    let good = issuer.claims("user_mallory", "Mallory", "m@example.com");
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        c
    };
    let valid = sign("rsa_a", &good);
    let header_json = |h: Value| b64(h.to_string().as_bytes());
    let public_pem = keys()["rsa_a"]["public_pem"].as_str().unwrap().to_owned();

    let mut cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            sign("rsa_a", &claims(&|c| c["exp"] = json!(now() - 1))),
            "Unauthenticated",
        ),
        (
            "expires now (exp is exclusive)",
            sign("rsa_a", &claims(&|c| c["exp"] = json!(now()))),
            "Unauthenticated",
        ),
        (
            "not yet valid",
            sign("rsa_a", &claims(&|c| c["nbf"] = json!(now() + 600))),
            "Unauthenticated",
        ),
        (
            "wrong iss",
            sign(
                "rsa_a",
                &claims(&|c| c["iss"] = json!("https://evil.example")),
            ),
            "NoAuthProvider",
        ),
        (
            "wrong aud",
            sign("rsa_a", &claims(&|c| c["aud"] = json!("someone-else"))),
            "NoAuthProvider",
        ),
        (
            "several audiences",
            sign(
                "rsa_a",
                &claims(&|c| c["aud"] = json!(["courier-desktop", "other"])),
            ),
            "NoAuthProvider",
        ),
        (
            "no aud",
            sign(
                "rsa_a",
                &claims(&|c| {
                    c.as_object_mut().unwrap().remove("aud");
                }),
            ),
            "NoAuthProvider",
        ),
        (
            "missing sub",
            sign(
                "rsa_a",
                &claims(&|c| {
                    c.as_object_mut().unwrap().remove("sub");
                }),
            ),
            "Unauthenticated",
        ),
        (
            "missing exp",
            sign(
                "rsa_a",
                &claims(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
            ),
            "Unauthenticated",
        ),
        (
            "unknown kid",
            {
                let mut h = Header::new(Algorithm::RS256);
                h.kid = Some("no-such-key".into());
                sign_with_header("rsa_a", h, &good)
            },
            "Unauthenticated",
        ),
        (
            "signed by a key not published under the published kid",
            {
                let mut h = Header::new(Algorithm::RS256);
                h.kid = Some("rsa_a".into());
                sign_with_header("rsa_b", h, &good)
            },
            "Unauthenticated",
        ),
        (
            "HS256 signed with the public key",
            {
                let mut h = Header::new(Algorithm::HS256);
                h.kid = Some("rsa_a".into());
                jsonwebtoken::encode(&h, &good, &EncodingKey::from_secret(public_pem.as_bytes()))
                    .unwrap()
            },
            "Unauthenticated",
        ),
        (
            "RS384",
            {
                let mut h = Header::new(Algorithm::RS384);
                h.kid = Some("rsa_a".into());
                sign_with_header("rsa_a", h, &good)
            },
            "Unauthenticated",
        ),
        (
            "alg none, empty signature",
            format!(
                "{}.{}.",
                header_json(json!({"alg": "none", "typ": "JWT"})),
                b64(good.to_string().as_bytes())
            ),
            "InvalidAuthHeader",
        ),
        (
            "alg none, copied signature",
            with_part(
                &valid,
                0,
                &header_json(json!({"alg": "none", "kid": "rsa_a"})),
            ),
            "Unauthenticated",
        ),
        (
            "header says EdDSA for an RSA kid",
            with_part(
                &valid,
                0,
                &header_json(json!({"alg": "EdDSA", "kid": "rsa_a"})),
            ),
            "Unauthenticated",
        ),
        (
            "tampered payload",
            with_part(
                &valid,
                1,
                &b64(claims(&|c| c["sub"] = json!("user_ada"))
                    .to_string()
                    .as_bytes()),
            ),
            "Unauthenticated",
        ),
        (
            "tampered signature",
            {
                let sig = valid.rsplit('.').next().unwrap();
                let mut bytes =
                    base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
                        .unwrap();
                bytes[10] ^= 0x55;
                with_part(&valid, 2, &b64(&bytes))
            },
            "Unauthenticated",
        ),
        (
            "truncated",
            valid.rsplit_once('.').unwrap().0.to_owned(),
            "InvalidAuthHeader",
        ),
        (
            "truncated signature",
            valid[..valid.len() - 20].to_owned(),
            "Unauthenticated",
        ),
        (
            "bad base64",
            with_part(&valid, 0, "eyJhbGciOi!!!"),
            "InvalidAuthHeader",
        ),
        (
            "payload not an object",
            with_part(&valid, 1, &b64(b"[1,2,3]")),
            "InvalidAuthHeader",
        ),
        (
            "huge header",
            {
                let mut h = Header::new(Algorithm::RS256);
                h.kid = Some("k".repeat(20_000));
                sign_with_header("rsa_a", h, &good)
            },
            "InvalidAuthHeader",
        ),
        (
            "wrong typ",
            {
                let mut h = Header::new(Algorithm::RS256);
                h.kid = Some("rsa_a".into());
                h.typ = Some("at+jwt".into());
                sign_with_header("rsa_a", h, &good)
            },
            "Unauthenticated",
        ),
        ("not a JWT", "hello".to_owned(), "InvalidAuthHeader"),
    ];
    cases.push((
        "EdDSA token expired",
        sign("ed", &claims(&|c| c["exp"] = json!(now() - 30))),
        "Unauthenticated",
    ));
    assert!(cases.len() >= 15);

    for (name, token, code) in &cases {
        for (kind, path, args) in [
            ("mutation", "messages:send", json!({"body": "forged"})),
            ("query", "users:me", json!({})),
        ] {
            let (status, body) = b.call(kind, path, args, Some(token)).await;
            assert_eq!(status, 401, "{name}: {body}");
            assert_eq!(body["code"], *code, "{name}: {body}");
            assert!(
                body["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{name}"
            );
        }
    }
    // Nothing was written by any forgery, under any author.
    for sub in ["user_mallory", "user_ada"] {
        assert!(b
            .server
            .messages_by_author(&issuer.token_identifier(sub))
            .unwrap()
            .is_empty());
    }
    // The genuine token works, so the refusals above were about the forgeries.
    assert_eq!(
        b.ok("query", "users:me", json!({}), Some(&valid)).await["subject"],
        "user_mallory"
    );
    // Unknown kids made at most one rate-limited refetch.
    assert!(
        issuer.jwks_hits() <= 2,
        "jwks fetched {} times",
        issuer.jwks_hits()
    );
}

#[tokio::test]
async fn eddsa_tokens_are_accepted() {
    let issuer = TestIssuer::start(&["ed"]).await;
    let b = Backend::start(&issuer).await;
    let token = sign("ed", &issuer.claims("user_ed", "Ed", "ed@example.com"));
    let me = b.ok("query", "users:me", json!({}), Some(&token)).await;
    assert_eq!(me["tokenIdentifier"], issuer.token_identifier("user_ed"));
}

#[tokio::test]
async fn key_rotation_refetches_once_for_an_unknown_kid() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let claims = issuer.claims("user_ada", "Ada Lovelace", "ada@example.com");
    b.ok(
        "query",
        "users:me",
        json!({}),
        Some(&sign("rsa_a", &claims)),
    )
    .await;
    assert_eq!(issuer.jwks_hits(), 1);
    // Cached: no refetch for a known kid.
    b.ok(
        "query",
        "users:me",
        json!({}),
        Some(&sign("rsa_a", &claims)),
    )
    .await;
    assert_eq!(issuer.jwks_hits(), 1);

    issuer.set_keys(&["rsa_b"]);
    let me = b
        .ok(
            "query",
            "users:me",
            json!({}),
            Some(&sign("rsa_b", &claims)),
        )
        .await;
    assert_eq!(me["subject"], "user_ada");
    assert_eq!(issuer.jwks_hits(), 2);
    // The retired key is gone, and a burst of unknown kids does not refetch again.
    for _ in 0..5 {
        let (status, body) = b
            .call(
                "query",
                "users:me",
                json!({}),
                Some(&sign("rsa_a", &claims)),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("Unauthenticated"))
        );
    }
    assert_eq!(issuer.jwks_hits(), 2);
}

#[tokio::test]
async fn leeway_is_applied_to_exp_and_nbf() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&issuer, dir.path());
    config.leeway = Duration::from_secs(60);
    let server = convex_local::ConvexLocal::start(config).await.unwrap();
    let b = Backend {
        server,
        dir,
        http: reqwest::Client::new(),
    };
    let mut c = issuer.claims("user_ada", "Ada", "a@example.com");
    c["exp"] = json!(now() - 10);
    c["nbf"] = json!(now() + 10);
    b.ok("query", "users:me", json!({}), Some(&sign("rsa_a", &c)))
        .await;
    c["exp"] = json!(now() - 120);
    let (status, _) = b
        .call("query", "users:me", json!({}), Some(&sign("rsa_a", &c)))
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn trailing_slash_on_the_configured_domain_is_ignored() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = config_for(&issuer, dir.path());
    config.providers[0].domain.push('/');
    let server = convex_local::ConvexLocal::start(config).await.unwrap();
    let b = Backend {
        server,
        dir,
        http: reqwest::Client::new(),
    };
    let me = b
        .ok("query", "users:me", json!({}), Some(&issuer.ada()))
        .await;
    assert_eq!(me["issuer"], issuer.url);
}

#[tokio::test]
async fn a_token_accepted_once_is_refused_after_it_expires() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let mut c = issuer.claims("user_ada", "Ada", "a@example.com");
    c["exp"] = json!(now() + 2);
    let token = sign("rsa_a", &c);
    b.ok("query", "users:me", json!({}), Some(&token)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = b.call("query", "users:me", json!({}), Some(&token)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("Unauthenticated")),
        "{body}"
    );
}
