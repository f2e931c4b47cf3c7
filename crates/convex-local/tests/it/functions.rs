use serde_json::{json, Value};

use crate::util::{sign, Backend, TestIssuer};

#[tokio::test]
async fn every_function_refuses_or_answers_without_identity() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    for (kind, path, args) in [
        ("query", "messages:getForCurrentUser", json!({})),
        (
            "query",
            "messages:list",
            json!({"paginationOpts": {"numItems": 5, "cursor": null}}),
        ),
        ("mutation", "messages:send", json!({"body": "hello"})),
    ] {
        let e = b.err(kind, path, args, None).await;
        assert_eq!(e["errorData"], "Not authenticated", "{path}: {e}");
        let msg = e["errorMessage"].as_str().unwrap();
        assert!(msg.contains("Not authenticated"), "{msg}");
        assert!(msg.starts_with("[Request ID: "), "{msg}");
    }
    assert_eq!(
        b.ok("query", "users:me", json!({}), None).await,
        Value::Null
    );
}

#[tokio::test]
async fn send_then_read_through_every_function() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let ada = issuer.ada();
    let id1 = b
        .ok(
            "mutation",
            "messages:send",
            json!({"body": "  first  "}),
            Some(&ada),
        )
        .await;
    let id2 = b
        .ok(
            "mutation",
            "messages:send",
            json!({"body": "second"}),
            Some(&ada),
        )
        .await;
    assert!(id1.is_string() && id2.is_string() && id1 != id2);

    let mine = b
        .ok("query", "messages:getForCurrentUser", json!({}), Some(&ada))
        .await;
    let mine = mine.as_array().unwrap();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0]["body"], "second", "newest first");
    assert_eq!(mine[1]["body"], "first", "body trimmed");
    assert_eq!(mine[1]["_id"], id1);
    assert_eq!(mine[0]["author"], issuer.token_identifier("user_ada"));
    assert_eq!(mine[0]["authorName"], "Ada Lovelace");
    assert!(
        mine[0]["_creationTime"].as_f64().unwrap() > mine[1]["_creationTime"].as_f64().unwrap()
    );
    assert!(mine[0].get("clientMessageId").is_none());

    let me = b.ok("query", "users:me", json!({}), Some(&ada)).await;
    assert_eq!(me["tokenIdentifier"], issuer.token_identifier("user_ada"));
    assert_eq!(me["subject"], "user_ada");
    assert_eq!(me["issuer"], issuer.url);
    assert_eq!(me["name"], "Ada Lovelace");
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["emailVerified"], true);

    let page = b
        .ok(
            "query",
            "messages:list",
            json!({"paginationOpts": {"numItems": 10, "cursor": null}}),
            Some(&ada),
        )
        .await;
    assert_eq!(page["isDone"], true);
    assert_eq!(page["page"].as_array().unwrap().len(), 2);
    assert!(page["continueCursor"].is_string());
}

#[tokio::test]
async fn two_users_never_see_each_other() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let (ada, grace) = (issuer.ada(), issuer.grace());
    // Same clientMessageId for both: idempotency is per author.
    b.ok(
        "mutation",
        "messages:send",
        json!({"body": "ada's secret", "clientMessageId": "c1"}),
        Some(&ada),
    )
    .await;
    b.ok(
        "mutation",
        "messages:send",
        json!({"body": "grace's secret", "clientMessageId": "c1"}),
        Some(&grace),
    )
    .await;
    for (token, own, other) in [
        (&ada, "ada's secret", "grace's secret"),
        (&grace, "grace's secret", "ada's secret"),
    ] {
        let all = b
            .ok(
                "query",
                "messages:getForCurrentUser",
                json!({}),
                Some(token),
            )
            .await;
        let page = b
            .ok(
                "query",
                "messages:list",
                json!({"paginationOpts": {"numItems": 100, "cursor": null}}),
                Some(token),
            )
            .await;
        for list in [all, page["page"].clone()] {
            let bodies: Vec<&str> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["body"].as_str().unwrap())
                .collect();
            assert_eq!(bodies, vec![own], "sees only own messages");
            assert!(!bodies.contains(&other));
        }
    }
    // A cursor from Ada's listing does not open Grace's messages.
    let ada_page = b
        .ok(
            "query",
            "messages:list",
            json!({"paginationOpts": {"numItems": 1, "cursor": null}}),
            Some(&ada),
        )
        .await;
    let cursor = ada_page["continueCursor"].clone();
    let grace_page = b
        .ok(
            "query",
            "messages:list",
            json!({"paginationOpts": {"numItems": 10, "cursor": cursor}}),
            Some(&grace),
        )
        .await;
    for m in grace_page["page"].as_array().unwrap() {
        assert_eq!(m["body"], "grace's secret");
    }
}

