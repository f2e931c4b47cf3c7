//! The CLI as a person uses it, as a subprocess against an in-process
//! dev-clerk and convex-local (test-support), on the real keychain: login
//! (the test plays the browser), whoami, token, messages, send, offline
//! cases, logout.

mod support;

use serde_json::Value;
use test_support::{demo, TestBackends};

use support::{cli, jwt_claims, login, require_keychain, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn login_token_messages_send_offline_logout() {
    require_keychain();
    let mut backends = TestBackends::start().await.unwrap();
    let env = backends.env();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    // Not signed in yet: exit 3 with a hint, nothing on stdout.
    let r = run(cli(&env, dir), &["token"]).await;
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.contains("courier-cli login"), "{r:?}");

    let r = login(&env, dir, demo::ADA_EMAIL).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr
            .contains("Signed in as Ada Lovelace <ada@example.com>"),
        "{r:?}"
    );
    assert!(r.stdout.is_empty(), "{r:?}");
    assert_eq!(backends.clerk().grants().authorization_code, 1);

    // A second login notices the session.
    let r = run(cli(&env, dir), &["login", "--no-browser"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stderr.contains("Already signed in as Ada Lovelace"),
        "{r:?}"
    );

    let r = run(cli(&env, dir), &["whoami"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stdout.starts_with("Ada Lovelace <ada@example.com>\n"),
        "{r:?}"
    );
    assert!(r.stdout.contains(demo::ADA_ID), "{r:?}");

    // `token`: exactly one line on stdout, a valid ID token of Ada's.
    let r = run(cli(&env, dir), &["token"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout.lines().count(), 1, "{r:?}");
    let claims = jwt_claims(r.stdout.trim());
    assert_eq!(claims["sub"], demo::ADA_ID);
    assert_eq!(claims["iss"], backends.issuer_url().as_str());
    assert_eq!(claims["aud"], backends.client_id());
    assert!(
        !r.stderr.contains(r.stdout.trim()),
        "the token only on stdout"
    );

    // The seeded messages, as a table.
    let r = run(cli(&env, dir), &["messages", "--limit", "3"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    let lines: Vec<_> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "header + 3: {r:?}");
    assert!(
        lines[0].starts_with("TIME") && lines[0].contains("AUTHOR"),
        "{r:?}"
    );
    assert!(
        lines[1..].iter().all(|l| l.contains("Ada Lovelace")),
        "{r:?}"
    );

    // Send, then see it first, in the table and as JSON, and in the store.
    let r = run(cli(&env, dir), &["send", "Hello", "from", "the", "CLI"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    let id = r.stdout.trim().to_owned();
    assert!(!id.is_empty() && r.stdout.lines().count() == 1, "{r:?}");
    let r = run(cli(&env, dir), &["messages", "-n", "1"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stdout
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("Hello from the CLI"),
        "{r:?}"
    );
    let r = run(cli(&env, dir), &["messages", "-n", "1", "--json"]).await;
    let json: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json[0]["_id"], id.as_str());
    assert_eq!(json[0]["body"], "Hello from the CLI");
    let stored = backends
        .convex()
        .messages_by_author(&format!("{}|{}", backends.issuer_url(), demo::ADA_ID))
        .unwrap();
    assert_eq!(stored[0]["body"], "Hello from the CLI");

    // Convex unreachable: exit 4, the session is kept.
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut offline_env = env.clone();
    offline_env.insert(
        "CONVEX_URL".into(),
        format!("http://127.0.0.1:{closed_port}"),
    );
    let r = run(cli(&offline_env, dir), &["messages"]).await;
    assert_eq!(r.code, Some(4), "{r:?}");
    assert!(r.stderr.contains("could not connect to Convex"), "{r:?}");

    // The issuer down: the ID token cached in the keychain still serves.
    let cached = run(cli(&env, dir), &["token"]).await.stdout;
    backends.stop_clerk().await;
    let r = run(cli(&env, dir), &["token"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert_eq!(r.stdout, cached, "the cached token, no refresh");
    let r = run(cli(&env, dir), &["whoami"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.starts_with("Ada Lovelace"), "{r:?}");
    backends.start_clerk().await.unwrap();

    // Logout ends the session; then every command says "not signed in".
    let r = run(cli(&env, dir), &["logout"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("Signed out Ada Lovelace"), "{r:?}");
    for args in [&["token"][..], &["whoami"], &["messages"], &["send", "hi"]] {
        let r = run(cli(&env, dir), args).await;
        assert_eq!(r.code, Some(3), "{args:?}: {r:?}");
    }
    let r = run(cli(&env, dir), &["logout"]).await;
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stderr.contains("Not signed in"), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Secret Service (run by the test command)"]
async fn login_that_nobody_finishes_times_out_with_exit_1() {
    require_keychain();
    let backends = TestBackends::builder()
        .with_convex(false)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        cli(&backends.env(), dir.path()),
        &["login", "--no-browser", "--timeout", "1"],
    )
    .await;
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(
        r.stderr.contains("/oauth/authorize"),
        "the URL was shown: {r:?}"
    );
    assert!(r.stderr.contains("took too long"), "{r:?}");
    let r = run(cli(&backends.env(), dir.path()), &["whoami"]).await;
    assert_eq!(r.code, Some(3), "{r:?}");
}
