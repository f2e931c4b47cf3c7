use std::sync::Arc;

use convex_local::{AuthProvider, Config, ConvexLocal};
use serde_json::json;

use crate::util::{config_for, Backend, TestIssuer, CLIENT_ID};

#[tokio::test]
async fn restart_keeps_every_message() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let dir = tempfile::tempdir().unwrap();
    let ada = issuer.ada();
    let server = ConvexLocal::start(config_for(&issuer, dir.path()))
        .await
        .unwrap();
    let b = Backend {
        server,
        dir,
        http: reqwest::Client::new(),
    };
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            b.ok(
                "mutation",
                "messages:send",
                json!({"body": format!("m{i}"), "clientMessageId": format!("c{i}")}),
                Some(&ada),
            )
            .await,
        );
    }
    let before = b
        .ok("query", "messages:getForCurrentUser", json!({}), Some(&ada))
        .await;
    let Backend { server, dir, http } = b;
    server.stop().await;

    let server = ConvexLocal::start(config_for(&issuer, dir.path()))
        .await
        .unwrap();
    let b = Backend { server, dir, http };
    let after = b
        .ok("query", "messages:getForCurrentUser", json!({}), Some(&ada))
        .await;
    assert_eq!(before, after);
    // Idempotency survives the restart too.
    let again = b
        .ok(
            "mutation",
            "messages:send",
            json!({"body": "dup", "clientMessageId": "c0"}),
            Some(&ada),
        )
        .await;
    assert_eq!(again, ids[0]);
    // And new messages still sort newest first after the restart.
    b.ok(
        "mutation",
        "messages:send",
        json!({"body": "after restart"}),
        Some(&ada),
    )
    .await;
    let all = b
        .ok("query", "messages:getForCurrentUser", json!({}), Some(&ada))
        .await;
    assert_eq!(all[0]["body"], "after restart");
    assert_eq!(all.as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn concurrent_writers_lose_nothing() {
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let b = Arc::new(Backend::start(&issuer).await);
    let tokens = Arc::new([issuer.ada(), issuer.grace()]);
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (b, tokens) = (b.clone(), tokens.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                let token = &tokens[w % 2];
                // Every 5th send repeats an earlier clientMessageId: no duplicate may appear.
                let cmid = format!("w{w}-{}", if i % 5 == 4 { i - 1 } else { i });
                b.ok(
                    "mutation",
                    "messages:send",
                    json!({"body": format!("w{w} #{i}"), "clientMessageId": cmid}),
                    Some(token),
                )
                .await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (sub, expected) in [("user_ada", 8 * 16), ("user_grace", 8 * 16)] {
        let all = b
            .server
            .messages_by_author(&issuer.token_identifier(sub))
            .unwrap();
        assert_eq!(all.len(), expected, "{sub}");
        let mut ids: Vec<_> = all
            .iter()
            .map(|m| m["_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), expected);
        let times: Vec<f64> = all
            .iter()
            .map(|m| m["_creationTime"].as_f64().unwrap())
            .collect();
        assert!(
            times.windows(2).all(|w| w[0] > w[1]),
            "strictly newest first"
        );
    }
}

#[tokio::test]
async fn first_start_seeds_demo_messages_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::for_tests(dir.path());
    config.providers = vec![AuthProvider {
        domain: "http://127.0.0.1:4810/".into(),
        application_id: CLIENT_ID.into(),
    }];
    let server = ConvexLocal::start(config.clone()).await.unwrap();
    let ada = server
        .messages_by_author("http://127.0.0.1:4810|user_2AdaLovelace1815000000")
        .unwrap();
    let grace = server
        .messages_by_author("http://127.0.0.1:4810|user_2GraceHopper1906000000")
        .unwrap();
    assert!(
        ada.len() >= 5 && grace.len() >= 3,
        "{} {}",
        ada.len(),
        grace.len()
    );
    assert_eq!(ada[0]["authorName"], "Ada Lovelace");
    assert_eq!(grace[0]["authorName"], "Grace Hopper");
    let (a0, a1) = (
        ada[0]["_creationTime"].as_f64().unwrap(),
        ada.last().unwrap()["_creationTime"].as_f64().unwrap(),
    );
    assert!(a0 - a1 > 24.0 * 3600.0 * 1000.0, "spread over days");
    server.stop().await;
    let server = ConvexLocal::start(config).await.unwrap();
    let again = server
        .messages_by_author("http://127.0.0.1:4810|user_2AdaLovelace1815000000")
        .unwrap();
    assert_eq!(again.len(), ada.len(), "not seeded twice");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_files_and_folder_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let parent = tempfile::tempdir().unwrap();
    // A folder convex-local creates itself, and one that was there, too open.
    let made = parent.path().join("new").join("data");
    let existing = parent.path().join("existing");
    std::fs::create_dir(&existing).unwrap();
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o755)).unwrap();
    for dir in [made, existing] {
        let server = ConvexLocal::start(config_for(&issuer, &dir)).await.unwrap();
        let http = reqwest::Client::new();
        let resp = http
            .post(format!("{}/api/mutation", server.url()))
            .bearer_auth(issuer.ada())
            .json(&json!({"path": "messages:send", "args": {"body": "private"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700, "{}", dir.display());
        for file in [
            "convex-local.sqlite3",
            "convex-local.sqlite3-wal",
            "convex-local.sqlite3-shm",
        ] {
            let path = dir.join(file);
            assert!(path.exists(), "{file} exists while the server runs");
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
        server.stop().await;
    }
}