/// Query results are cached per commit timestamp: every read that starts
/// after a write returned (over HTTP or straight to the store) sees it,
/// however many identical reads were served before it.
#[tokio::test]
async fn repeated_reads_see_every_write_at_once() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let (ada, grace) = (issuer.ada(), issuer.grace());
    let list = json!({"paginationOpts": {"numItems": 3, "cursor": null}});
    let top = |v: &Value| v["page"][0]["body"].as_str().map(str::to_owned);
    for i in 0..20 {
        for _ in 0..3 {
            b.ok("query", "messages:list", list.clone(), Some(&ada))
                .await;
            b.ok("query", "messages:list", list.clone(), Some(&grace))
                .await;
        }
        let body = format!("w{i}");
        if i % 2 == 0 {
            b.ok(
                "mutation",
                "messages:send",
                json!({"body": body}),
                Some(&ada),
            )
            .await;
        } else {
            b.server
                .insert_message(&issuer.token_identifier("user_ada"), "Ada", &body)
                .unwrap();
        }
        let page = b
            .ok("query", "messages:list", list.clone(), Some(&ada))
            .await;
        assert_eq!(top(&page).as_deref(), Some(body.as_str()), "{page}");
        let all = b
            .ok("query", "messages:getForCurrentUser", json!({}), Some(&ada))
            .await;
        assert_eq!(all.as_array().unwrap().len(), i + 1);
        // Another user's cached result is theirs alone.
        let theirs = b
            .ok("query", "messages:list", list.clone(), Some(&grace))
            .await;
        assert_eq!(theirs["page"], json!([]), "{theirs}");
    }
}

#[tokio::test]
async fn pagination_is_stable_across_inserts() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let ada = issuer.ada();
    for i in 0..7 {
        b.ok(
            "mutation",
            "messages:send",
            json!({"body": format!("m{i}")}),
            Some(&ada),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    loop {
        let page = b
            .ok(
                "query",
                "messages:list",
                json!({"paginationOpts": {"numItems": 3, "cursor": cursor}}),
                Some(&ada),
            )
            .await;
        pages += 1;
        for m in page["page"].as_array().unwrap() {
            seen.push(m["body"].as_str().unwrap().to_owned());
        }
        // New messages arrive while paging: they are newer, so they never
        // shift or repeat items on later pages.
        b.ok(
            "mutation",
            "messages:send",
            json!({"body": format!("new{pages}")}),
            Some(&ada),
        )
        .await;
        if page["isDone"] == true {
            break;
        }
        cursor = page["continueCursor"].clone();
        assert!(pages < 10);
    }
    assert_eq!(seen, vec!["m6", "m5", "m4", "m3", "m2", "m1", "m0"]);
    assert_eq!(pages, 3);
    // Done cursor stays done.
    let page = b
        .ok(
            "query",
            "messages:list",
            json!({"paginationOpts": {"numItems": 3, "cursor": cursor}}),
            Some(&ada),
        )
        .await;
    assert!(page["page"].as_array().is_some());
    let total = b
        .ok("query", "messages:getForCurrentUser", json!({}), Some(&ada))
        .await;
    assert_eq!(total.as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn send_validates_body_and_dedupes_client_message_id() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let ada = issuer.ada();
    for body in ["", "   \n\t "] {
        let e = b
            .err(
                "mutation",
                "messages:send",
                json!({"body": body}),
                Some(&ada),
            )
            .await;
        assert_eq!(e["errorData"], "Message body must not be empty");
    }
    let long = "x".repeat(10_001);
    let e = b
        .err(
            "mutation",
            "messages:send",
            json!({"body": long}),
            Some(&ada),
        )
        .await;
    assert!(
        e["errorData"].as_str().unwrap().contains("at most 10000"),
        "{e}"
    );
    // Exactly 10,000 characters (after trimming) is fine; UTF-16 units count, as in JS.
    b.ok(
        "mutation",
        "messages:send",
        json!({"body": format!(" {} ", "y".repeat(10_000))}),
        Some(&ada),
    )
    .await;
    let e = b
        .err(
            "mutation",
            "messages:send",
            json!({"body": "😀".repeat(5_001)}),
            Some(&ada),
        )
        .await;
    assert!(
        e["errorData"]
            .as_str()
            .unwrap()
            .contains("10002 characters"),
        "{e}"
    );

    let first = b
        .ok(
            "mutation",
            "messages:send",
            json!({"body": "once", "clientMessageId": "k"}),
            Some(&ada),
        )
        .await;
    let again = b
        .ok(
            "mutation",
            "messages:send",
            json!({"body": "twice", "clientMessageId": "k"}),
            Some(&ada),
        )
        .await;
    assert_eq!(first, again);
    let all = b
        .server
        .messages_by_author(&issuer.token_identifier("user_ada"))
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["body"], "once");
    assert_eq!(all[0]["clientMessageId"], "k");
}

#[tokio::test]
async fn argument_errors_name_the_field() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let ada = issuer.ada();
    let e = b
        .err("mutation", "messages:send", json!({}), Some(&ada))
        .await;
    let m = e["errorMessage"].as_str().unwrap();
    assert!(
        m.contains("ArgumentValidationError: Object is missing the required field `body`"),
        "{m}"
    );
    let e = b
        .err("mutation", "messages:send", json!({"body": 42}), Some(&ada))
        .await;
    let m = e["errorMessage"].as_str().unwrap();
    assert!(m.contains("Path: .body") && m.contains("Value: 42"), "{m}");
    let e = b
        .err(
            "mutation",
            "messages:send",
            json!({"body": "x", "author": "someone else"}),
            Some(&ada),
        )
        .await;
    assert!(e["errorMessage"]
        .as_str()
        .unwrap()
        .contains("extra field `author`"));
    let e = b
        .err(
            "query",
            "messages:list",
            json!({"paginationOpts": {"numItems": "3", "cursor": null}}),
            Some(&ada),
        )
        .await;
    assert!(e["errorMessage"]
        .as_str()
        .unwrap()
        .contains("Path: .paginationOpts.numItems"));
    let e = b
        .err(
            "query",
            "messages:list",
            json!({"paginationOpts": {"numItems": 3, "cursor": "garbage!"}}),
            Some(&ada),
        )
        .await;
    assert!(e["errorMessage"]
        .as_str()
        .unwrap()
        .contains("Failed to parse cursor"));
    assert!(e.get("errorData").is_none());
}

#[tokio::test]
async fn unknown_functions_and_wrong_kinds_fail_like_convex() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Backend::start(&issuer).await;
    let e = b.err("query", "messages:nope", json!({}), None).await;
    assert!(e["errorMessage"].as_str().unwrap().contains(
        "Could not find public function for 'messages:nope'. Did you forget to run `npx convex dev` or `npx convex deploy`?"
    ));
    let e = b
        .err(
            "mutation",
            "messages:list",
            json!({"paginationOpts": {"numItems": 1, "cursor": null}}),
            None,
        )
        .await;
    assert!(e["errorMessage"]
        .as_str()
        .unwrap()
        .contains("Trying to execute messages.js:list as Mutation, but it is defined as Query."));
    let e = b
        .err(
            "query",
            "messages:send",
            json!({"body": "x"}),
            Some(&issuer.ada()),
        )
        .await;
    assert!(e["errorMessage"]
        .as_str()
        .unwrap()
        .contains("as Query, but it is defined as Mutation"));
    let e = b.err("action", "users:me", json!({}), None).await;
    assert!(e["errorMessage"]
        .as_str()
        .unwrap()
        .contains("as Action, but it is defined as Query"));
    // Nothing was written by the refused mutation-as-query.
    assert!(b
        .server
        .messages_by_author(&issuer.token_identifier("user_ada"))
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn run_endpoint_args_array_and_convex_encoded_json() {
    let issuer = TestIssuer::start(&["rsa_a", "ed"]).await;
    let b = Backend::start(&issuer).await;
    let ada = issuer.ada();
    // What Convex's JS client sends: args as a one-element array, convex_encoded_json.
    let resp = b
        .http
        .post(b.url("/api/mutation"))
        .bearer_auth(&ada)
        .header("Convex-Client", "npm-1.48.0")
        .json(&json!({"path": "messages:send", "args": [{"body": "from js"}], "format": "convex_encoded_json"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "success");
    assert_eq!(body["logLines"], json!([]));

    let resp = b
        .http
        .post(b.url("/api/run/messages/getForCurrentUser"))
        .bearer_auth(&ada)
        .json(&json!({"args": {}}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["value"][0]["body"], "from js");

    // The run endpoint also runs mutations.
    let resp = b
        .http
        .post(b.url("/api/run/messages/send"))
        .bearer_auth(sign(
            "ed",
            &issuer.claims("user_ada", "Ada Lovelace", "ada@example.com"),
        ))
        .json(&json!({"args": {"body": "signed with EdDSA"}, "format": "json"}))
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "success", "{body}");
    assert_eq!(
        b.server
            .messages_by_author(&issuer.token_identifier("user_ada"))
            .unwrap()
            .len(),
        2
    );
}
